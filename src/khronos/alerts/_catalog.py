"""The alerts' side of the message catalog (:mod:`khronos.catalog`): the level word of a header
and the stamps of Telegram texts.

The catalog itself (every text in each language, :class:`~khronos.catalog.Text`, why it is
hand-written and not gettext) is a ground-floor package, so that backup, checks and the app
raise translated texts without importing the alert engine.  The engine renders a ``Text`` in
``alerts.language`` and its times in ``alerts.timezone`` when it queues the alert.
"""

from __future__ import annotations

from khronos.alerts._model import Level
from khronos.catalog import (
    CATALOG,
    LANGUAGES,
    SYSTEM_ZONE,
    Moment,
    Span,
    Text,
    Zone,
    format_stamp,
    from_json,
    localize,
    placeholders,
    to_json,
    translate,
)

__all__ = [
    "CATALOG",
    "LANGUAGES",
    "SYSTEM_ZONE",
    "Moment",
    "Span",
    "Text",
    "Zone",
    "format_clock",
    "format_stamp",
    "from_json",
    "level_word",
    "localize",
    "placeholders",
    "to_json",
    "translate",
]


def level_word(level: Level, language: str = "en") -> str:
    """The level as shown in an alert's header (``ERRO`` in pt-BR)."""
    return translate(f"level.{level.name}", language)


def format_clock(at: float, tz: Zone = None) -> str:
    """``14:02 -03``: the time of day in ``tz`` with its zone (the console's edit stamps)."""
    return format_stamp(at, tz, "%H:%M")
