"""The daemon's app: /healthz and /ready from Health, and no exception ever ends as a 500."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from khronos.alerts import AlertEngine, LogNotifier, Outbox, alert_routes
from khronos.config import KhronosConfig
from khronos.health import Health
from khronos.server import create_app
from tests.metrics.asgi import call

pytestmark = pytest.mark.asyncio
COUNT = "khronos_http_request_duration_seconds_count"


async def _broken(_request: Request) -> Response:
    raise RuntimeError("a bug in a handler")


async def _client_left(_request: Request) -> Response:
    raise ClientDisconnect


@pytest.fixture(name="registry")
def fixture_registry() -> CollectorRegistry:
    """A fresh registry."""
    return CollectorRegistry()


async def test_healthz_is_503_with_the_parts_that_stopped(registry: CollectorRegistry) -> None:
    """A part down: /healthz answers 503 and names it, with why."""
    health = Health()
    health.mark_down("check.disk", "its task was cancelled")
    reply = await call(create_app(KhronosConfig(), registry=registry, health=health), "/healthz")
    assert reply.status == 503
    body = json.loads(reply.body)
    assert body["status"] == "failing"
    assert body["problems"] == ["check.disk stopped: its task was cancelled"]


async def test_ready_is_200_when_all_is_well(registry: CollectorRegistry) -> None:
    """Healthy, not stopping, nothing from the readiness source: 200 ready."""
    app = create_app(KhronosConfig(), registry=registry, health=Health(), readiness=list)
    reply = await call(app, "/ready")
    assert reply.status == 200
    assert json.loads(reply.body)["status"] == "ready"


async def test_ready_is_503_with_the_readiness_reasons(registry: CollectorRegistry) -> None:
    """A reason from the readiness source (a CRITICAL condition) makes /ready 503, not
    /healthz; the reasons are masked by the redactor."""
    from khronos.redact import get_redactor

    get_redactor().add_secret("s3cr3t-value-for-ready")
    reasons = ["backup.db_down.app: Database down (token s3cr3t-value-for-ready)"]
    app = create_app(KhronosConfig(), registry=registry, health=Health(), readiness=lambda: reasons)
    reply = await call(app, "/ready")
    assert reply.status == 503
    (reason,) = json.loads(reply.body)["problems"]
    assert reason.startswith("backup.db_down.app: Database down")
    assert "s3cr3t-value-for-ready" not in reason
    assert (await call(app, "/healthz")).status == 200


async def test_ready_is_503_while_stopping(registry: CollectorRegistry) -> None:
    """While the owner stops its parts, /ready says so."""
    health = Health(stopping=True)
    reply = await call(create_app(KhronosConfig(), registry=registry, health=health), "/ready")
    assert reply.status == 503
    assert json.loads(reply.body)["problems"] == ["khronos is stopping"]


async def test_a_handler_that_raises_answers_503_and_counts_an_internal_error(
    registry: CollectorRegistry,
) -> None:
    """A bug in a handler: 503 with a JSON reason (never a 500), counted for the part http
    and in the request metrics as 503."""
    health = Health()
    routes = [Route("/broken", _broken)]
    app = create_app(KhronosConfig(), registry=registry, routes=routes, health=health)
    reply = await call(app, "/broken", raise_errors=True)
    assert reply.status == 503
    assert "RuntimeError" in json.loads(reply.body)["error"]
    assert health.errors == {"http": 1}
    labels = {"method": "GET", "route": "/broken", "status": "503"}
    assert registry.get_sample_value(COUNT, labels) == 1.0


async def test_a_client_that_left_is_recorded_499(registry: CollectorRegistry) -> None:
    """ClientDisconnect from a handler is no error: recorded as 499, nothing counted."""
    health = Health()
    routes = [Route("/left", _client_left)]
    app = create_app(KhronosConfig(), registry=registry, routes=routes, health=health)
    await call(app, "/left", raise_errors=True)
    assert health.errors == {}
    labels = {"method": "GET", "route": "/left", "status": "499"}
    assert registry.get_sample_value(COUNT, labels) == 1.0


class _BrokenEngine(AlertEngine):
    """An engine with a bug: queueing raises (a full disk no longer does: the engine keeps such
    alerts in memory and accepts them)."""

    def enqueue_test(self, *_args: object, **_kwargs: object) -> str:
        raise RuntimeError("the outbox state is corrupt")


async def test_alert_api_answers_503_with_the_reason_when_the_alert_cannot_be_queued(
    registry: CollectorRegistry, tmp_path: Path
) -> None:
    """POST /api/alerts/test when the engine fails to queue: 503 saying why, not a 500."""
    health = Health()
    engine = _BrokenEngine(Outbox(tmp_path / "outbox.db"), [LogNotifier()])
    routes = alert_routes(engine, "api-token-0123456789")
    app = create_app(KhronosConfig(), registry=registry, routes=routes, health=health)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answer = await client.post(
            "/api/alerts/test",
            json={"message": "hello"},
            headers={"Authorization": "Bearer api-token-0123456789"},
        )
    engine.outbox.close()
    assert answer.status_code == 503
    assert "the outbox state is corrupt" in answer.json()["error"]
    assert answer.headers["retry-after"] == "60"
