"""The HTTP server's connection limits, against a real server on loopback and raw sockets:
request and idle timeouts, slow readers, and the bound on open connections."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from prometheus_client import CollectorRegistry
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from khronos.config import KhronosConfig
from khronos.server import ConnectionLimits, HttpServer, auto_max_connections, create_app
from tests.metrics.live import running_server
from tests.polling import poll

LIMITS = ConnectionLimits(request_timeout=1.0, idle_timeout=1.0, max_connections=5)
DEADLINE_S = 30.0


async def _slow(_request: Request) -> Response:
    await asyncio.sleep(2.5)  # longer than the request timeout: the app's time is not counted
    return JSONResponse({"slow": True})


async def _echo(request: Request) -> Response:
    return JSONResponse({"bytes": len(await request.body())})


async def _big(_request: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(1000):  # up to 1 GB: more than any socket buffers hold
            yield b"x" * 1_000_000

    return StreamingResponse(chunks())


Live = tuple[HttpServer, CollectorRegistry]


@pytest.fixture(name="server")
def fixture_server(registry: CollectorRegistry) -> Iterator[Live]:
    """A live server with tight limits (1 s timeouts, 5 connections) and three test routes."""
    routes = [Route("/slow", _slow), Route("/echo", _echo, methods=["POST"]), Route("/big", _big)]
    app = create_app(KhronosConfig(), registry=registry, routes=routes)
    with running_server(app, limits=LIMITS) as server:
        yield server, registry


@pytest.fixture(name="registry")
def fixture_registry() -> CollectorRegistry:
    """A fresh registry."""
    return CollectorRegistry()


def connect(port: int) -> socket.socket:
    """A raw client connection."""
    return socket.create_connection(("127.0.0.1", port), timeout=DEADLINE_S)


def closed_by_server(sock: socket.socket) -> bytes:
    """Read until the server closes the connection (fail after the deadline); what it sent."""
    sock.settimeout(DEADLINE_S)
    received = b""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return received
        except TimeoutError:
            break
        if not chunk:
            return received
        received += chunk
    pytest.fail(f"the server kept the connection open for {DEADLINE_S:g}s")


def status_count(registry: CollectorRegistry, route: str, status: str) -> float:
    """How many requests to ``route`` were recorded with ``status``."""
    labels = {"method": "POST", "route": route, "status": status}
    return registry.get_sample_value("khronos_http_request_duration_seconds_count", labels) or 0.0


@pytest.mark.integration
def test_a_connection_that_sends_nothing_is_closed(server: Live) -> None:
    """A client that connects and never sends a byte is disconnected after the timeout."""
    port = server[0].port
    with connect(port) as sock:
        assert closed_by_server(sock) == b""


@pytest.mark.integration
def test_headers_sent_a_byte_at_a_time_are_cut_off(server: Live) -> None:
    """Slowloris: headers trickling in, each byte in time, still end at the request timeout."""
    port = server[0].port
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + b"a" * 400 + b"\r\n\r\n"
    sent = 0
    with connect(port) as sock:
        while sent < len(request) and not _closed_now(sock):
            try:
                sock.sendall(request[sent : sent + 1])
            except OSError:  # reset by the server between two bytes
                break
            sent += 1
            time.sleep(0.05)
    assert sent < len(request)  # cut off before the headers were complete


def _closed_now(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True
    finally:
        sock.setblocking(True)


@pytest.mark.integration
def test_a_body_that_does_not_arrive_is_cut_off_and_counted_408(
    server: Live,
) -> None:
    """A POST that announces 100 bytes and sends 10 is disconnected; the metrics say 408."""
    port, registry = server[0].port, server[1]
    head = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
    with connect(port) as sock:
        sock.sendall(head + b"0123456789")
        assert closed_by_server(sock) == b""
    poll(lambda: status_count(registry, "/echo", "408") == 1, what="a 408 recorded")
    assert status_count(registry, "/echo", "500") == 0


@pytest.mark.integration
def test_an_idle_kept_alive_connection_is_closed(server: Live) -> None:
    """After a response, a connection that sends no next request is closed (idle timeout)."""
    port = server[0].port
    with connect(port) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b"200 OK" in closed_by_server(sock)


@pytest.mark.integration
def test_a_slow_answer_is_not_a_slow_request(server: Live) -> None:
    """The time the app takes to answer is not counted against the client."""
    port = server[0].port
    answer = httpx.get(f"http://127.0.0.1:{port}/slow", timeout=DEADLINE_S)
    assert answer.json() == {"slow": True}


@pytest.mark.integration
def test_a_client_that_stops_reading_is_cut_off(server: Live) -> None:
    """A client that asks for a big answer and never reads it does not hold a descriptor: the
    server drops the connection (the kernel may still trickle what it had to the client)."""
    live = server[0]
    with connect(live.port) as sock:
        sock.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        poll(lambda: live.stats.closed.get("slow_reader") == 1, what="the slow reader dropped")
        poll(lambda: live.stats.open == 0, what="no connection left open")


@pytest.mark.integration
def test_connections_beyond_the_bound_are_closed_without_an_answer(
    server: Live,
) -> None:
    """With 5 connections open, a sixth is closed at once, with no 5xx; once they are gone,
    requests are served again."""
    live = server[0]
    port = live.port
    held = [connect(port) for _ in range(5)]
    try:
        poll(lambda: live.stats.open == 5, what="the server to take the five in")
        with connect(port) as extra:
            extra.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert closed_by_server(extra) == b""
    finally:
        for sock in held:
            sock.close()
    poll(lambda: live.stats.open == 0, what="the five to be gone")
    assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
    assert live.stats.closed["over_limit"] == 1


def test_the_automatic_bound_is_half_the_descriptor_limit() -> None:
    """max_connections by default: half the soft open-files limit, within 16..4096."""
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert auto_max_connections() == max(16, min(4096, soft // 2))
