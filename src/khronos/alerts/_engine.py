"""The alert engine: dedupe, stateful conditions, semantic alerts, and the durable hand-off.

:meth:`AlertEngine.send_alert` is synchronous and thread-safe: it decides (cooldown per
fingerprint), renders, writes the rows to the outbox and wakes the delivery worker.  It never
waits for the network, so an alert storm costs a dict lookup per suppressed alert.

Every alert's text, note and details pass through the secret redactor (``khronos.logs``) before
they are rendered, stored in the outbox or sent: an alert's reason is often an error text from
elsewhere (Litestream's stderr with an S3 key, an exception with a URL token), and an alert is
read on a phone, forwarded, and kept in a chat's history forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from prometheus_client import CollectorRegistry

from khronos.alerts._breaker import BreakerEvent, BreakerListener
from khronos.alerts._clock import Clock, SystemClock
from khronos.alerts._format import render_html, render_plain
from khronos.alerts._metrics import AlertMetrics
from khronos.alerts._model import Alert, Level, parse_level
from khronos.alerts._notifier import LogNotifier, Notifier
from khronos.alerts._outbox import Outbox, OutboxRow
from khronos.alerts._worker import DeliveryWorker
from khronos.config import KhronosConfig, format_duration
from khronos.logs import Redactor, collect_secrets, get_redactor

__all__ = ["AlertEngine", "Condition", "DeliveryStatus", "breaker_alert_listener", "human_duration"]

_log = structlog.get_logger("khronos.alerts")
_MAX_FINGERPRINTS = 10_000
_TAKEOVER_POLL_S = 1.0
_MAX_DEPTH = 16


def human_duration(seconds: float) -> str:
    """``1h5m``, ``42s``: whole seconds in the config syntax."""
    from datetime import timedelta  # noqa: PLC0415 - tiny helper, keep the import local

    return format_duration(timedelta(seconds=round(max(seconds, 0.0))))


@dataclass
class _Seen:
    last_sent: float
    suppressed: int = 0


@dataclass
class Condition:
    """A firing condition (from a check or :meth:`AlertEngine.fire`)."""

    key: str
    message: str
    level: Level
    started: float
    last_notified: float


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


class AlertEngine:
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
    ) -> None:
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
        self._lock = threading.Lock()
        self._seen: dict[str, _Seen] = {}
        self._conditions: dict[str, Condition] = {}
        self._takeover: asyncio.Task[None] | None = None
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
        from khronos.alerts._telegram import TelegramNotifier  # noqa: PLC0415 - httpx is heavy

        redactor = redactor if redactor is not None else get_redactor()
        for secret in collect_secrets(config):
            redactor.add_secret(secret)
        alerts = config.alerts
        max_pending = alerts.max_pending if alerts else 10_000
        if notifiers is None:
            notifiers = [LogNotifier()]
            if alerts is not None and alerts.telegram is not None:
                notifiers.append(TelegramNotifier.from_config(alerts.telegram))
        kwargs: dict[str, Any] = {}
        if alerts is not None:
            kwargs = {
                "cooldown": alerts.cooldown.total_seconds(),
                "repeat_interval": alerts.repeat_interval.total_seconds(),
                "send_resolved": alerts.send_resolved,
                "breaker_failures": alerts.breaker.failures,
                "breaker_reset": alerts.breaker.reset_timeout.total_seconds(),
            }
        return cls(
            Outbox.in_state_dir(config.state_dir, max_pending=max_pending),
            notifiers,
            clock=clock,
            metrics=AlertMetrics(registry, namespace=config.metrics.namespace),
            service=config.service.name,
            environment=config.environment,
            redactor=redactor,
            **kwargs,
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
        """
        if self.outbox.acquire_delivery():
            self._begin_delivery()
            return
        _log.info("another Khronos process delivers the alert outbox; taking over when it stops")
        self._takeover = asyncio.create_task(self._take_over(), name="khronos-alerts-takeover")

    async def _take_over(self) -> None:
        while not self.outbox.acquire_delivery():
            await asyncio.sleep(_TAKEOVER_POLL_S)  # real time: another process owns the lock
        _log.info("took over delivering the alert outbox")
        self._begin_delivery()

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
        """Queue an alert unless the same one was sent within the cooldown; its id, or None."""
        alert = Alert(str(message), parse_level(level), dict(details or {}), fingerprint or "")
        return self.send(alert)

    def send(self, alert: Alert) -> str | None:
        """Queue an :class:`Alert` subject to the cooldown; its id, or None when suppressed."""
        now = self.clock.monotonic()
        with self._lock:
            seen = self._seen.get(alert.fingerprint)
            if seen is not None and now - seen.last_sent < self.cooldown:
                seen.suppressed += 1
                suppressed = -1
            else:
                suppressed = seen.suppressed if seen else 0
                if seen is None and len(self._seen) >= _MAX_FINGERPRINTS:
                    self._forget_old(now)
                self._seen[alert.fingerprint] = _Seen(now)
        if suppressed < 0:
            self.metrics.suppressed_for(alert.level.name).inc()
            return None
        note = ""
        if suppressed:
            window = human_duration(self.cooldown)
            note = f"{suppressed} more like this suppressed in the last {window}"
        return self.enqueue(alert, note=note)

    def enqueue_test(
        self, message: str, level: Level = Level.INFO, details: Mapping[str, Any] | None = None
    ) -> str:
        """Queue a test alert (no cooldown: every test is sent); its id."""
        alert = Alert(message, level, dict(details or {}), fingerprint=f"test:{uuid.uuid4()}")
        return self.enqueue(alert, note="test alert")

    def _redacted(self, alert: Alert) -> Alert:
        """The alert with secrets masked in its message, title and details (keys too)."""
        return dataclasses.replace(
            alert,
            message=self.redactor.redact(alert.message),
            title=self.redactor.redact(alert.title) if alert.title else alert.title,
            details=self._scrub(alert.details),
        )

    def _scrub(self, value: Any, key: str | None = None, depth: int = 0) -> Any:
        """JSON-like data with secrets masked; other objects (and anything nested deeper than
        :data:`_MAX_DEPTH`, so a cycle cannot recurse forever) become their masked ``str``."""
        if depth < _MAX_DEPTH:
            if isinstance(value, Mapping):
                return {
                    self.redactor.redact(str(k)): self._scrub(v, str(k), depth + 1)
                    for k, v in value.items()
                }
            if isinstance(value, list | tuple | set | frozenset):
                return [self._scrub(v, None, depth + 1) for v in value]
        if value is None or isinstance(value, bool | int | float):
            return self.redactor.redact_value(value, key)  # a number under "pin" is masked too
        text = value if isinstance(value, str) else str(value)
        return self.redactor.redact_value(text, key)

    def _forget_old(self, now: float) -> None:
        stale = [k for k, s in self._seen.items() if now - s.last_sent >= self.cooldown]
        for key in stale:
            del self._seen[key]
        while len(self._seen) >= _MAX_FINGERPRINTS:  # all recent: forget the oldest
            del self._seen[next(iter(self._seen))]

    def enqueue(
        self,
        alert: Alert,
        *,
        note: str = "",
        channels: Sequence[str] | None = None,
        route_level: Level | None = None,
    ) -> str:
        """Write an alert to the outbox now (no dedupe) and wake the worker; its id.

        ``route_level`` picks the chat when it differs from the shown level (a resolved notice
        of a CRITICAL condition goes to the critical chat).
        """
        route = alert.level if route_level is None else route_level
        alert = self._redacted(alert)
        note = self.redactor.redact(note) if note else note
        alert_id = uuid.uuid4().hex[:16]
        at = self.clock.wall()
        html = render_html(
            alert, service=self.service, environment=self.environment, at=at, note=note
        )
        plain = render_plain(
            alert, service=self.service, environment=self.environment, at=at, note=note
        )
        rows = [
            OutboxRow(n.name, chat, alert.level, html, plain)
            for n in self.notifiers
            if channels is None or n.name in channels
            for chat in n.chats_for(route)
        ]
        for level in self.outbox.add(alert_id, rows, at):
            self.metrics.failed.labels(channel="outbox", reason="dropped").inc()
            _log.warning("alert outbox full: dropped the oldest alert", level=level.name)
        self.worker.wake()
        return alert_id

    # ------------------------------------------------------------------ conditions

    def fire(
        self,
        key: str,
        message: str,
        level: str | Level = "WARN",
        details: Mapping[str, Any] | None = None,
    ) -> str | None:
        """A condition is (still) true: notify when it starts, escalates or is due a repeat."""
        lvl = parse_level(level)
        now = self.clock.monotonic()
        with self._lock:
            cond = self._conditions.get(key)
            if cond is None:
                cond = self._conditions[key] = Condition(key, message, lvl, now, now)
                note = ""
            elif lvl > cond.level or now - cond.last_notified >= self.repeat_interval:
                note = f"still firing after {human_duration(now - cond.started)}"
                if lvl > cond.level:
                    note = f"worse: was {cond.level.name}, {note}"
                cond.level, cond.message, cond.last_notified = lvl, message, now
            else:
                cond.level = max(cond.level, lvl)
                cond.message = message
                return None
        alert = Alert(message, lvl, dict(details or {}), fingerprint=f"condition:{key}")
        return self.enqueue(alert, note=note)

    def resolve(self, key: str, message: str | None = None) -> str | None:
        """A condition cleared: forget it and send a ✅ resolved notice (if configured)."""
        now = self.clock.monotonic()
        with self._lock:
            cond = self._conditions.pop(key, None)
        if cond is None or not self.send_resolved:
            return None
        text = f"✅ Resolved: {message or cond.message}"
        alert = Alert(text, Level.INFO, {}, fingerprint=f"resolved:{key}")
        lasted = f"lasted {human_duration(now - cond.started)}"
        return self.enqueue(alert, note=lasted, route_level=cond.level)

    @property
    def conditions(self) -> Mapping[str, Condition]:
        """The conditions firing now."""
        with self._lock:
            return dict(self._conditions)

    def _channel_recovered(self, channel: str, outage: float, delayed: int) -> None:
        if outage <= 0:
            return
        alert = Alert(
            f"✅ {channel} is reachable again after {human_duration(outage)}; "
            f"{delayed} alert(s) were delayed and are delivered in their original order.",
            Level.INFO,
            fingerprint=f"recovered:{channel}",
        )
        self.enqueue(alert, channels=[channel])

    # ------------------------------------------------------------------ semantic alerts

    def alert_circuit_breaker_opened(self, breaker: str, reason: str = "") -> str | None:
        """An app circuit breaker opened (ERROR)."""
        return self.send_alert(f"Circuit breaker {breaker} opened", "ERROR", {"reason": reason})

    def alert_database_down(self, database: str = "database", error: str = "") -> str | None:
        """The database is unreachable (CRITICAL)."""
        return self.send_alert(
            f"Database {database} is down",
            "CRITICAL",
            {"database": database, "error": error, "action": "reconnect or restart the service"},
        )

    def alert_high_error_rate(self, rate: float, threshold: float) -> str | None:
        """Too many failed messages (ERROR); the numbers go to details so dedupe holds."""
        return self.send_alert(
            "High error rate",
            "ERROR",
            {"error_rate": f"{rate:.2%}", "threshold": f"{threshold:.2%}"},
        )

    def alert_high_memory(self, used_mb: float, limit_mb: float) -> str | None:
        """Memory use is high (WARN)."""
        return self.send_alert(
            "High memory usage", "WARN", {"used_mb": round(used_mb), "limit_mb": round(limit_mb)}
        )

    def alert_queue_backlog(self, size: int, max_size: int) -> str | None:
        """The message queue keeps growing (WARN)."""
        return self.send_alert("Queue backlog", "WARN", {"queued": size, "max": max_size})

    def alert_service_unhealthy(self, service: str, reason: str = "") -> str | None:
        """A service's health check fails (ERROR)."""
        return self.send_alert(
            f"Service {service} is unhealthy", "ERROR", {"service": service, "reason": reason}
        )

    def alert_backup_lag(self, database: str, lag_seconds: float) -> str | None:
        """Replication is behind (WARN, as the daemon's own ``backup.lag.<db>`` condition)."""
        return self.send_alert(
            f"Backup of {database} is lagging",
            "WARN",
            {"database": database, "lag": human_duration(lag_seconds)},
        )

    def alert_backup_process_down(self, reason: str = "") -> str | None:
        """Litestream is not running; data is not being backed up (CRITICAL)."""
        return self.send_alert(
            "Backup process (Litestream) is down: changes are not backed up",
            "CRITICAL",
            {"reason": reason},
        )

    def alert_restore_drill_failed(self, database: str, reason: str = "") -> str | None:
        """A scheduled restore drill failed: the backup may not be restorable (CRITICAL)."""
        return self.send_alert(
            f"Restore drill of {database} failed",
            "CRITICAL",
            {"database": database, "reason": reason},
        )


def breaker_alert_listener(engine: AlertEngine) -> BreakerListener:
    """A breaker listener that raises the "circuit breaker opened" alert (for app breakers)."""

    def listener(event: BreakerEvent) -> None:
        if event.new == "open" and event.old == "closed":
            engine.alert_circuit_breaker_opened(event.breaker, event.reason)

    return listener
