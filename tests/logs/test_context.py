"""Correlation IDs: per request, per task, never mixed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from khronos import logs
from tests.logs.helpers import Setup, read_lines


def test_context_manager_binds_and_restores() -> None:
    """Inside the block the ID is set; after it, the previous one is back."""
    with logs.bind_correlation_id("outer"):
        with logs.bind_correlation_id() as inner:
            assert logs.get_correlation_id() == inner != "outer"
        assert logs.get_correlation_id() == "outer"
    assert logs.get_correlation_id() is None


def test_decorator_gives_each_call_a_fresh_id() -> None:
    """A decorated function sees a new ID on every call."""

    @logs.bind_correlation_id()
    def handler() -> str | None:
        return logs.get_correlation_id()

    first, second = handler(), handler()
    assert first
    assert second
    assert first != second


@pytest.mark.asyncio
async def test_async_decorator_and_task_propagation() -> None:
    """An async decorated function's ID is inherited by the tasks it starts."""

    @logs.bind_correlation_id("job-9")
    async def work() -> str | None:
        return await asyncio.create_task(asyncio.sleep(0, logs.get_correlation_id()))

    assert await work() == "job-9"
    assert logs.get_correlation_id() is None


@pytest.mark.parametrize(
    ("header", "kept"),
    [("abc-123", True), ("x" * 129, False), ("bad id\n", False), ('a"b', False), ("", False)],
)
def test_incoming_ids_are_validated(header: str, kept: bool) -> None:
    """Only short IDs of safe characters are accepted from clients."""
    assert logs.is_valid_correlation_id(header.strip()) is kept


def _app(barrier: asyncio.Barrier | None = None) -> Starlette:
    log = logs.get_logger()

    async def endpoint(request: Request) -> PlainTextResponse:
        log.info("request start", path=request.url.path)
        if barrier is not None:
            # Every request waits here until all of them are inside: they really overlap.
            # A timeout makes a serialised run fail instead of hanging.
            async with asyncio.timeout(30):
                await barrier.wait()
        await asyncio.sleep(0)
        await asyncio.create_task(asyncio.sleep(0))
        log.info("request end", path=request.url.path)
        return PlainTextResponse(logs.get_correlation_id() or "")

    return Starlette(routes=[Route("/{n}", endpoint)])


@pytest.mark.asyncio
async def test_100_concurrent_requests_keep_their_own_ids(
    setup_logs: Setup, tmp_path: Path
) -> None:
    """100 requests inside the endpoint at once: every line carries its own request's ID."""
    setup_logs(console="off")
    app = logs.CorrelationIdMiddleware(_app(asyncio.Barrier(100)))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        responses = await asyncio.gather(
            *(client.get(f"/{n}", headers={"X-Correlation-ID": f"req-{n}"}) for n in range(100))
        )
    logs.shutdown()
    assert [r.text for r in responses] == [f"req-{n}" for n in range(100)]
    assert all(r.headers["x-correlation-id"] == f"req-{n}" for n, r in enumerate(responses))
    records = read_lines(tmp_path / "logs/combined.log")
    assert len(records) == 200
    assert [r["message"] for r in records] == ["request start"] * 100 + ["request end"] * 100
    assert all(r["correlationId"] == "req-" + r["path"][1:] for r in records)


@pytest.mark.asyncio
async def test_middleware_creates_an_id_for_bad_or_missing_headers() -> None:
    """X-Request-ID is accepted; a forged ID is replaced by a fresh one."""
    app = logs.CorrelationIdMiddleware(_app())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        by_request_id = await client.get("/1", headers={"X-Request-ID": "rid-1"})
        forged = await client.get("/2", headers={"X-Correlation-ID": 'x" , "level":"fake'})
        missing = await client.get("/3")
    assert by_request_id.headers["x-correlation-id"] == "rid-1"
    assert logs.is_valid_correlation_id(forged.headers["x-correlation-id"])
    assert forged.text == forged.headers["x-correlation-id"] != missing.text
