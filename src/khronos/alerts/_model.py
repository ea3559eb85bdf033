"""Alert levels and the alert record."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["LEVEL_EMOJI", "Alert", "Condition", "Level", "parse_level"]


class Level(enum.IntEnum):
    """How urgent an alert is; CRITICAL goes to ``critical_chat_id`` when one is set."""

    INFO = 0
    WARN = 1
    ERROR = 2
    CRITICAL = 3


LEVEL_EMOJI: Mapping[Level, str] = {
    Level.INFO: "ℹ️",  # noqa: RUF001 - the original design's emoji
    Level.WARN: "⚠️",
    Level.ERROR: "❌",
    Level.CRITICAL: "🚨",
}


def parse_level(value: str | Level) -> Level:
    """``"warn"``, ``"WARN"``, ``"warning"`` or a :class:`Level`; ValueError otherwise."""
    if isinstance(value, Level):
        return value
    name = str(value).strip().upper()
    name = {"WARNING": "WARN", "ERR": "ERROR", "CRIT": "CRITICAL"}.get(name, name)
    try:
        return Level[name]
    except KeyError:
        raise ValueError(
            f"unknown alert level {value!r}: use INFO, WARN, ERROR or CRITICAL"
        ) from None


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert: what happened, how bad, the details, and what makes two alerts "the same".

    The fingerprint defaults to level + message, as in the original design: the same text at
    the same level is deduplicated; a different number in the message makes a new alert, so put
    changing numbers in ``details`` when they should not.
    """

    message: str
    level: Level = Level.WARN
    details: Mapping[str, Any] = field(default_factory=dict)
    fingerprint: str = ""
    title: str = ""

    def __post_init__(self) -> None:
        if not self.fingerprint:
            object.__setattr__(self, "fingerprint", f"{self.level.name}:{self.message}")


@dataclass
class Condition:
    """A firing condition (from a check, backup, or :meth:`AlertEngine.fire`).

    Times are wall-clock Unix seconds, so a condition keeps its true age across a restart (the
    engine stores firing conditions in ``state_dir`` and restores them when it starts).
    """

    key: str
    message: str
    """The latest message the owner gave."""
    level: Level
    started: float
    """When the problem was first observed (``fire(since=...)``, else the first fire)."""
    last_notified: float
    """When the owner was last told (the first notice, an escalation or a repeat)."""
    notified_message: str = ""
    """The message of the last notice: the resolved notice quotes it, not a later figure."""
    worst: str = ""
    """Text of the worst value seen (``fire(worst=...)``), quoted by the resolved notice."""
    worst_value: float | None = None
    """The number that ranks ``worst`` (larger is worse); None: the latest ``worst`` wins."""
    restored: bool = False
    """Restored at start and not fired or resolved since (it expires after a grace period)."""
    alert_id: str = ""
    """The id of its last notice (the Telegram message a resolve edits and replies to)."""
    acked_by: str = ""
    """Who acknowledged it (Telegram ``/ack`` or the Ack button): no repeats until it resolves
    or gets worse."""
