"""The shipped deployment files: promtool accepts prometheus.yml; the dashboard fits /metrics."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from khronos.config import KhronosConfig
from khronos.metrics import Metrics
from khronos.server import create_app
from tests.conftest import require_binary
from tests.metrics.live import running

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"

# Registered by other components of `khronos run` (backup, alerts), not by khronos.metrics:
# their issues define them, and the dashboard shows them.
PROVIDED_BY_OTHER_COMPONENTS = {
    "khronos_backup_lag_seconds",
    "khronos_backup_last_sync_timestamp_seconds",
    "khronos_backup_up",
    "khronos_alerts_sent_total",
}
_PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool", "and",
    "or", "unless", "le", "inf", "nan",
}  # fmt: skip


def _dashboard() -> dict[str, Any]:
    text = (DEPLOY / "grafana" / "khronos-dashboard.json").read_text(encoding="utf-8")
    return dict(json.loads(text))


def _metric_names(expr: str) -> set[str]:
    """Identifiers in a PromQL expression that are metric names (not functions, labels...)."""
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", expr)  # grouping labels
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range selectors, $__rate_interval
    expr = re.sub(r'"[^"]*"', "", expr)
    names = set()
    for match in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr):
        following = expr[match.end() :].lstrip()[:1]
        if following != "(" and match.group().lower() not in _PROMQL_WORDS:
            names.add(match.group())
    return names


@pytest.mark.integration
def test_promtool_accepts_prometheus_yml() -> None:
    """`promtool check config deploy/prometheus.yml` passes."""
    promtool = require_binary("promtool")
    result = subprocess.run(
        [promtool, "check", "config", str(DEPLOY / "prometheus.yml")],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_yml_intervals_follow_the_design() -> None:
    """15s globally, 5s for the jobs; Khronos scraped on 127.0.0.1:9321."""
    import yaml

    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text(encoding="utf-8"))
    assert config["global"]["scrape_interval"] == "15s"
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert {job["scrape_interval"] for job in jobs.values()} == {"5s"}
    assert jobs["khronos"]["static_configs"][0]["targets"] == ["127.0.0.1:9321"]


def test_dashboard_is_importable_json() -> None:
    """The dashboard parses, has no fixed id, a uid, and a Prometheus datasource variable."""
    dashboard = _dashboard()
    assert dashboard["id"] is None
    assert dashboard["uid"]
    variables = dashboard["templating"]["list"]
    assert any(v["type"] == "datasource" and v["query"] == "prometheus" for v in variables)


def test_metric_name_extraction() -> None:
    """The PromQL name extractor keeps metric names and drops functions and labels."""
    expr = 'histogram_quantile(0.95, sum by (le, provider) (rate(a_bucket{x="y"}[5m]))) / b'
    assert _metric_names(expr) == {"a_bucket", "b"}


@pytest.mark.integration
def test_dashboard_names_only_exported_metrics() -> None:
    """Every metric in the dashboard's PromQL is on a live /metrics (or is listed above)."""
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    metrics.record_message_processed("s", "ok")  # labelled metrics appear once used
    metrics.record_message_failed("s", "r")
    metrics.record_ai_latency("p", 1.0)
    metrics.record_api_call("p", "ok")
    metrics.record_circuit_breaker_state_change("b", "open")
    app = create_app(KhronosConfig(), registry=registry, metrics=metrics)
    with running(app) as port:
        httpx.get(f"http://127.0.0.1:{port}/favicon.ico", timeout=10)  # one measured request
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    exported = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line[:1] != "#"}
    used = {
        name
        for panel in _dashboard()["panels"]
        for target in panel.get("targets", ())
        for name in _metric_names(target["expr"])
    }
    assert used
    assert used - exported - PROVIDED_BY_OTHER_COMPONENTS == set()
