"""The shipped deployment files: promtool accepts prometheus.yml; the dashboard fits /metrics."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from khronos.config import KhronosConfig
from khronos.metrics import Metrics
from khronos.server import create_app
from tests.metrics.helpers import PROVIDED_BY_OTHER_COMPONENTS, metric_names
from tests.metrics.live import running
from tests.support import require_binary

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"

# Registered by other components of `khronos run` (backup, alerts), not by khronos.metrics:
# their issues define them, and the dashboard shows them.


def _dashboard() -> dict[str, Any]:
    text = (DEPLOY / "grafana" / "khronos-dashboard.json").read_text(encoding="utf-8")
    return dict(json.loads(text))


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
    assert metric_names(expr) == {"a_bucket", "b"}


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
        for name in metric_names(target["expr"])
    }
    assert used
    assert used - exported - PROVIDED_BY_OTHER_COMPONENTS == set()
