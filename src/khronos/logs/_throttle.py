"""One log line per kind of event per period, with a count of the ones held back.

A fault that repeats thousands of times a second (``accept()`` failing with "Too many open
files", a scanner sending garbage) must not flood the log and rotate the useful records away:
the first event of a kind is logged, the next ones within the period are only counted, and the
first one after the period is logged with that count.

>>> throttle = LogThrottle(period=60.0, clock=iter([0.0, 1.0, 2.0, 61.0]).__next__)
>>> [throttle.admit("accept EMFILE") for _ in range(4)]
[0, None, None, 2]
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable

__all__ = ["LogThrottle"]

_MAX_KINDS = 1000


class LogThrottle:
    """Lets one event of each kind through per ``period`` seconds (thread-safe).

    :meth:`admit` returns None for an event to hold back, or, for one to log, how many of its
    kind were held back since the last one logged (log it as ``repeats_since_last_log``).
    At most ``max_kinds`` kinds are remembered; beyond, the oldest is forgotten.
    """

    def __init__(
        self,
        period: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_kinds: int = _MAX_KINDS,
    ) -> None:
        self.period = period
        self._clock = clock
        self._max_kinds = max_kinds
        self._lock = threading.Lock()
        self._kinds: dict[Hashable, tuple[float, int]] = {}

    def admit(self, kind: Hashable) -> int | None:
        """None to hold this event back; else the number held back since the last one logged."""
        now = self._clock()
        with self._lock:
            seen = self._kinds.get(kind)
            if seen is not None and now - seen[0] < self.period:
                self._kinds[kind] = (seen[0], seen[1] + 1)
                return None
            if seen is None and len(self._kinds) >= self._max_kinds:
                del self._kinds[next(iter(self._kinds))]
            self._kinds[kind] = (now, 0)
            return seen[1] if seen is not None else 0

    def clear(self) -> None:
        """Forget every kind (tests)."""
        with self._lock:
            self._kinds.clear()
