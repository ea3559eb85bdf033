"""The message catalog: every built-in alert text in each supported language, and the time stamp.

:func:`translate` looks a message id up in :data:`CATALOG` for ``alerts.language`` (``en`` or
``pt-BR``), falls back to English for an id a language lacks, and fills ``{placeholders}`` with
``str.format``.  :func:`format_stamp` writes a time in ``alerts.timezone`` for Telegram.

Why a module and not gettext or Babel: gettext wants compiled ``.mo`` files generated at build
or install time (a build step and generated files in the wheel for two languages and a few
dozen strings), and Babel's ``Translations`` reads the same ``.mo`` files (its other strengths,
locale-aware number and date formats and plural rules, are not needed: the texts here have no
plural forms that differ between English and Portuguese beyond what ``(s)`` covers, and times
are ISO-like).  A dict per language keeps the catalog in one reviewed place, checked by a test
(every language has every id and the same placeholders), with no build step.  Should a third
language or translators' tooling arrive, the ids map one to one onto a ``.po`` file.

The Telegram console (commands, button labels) uses :func:`translate` with its own ids.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo

from khronos.alerts._model import Level

__all__ = [
    "CATALOG",
    "LANGUAGES",
    "SYSTEM_ZONE",
    "format_stamp",
    "level_word",
    "placeholders",
    "translate",
]

LANGUAGES = ("en", "pt-BR")
"""The values of ``alerts.language``."""

CATALOG: Mapping[str, Mapping[str, str]] = {
    "en": {
        "level.INFO": "INFO",
        "level.WARN": "WARN",
        "level.ERROR": "ERROR",
        "level.CRITICAL": "CRITICAL",
        "resolved": "✅ Resolved: {message}",
        "lasted": "lasted {duration}",
        "worst": "worst: {worst}",
        "first_seen": "first seen {age} ago",
        "still_firing": "still firing after {duration}",
        "worse": "worse: was {level}, {note}",
        "closed": "Closed, no longer checked: {message}",
        "closed_note": (
            "open for {duration}; nothing checked it again in the {grace} after Khronos "
            "restarted (was its check removed?), so it is closed without knowing whether the "
            "cause is gone"
        ),
        "silence_ended": "Still firing after the silence ended: {message}",
        "firing_for": "firing for {duration}",
        "suppressed_note": "{count} more like this suppressed in the last {window}",
        "test_note": "test alert",
        "channel_back": (
            "✅ {channel} is reachable again after {duration}; {count} alert(s) were delayed "
            "and are delivered in their original order."
        ),
        "button.ack": "Ack",
        "button.silence_1h": "Silence 1h",
        "button.silence_24h": "Silence 24h",
    },
    "pt-BR": {
        "level.INFO": "INFO",
        "level.WARN": "AVISO",
        "level.ERROR": "ERRO",
        "level.CRITICAL": "CRÍTICO",
        "resolved": "✅ Resolvido: {message}",
        "lasted": "durou {duration}",
        "worst": "pior: {worst}",
        "first_seen": "visto pela primeira vez há {age}",
        "still_firing": "ainda ativo após {duration}",
        "worse": "piorou: era {level}, {note}",
        "closed": "Encerrado, não é mais verificado: {message}",
        "closed_note": (
            "aberto por {duration}; nada o verificou nos {grace} após o Khronos reiniciar (a "
            "verificação foi removida?), então foi encerrado sem saber se a causa acabou"
        ),
        "silence_ended": "Ainda ativo após o fim do silêncio: {message}",
        "firing_for": "ativo há {duration}",
        "suppressed_note": "mais {count} iguais suprimidos nos últimos {window}",
        "test_note": "alerta de teste",
        "channel_back": (
            "✅ {channel} voltou a responder após {duration}; {count} alerta(s) atrasaram e "
            "são entregues na ordem original."
        ),
        "button.ack": "Ciente",
        "button.silence_1h": "Silenciar 1h",
        "button.silence_24h": "Silenciar 24h",
    },
}
"""Message id -> text, per language (English is complete; others fall back to it)."""


def translate(msgid: str, language: str = "en", /, **values: object) -> str:
    """The text of ``msgid`` in ``language`` (English when the language or the id is missing),
    its ``{placeholders}`` filled from ``values``.  KeyError for an id no language has."""
    table = CATALOG.get(language, CATALOG["en"])
    text = table.get(msgid) or CATALOG["en"][msgid]
    return text.format(**values) if values else text


def placeholders(text: str) -> set[str]:
    """The ``{names}`` a catalog text uses (for the catalog's test)."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def level_word(level: Level, language: str = "en") -> str:
    """The level as shown in an alert's header (``ERRO`` in pt-BR)."""
    return translate(f"level.{level.name}", language)


SYSTEM_ZONE = "local"
"""``format_stamp``'s zone meaning the system's (its rules at each instant)."""


def format_stamp(at: float, tz: tzinfo | str | None = None) -> str:
    """``2026-12-05 01:50:00 -03`` in ``tz``: a ``tzinfo``, :data:`SYSTEM_ZONE`, or None for
    UTC (written ``UTC``)."""
    moment = datetime.fromtimestamp(at, tz=UTC)
    if tz is None:
        return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    local = moment.astimezone(None if isinstance(tz, str) else tz)
    return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname() or local.strftime('%z')}"
