"""The delivery worker: one task per (channel, chat), each draining its chat's rows in order.

Order is kept per chat, not per channel: a chat Telegram refuses (a wrong ``critical_chat_id``
answering "chat not found"), a chat blocked by a 429 or by the 1 message/s limit holds up only
its own alerts, never those for another chat.  A supervisor task per channel starts a chat task
for every chat with pending rows; the chat task ends when its chat's rows are gone.

For each chat the task takes the oldest row and waits for whatever forbids sending it now: the
chat's rate limits (and a 429's ``retry_after``), the chat's backoff after a failure, the
channel's open circuit breaker.  Then it sends; on success the row is deleted, on failure it stays
at the head and is tried again after a bounded exponential backoff (a refusal that needs a person
to act, like "chat not found", is retried too - slowly - and counted each time in
``khronos_alerts_failed_total``, never dropped silently).  So delivery is ordered per chat and
at-least-once.  A duplicate needs Telegram to accept a message and the process to die before the
delete - a window of one local SQLite statement, or, while the outbox file cannot be written
(a full disk), the process ending before it can be written again (the outbox remembers the
delivery in memory until then).  A row waiting in memory is *claimed* while it is sent, so the
outbox does not move it to the file (where it would get a new id and be sent again).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import OrderedDict
from collections.abc import Callable, Sequence

import structlog

from khronos.alerts._breaker import BreakerEvent, CircuitBreaker
from khronos.alerts._metrics import AlertMetrics
from khronos.alerts._notifier import DeliveryError, Notifier, OutgoingMessage
from khronos.alerts._outbox import Outbox
from khronos.clock import Clock
from khronos.health import get_health
from khronos.ratelimit import RateLimiter

__all__ = ["DeliveryWorker"]

_log = structlog.get_logger("khronos.alerts")
_MAX_OUTCOMES = 1000


def _chat_key(channel: str, chat: str) -> str:
    """The rate limiter's key: chats of different channels are different destinations."""
    return f"{channel}\x00{chat}"


class DeliveryWorker:
    """Delivers outbox rows through the notifiers, one task per channel and chat."""

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
        on_sent: Callable[[str, OutgoingMessage, object], None] | None = None,
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
        self._on_sent = on_sent
        for name, breaker in self.breakers.items():
            breaker.add_listener(self._breaker_listener(name))
        self._next_attempt: dict[tuple[str, str], float] = {}
        self.outcomes: OrderedDict[str, str] = OrderedDict()
        self._wake: dict[str, asyncio.Event] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._chat_tasks: dict[tuple[str, str], asyncio.Task[None]] = {}

    def _breaker_listener(self, channel: str) -> Callable[[BreakerEvent], None]:
        def listener(event: BreakerEvent) -> None:
            if event.new == "closed" and self._on_recovered is not None:
                self._on_recovered(channel, event.outage, self.outbox.count(channel) + 1)

        return listener

    @property
    def running(self) -> bool:
        """Whether the channel tasks are running."""
        return any(not t.done() for t in self._tasks)

    @property
    def tasks(self) -> dict[str, asyncio.Task[None]]:
        """The channel supervisors by part name (``alerts.<channel>``), for an owner to watch."""
        return {f"alerts.{n}": t for n, t in zip(self.notifiers, self._tasks, strict=False)}

    def start(self) -> None:
        """Start one supervisor task per channel on the running event loop."""
        if self.running:
            return
        self._loop = asyncio.get_running_loop()
        self._wake = {name: asyncio.Event() for name in self.notifiers}
        self._tasks = [
            asyncio.create_task(self._supervise(n), name=f"khronos-alerts-{n.name}")
            for n in self.notifiers.values()
        ]

    async def stop(self) -> None:
        """Cancel the tasks (rows not yet delivered stay in the outbox)."""
        tasks = [*self._tasks, *self._chat_tasks.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks = []
        self._chat_tasks.clear()

    def wake(self) -> None:
        """New rows were added (callable from any thread)."""
        loop, events = self._loop, list(self._wake.values())
        if loop is None or not events or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(_set_all, events)
        except RuntimeError:  # the loop closed in between
            return

    def _remember(self, alert_id: str, outcome: str) -> None:
        self.outcomes[alert_id] = outcome
        self.outcomes.move_to_end(alert_id)
        while len(self.outcomes) > _MAX_OUTCOMES:
            self.outcomes.popitem(last=False)

    async def _supervise(self, notifier: Notifier) -> None:
        """Keep one chat task running for every chat of this channel with pending rows."""
        event = self._wake[notifier.name]
        while True:
            event.clear()  # before looking, so a row added meanwhile wakes the next round
            try:
                self._spawn(notifier)
            except Exception as exc:  # noqa: BLE001 - the supervisor must outlive a bad read
                get_health().record_error(f"alerts.{notifier.name}", exc)
            # asyncio.timeout, not wait_for: wait_for can swallow a cancel that arrives just as
            # the event is set (then stop() would wait for this loop forever).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_interval):
                    await event.wait()

    def _spawn(self, notifier: Notifier) -> None:
        for chat in self.outbox.chats(notifier.name):
            key = (notifier.name, chat)
            task = self._chat_tasks.get(key)
            if task is None or task.done():
                self._chat_tasks[key] = asyncio.create_task(
                    self._run_chat(notifier, chat), name=f"khronos-alerts-{notifier.name}-{chat}"
                )

    async def _run_chat(self, notifier: Notifier, chat: str) -> None:
        key = (notifier.name, chat)
        try:
            while True:
                try:
                    if not await self._step(notifier, chat):
                        return  # no await since the empty head: a new row wakes the supervisor
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - the worker must outlive any one bad row
                    # counted, and logged once while the same error repeats
                    get_health().record_error(f"alerts.{notifier.name}", exc)
                    await asyncio.sleep(self.backoff_initial)  # real time: a clock sleep spins
        finally:
            if self._chat_tasks.get(key) is asyncio.current_task():
                del self._chat_tasks[key]

    async def _step(self, notifier: Notifier, chat: str) -> bool:
        """Try to deliver the chat's head row; False when the chat has nothing left."""
        name = notifier.name
        message = self.outbox.head(name, chat)
        if message is None:
            return False
        breaker = self.breakers[name]
        limit_key = _chat_key(name, chat)
        now = self.clock.monotonic()
        ready = max(
            self._next_attempt.get((name, chat), 0.0),
            self.limiter.next_allowed(limit_key, now, notifier.rate_limits(chat)),
            breaker.retry_at if breaker.state == "open" else 0.0,
        )
        if ready > now:
            await self.clock.sleep(ready - now)
            return True
        if not self.outbox.claim(message.id):  # moved from memory to the file meanwhile
            return True
        try:
            allowed = breaker.allow()  # False: another chat's request is the half-open probe
            if allowed:
                try:
                    await self._send(notifier, breaker, message)
                finally:
                    # Counted from when the answer came, so the next message to this chat is
                    # at least one period after the server saw this one, however long it took.
                    self.limiter.record(limit_key, self.clock.monotonic())
        finally:
            self.outbox.release(message.id)
        if not allowed:
            await self.clock.sleep(max(breaker.retry_at - now, self.backoff_initial))
        return True

    async def _send(
        self, notifier: Notifier, breaker: CircuitBreaker, message: OutgoingMessage
    ) -> None:
        name = notifier.name
        try:
            answer = await notifier.send(message)
        except DeliveryError as exc:
            self._failed(notifier, breaker, message, exc)
            return
        except Exception as exc:  # noqa: BLE001 - a custom notifier's bug is a failed send
            error = DeliveryError(f"{type(exc).__name__} in notifier {name}", reason="error")
            self._failed(notifier, breaker, message, error)
            return
        self.outbox.delete(message.id)
        if self._on_sent is not None and answer is not None:
            self._on_sent(name, message, answer)
        self._next_attempt.pop((name, message.chat), None)
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
            self.limiter.block(_chat_key(name, message.chat), now + exc.retry_after)
            self.outbox.note_failure(message.id, exc.message)
            _log.warning(
                "alert rate limited", channel=name, chat=message.chat, retry_after=exc.retry_after
            )
            return
        if not exc.recoverable:
            self.outbox.delete(message.id)
            self._remember(message.alert_id, f"rejected: {exc}")
            _log.error("alert rejected, dropped", channel=name, chat=message.chat, error=str(exc))
            return
        attempts = self.outbox.note_failure(message.id, str(exc))
        delay = min(self.backoff_max, self.backoff_initial * 2 ** min(attempts - 1, 30))
        delay *= 0.5 + random.random() / 2  # noqa: S311 - jitter, not cryptography
        self._next_attempt[(name, message.chat)] = now + delay
        _log.warning(
            "alert delivery failed, will retry",
            channel=name,
            chat=message.chat,
            reason=exc.reason,
            attempts=attempts,
            retry_in=round(delay, 1),
            error=str(exc),
        )


def _set_all(events: Sequence[asyncio.Event]) -> None:
    for event in events:
        event.set()
