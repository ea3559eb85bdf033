"""/api/heartbeats/<name> (+ /start, /fail): bearer token, 404 for unknown names, GET or POST."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from starlette.applications import Starlette

from khronos.heartbeats import HeartbeatMonitor, heartbeat_routes
from tests.heartbeats.conftest import MakeMonitor

TOKEN = "s3cret-http-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(name="monitor")
def fixture_monitor(make_monitor: MakeMonitor) -> HeartbeatMonitor:
    """A monitor of the heartbeat ``nightly``."""
    return make_monitor()


@pytest_asyncio.fixture(name="client")
async def fixture_client(monitor: HeartbeatMonitor) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app with the heartbeat routes and a token."""
    app = Starlette(routes=heartbeat_routes(monitor, TOKEN))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client


@pytest.mark.asyncio
@pytest.mark.parametrize("method", ["GET", "POST", "HEAD"])
async def test_a_ping_by_any_method_marks_the_heartbeat_up(
    client: httpx.AsyncClient, monitor: HeartbeatMonitor, method: str
) -> None:
    """GET, POST or HEAD /api/heartbeats/nightly: 200, the heartbeat is up."""
    r = await client.request(method, "/api/heartbeats/nightly", headers=AUTH)
    assert r.status_code == 200
    assert monitor.status()[0]["state"] == "up"


@pytest.mark.asyncio
async def test_start_and_fail_with_output(
    client: httpx.AsyncClient, monitor: HeartbeatMonitor
) -> None:
    """/start marks it started; POST /fail with the job's output marks it failed."""
    started = await client.post("/api/heartbeats/nightly/start", headers=AUTH)
    assert started.json()["state"] == "started"
    failed = await client.post("/api/heartbeats/nightly/fail", content=b"disk full\n", headers=AUTH)
    assert failed.status_code == 200
    assert failed.json()["state"] == "failed"
    assert monitor.engine.conditions["heartbeat.nightly"].level.name == "ERROR"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "path", ["/api/heartbeats/weekly", "/api/heartbeats/weekly/fail", "/api/heartbeats/x/start"]
)
async def test_unknown_name_is_404(client: httpx.AsyncClient, path: str) -> None:
    """A name not in checks.heartbeats: 404 with a JSON reason."""
    r = await client.post(path, headers=AUTH)
    assert r.status_code == 404
    assert "no heartbeat named" in r.json()["error"]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": TOKEN}]
)
async def test_missing_or_wrong_token_is_401_before_the_name(
    client: httpx.AsyncClient, monitor: HeartbeatMonitor, headers: dict[str, str]
) -> None:
    """No or a wrong token: 401 for a known name and an unknown one alike; nothing recorded."""
    known = await client.post("/api/heartbeats/nightly", headers=headers)
    unknown = await client.post("/api/heartbeats/weekly", headers=headers)
    assert (known.status_code, unknown.status_code) == (401, 401)
    assert monitor.status()[0]["state"] == "new"


@pytest.mark.asyncio
async def test_oversized_body_is_413(client: httpx.AsyncClient) -> None:
    """A /fail body over 16 KiB: 413."""
    r = await client.post("/api/heartbeats/nightly/fail", content=b"x" * 17000, headers=AUTH)
    assert r.status_code == 413
