"""The check loops survive their collaborators: an engine that raises is counted, not fatal."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from khronos.alerts import AlertEngine, LogNotifier, Outbox
from khronos.checks import CheckRunner, DiskCheck
from khronos.health import Health, set_health

pytestmark = pytest.mark.asyncio


class _BrokenOnce(AlertEngine):
    """An engine whose first fire() raises (a collaborator's bug; a full disk no longer does:
    the engine keeps such alerts in memory)."""

    failed = False

    def fire(self, *args: Any, **kwargs: Any) -> str | None:
        if not self.failed:
            self.failed = True
            raise sqlite3.OperationalError("database or disk is full")
        return super().fire(*args, **kwargs)


@pytest.fixture(name="health")
def fixture_health() -> Iterator[Health]:
    """A Health of its own, process-wide for the test."""
    health = Health()
    previous = set_health(health)
    yield health
    set_health(previous)


async def test_a_check_loop_outlives_an_engine_that_raises(tmp_path: Path, health: Health) -> None:
    """The engine raises once under a firing check: the error is counted for the part
    check.disk, and the loop keeps checking."""
    reads: list[int] = []

    def free(_path: Path) -> int:
        reads.append(1)
        return 0  # below min_free: the check fires

    engine = _BrokenOnce(Outbox(tmp_path / "o.db"), [LogNotifier()])
    check = DiskCheck(tmp_path, min_free=1, every=0.01, read_free=free)
    runner = CheckRunner(engine, [check], registry=CollectorRegistry())
    await runner.start()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while len(reads) < 3 and loop.time() < deadline:
            await asyncio.sleep(0.01)
        assert len(reads) >= 3
        assert health.errors == {"check.disk": 1}
        assert not runner.tasks["check.disk"].done()
    finally:
        await runner.stop()
        engine.outbox.close()
