"""POST /api/alerts/test: status codes for every kind of request, never a 5xx for bad input."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from starlette.applications import Starlette

from khronos.alerts import AlertEngine, alert_routes
from tests.alerts.helpers import MakeEngine

TOKEN = "s3cret-http-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(name="engine")
def fixture_engine(make_engine: MakeEngine) -> AlertEngine:
    """An engine whose worker is not started (alerts stay queued)."""
    return make_engine()


async def client_for(engine: AlertEngine, token: str | None, **kwargs: object) -> httpx.AsyncClient:
    app = Starlette(routes=alert_routes(engine, token, **kwargs))  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


@pytest_asyncio.fixture(name="client")
async def fixture_client(engine: AlertEngine) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app with the alert routes and a token."""
    async with await client_for(engine, TOKEN, burst=1000) as client:
        yield client


@pytest.mark.asyncio
async def test_valid_request_is_queued_with_202(
    client: httpx.AsyncClient, engine: AlertEngine
) -> None:
    """A good request answers 202 with the alert id, and the alert is in the outbox."""
    r = await client.post(
        "/api/alerts/test",
        json={"message": "hi", "level": "ERROR", "details": {"a": 1}},
        headers=AUTH,
    )
    assert r.status_code == 202
    assert engine.outbox.pending(r.json()["id"]).rows == 1


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": TOKEN}]
)
async def test_missing_or_wrong_token_is_401(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    """No token, a wrong one or a non-Bearer header: 401."""
    r = await client.post("/api/alerts/test", json={}, headers=headers)
    assert r.status_code == 401


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "ctype"),
    [
        (b"{not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b'{"level": "FATAL"}', "application/json"),
        (b'{"level": 3}', "application/json"),
        (b'{"message": 42}', "application/json"),
        (b'{"details": "text"}', "application/json"),
        (b'{"extra": 1}', "application/json"),
        (b"\xff\xfe", "application/json"),
        (b"[" * 5000 + b"]" * 5000, "application/json"),
    ],
)
async def test_invalid_bodies_are_400(client: httpx.AsyncClient, body: bytes, ctype: str) -> None:
    """Invalid JSON, level or fields: 400, never 5xx."""
    r = await client.post("/api/alerts/test", content=body, headers={**AUTH, "Content-Type": ctype})
    assert r.status_code == 400


@pytest.mark.asyncio
async def test_non_json_content_type_is_415(client: httpx.AsyncClient) -> None:
    """text/plain: 415."""
    r = await client.post(
        "/api/alerts/test", content=b"hi", headers={**AUTH, "Content-Type": "text/plain"}
    )
    assert r.status_code == 415


@pytest.mark.asyncio
async def test_declared_oversize_body_is_413(client: httpx.AsyncClient) -> None:
    """A Content-Length over 16 KiB: 413."""
    r = await client.post("/api/alerts/test", json={"message": "x" * 17000}, headers=AUTH)
    assert r.status_code == 413


@pytest.mark.asyncio
async def test_streamed_oversize_body_is_413(client: httpx.AsyncClient) -> None:
    """A chunked body without Content-Length is measured while read: 413."""

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(40):
            yield b" " * 1024

    r = await client.post(
        "/api/alerts/test",
        content=chunks(),
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert r.status_code == 413


@pytest.mark.asyncio
async def test_flooding_client_gets_429(engine: AlertEngine) -> None:
    """Past the burst, one client is told to slow down."""
    async with await client_for(engine, TOKEN, burst=3) as client:
        codes = [
            (await client.post("/api/alerts/test", json={}, headers=AUTH)).status_code
            for _ in range(5)
        ]
    assert codes == [202, 202, 202, 429, 429]


@pytest.mark.asyncio
async def test_endpoint_is_404_without_a_token(engine: AlertEngine) -> None:
    """With http.token unset the API is disabled."""
    async with await client_for(engine, None) as client:
        r = await client.post("/api/alerts/test", json={}, headers=AUTH)
    assert r.status_code == 404
