"""The one rate limiter: sliding windows per key (a chat, a client), and blocks a server asks for.

Used by the alert delivery worker (Telegram's 1 message/s per chat and 20/min per group, and a
429's ``retry_after``) and by the HTTP alert API (requests per client).  Written here rather than
taken from a library (``limits``, ``aiolimiter``) because the worker needs two things those do
not give: time from the injectable :class:`~khronos.clock.Clock` (tests run minutes of backoff in
microseconds), and *when* the next message may go (the worker sleeps exactly that long instead of
trying and being refused).  A window keeps the times of the last ``max(count)`` events per key;
memory is bounded by ``max_keys`` (the oldest keys are forgotten first).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["RateLimit", "RateLimiter"]


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``count`` events per ``period`` seconds for one key."""

    count: int
    period: float


@dataclass
class _Window:
    events: deque[float] = field(default_factory=deque)
    blocked_until: float = 0.0


class RateLimiter:
    """Sliding-window limits per key, plus blocks until a time (a 429's ``retry_after``)."""

    def __init__(self, limits: Sequence[RateLimit] = (), *, max_keys: int = 10_000) -> None:
        self.limits = tuple(limits)
        self.max_keys = max_keys
        self._keys: OrderedDict[str, _Window] = OrderedDict()

    def next_allowed(
        self, key: str, now: float, limits: Sequence[RateLimit] | None = None
    ) -> float:
        """The earliest time an event for ``key`` may happen (``now`` when it may now);
        ``limits`` overrides the limiter's own (a notifier's limits depend on the chat)."""
        window = self._keys.get(key)
        if window is None:
            return now
        at = max(now, window.blocked_until)
        for limit in self.limits if limits is None else limits:
            if len(window.events) >= limit.count:
                at = max(at, window.events[-limit.count] + limit.period)
        return at

    def record(self, key: str, now: float) -> None:
        """An event for ``key`` happened at ``now``."""
        window = self._window(key)
        window.events.append(now)
        keep = max((limit.count for limit in self.limits), default=64)
        while len(window.events) > max(keep, 64):
            window.events.popleft()

    def allow(self, key: str, now: float) -> bool:
        """Record an event for ``key`` if the limits allow it now; whether they did."""
        if self.next_allowed(key, now) > now:
            return False
        self.record(key, now)
        return True

    def block(self, key: str, until: float) -> None:
        """Allow nothing for ``key`` before ``until``."""
        window = self._window(key)
        window.blocked_until = max(window.blocked_until, until)

    def _window(self, key: str) -> _Window:
        window = self._keys.get(key)
        if window is None:
            while len(self._keys) >= self.max_keys:
                self._keys.popitem(last=False)
            window = self._keys[key] = _Window()
        else:
            self._keys.move_to_end(key)
        return window
