"""Every long-lived part has the same shape: async start()/stop() and ``async with``."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from khronos.alerts import AlertEngine, LogNotifier, Outbox
from khronos.backup import BackupService, VerifyScheduler
from khronos.checks import CheckRunner
from khronos.config import parse_config
from khronos.lifecycle import Lifecycle
from khronos.server import HttpServer, create_app


@pytest.mark.parametrize(
    "part", [AlertEngine, BackupService, VerifyScheduler, CheckRunner, HttpServer]
)
def test_each_long_lived_part_is_a_lifecycle(part: type) -> None:
    """The daemon composes them alike (an AsyncExitStack)."""
    assert issubclass(part, Lifecycle)


@pytest.mark.asyncio
async def test_async_with_starts_and_stops_an_engine(tmp_path: Path) -> None:
    """``async with`` delivers while inside, and stops the delivery worker on the way out."""
    async with AlertEngine(Outbox(tmp_path / "o.db"), [LogNotifier()]) as engine:
        assert engine.worker.running
    assert not engine.worker.running
    engine.outbox.close()


@pytest.mark.asyncio
async def test_async_with_serves_and_stops_the_http_server() -> None:
    """The HTTP server binds port 0 on entry and stops accepting on exit."""
    config = parse_config("http: {listen: '127.0.0.1:0'}")
    app = create_app(config, registry=CollectorRegistry())
    async with HttpServer(app, config.http.listen) as server:
        assert server.port > 0
        assert not server.task.done()
    assert server.task.done()
