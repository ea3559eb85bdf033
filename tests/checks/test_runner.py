"""The runner: durations counted from the first failure, and loops that survive any error."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from prometheus_client import CollectorRegistry

from khronos.alerts import AlertEngine, AlertMetrics, LogNotifier, Outbox
from khronos.checks import CheckRunner, HttpCheck, MemoryCheck
from khronos.clock import ManualClock
from khronos.health import Health, set_health
from tests.checks.helpers import queued_texts, runner_for


@pytest.mark.asyncio
async def test_http_check_with_three_failures_counts_from_the_first(
    engine: AlertEngine, registry: CollectorRegistry, clock: ManualClock
) -> None:
    """Down at 0 s, fired at the third failure (60 s), back at 87 s: "lasted 1m27s"."""
    healthy = [False]
    transport = httpx.MockTransport(lambda _: httpx.Response(200 if healthy[0] else 503))
    check = HttpCheck("bot", "http://127.0.0.1:9/health", failures=3, transport=transport)
    runner = runner_for(engine, check, registry)
    for wait in (30, 30, 27):  # failures at 0 s, 30 s and 60 s (fires); healthy at 87 s
        await runner.run_once(check)
        clock.advance(wait)
    healthy[0] = True
    await runner.run_once(check)
    fired, resolved = queued_texts(engine)
    assert "first seen 1m ago" in fired
    assert "✅ Resolved: Service bot is unhealthy" in resolved
    assert "lasted 1m27s; worst: 3 failed checks in a row" in resolved


class _FlakyEngine(AlertEngine):
    """An engine whose fire() raises the first three times (a collaborator's bug)."""

    fires = 0

    def fire(self, *args: Any, **kwargs: Any) -> str | None:
        self.fires += 1
        if self.fires <= 3:
            raise RuntimeError("the engine broke")
        return super().fire(*args, **kwargs)


@pytest.mark.asyncio
async def test_a_check_loop_survives_an_exception_from_the_engine(
    tmp_path: Path, registry: CollectorRegistry
) -> None:
    """fire() raising does not end the check's task; the traceback is logged once."""
    engine = _FlakyEngine(Outbox(tmp_path / "o.db"), [LogNotifier()], metrics=AlertMetrics())
    runner = CheckRunner(
        engine, [MemoryCheck(100, every=0.01, read_rss=lambda: 10**9)], registry=registry
    )
    health = Health()
    previous = set_health(health)
    try:
        with structlog.testing.capture_logs() as logs:
            await runner.start()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 30
            while "check:memory" not in engine.conditions and loop.time() < deadline:
                await asyncio.sleep(0.01)
            await runner.stop()
    finally:
        set_health(previous)
    engine.outbox.close()
    assert "check:memory" in engine.conditions
    failures = [e for e in logs if e.get("part") == "check.memory"]
    assert len(failures) == 1
    assert isinstance(failures[0]["exc_info"], RuntimeError)
    assert health.errors["check.memory"] == 3
