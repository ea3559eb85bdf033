"""The delivery worker: one asyncio task per channel, draining the outbox in order.

For each channel it takes the oldest row and waits for whatever forbids sending it now: the
chat's rate limits (and a 429's ``retry_after``), the backoff after a failure, an open circuit
breaker.  Then it sends; on success the row is deleted, on failure it stays at the head and is
tried again, so delivery is ordered and at-least-once.  A duplicate needs Telegram to accept a
message and the process to die before the delete - a window of one local SQLite statement.
"""

from __future__ import annotations

import asyncio
import random
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import structlog

from khronos.alerts._breaker import BreakerEvent, CircuitBreaker
from khronos.alerts._clock import Clock
from khronos.alerts._metrics import AlertMetrics
from khronos.alerts._notifier import DeliveryError, Notifier, OutgoingMessage, RateLimit
from khronos.alerts._outbox import Outbox

__all__ = ["DeliveryWorker", "RateLimiter"]

_log = structlog.get_logger("khronos.alerts")
_MAX_OUTCOMES = 1000


@dataclass
class _ChatWindow:
    sent: deque[float] = field(default_factory=lambda: deque(maxlen=64))
    blocked_until: float = 0.0


class RateLimiter:
    """Sliding-window limits per chat, plus blocks a 429 asks for."""

    def __init__(self) -> None:
        self._chats: dict[str, _ChatWindow] = {}

    def next_allowed(self, chat: str, limits: Sequence[RateLimit], now: float) -> float:
        """Earliest clock time a message may go to ``chat``."""
        window = self._chats.get(chat)
        if window is None:
            return now
        at = max(now, window.blocked_until)
        for limit in limits:
            if len(window.sent) >= limit.count:
                at = max(at, window.sent[-limit.count] + limit.period)
        return at

    def record(self, chat: str, now: float) -> None:
        """A message went to ``chat`` at ``now``."""
        self._chats.setdefault(chat, _ChatWindow()).sent.append(now)

    def block(self, chat: str, until: float) -> None:
        """Send nothing to ``chat`` before ``until`` (Telegram's 429 ``retry_after``)."""
        window = self._chats.setdefault(chat, _ChatWindow())
        window.blocked_until = max(window.blocked_until, until)


class DeliveryWorker:
    """Delivers outbox rows through the notifiers, one task per channel."""

    def __init__(
        self,
        outbox: Outbox,
        notifiers: Sequence[Notifier],
        *,
        clock: Clock,
        metrics: AlertMetrics,
        breaker_failures: int = 5,
        breaker_reset: float = 30.0,
        backoff_initial: float = 1.0,
        backoff_max: float = 300.0,
        poll_interval: float = 1.0,
        on_recovered: Callable[[str, float, int], None] | None = None,
    ) -> None:
        self.outbox = outbox
        self.notifiers = {n.name: n for n in notifiers}
        self.clock = clock
        self.metrics = metrics
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.poll_interval = poll_interval
        self.limiter = RateLimiter()
        self.breakers = {
            name: CircuitBreaker(
                f"alerts.{name}",
                failure_threshold=breaker_failures,
                reset_timeout=breaker_reset,
                clock=clock,
            )
            for name in self.notifiers
        }
        self._on_recovered = on_recovered
        for name, breaker in self.breakers.items():
            breaker.add_listener(self._breaker_listener(name))
        self._next_attempt: dict[str, float] = {}
        self.outcomes: OrderedDict[str, str] = OrderedDict()
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def _breaker_listener(self, channel: str) -> Callable[[BreakerEvent], None]:
        def listener(event: BreakerEvent) -> None:
            if event.new == "closed" and self._on_recovered is not None:
                self._on_recovered(channel, event.outage, self.outbox.count(channel) + 1)

        return listener

    @property
    def running(self) -> bool:
        """Whether the channel tasks are running."""
        return any(not t.done() for t in self._tasks)

    def start(self) -> None:
        """Start one task per channel on the running event loop."""
        if self.running:
            return
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._tasks = [
            asyncio.create_task(self._run(n), name=f"khronos-alerts-{n.name}")
            for n in self.notifiers.values()
        ]

    async def stop(self) -> None:
        """Cancel the tasks (rows not yet delivered stay in the outbox)."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    def wake(self) -> None:
        """New rows were added (callable from any thread)."""
        loop, event = self._loop, self._wake
        if loop is None or event is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(event.set)
        except RuntimeError:  # the loop closed in between
            return

    def _remember(self, alert_id: str, outcome: str) -> None:
        self.outcomes[alert_id] = outcome
        self.outcomes.move_to_end(alert_id)
        while len(self.outcomes) > _MAX_OUTCOMES:
            self.outcomes.popitem(last=False)

    async def _idle(self) -> None:
        assert self._wake is not None  # noqa: S101 - set by start()
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), self.poll_interval)
        except TimeoutError:
            return

    async def _run(self, notifier: Notifier) -> None:
        while True:
            try:
                if not await self._step(notifier):
                    await self._idle()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the worker must outlive any one bad row
                _log.exception("alert delivery step failed", channel=notifier.name)
                await self.clock.sleep(self.backoff_initial)

    async def _step(self, notifier: Notifier) -> bool:
        """Try to deliver the head row; False when there is nothing to do."""
        name = notifier.name
        message = self.outbox.head(name)
        if message is None:
            return False
        breaker = self.breakers[name]
        limits = notifier.rate_limits(message.chat)
        now = self.clock.monotonic()
        ready = max(
            self._next_attempt.get(name, 0.0),
            self.limiter.next_allowed(message.chat, limits, now),
            breaker.retry_at if breaker.state == "open" else 0.0,
        )
        if ready > now:
            await self.clock.sleep(ready - now)
            return True
        if not breaker.allow():
            await self.clock.sleep(max(breaker.retry_at - now, self.backoff_initial))
            return True
        self.limiter.record(message.chat, now)
        await self._send(notifier, breaker, message)
        return True

    async def _send(
        self, notifier: Notifier, breaker: CircuitBreaker, message: OutgoingMessage
    ) -> None:
        name = notifier.name
        try:
            await notifier.send(message)
        except DeliveryError as exc:
            self._failed(notifier, breaker, message, exc)
            return
        except Exception as exc:  # noqa: BLE001 - a custom notifier's bug is a failed send
            error = DeliveryError(f"{type(exc).__name__} in notifier {name}", reason="error")
            self._failed(notifier, breaker, message, error)
            return
        self.outbox.delete(message.id)
        self._next_attempt.pop(name, None)
        self.metrics.sent.labels(level=message.level.name, channel=name).inc()
        self._remember(message.alert_id, "delivered")
        breaker.record_success()

    def _failed(
        self,
        notifier: Notifier,
        breaker: CircuitBreaker,
        message: OutgoingMessage,
        exc: DeliveryError,
    ) -> None:
        name = notifier.name
        now = self.clock.monotonic()
        self.metrics.failed.labels(channel=name, reason=exc.reason).inc()
        if exc.reachable:
            breaker.record_success()
        else:
            breaker.record_failure(exc.reason)
        if exc.retry_after is not None:
            self.limiter.block(message.chat, now + exc.retry_after)
            self.outbox.note_failure(message.id, exc.message)
            _log.warning("alert rate limited", channel=name, retry_after=exc.retry_after)
            return
        if not exc.recoverable:
            self.outbox.delete(message.id)
            self._remember(message.alert_id, f"rejected: {exc}")
            _log.error("alert rejected, dropped", channel=name, error=str(exc))
            return
        attempts = self.outbox.note_failure(message.id, str(exc))
        delay = min(self.backoff_max, self.backoff_initial * 2 ** min(attempts - 1, 30))
        self._next_attempt[name] = now + delay * (0.5 + random.random() / 2)  # noqa: S311
        _log.warning(
            "alert delivery failed, will retry",
            channel=name,
            reason=exc.reason,
            attempts=attempts,
            error=str(exc),
        )
