"""The one clock: monotonic time for intervals, wall time for people, and a sleep that honours both.

Every part that measures time takes a :class:`Clock` (default :class:`SystemClock`), so tests
drive it with :class:`ManualClock` and never sleep: the alert engine, its delivery worker and
breakers, the backup supervisor and status tracking.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "ManualClock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """Monotonic time for intervals, wall time for display, and a sleep that honours both."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (intervals, cooldowns, backoff)."""
        ...

    def wall(self) -> float:
        """Unix time, for timestamps shown to people."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()

    def wall(self) -> float:
        """``time.time()``."""
        return time.time()

    async def sleep(self, seconds: float) -> None:
        """``asyncio.sleep``."""
        await asyncio.sleep(max(0.0, seconds))


class ManualClock:
    """A clock that only moves when told to, or when someone sleeps on it (tests, benchmarks).

    ``sleep`` advances the time at once and yields to the event loop, so a worker that backs off
    for five minutes does so in microseconds.  Thread-safe enough for tests: reads of a float.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._start = start

    def monotonic(self) -> float:
        """The current fake time."""
        return self._now

    def wall(self) -> float:
        """The same fake time, as Unix time."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Move the time forward."""
        self._now += max(0.0, seconds)

    async def sleep(self, seconds: float) -> None:
        """Advance by ``seconds`` and let other tasks run."""
        self.advance(seconds)
        await asyncio.sleep(0)
