"""An alert storm: 100,000 identical errors in a minute cost one message per cooldown."""

from __future__ import annotations

import tracemalloc

import pytest
from prometheus_client import CollectorRegistry

from khronos.clock import ManualClock
from tests.alerts.fake_telegram import FakeTelegram
from tests.alerts.helpers import MakeEngine

STORM = 100_000
MEMORY_BOUND = 10_000_000
"""Far above what the engine needs (a few hundred kB), far below what keeping anything per alert
would take (100,000 alerts x a details dict and a row of a few hundred bytes: tens of MB)."""


@pytest.mark.asyncio
async def test_storm_sends_one_message_per_cooldown_in_bounded_memory(
    make_engine: MakeEngine, telegram: FakeTelegram, clock: ManualClock, registry: CollectorRegistry
) -> None:
    """100k identical errors over 60 s with a 20 s cooldown: 3 messages; memory does not grow.

    The memory bound is structural, not a speed: Python allocations traced by tracemalloc while
    the storm runs stay under 10 MB, so nothing is kept per suppressed alert.
    """
    engine = make_engine(cooldown=20)
    start = clock.monotonic()
    tracemalloc.start()
    try:
        for i in range(STORM):
            engine.send_alert("Payment provider timeout", "ERROR", {"provider": "acme"})
            clock.advance(start + (i + 1) * 60 / STORM - clock.monotonic())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    await engine.start()
    assert await engine.drain(10)
    assert len(telegram.texts()) == 3
    assert registry.get_sample_value("khronos_alerts_suppressed_total", {"level": "ERROR"}) == (
        STORM - 3
    )
    assert peak < MEMORY_BOUND
