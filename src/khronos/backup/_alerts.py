"""The seam between backup and the alert engine: a small :class:`AlertSink` protocol and a fake.

Backup raises alerts by *key* (``backup.replication``, ``backup.lag.app``, ...): ``fire`` opens
or updates the alert for that key, ``resolve`` closes it (and the engine sends the "resolved"
notice).  Backup calls ``fire`` on every poll while a condition holds, so a sink must be
idempotent and dedupe: the alert engine notifies when a condition starts, escalates, or is due
a repeat (``repeat_interval``), and stays quiet otherwise.  Resolving a closed key is harmless.
The signatures are :meth:`AlertEngine.fire <khronos.alerts.AlertEngine.fire>`'s and
``resolve``'s: the daemon passes its engine as it is; tests use :class:`RecordingAlertSink`
(which records every call).

Backup's messages and hints are :class:`khronos.catalog.Text` values: a ``str`` (the English
text, what a sink that knows nothing of languages sees) that the alert engine renders in
``alerts.language``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from khronos.health import get_health

__all__ = [
    "AlertEvent",
    "AlertLevel",
    "AlertSink",
    "NullAlertSink",
    "RecordingAlertSink",
    "SafeAlertSink",
]

AlertLevel = Literal["INFO", "WARN", "ERROR", "CRITICAL"]


@runtime_checkable
class AlertSink(Protocol):
    """Where backup sends its alerts."""

    def fire(
        self,
        key: str,
        message: str,
        level: str = "WARN",
        details: dict[str, Any] | None = None,
        *,
        since: float | None = None,
        worst: str | None = None,
        worst_value: float | None = None,
    ) -> object:
        """Open (or escalate) the alert ``key``.  ``since``: Unix time the problem was first
        observed; ``worst``/``worst_value``: the worst value so far (text, and a number to rank
        it), which the resolved notice quotes."""

    def resolve(self, key: str) -> object:
        """Close the alert ``key``: the condition has cleared."""


class NullAlertSink:
    """Drops every alert (the default when nothing is wired)."""

    def fire(self, key: str, message: str, level: str = "WARN", *_: Any, **__: Any) -> None:
        """Ignore the alert."""

    def resolve(self, key: str) -> None:
        """Ignore the resolution."""


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One call recorded by :class:`RecordingAlertSink` (``action`` is fire or resolve)."""

    action: Literal["fire", "resolve"]
    key: str
    level: str | None = None
    message: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    """The keyword arguments of the call (``since``, ``worst``, ``worst_value``)."""


class RecordingAlertSink:
    """A fake sink that remembers every call and which alerts are open (thread-safe enough)."""

    def __init__(self) -> None:
        self.events: list[AlertEvent] = []
        self.open: dict[str, AlertEvent] = {}

    def fire(
        self,
        key: str,
        message: str,
        level: str = "WARN",
        details: dict[str, Any] | None = None,
        **extra: Any,
    ) -> None:
        """Record and open the alert (``since``/``worst`` land in :attr:`AlertEvent.extra`)."""
        event = AlertEvent("fire", key, level, message, dict(details or {}), dict(extra))
        self.events.append(event)
        self.open[key] = event

    def resolve(self, key: str) -> None:
        """Record and close the alert."""
        self.events.append(AlertEvent("resolve", key))
        self.open.pop(key, None)

    def fired(self, key: str, level: str | None = None) -> bool:
        """Whether ``key`` was ever fired (at ``level``, when given)."""
        return any(
            e.action == "fire" and e.key == key and (level is None or e.level == level)
            for e in self.events
        )

    def resolved(self, key: str) -> bool:
        """Whether ``key`` was ever resolved."""
        return any(e.action == "resolve" and e.key == key for e in self.events)


class SafeAlertSink:
    """Wraps a sink so that nothing it raises reaches backup: the error is counted and logged
    (:mod:`khronos.health`, part ``alerts``) and replication goes on.

    A full disk under the alert outbox once ended the Litestream supervisor through an alert it
    tried to raise; an alert must never cost the backup it is about.
    """

    def __init__(self, sink: AlertSink) -> None:
        self.sink = sink

    def fire(
        self,
        key: str,
        message: str,
        level: str = "WARN",
        details: dict[str, Any] | None = None,
        **extra: Any,
    ) -> None:
        """Fire through the wrapped sink; never raises."""
        try:
            self.sink.fire(key, message, level, details, **extra)
        except Exception as exc:  # noqa: BLE001 - the point of this class
            get_health().record_error("alerts", exc)

    def resolve(self, key: str) -> None:
        """Resolve through the wrapped sink; never raises."""
        try:
            self.sink.resolve(key)
        except Exception as exc:  # noqa: BLE001 - the point of this class
            get_health().record_error("alerts", exc)
