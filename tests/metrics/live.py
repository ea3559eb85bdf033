"""Run an ASGI app with khronos.server.serve() in a background thread, for real clients."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from khronos.config import HostPort
from khronos.server import HttpServer, serve

_START_TIMEOUT_S = 15.0


@contextmanager
def running(app: Any, **serve_options: Any) -> Iterator[int]:
    """Serve ``app`` on 127.0.0.1, port from the OS; yield the port; stop it on exit.

    ``serve_options`` go to :func:`khronos.server.serve` (``limits=...``)."""
    with running_server(app, **serve_options) as server:
        yield server.port


@contextmanager
def running_server(app: Any, **serve_options: Any) -> Iterator[HttpServer]:
    """As :func:`running`, yielding the :class:`HttpServer` (its port and its stats)."""
    started: concurrent.futures.Future[HttpServer] = concurrent.futures.Future()
    loop_box: dict[str, Any] = {}

    async def main() -> None:
        stop = asyncio.Event()
        loop_box["loop"], loop_box["stop"] = asyncio.get_running_loop(), stop
        try:
            server = await serve(app, HostPort("127.0.0.1", 0), **serve_options)
        except BaseException as exc:
            started.set_exception(exc)
            raise
        started.set_result(server)
        await stop.wait()
        await server.stop()

    thread = threading.Thread(target=asyncio.run, args=(main(),), name="live-app", daemon=True)
    thread.start()
    try:
        yield started.result(timeout=_START_TIMEOUT_S)
    finally:
        if "stop" in loop_box:
            loop_box["loop"].call_soon_threadsafe(loop_box["stop"].set)
        thread.join(timeout=_START_TIMEOUT_S)
