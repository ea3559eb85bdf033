"""A circuit breaker for sync and async calls, with state-change listeners.

Closed: calls pass; ``failure_threshold`` consecutive failures open it.  Open: calls fail fast
with :class:`CircuitOpenError` until ``reset_timeout`` has passed; then exactly one caller gets
through as the half-open probe.  The probe's success closes the breaker, its failure opens it
again for another ``reset_timeout``.  Every transition calls the listeners with a
:class:`BreakerEvent` (metrics, logs, the "circuit breaker opened" alert, Telegram's summary).

Why not ``purgatory`` (evaluated, 3.0.1): it reads ``time.time()`` directly, so tests could not
inject a clock and a wall-clock jump reopens or closes circuits; in half-open it lets every
concurrent caller through instead of a single probe; sync and async breakers come from separate
factories with separate state, so one breaker cannot guard both kinds of call; and its hooks are
untyped ``(name, "state_changed", event)`` strings.  This class is ~150 lines, typed, uses the
injectable :class:`~khronos.alerts.Clock`, and is thread-safe.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Literal, ParamSpec, Protocol, TypeVar

import structlog

from khronos.clock import Clock, SystemClock
from khronos.errors import CircuitOpenError

__all__ = [
    "BreakerEvent",
    "BreakerListener",
    "BreakerMetricsSink",
    "BreakerState",
    "CircuitBreaker",
    "CircuitOpenError",
    "breaker_metrics_listener",
]

BreakerState = Literal["closed", "open", "half_open"]
P = ParamSpec("P")
T = TypeVar("T")
_log = structlog.get_logger("khronos.alerts")


@dataclass(frozen=True, slots=True)
class BreakerEvent:
    """One state change of a breaker."""

    breaker: str
    old: BreakerState
    new: BreakerState
    at: float
    """Clock time (monotonic) of the change."""
    outage: float
    """Seconds since the breaker first opened in this outage (0 while closed before)."""
    reason: str
    """The last failure, when known (never contains a secret if the caller masked it)."""


BreakerListener = Callable[[BreakerEvent], None]


class BreakerMetricsSink(Protocol):
    """What :func:`breaker_metrics_listener` needs (``khronos.metrics.Metrics`` provides it)."""

    def record_circuit_breaker_state_change(self, breaker: str, state: str) -> None:
        """Count a transition and set the breaker's current state."""
        ...


def breaker_metrics_listener(metrics: BreakerMetricsSink) -> BreakerListener:
    """A listener that reports every transition to the metrics."""

    def listener(event: BreakerEvent) -> None:
        metrics.record_circuit_breaker_state_change(event.breaker, event.new)

    return listener


class CircuitBreaker:
    """Guard calls to a flaky dependency: ``breaker.call(f)``, ``await breaker.call_async(f)``,
    ``with breaker:`` or ``async with breaker:``.

    >>> breaker = CircuitBreaker("openai", failure_threshold=3, reset_timeout=30)
    >>> breaker.state
    'closed'
    """

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        reset_timeout: float = 30.0,
        clock: Clock | None = None,
        exclude: tuple[type[BaseException], ...] = (),
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.name = name
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self.exclude = exclude
        self._clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._state: BreakerState = "closed"
        self._failures = 0
        self._opened_at = 0.0
        self._outage_started: float | None = None
        self._probing = False
        self._reason = ""
        self._listeners: list[BreakerListener] = []

    def __repr__(self) -> str:
        return f"CircuitBreaker({self.name!r}, state={self._state!r}, failures={self._failures})"

    @property
    def state(self) -> BreakerState:
        """``closed``, ``open`` or ``half_open``."""
        return self._state

    @property
    def failures(self) -> int:
        """Consecutive failures counted so far."""
        return self._failures

    @property
    def retry_at(self) -> float:
        """Clock time when an open breaker lets the next probe through."""
        return self._opened_at + self.reset_timeout

    def add_listener(self, listener: BreakerListener) -> None:
        """Call ``listener`` on every state change (exceptions in it are logged, not raised)."""
        self._listeners.append(listener)

    def allow(self) -> bool:
        """Whether a call may go ahead now (an open breaker past its timeout admits one probe)."""
        event = None
        with self._lock:
            if self._state == "closed":
                return True
            if self._state == "open":
                if self._clock.monotonic() < self.retry_at:
                    return False
                event = self._transition("half_open")
            if self._probing:
                allowed = False
            else:
                self._probing = allowed = True
        self._emit(event)
        return allowed

    def record_success(self) -> None:
        """The guarded call worked: reset the count, close a half-open breaker."""
        event = None
        with self._lock:
            self._failures = 0
            self._probing = False
            if self._state != "closed":
                event = self._transition("closed")
                self._outage_started = None
        self._emit(event)

    def record_failure(self, reason: str = "") -> None:
        """The guarded call failed: count it; open when the threshold is reached."""
        event = None
        with self._lock:
            self._failures += 1
            self._probing = False
            self._reason = reason
            now = self._clock.monotonic()
            if self._state == "half_open" or (
                self._state == "closed" and self._failures >= self.failure_threshold
            ):
                self._opened_at = now
                if self._outage_started is None:
                    self._outage_started = now
                event = self._transition("open")
            elif self._state == "open":
                self._opened_at = now
        self._emit(event)

    def _check(self) -> None:
        if not self.allow():
            raise CircuitOpenError(self.name, self.retry_at - self._clock.monotonic())

    def _finish(self, exc: BaseException | None) -> None:
        if exc is None or isinstance(exc, self.exclude):
            self.record_success()
        elif isinstance(exc, Exception):
            self.record_failure(f"{type(exc).__name__}: {exc}")
        else:  # cancelled or interrupted: the dependency is not to blame
            with self._lock:
                self._probing = False

    def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a sync function through the breaker."""
        with self:
            return fn(*args, **kwargs)

    async def call_async(
        self, fn: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run a coroutine function through the breaker."""
        async with self:
            return await fn(*args, **kwargs)

    def __enter__(self) -> CircuitBreaker:
        self._check()
        return self

    def __exit__(
        self, typ: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._finish(exc)

    async def __aenter__(self) -> CircuitBreaker:
        self._check()
        return self

    async def __aexit__(
        self, typ: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._finish(exc)

    def _transition(self, new: BreakerState) -> BreakerEvent:
        now = self._clock.monotonic()
        started = self._outage_started
        event = BreakerEvent(
            breaker=self.name,
            old=self._state,
            new=new,
            at=now,
            outage=0.0 if started is None else now - started,
            reason=self._reason,
        )
        self._state = new
        return event

    def _emit(self, event: BreakerEvent | None) -> None:
        if event is None:
            return
        _log.warning(
            "circuit breaker state changed",
            breaker=event.breaker,
            old=event.old,
            new=event.new,
            outage_seconds=round(event.outage, 3),
        )
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # noqa: BLE001 - a listener must not break the guarded call
                _log.exception("circuit breaker listener failed", breaker=event.breaker)
