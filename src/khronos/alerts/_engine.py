"""The alert engine: dedupe, stateful conditions, semantic alerts, and the durable hand-off.

:meth:`AlertEngine.send_alert` is synchronous and thread-safe: it decides (cooldown per
fingerprint), renders, writes the rows to the outbox and wakes the delivery worker.  It never
waits for the network, so an alert storm costs a dict lookup per suppressed alert.

Every alert's text, note and details pass through the secret redactor (``khronos.logs``) before
they are rendered, stored in the outbox or sent: an alert's reason is often an error text from
elsewhere (Litestream's stderr with an S3 key, an exception with a URL token), and an alert is
read on a phone, forwarded, and kept in a chat's history forever.

Raising an alert never fails the caller: ``send_alert``, ``send``, ``enqueue``, ``enqueue_test``,
``fire`` and ``resolve`` return normally when the outbox file cannot be written (a full disk, no
file descriptors left): the alert waits in memory, is delivered from there, and is written to the
file once it is writable (see :class:`~khronos.alerts.Outbox`).  The engine says so once, as the
condition ``khronos.state_dir`` ("state_dir full: cannot write PATH (No space left on
device)"), through whatever channel still works, and resolves it when writes succeed again.
A maintenance task (started with the engine) retries those writes every ``poll_interval``.

Khronos' own texts are catalog :class:`~khronos.catalog.Text` values (a message id and its
values; as a string, the English text).  The engine renders a message, a note and the details'
hints in ``alerts.language``, with times in ``alerts.timezone``, when it queues the alert: the
outbox holds exactly what is sent (a row is never re-rendered, so a retry after a restart sends
the same bytes), and dedupe never depends on the language (a fingerprint is the English text
or the condition's key).

Silences (:class:`~khronos.alerts.SilenceStore`, see ``_silencer``) are checked before an
alert or a condition's notice is queued: a silenced one is logged, counted and recorded, not
sent; the maintenance round reports a condition still firing when its silence ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

import structlog
from prometheus_client import CollectorRegistry

from khronos.alerts._arguments import engine_arguments
from khronos.alerts._catalog import Text, localize
from khronos.alerts._conditions import ConditionBook, Notice, human_duration
from khronos.alerts._dedupe import Cooldown
from khronos.alerts._format import localize_alert, redact_alert, render_html, render_plain
from khronos.alerts._messages import MessageLinks, SentMessages
from khronos.alerts._metrics import AlertMetrics
from khronos.alerts._model import Alert, Condition, Level, parse_level
from khronos.alerts._notifier import LogNotifier, Notifier
from khronos.alerts._outbox import Outbox, OutboxRow
from khronos.alerts._recent import RecentAlerts
from khronos.alerts._silencer import Silencer
from khronos.alerts._silences import SilenceStore
from khronos.alerts._state_dir import STATE_DIR_CONDITION, StateDirWatch, report_unsaved
from khronos.alerts._worker import DeliveryWorker
from khronos.clock import Clock, SystemClock
from khronos.config import KhronosConfig
from khronos.health import get_health
from khronos.lifecycle import Lifecycle
from khronos.redact import Redactor, get_redactor

__all__ = [
    "STATE_DIR_CONDITION",
    "AlertEngine",
    "Condition",
    "DeliveryStatus",
    "human_duration",
]

_log = structlog.get_logger("khronos.alerts")
_TAKEOVER_POLL_S = 1.0


@dataclass(frozen=True, slots=True)
class DeliveryStatus:
    """What became of an alert: ``delivered``, ``pending`` (with why) or ``rejected``/dropped."""

    alert_id: str
    state: str
    detail: str = ""

    @property
    def delivered(self) -> bool:
        """True when every channel accepted it."""
        return self.state == "delivered"


class AlertEngine(Lifecycle):
    """Decides which alerts to send and hands them to the durable outbox."""

    def __init__(
        self,
        outbox: Outbox,
        notifiers: Sequence[Notifier] = (),
        *,
        cooldown: float = 300.0,
        repeat_interval: float = 4 * 3600.0,
        send_resolved: bool = True,
        clock: Clock | None = None,
        metrics: AlertMetrics | None = None,
        service: str = "khronos",
        environment: str = "production",
        breaker_failures: int = 5,
        breaker_reset: float = 30.0,
        backoff_initial: float = 1.0,
        backoff_max: float = 300.0,
        poll_interval: float = 1.0,
        redactor: Redactor | None = None,
        restored_grace: float = 900.0,
        resolve_mode: str = "both",
        silences: SilenceStore | None = None,
        language: str = "en",
        timezone: tzinfo | str | None = None,
    ) -> None:
        self.language = language
        self.timezone = timezone
        """Where the header's time is written: a zone, ``SYSTEM_ZONE`` or None (UTC)."""
        self.outbox = outbox
        self.redactor = redactor if redactor is not None else get_redactor()
        self.notifiers = list(notifiers) or [LogNotifier()]
        self.cooldown = cooldown
        self.repeat_interval = repeat_interval
        self.send_resolved = send_resolved
        self.clock = clock or SystemClock()
        self.metrics = metrics or AlertMetrics()
        self.metrics.watch_pending(outbox.count)
        self.service = service
        self.environment = environment
        self.poll_interval = poll_interval
        self._cooldown = Cooldown(cooldown)
        self.recent = RecentAlerts()
        """The last alerts raised here, with their delivery state (:meth:`recent_alerts`)."""
        self.silences = silences if silences is not None else SilenceStore(clock=self.clock)
        """Config and runtime silences (in memory only unless given one on a state_dir)."""
        self._silencer = Silencer(
            self.silences,
            metrics=self.metrics,
            recent=self.recent,
            clock=self.clock,
            redactor=self.redactor,
            language=language,
            timezone=timezone,
        )
        self._book = ConditionBook(
            outbox,
            self.clock,
            repeat_interval=repeat_interval,
            send_resolved=send_resolved,
            grace=restored_grace,
        )
        restored = self._book.restore()
        if restored:
            _log.info("restored firing alert conditions from state_dir", conditions=restored)
        self._takeover: asyncio.Task[None] | None = None
        self._maintenance: asyncio.Task[None] | None = None
        self._state_dir = StateDirWatch(self)
        self.links = MessageLinks(SentMessages(outbox.path), resolve_mode)
        """Telegram message ids of delivered alerts: the Ack button and resolve edit them."""
        for notifier in self.notifiers:
            if hasattr(notifier, "reply_to"):
                notifier.reply_to = self.links.reply_target
            if hasattr(notifier, "language"):
                notifier.language = language
        self.worker = DeliveryWorker(
            outbox,
            self.notifiers,
            clock=self.clock,
            metrics=self.metrics,
            breaker_failures=breaker_failures,
            breaker_reset=breaker_reset,
            backoff_initial=backoff_initial,
            backoff_max=backoff_max,
            poll_interval=poll_interval,
            on_recovered=self._channel_recovered,
            on_sent=lambda name, m, answer: self.links.sent(
                name, m.alert_id, m.chat, m.html, answer
            ),
        )

    @classmethod
    def from_config(
        cls,
        config: KhronosConfig,
        *,
        registry: CollectorRegistry | None = None,
        clock: Clock | None = None,
        notifiers: Sequence[Notifier] | None = None,
        redactor: Redactor | None = None,
    ) -> AlertEngine:
        """The engine for a configuration: Telegram (if configured) and the log.

        Every secret of the configuration (bot token, S3 keys, the HTTP token...) is added to the
        redactor (default: the process-wide one), so no alert can carry one.
        """
        redactor = redactor if redactor is not None else get_redactor()
        return cls(
            **engine_arguments(
                config, registry=registry, clock=clock, notifiers=notifiers, redactor=redactor
            )
        )

    def __repr__(self) -> str:
        names = ", ".join(n.name for n in self.notifiers)
        return f"AlertEngine(channels=[{names}], outbox={self.outbox!r})"

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start delivering; when another process holds the outbox's delivery lock (a daemon,
        or `khronos alert test` for a moment), keep trying and take over once it is free.

        Rows a previous run queued for a chat that is no longer configured go to today's chat
        for their level; rows for a channel that is no longer configured (Telegram removed) are
        dropped with a warning: the log channel got its own copy of each when it was raised.

        Also starts the maintenance task: it writes what waits in memory to the outbox file
        when it is writable again, raises and resolves ``khronos.state_dir``, and closes
        restored conditions nobody checks any more.
        """
        if self._maintenance is None:
            self._maintenance = asyncio.create_task(
                self._maintain(), name="khronos-alerts-maintenance"
            )
        if self._acquire():
            self._begin_delivery()
            return
        _log.info("another Khronos process delivers the alert outbox; taking over when it stops")
        self._takeover = asyncio.create_task(self._take_over(), name="khronos-alerts-takeover")

    def _acquire(self) -> bool:
        try:
            return self.outbox.acquire_delivery()
        except OSError as exc:  # no file descriptor left for the lock file: try again later
            _log.warning("cannot take the alert delivery lock", error=str(exc))
            return False

    async def _take_over(self) -> None:
        while True:
            try:
                if self._acquire():
                    _log.info("took over delivering the alert outbox")
                    self._begin_delivery()
                    return
            except Exception as exc:  # noqa: BLE001 - delivery must start some day
                get_health().record_error("alerts.takeover", exc)
            await asyncio.sleep(_TAKEOVER_POLL_S)  # real time: another process owns the lock

    def _begin_delivery(self) -> None:
        configured = {n.name: n for n in self.notifiers}
        for channel in self.outbox.channels():
            notifier = configured.get(channel)
            if notifier is None:
                dropped = self.outbox.drop_channel(channel)
                self.metrics.failed.labels(channel=channel, reason="channel_removed").inc(dropped)
                _log.warning(
                    "dropped alerts queued for a channel that is no longer configured",
                    channel=channel,
                    alerts=dropped,
                    hint="they were written to the log when raised",
                )
                continue
            moved = self.outbox.readdress(channel, notifier.chats_for)
            if moved:
                _log.warning(
                    "re-addressed alerts queued for a chat that is no longer configured",
                    channel=channel,
                    alerts=moved,
                )
        self.worker.start()
        self._book.start_grace()

    async def _maintain(self) -> None:
        """Every ``poll_interval`` (real time): :meth:`tick`; survives any exception."""
        while True:
            try:
                self.tick()
            except Exception as exc:  # noqa: BLE001 - the task must outlive any one bad round
                get_health().record_error("alerts.maintenance", exc)
            await asyncio.sleep(self.poll_interval)

    def tick(self) -> None:
        """One maintenance round: write what waits in memory to the outbox file (if it can be
        written), raise or resolve ``khronos.state_dir``, expire restored conditions, report
        conditions still firing after their silence ended, prune expired silences."""
        self._count_dropped(self.outbox.flush())
        self._state_dir.check()
        for notice in self._silencer.ended(self._book.snapshot()):
            self._notify(notice)
        self.silences.prune()
        if self.worker.running:
            for notice in self._book.expire():
                self._notify(notice)

    @property
    def tasks(self) -> dict[str, asyncio.Task[None]]:
        """The engine's long-lived tasks by part name, for an owner to watch: the maintenance
        task and each channel's delivery supervisor."""
        out = dict(self.worker.tasks)
        if self._maintenance is not None:
            out["alerts.maintenance"] = self._maintenance
        return out

    async def stop(self, timeout: float = 0.0) -> None:
        """Wait up to ``timeout`` seconds for pending alerts, then stop (the rest stay queued)."""
        if self._takeover is not None:
            self._takeover.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._takeover
            self._takeover = None
        if timeout > 0 and self.worker.running:
            await self.drain(timeout)
        await self.worker.stop()
        if self._maintenance is not None:
            self._maintenance.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._maintenance
            self._maintenance = None
        self._count_dropped(self.outbox.flush(everything=True))
        report_unsaved(self.outbox)
        self.outbox.release_delivery()
        for notifier in self.notifiers:
            await notifier.aclose()

    async def drain(self, timeout: float) -> bool:
        """Wait (real time) until the outbox is empty; False on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.outbox.count() > 0:
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    async def wait_delivered(self, alert_id: str, timeout: float) -> DeliveryStatus:
        """Wait (real time) until every row of an alert left the outbox, or the timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            info = self.outbox.pending(alert_id)
            if info.rows == 0:
                outcome = self.worker.outcomes.get(alert_id, "delivered")
                state = "delivered" if outcome == "delivered" else "rejected"
                return DeliveryStatus(alert_id, state, "" if state == "delivered" else outcome)
            if loop.time() >= deadline:
                why = info.last_error or "not tried yet"
                if not self.worker.running:
                    why = "no delivery worker is running in this process"
                open_breakers = [
                    b.name for b in self.worker.breakers.values() if b.state != "closed"
                ]
                if open_breakers:
                    why += f" (circuit breaker open: {', '.join(open_breakers)})"
                return DeliveryStatus(
                    alert_id, "pending", f"{info.attempts} attempt(s); last error: {why}"
                )
            await asyncio.sleep(0.02)

    # ------------------------------------------------------------------ sending

    def send_alert(
        self,
        message: str,
        level: str | Level = "WARN",
        details: Mapping[str, Any] | None = None,
        fingerprint: str | None = None,
    ) -> str | None:
        """Queue an alert unless the same one was sent within the cooldown; its id, or None.

        ValueError for an unknown level; never raises because the outbox cannot be written.
        """
        text = message if isinstance(message, str) else str(message)  # a Text stays one
        alert = Alert(text, parse_level(level), dict(details or {}), fingerprint or "")
        return self.send(alert)

    def send(self, alert: Alert) -> str | None:
        """Queue an :class:`Alert` subject to the cooldown and silences (its key: the
        fingerprint); its id, or None when suppressed or silenced.  The cooldown comes first,
        so a storm under a silence is one ``alert silenced`` line, the rest counted as
        duplicates."""
        suppressed = self._cooldown.check(alert.fingerprint, self.clock.monotonic())
        if suppressed is None:
            self.metrics.suppressed_for(alert.level.name).inc()
            self.recent.suppressed(
                self.clock.wall(), alert.level, self.redactor.redact(alert.message)
            )
            return None
        if self._silencer.hold(alert.fingerprint, alert.level, alert.message):
            return None
        note = ""
        if suppressed:
            window = human_duration(self.cooldown)
            note = Text("suppressed_note", count=suppressed, window=window)
        return self.enqueue(alert, note=note)

    def enqueue_test(
        self, message: str, level: Level = Level.INFO, details: Mapping[str, Any] | None = None
    ) -> str:
        """Queue a test alert (no cooldown: every test is sent); its id."""
        alert = Alert(message, level, dict(details or {}), fingerprint=f"test:{uuid.uuid4()}")
        return self.enqueue(alert, note=Text("test_note"))

    def enqueue(
        self,
        alert: Alert,
        *,
        note: str = "",
        channels: Sequence[str] | None = None,
        route_level: Level | None = None,
        alert_id: str | None = None,
    ) -> str:
        """Write an alert to the outbox now (no dedupe) and wake the worker; its id.

        ``route_level`` picks the chat when it differs from the shown level (a resolved notice
        of a CRITICAL condition goes to the critical chat).  Never raises: when the outbox file
        cannot be written the alert waits in memory (and is delivered from there); should
        anything else fail, the alert is written to the log with the traceback.
        """
        alert_id = alert_id or uuid.uuid4().hex[:16]
        try:
            route = alert.level if route_level is None else route_level
            alert = redact_alert(self.redactor, localize_alert(alert, self.language, self.timezone))
            note = (
                self.redactor.redact(localize(note, self.language, self.timezone)) if note else ""
            )
            at = self.clock.wall()
            html, plain = (
                render(
                    alert,
                    service=self.service,
                    environment=self.environment,
                    at=at,
                    note=note,
                    language=self.language,
                    tz=self.timezone,
                )
                for render in (render_html, render_plain)
            )
            rows = [
                OutboxRow(n.name, chat, alert.level, html, plain)
                for n in self.notifiers
                if channels is None or n.name in channels
                for chat in n.chats_for(route)
            ]
            self._count_dropped(self.outbox.add(alert_id, rows, at))
            self.recent.queued(alert_id, at, alert.level, alert.message)
        except Exception:  # noqa: BLE001 - raising an alert must never fail its caller
            _log.exception(
                "alert could not be queued; it is only in this log",
                alert_id=alert_id,
                level=alert.level.name,
                text=self.redactor.redact(alert.message),
            )
            return alert_id
        self.worker.wake()
        self._state_dir.check()
        return alert_id

    def _count_dropped(self, dropped: Sequence[Level]) -> None:
        for level in dropped:
            self.metrics.failed.labels(channel="outbox", reason="dropped").inc()
            _log.warning("alert outbox full: dropped the oldest alert", level=level.name)

    # ------------------------------------------------------------------ conditions

    def fire(
        self,
        key: str,
        message: str,
        level: str | Level = "WARN",
        details: Mapping[str, Any] | None = None,
        *,
        since: float | datetime | None = None,
        worst: str | None = None,
        worst_value: float | None = None,
    ) -> str | None:
        """A condition is (still) true: notify when it starts, escalates or is due a repeat.

        ``since``: when the problem was first observed (Unix time or an aware datetime), if
        before this call - a check that fires after three failures passes the time of the
        first one; the resolved notice counts the duration from there.  ``worst``: the worst
        value seen so far, as text ("lag 2m12s"), quoted by the resolved notice; with
        ``worst_value`` (larger is worse) the engine keeps the worst one itself, across
        restarts too, so the owner may pass the current value on every call.  The id of the
        notice, or None when none is due.  ValueError for an unknown level; never raises
        because the outbox cannot be written.
        """
        lvl = parse_level(level)
        if isinstance(since, datetime):
            since = since.timestamp()
        try:
            notice = self._book.fire(
                key, message, lvl, details, since=since, worst=worst, worst_value=worst_value
            )
        except Exception:  # noqa: BLE001 - raising an alert must never fail its caller
            _log.exception("alert condition could not be updated", key=key, text=message)
            return None
        if notice is None or self._silencer.hold(key, lvl, message, condition=True):
            return None
        alert_id = self._notify(notice)
        self._book.note_alert(key, alert_id)
        return alert_id

    def resolve(self, key: str, message: str | None = None) -> str | None:
        """A condition cleared: forget it and send a ✅ resolved notice (if configured) saying
        how long the problem lasted and its worst value.  Cheap for a key that is not firing
        (owners may call it on every good observation); never raises."""
        try:
            notice = self._book.resolve(key, message)
            if notice is None:
                return None
            skip = self.links.resolving(key, notice.origin, notice.lasted)
        except Exception:  # noqa: BLE001 - raising an alert must never fail its caller
            _log.exception("alert condition could not be resolved", key=key)
            return None
        level = notice.route_level or notice.alert.level
        if self._silencer.hold(key, level, notice.alert.message):
            return None
        channels = None if skip is None else [n.name for n in self.notifiers if n.name not in skip]
        notice_id = uuid.uuid4().hex[:16]
        self.links.replies_to(notice_id, notice.origin)  # before the worker can send it
        return self.enqueue(
            notice.alert,
            note=notice.note,
            route_level=notice.route_level,
            channels=channels,
            alert_id=notice_id,
        )

    def ack(self, key: str, by: str) -> bool:
        """``by`` acknowledged condition ``key``: it is not repeated until it resolves or gets
        worse (a higher level); False when it is not firing.  Never raises."""
        try:
            return self._book.ack(key, by)
        except Exception:  # noqa: BLE001 - an acknowledgement must never fail its caller
            _log.exception("alert condition could not be acknowledged", key=key)
            return False

    def _notify(self, notice: Notice) -> str:
        return self.enqueue(notice.alert, note=notice.note, route_level=notice.route_level)

    def silenced_by(self, key: str, level: str | Level, text: str) -> str | None:
        """The id of the active silence covering an alert with this key (a condition's key or
        an alert's fingerprint), level and text; None when none does (or it cannot be read)."""
        try:
            silence = self._silencer.find(key, parse_level(level), text)
        except Exception:  # noqa: BLE001 - a question about silences must not fail its caller
            _log.exception("cannot check silences", key=key)
            return None
        return None if silence is None else silence.id

    def is_firing(self, key: str) -> bool:
        """Whether the condition ``key`` is firing (a dict lookup)."""
        return key in self._book

    @property
    def conditions(self) -> Mapping[str, Condition]:
        """The conditions firing now (restored ones included)."""
        return self._book.snapshot()

    def recent_alerts(self) -> list[dict[str, Any]]:
        """The last alerts raised in this process, newest first, each with its delivery state:
        ``sent``, ``pending`` (rows wait in the outbox: attempts, last error), ``failed`` (a
        channel refused it for good), ``suppressed`` (a duplicate within the cooldown) or
        ``silenced`` (a silence covered it)."""

        def pending(alert_id: str) -> tuple[int, int, str | None]:
            info = self.outbox.pending(alert_id)
            return info.rows, info.attempts, info.last_error

        return self.recent.snapshot(pending, self.worker.outcomes)

    def _channel_recovered(self, channel: str, outage: float, delayed: int) -> None:
        if outage <= 0:
            return
        alert = Alert(
            Text("channel_back", channel=channel, duration=human_duration(outage), count=delayed),
            Level.INFO,
            fingerprint=f"recovered:{channel}",
        )
        self.enqueue(alert, channels=[channel])
