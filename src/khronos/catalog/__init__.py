"""The message catalog: every built-in text an owner reads in Telegram, in each language.

A text is raised as a :class:`Text`: a message id and its values (``Text("backup.lag", db="app",
lag=42.0, ...)``).  A ``Text`` *is* a ``str`` - its value is the English rendering - so every
seam that takes a message (``AlertEngine.fire``, backup's ``AlertSink``, a check's result, the
log) keeps working unchanged and the English output is what it always was; the alert engine
renders it in ``alerts.language`` when it queues the alert (:func:`localize`).  Values stay as
they are (a path, a database's name, an error from S3); only the prose around them is
translated.  A value that is itself a ``Text`` (a reason, a hint) or a :class:`Span` (a
duration) is rendered in the same language.

Dedupe never depends on the language: a fingerprint is built from the English value
(``level:message``) or from the condition's key.

Why hand-written and not gettext or Babel: gettext wants compiled ``.mo`` files generated at
build or install time (a build step and generated files in the wheel for two languages and a
few hundred strings), and Babel's ``Translations`` reads the same ``.mo`` files (its other
strengths, locale-aware number and date formats and plural rules, are not needed: the texts
have no plural forms that differ between English and Portuguese beyond what ``(s)`` covers,
and times are ISO-like).  A dict per language keeps the catalog in reviewed modules
(``_en``, ``_pt_br``), checked by tests (every language has every id with the same
placeholders; every ``Text`` in the source names an id and fills its placeholders), with no
build step.  Should a third language or translators' tooling arrive, the ids map one to one
onto a ``.po`` file.

A ground-floor module (no Khronos imports) so that backup, checks and the app supervisor raise
translated texts without importing the alert engine.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any

from khronos.catalog._en import EN
from khronos.catalog._pt_br import PT_BR

__all__ = [
    "CATALOG",
    "LANGUAGES",
    "SYSTEM_ZONE",
    "Moment",
    "Span",
    "Text",
    "Zone",
    "format_stamp",
    "from_json",
    "localize",
    "placeholders",
    "to_json",
    "translate",
]

LANGUAGES = ("en", "pt-BR")
"""The values of ``alerts.language``."""

CATALOG: Mapping[str, Mapping[str, str]] = {"en": EN, "pt-BR": PT_BR}
"""Message id -> text, per language (English is complete; others fall back to it)."""

SYSTEM_ZONE = "local"
"""``format_stamp``'s zone meaning the system's (its rules at each instant)."""

Zone = tzinfo | str | None
"""Where a time is written: a ``tzinfo``, :data:`SYSTEM_ZONE`, or None for UTC."""


class Text(str):
    """A catalog message: ``msgid`` and ``values``; as a ``str``, its English rendering.

    Never raises for a bad id or a missing value (an alert must not fail its caller): the text
    is then the id and the values, which the catalog's tests make sure never ships.
    """

    msgid: str
    values: Mapping[str, object]

    def __new__(cls, msgid: str, /, **values: object) -> Text:
        self = super().__new__(cls, _render(msgid, "en", values))
        self.msgid = msgid
        self.values = values
        return self

    def render(self, language: str, tz: Zone = None) -> str:
        """The text in ``language`` (English for an unknown one), its times in ``tz``."""
        return _render(self.msgid, language, self.values, tz)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.msgid, dict(self.values)))


def _rebuild(msgid: str, values: dict[str, object]) -> Text:
    return Text(msgid, **values)


_UNITS = {
    "en": (("day", "days"), ("h", "h"), ("min", "min"), ("s", "s")),
    "pt-BR": (("dia", "dias"), ("h", "h"), ("min", "min"), ("s", "s")),
}


class Span(str):
    """A duration: as a ``str``, the compact config syntax (``1h5m``, as English alerts always
    wrote it); in pt-BR, words with the two largest units (``1 h 5 min``, ``3 dias 2 h``)."""

    seconds: float

    def __new__(cls, seconds: float, compact: str) -> Span:
        self = super().__new__(cls, compact)
        self.seconds = seconds
        return self

    def render(self, language: str, tz: Zone = None) -> str:  # noqa: ARG002 - one signature
        """The duration for ``language``: English keeps the compact form."""
        units = _UNITS.get(language)
        if units is None or language == "en":
            return str(self)
        return spoken_duration(self.seconds, units)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Span, (self.seconds, str(self)))


def spoken_duration(seconds: float, units: tuple[tuple[str, str], ...]) -> str:
    """``1 h 5 min``: whole seconds, the two largest non-zero units."""
    left = max(round(seconds), 0)
    parts = []
    for size, (one, many) in zip((86400, 3600, 60, 1), units, strict=True):
        count, left = divmod(left, size)
        if count:
            parts.append(f"{count} {one if count == 1 else many}")
    return " ".join(parts[:2]) or f"0 {units[-1][1]}"


class Moment(str):
    """A point in time: as a ``str``, the form its caller always wrote (ISO 8601 in UTC, say);
    rendered, :func:`format_stamp` in the owner's zone (``2026-12-05 01:50:00 -03``)."""

    at: float

    def __new__(cls, at: float, plain: str) -> Moment:
        self = super().__new__(cls, plain)
        self.at = at
        return self

    def render(self, language: str, tz: Zone = None) -> str:  # noqa: ARG002 - one signature
        """The time in ``tz``."""
        return format_stamp(self.at, tz)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Moment, (self.at, str(self)))


def format_stamp(at: float, tz: Zone = None, pattern: str = "%Y-%m-%d %H:%M:%S") -> str:
    """``2026-12-05 01:50:00 -03`` in ``tz`` (``pattern`` for the date and time, then the zone's
    abbreviation, or its offset when it has none)."""
    moment = datetime.fromtimestamp(at, tz=UTC)
    if tz is None:
        return f"{moment.strftime(pattern)} UTC"
    local = moment.astimezone(None if isinstance(tz, str) else tz)
    return f"{local.strftime(pattern)} {local.tzname() or local.strftime('%z')}"


def localize(value: object, language: str, tz: Zone = None) -> Any:
    """``value`` rendered in ``language`` (times in ``tz``) when it is a :class:`Text`,
    :class:`Span` or :class:`Moment`; a mapping or list with its members rendered; anything
    else as it is."""
    if isinstance(value, Text | Span | Moment):
        return value.render(language, tz)
    if isinstance(value, Mapping):
        return {k: localize(v, language, tz) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [localize(v, language, tz) for v in value]
    return value


def translate(msgid: str, language: str = "en", /, **values: object) -> str:
    """The text of ``msgid`` in ``language`` (English when the language or the id is missing),
    its ``{placeholders}`` filled from ``values``.  KeyError for an id no language has."""
    if msgid not in EN:
        raise KeyError(msgid)
    return _render(msgid, language, values)


def placeholders(text: str) -> set[str]:
    """The ``{names}`` a catalog text uses (for the catalog's test)."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _render(msgid: str, language: str, values: Mapping[str, object], tz: Zone = None) -> str:
    table = CATALOG.get(language, EN)
    template = table.get(msgid) or EN.get(msgid)
    if template is None:
        shown = ", ".join(f"{k}={v}" for k, v in values.items())
        return f"{msgid} ({shown})" if shown else msgid
    if not values:
        return template
    rendered = {k: localize(v, language, tz) for k, v in values.items()}
    try:
        return template.format(**rendered)
    except (KeyError, IndexError, ValueError, TypeError):
        shown = ", ".join(f"{k}={v}" for k, v in rendered.items())
        return f"{template} ({shown})"


def to_json(value: object) -> Any:
    """A JSON form of a :class:`Text` (with its :class:`Span` and :class:`Moment` values) that
    :func:`from_json` turns back into one: a firing condition stored in ``state_dir`` keeps its
    text translatable across a restart.  Other values: JSON scalars as they are, else ``str``."""
    if isinstance(value, Text):
        return {"t": value.msgid, "v": {k: to_json(v) for k, v in value.values.items()}}
    if isinstance(value, Span):
        return {"s": value.seconds, "c": str(value)}
    if isinstance(value, Moment):
        return {"m": value.at, "p": str(value)}
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)


def from_json(data: Any) -> Any:
    """The value :func:`to_json` wrote (a plain value for anything it does not recognise)."""
    if isinstance(data, dict):
        if isinstance(data.get("t"), str) and isinstance(data.get("v"), dict):
            return Text(data["t"], **{str(k): from_json(v) for k, v in data["v"].items()})
        if isinstance(data.get("s"), int | float) and isinstance(data.get("c"), str):
            return Span(float(data["s"]), data["c"])
        if isinstance(data.get("m"), int | float) and isinstance(data.get("p"), str):
            return Moment(float(data["m"]), data["p"])
        return str(data)
    return data
