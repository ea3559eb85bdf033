"""Stateful conditions: when to notify, what the resolved notice says, and surviving restarts.

A condition is opened by the first :meth:`ConditionBook.fire` for its key and notified then;
later fires notify only when it gets worse (a higher level) or every ``repeat_interval``.
:meth:`ConditionBook.resolve` closes it with a notice that says how long the *problem* lasted
- from ``since``, the owner's first failed observation, not from the first notice - and the
worst value the owner reported (``worst``).

Firing conditions are stored in the outbox file (:meth:`Outbox.save_condition`), so a restart
does not forget them: the next engine restores them with their start time, level, last notice
and worst value.  A restored condition that fires again is not notified again (it was, before
the restart; repeats follow ``repeat_interval``), and its resolved notice gives the duration
across the restart.  One that nobody fires or resolves within ``grace`` seconds after delivery
starts (its check was removed from the configuration, say) is closed with a notice saying it is
no longer checked, rather than staying open forever.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from khronos.alerts._catalog import Span, Text
from khronos.alerts._model import Alert, Condition, Level
from khronos.alerts._outbox import Outbox
from khronos.clock import Clock
from khronos.config import format_duration

__all__ = ["ConditionBook", "Notice", "human_duration"]


def human_duration(seconds: float) -> Span:
    """``1h5m``, ``42s``: whole seconds in the config syntax (in words in pt-BR: a
    :class:`~khronos.catalog.Span`)."""
    seconds = max(seconds, 0.0)
    return Span(seconds, format_duration(timedelta(seconds=round(seconds))))


@dataclass(frozen=True, slots=True)
class Notice:
    """An alert a condition change asks the engine to send."""

    alert: Alert
    note: str = ""
    route_level: Level | None = None
    origin: str = ""
    """For a resolved notice: the id of the condition's last alert (its Telegram message)."""
    lasted: float = 0.0


class ConditionBook:
    """The firing conditions of one engine, mirrored to the outbox file (thread-safe)."""

    def __init__(
        self,
        outbox: Outbox,
        clock: Clock,
        *,
        repeat_interval: float,
        send_resolved: bool,
        grace: float,
    ) -> None:
        self.outbox = outbox
        self.clock = clock
        self.repeat_interval = repeat_interval
        self.send_resolved = send_resolved
        self.grace = grace
        self._lock = threading.Lock()
        self._conditions: dict[str, Condition] = {}
        self._expire_at: float | None = None

    def restore(self) -> int:
        """Load the conditions a previous run left firing; how many."""
        restored = self.outbox.load_conditions()
        with self._lock:
            for cond in restored:
                self._conditions.setdefault(cond.key, cond)
        return len(restored)

    def start_grace(self) -> None:
        """Delivery started: restored conditions not fired or resolved within ``grace`` expire."""
        if self._expire_at is None:
            self._expire_at = self.clock.monotonic() + self.grace

    def snapshot(self) -> dict[str, Condition]:
        """A copy of the firing conditions."""
        with self._lock:
            return {k: dataclasses.replace(c) for k, c in self._conditions.items()}

    def __contains__(self, key: str) -> bool:
        return key in self._conditions

    def fire(
        self,
        key: str,
        message: str,
        level: Level,
        details: Mapping[str, Any] | None,
        *,
        since: float | None,
        worst: str | None,
        worst_value: float | None,
    ) -> Notice | None:
        """The condition holds: a notice when it starts, gets worse or is due a repeat."""
        now = self.clock.wall()
        with self._lock:
            cond = self._conditions.get(key)
            if cond is None:
                started = now if since is None else min(since, now)
                cond = Condition(key, message, level, started, now, message)
                _note_worst(cond, worst, worst_value)
                self._conditions[key] = cond
                self.outbox.save_condition(cond)
                age = now - started
                note = Text("first_seen", age=human_duration(age)) if age >= 1 else ""
                return Notice(_alert(key, message, level, details), note)
            changed = _note_worst(cond, worst, worst_value)
            cond.restored = False
            if since is not None and since < cond.started:
                cond.started, changed = since, True
            cond.message = message
            due = now - cond.last_notified >= self.repeat_interval and not cond.acked_by
            if level > cond.level or due:
                cond.acked_by = ""  # worse than what was acknowledged: tell again
                note = Text("still_firing", duration=human_duration(now - cond.started))
                if level > cond.level:
                    was = Text(f"level.{cond.level.name}")
                    note = Text("worse", level=was, note=note)
                cond.level = level
                cond.last_notified, cond.notified_message = now, message
                self.outbox.save_condition(cond)
                return Notice(_alert(key, message, level, details), note)
            if changed:
                self.outbox.save_condition(cond, urgent=False)
            return None

    def note_alert(self, key: str, alert_id: str) -> None:
        """The notice just sent for ``key`` has id ``alert_id``."""
        with self._lock:
            cond = self._conditions.get(key)
            if cond is None:
                return
            cond.alert_id = alert_id
        self.outbox.save_condition(cond, urgent=False)

    def ack(self, key: str, by: str) -> bool:
        """``by`` acknowledged the condition: no repeats until it resolves or gets worse; False
        when ``key`` is not firing."""
        with self._lock:
            cond = self._conditions.get(key)
            if cond is None:
                return False
            cond.acked_by = by or "?"
            cond.restored = False
        self.outbox.save_condition(cond)
        return True

    def resolve(self, key: str, message: str | None = None) -> Notice | None:
        """The condition cleared: forget it; the resolved notice (None: unknown key, or
        resolved notices are off).  An unknown key costs one dict lookup."""
        if key not in self._conditions:
            return None
        now = self.clock.wall()
        with self._lock:
            cond = self._conditions.pop(key, None)
        if cond is None:
            return None
        self.outbox.forget_condition(key)
        if not self.send_resolved:
            return None
        text = Text("resolved", message=message or cond.notified_message or cond.message)
        note = Text("lasted", duration=human_duration(now - cond.started))
        if cond.worst:
            note = Text("joined", first=note, second=Text("worst", worst=cond.worst))
        alert = Alert(text, Level.INFO, {}, fingerprint=f"resolved:{key}")
        return Notice(
            alert, note, route_level=cond.level, origin=cond.alert_id, lasted=now - cond.started
        )

    def expire(self) -> list[Notice]:
        """Close restored conditions nobody fired or resolved within the grace period."""
        if self._expire_at is None or self.clock.monotonic() < self._expire_at:
            return []
        now = self.clock.wall()
        with self._lock:
            stale = [c for c in self._conditions.values() if c.restored]
            for cond in stale:
                del self._conditions[cond.key]
        notices = []
        for cond in stale:
            self.outbox.forget_condition(cond.key)
            if not self.send_resolved:
                continue
            text = Text("closed", message=cond.notified_message or cond.message)
            note = Text(
                "closed_note",
                duration=human_duration(now - cond.started),
                grace=human_duration(self.grace),
            )
            alert = Alert(text, Level.INFO, {}, fingerprint=f"expired:{cond.key}")
            notices.append(Notice(alert, note, route_level=cond.level))
        return notices


def _alert(key: str, message: str, level: Level, details: Mapping[str, Any] | None) -> Alert:
    return Alert(message, level, dict(details or {}), fingerprint=f"condition:{key}")


def _note_worst(cond: Condition, worst: str | None, value: float | None) -> bool:
    """Keep ``worst`` when it is worse than what the condition has (or has no value to rank);
    True when the condition changed."""
    if not worst:
        return False
    if value is not None and cond.worst_value is not None and value <= cond.worst_value:
        return False
    if worst == cond.worst and value == cond.worst_value:
        return False
    cond.worst, cond.worst_value = worst, value
    return True
