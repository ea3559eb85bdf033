"""Telegram HTML rendering: escaped values, details as ``<pre>`` JSON, at most 4096 characters.

Every interpolated value goes through :func:`escape` (``&``, ``<``, ``>`` and ``"``), the only
markup is the fixed ``<b>``/``<i>``/``<pre>`` skeleton written here, and :func:`truncate_html`
cuts inside text only, never inside a tag or an ``&entity;``, closing the tags it leaves open.
Telegram counts message length in UTF-16 code units, so that is what is measured.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from datetime import tzinfo
from typing import Any

from khronos.alerts._catalog import Zone, format_stamp, level_word, localize
from khronos.alerts._model import LEVEL_EMOJI, Alert
from khronos.redact import Redactor

__all__ = [
    "MAX_MESSAGE_LENGTH",
    "escape",
    "localize_alert",
    "redact_alert",
    "render_html",
    "render_plain",
    "strip_html",
    "truncate_html",
    "utf16_len",
]

MAX_MESSAGE_LENGTH = 4096
"""Telegram's limit on a message's text, in UTF-16 code units after entity parsing."""

_ELLIPSIS = "…"
_BMP_MAX = 0xFFFF
_MAX_DEPTH = 16
_TOKEN_RE = re.compile(r"<(/?)([a-z]+)>|&(?:amp|lt|gt|quot);|[^<&]+|[<&]", re.DOTALL)
_UNESCAPE = {"&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"'}


def escape(text: object) -> str:
    """Escape a value for Telegram's HTML parse mode."""
    return (
        str(text)
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
    )


def localize_alert(alert: Alert, language: str, tz: Zone) -> Alert:
    """The alert as the owner reads it: its message, title and details' catalog texts rendered
    in ``language``, times in ``tz`` (its fingerprint, the dedupe key, stays as it was)."""
    return dataclasses.replace(
        alert,
        message=str(localize(alert.message, language, tz)),
        title=str(localize(alert.title, language, tz)),
        details=localize(alert.details, language, tz),
    )


def redact_alert(redactor: Redactor, alert: Alert) -> Alert:
    """The alert with secrets masked in its message, title and details (keys too)."""
    return dataclasses.replace(
        alert,
        message=redactor.redact(alert.message),
        title=redactor.redact(alert.title) if alert.title else alert.title,
        details=_scrub(redactor, alert.details),
    )


def _scrub(redactor: Redactor, value: Any, key: str | None = None, depth: int = 0) -> Any:
    """JSON-like data with secrets masked; other objects (and anything nested deeper than
    :data:`_MAX_DEPTH`, so a cycle cannot recurse forever) become their masked ``str``."""
    if depth < _MAX_DEPTH:
        if isinstance(value, Mapping):
            return {
                redactor.redact(str(k)): _scrub(redactor, v, str(k), depth + 1)
                for k, v in value.items()
            }
        if isinstance(value, list | tuple | set | frozenset):
            return [_scrub(redactor, v, None, depth + 1) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return redactor.redact_value(value, key)  # a number under "pin" is masked too
    text = value if isinstance(value, str) else str(value)
    return redactor.redact_value(text, key)


def utf16_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units).

    Counted without a codec: ``str.encode("utf-16-le")`` imports its codec module on first use,
    which fails (and fails again on every later alert) once the process is out of file
    descriptors.
    """
    if text.isascii():
        return len(text)
    return len(text) + sum(1 for char in text if ord(char) > _BMP_MAX)


def _details_json(details: Mapping[str, Any]) -> str:
    return json.dumps(details, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def _header(
    alert: Alert,
    *,
    service: str,
    environment: str,
    at: float,
    language: str,
    tz: tzinfo | str | None,
) -> str:
    stamp = format_stamp(at, tz)
    level = level_word(alert.level, language)
    return f"{LEVEL_EMOJI[alert.level]} {level} · {service} ({environment}) · {stamp}"


def render_html(
    alert: Alert,
    *,
    service: str = "khronos",
    environment: str = "production",
    at: float = 0.0,
    note: str = "",
    limit: int = MAX_MESSAGE_LENGTH,
    language: str = "en",
    tz: tzinfo | str | None = None,
) -> str:
    """The alert as Telegram HTML, cut to ``limit`` characters without breaking markup;
    the header's level word in ``language``, its time in ``tz`` (None: UTC)."""
    header = _header(
        alert, service=service, environment=environment, at=at, language=language, tz=tz
    )
    parts = [
        f"<b>{escape(header)}</b>",
        escape(alert.message),
    ]
    if note:
        parts.append(f"<i>{escape(note)}</i>")
    if alert.details:
        parts.append(f"<pre>{escape(_details_json(alert.details))}</pre>")
    return truncate_html("\n".join(parts), limit)


def render_plain(
    alert: Alert,
    *,
    service: str = "khronos",
    environment: str = "production",
    at: float = 0.0,
    note: str = "",
    limit: int = MAX_MESSAGE_LENGTH,
    language: str = "en",
    tz: tzinfo | str | None = None,
) -> str:
    """The alert as plain text (the fallback when Telegram refuses the HTML)."""
    header = _header(
        alert, service=service, environment=environment, at=at, language=language, tz=tz
    )
    parts = [header, alert.message]
    if note:
        parts.append(note)
    if alert.details:
        parts.append(_details_json(alert.details))
    return _cut_plain("\n".join(parts), limit)


def _cut_plain(text: str, limit: int) -> str:
    if utf16_len(text) <= limit:
        return text
    out: list[str] = []
    used = utf16_len(_ELLIPSIS)
    for char in text:
        width = utf16_len(char)
        if used + width > limit:
            break
        out.append(char)
        used += width
    return "".join(out) + _ELLIPSIS


def strip_html(html: str) -> str:
    """Plain text of our HTML: tags removed, entities decoded."""
    out: list[str] = []
    for match in _TOKEN_RE.finditer(html):
        token = match.group(0)
        if match.group(2) is not None:
            continue
        out.append(_UNESCAPE.get(token, token))
    return "".join(out)


def truncate_html(html: str, limit: int = MAX_MESSAGE_LENGTH) -> str:
    """Cut HTML so its *visible* text fits ``limit`` UTF-16 units, closing open tags.

    Telegram measures the text after entity parsing, so tags do not count and ``&lt;`` counts
    as one character.  The cut never splits a tag, an entity or a surrogate pair.
    """
    if utf16_len(strip_html(html)) <= limit:
        return html
    budget = limit - utf16_len(_ELLIPSIS)
    out: list[str] = []
    open_tags: list[str] = []
    used = 0
    for match in _TOKEN_RE.finditer(html):
        token = match.group(0)
        if match.group(2) is not None:
            out.append(token)
            if match.group(1):
                if open_tags and open_tags[-1] == match.group(2):
                    open_tags.pop()
            else:
                open_tags.append(match.group(2))
            continue
        if token in _UNESCAPE:
            if used + 1 > budget:
                break
            out.append(token)
            used += 1
            continue
        piece: list[str] = []
        for char in token:
            width = utf16_len(char)
            if used + width > budget:
                break
            piece.append(char)
            used += width
        out.append("".join(piece))
        if len(piece) < len(token):
            break
    out.append(_ELLIPSIS)
    out.extend(f"</{tag}>" for tag in reversed(open_tags))
    return "".join(out)
