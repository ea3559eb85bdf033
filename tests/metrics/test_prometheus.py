"""A real Prometheus scrapes a running Khronos app with the shipped prometheus.yml."""

from __future__ import annotations

import json
import math
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client import CollectorRegistry
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from khronos.config import KhronosConfig
from khronos.metrics import Metrics
from khronos.server import create_app
from tests.metrics.helpers import free_port
from tests.metrics.live import running
from tests.support import require_binary

ROOT = Path(__file__).resolve().parents[2]
DEADLINE_S = 90.0
P95 = (
    "histogram_quantile(0.95, sum by (le) (rate(khronos_http_request_duration_seconds_bucket[1m])))"
)


def _rewrite_config(target: str, path: Path) -> Path:
    """The shipped prometheus.yml with every target at the test app, scraped every second."""
    config = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text(encoding="utf-8"))
    config["global"]["scrape_interval"] = "1s"
    for job in config["scrape_configs"]:
        job["scrape_interval"] = job["scrape_timeout"] = "1s"
        job["static_configs"] = [{"targets": [target]}]
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@pytest.fixture(name="app_port")
def fixture_app_port() -> Iterator[int]:
    """The daemon app with a service route recording messages, served on a free port."""
    registry = CollectorRegistry()
    metrics = Metrics(registry)

    async def message(request: Request) -> Response:
        metrics.record_message_processed(request.path_params["source"], "ok")
        metrics.record_ai_latency("openai", 0.4)
        return JSONResponse({"ok": True})

    routes = [Route("/messages/{source}", message, methods=["POST"])]
    app = create_app(KhronosConfig(), registry=registry, routes=routes, metrics=metrics)
    with running(app) as port:
        yield port


@pytest.fixture(name="prometheus")
def fixture_prometheus(tmp_path: Path, app_port: int) -> Iterator[str]:
    """Debian's prometheus on 127.0.0.1, scraping the app; stopped by PID afterwards."""
    binary = require_binary("prometheus")
    port = free_port()
    config = _rewrite_config(f"127.0.0.1:{app_port}", tmp_path / "prometheus.yml")
    log = (tmp_path / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _query(client: httpx.Client, base: str, expr: str) -> list[dict[str, Any]]:
    try:
        response = client.get(f"{base}/api/v1/query", params={"query": expr})
    except httpx.TransportError:
        return []
    if response.status_code != 200:
        return []
    result: list[dict[str, Any]] = response.json()["data"]["result"]
    return result


def _finite(result: list[dict[str, Any]]) -> bool:
    return any(math.isfinite(float(item["value"][1])) for item in result)


@pytest.mark.integration
@pytest.mark.slow
def test_prometheus_scrapes_the_shipped_config(prometheus: str, app_port: int) -> None:
    """up == 1, the message rate and the request p95 come back from Prometheus' API."""
    app = f"http://127.0.0.1:{app_port}"
    deadline = time.monotonic() + DEADLINE_S
    with httpx.Client(timeout=5) as client:
        up = rate = p95 = []
        while time.monotonic() < deadline:
            for source in ("telegram", "whatsapp"):
                client.post(f"{app}/messages/{source}")
            up = _query(client, prometheus, "up == 1")
            rate = _query(client, prometheus, "rate(khronos_messages_processed_total[1m])")
            p95 = _query(client, prometheus, P95)
            if len(up) == 2 and _finite(rate) and _finite(p95):
                break
            time.sleep(0.25)  # pacing the poll loop; the deadline decides
        assert {r["metric"]["job"] for r in up} == {"khronos", "app"}
        assert {r["metric"]["source"] for r in rate} == {"telegram", "whatsapp"}
        assert _finite(p95)


@pytest.mark.integration
@pytest.mark.slow
def test_dashboard_queries_are_valid_promql(prometheus: str) -> None:
    """Every expression of the Grafana dashboard is accepted by Prometheus' query API."""
    dashboard = json.loads(
        (ROOT / "deploy" / "grafana" / "khronos-dashboard.json").read_text(encoding="utf-8")
    )
    expressions = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", ())]
    deadline = time.monotonic() + DEADLINE_S
    with httpx.Client(timeout=5) as client:
        while time.monotonic() < deadline:
            try:
                if client.get(f"{prometheus}/-/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)  # pacing the readiness poll
        for expr in expressions:
            concrete = re.sub(r"\$__(rate_interval|range|interval)", "1m", expr)
            response = client.get(f"{prometheus}/api/v1/query", params={"query": concrete})
            assert response.status_code == 200, (expr, response.text)
