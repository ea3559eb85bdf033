"""The app's stdout and stderr, line by line, into the structured logs (``component=app``).

- :func:`pump` reads a pipe continuously in chunks (the app never blocks on a full pipe
  because of Khronos; the logs pipeline may slow the reading down, that is its backpressure),
  splits it into lines of at most :data:`MAX_LINE` bytes (a longer line is cut and marked
  ``truncated``, the rest of it skipped) and flushes a partial last line at EOF.
- :func:`forward_line` logs one line.  A line that is a JSON object (pino, winston, structlog,
  zap...) is *merged*: its level (a name, or pino's numbers), its message (``message``, ``msg``
  or ``event``) and its correlation ID are the record's own, its other fields are kept as they
  are (not double-encoded), renamed ``app_<key>`` only where they would clash with the fields
  every record has.  Any other line is wrapped: stdout at info, stderr at warning unless it
  says otherwise (``ERROR ...``, ``error: ...``, ``panic``, ``Traceback``...).

Secrets are masked by the logs pipeline's redactor, as on every line.  Hand-written: no library
forwards a child's mixed JSON/text output into structlog.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

import orjson

from khronos.logs import CORRELATION_ID, LEVEL, MESSAGE, TIMESTAMP, USER_ID

__all__ = ["MAX_LINE", "forward_line", "level_of", "pump"]

MAX_LINE = 16 * 1024
"""Bytes of one line kept in the logs; the rest is cut (the record says ``truncated``)."""
_CHUNK = 64 * 1024
_MESSAGE_KEYS = ("message", "msg", "event")
_CORRELATION_KEYS = (CORRELATION_ID, "correlation_id", "correlationID", "requestId", "reqId")
_RESERVED = frozenset(
    {
        TIMESTAMP,
        LEVEL,
        MESSAGE,
        "service",
        "environment",
        "pid",
        "version",
        "logger",
        "component",
        "stream",
        "critical",
        "uncaught",
        "exc_info",
        "stack_info",
        "event",
        "exception",
        "truncated",
    }
)
_NAMES = {
    "trace": "debug",
    "debug": "debug",
    "info": "info",
    "information": "info",
    "notice": "info",
    "warn": "warning",
    "warning": "warning",
    "error": "error",
    "err": "error",
    "fatal": "critical",
    "critical": "critical",
    "crit": "critical",
    "panic": "critical",
    "emerg": "critical",
    "alert": "critical",
}
_PINO = ((60, "critical"), (50, "error"), (40, "warning"), (30, "info"))
_PREFIX = re.compile(
    r"\s*\[?(?P<word>trace|debug|info|notice|warn(?:ing)?|err(?:or)?|fatal|crit(?:ical)?|panic)\b",
    re.IGNORECASE,
)


def level_of(value: object, default: str) -> str:
    """A structlog method name for a JSON line's level (a name or pino's number)."""
    if isinstance(value, bool):
        return default
    if isinstance(value, int | float):
        return next((name for floor, name in _PINO if value >= floor), "debug")
    if isinstance(value, str):
        return _NAMES.get(value.strip().lower(), default)
    return default


def _plain_level(text: str, stream: str) -> str:
    if text.startswith("Traceback (most recent call last)"):
        return "error"
    match = _PREFIX.match(text)
    if match is not None:
        return _NAMES.get(match.group("word").lower(), "info")
    return "info" if stream == "stdout" else "warning"


def _parse_object(text: str) -> dict[str, Any] | None:
    if not text.startswith("{"):
        return None
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def forward_line(logger: Any, raw: bytes, stream: str, *, truncated: bool = False) -> str:
    """Log one line of the app's ``stream`` (``stdout``/``stderr``); the line's text."""
    text = raw.decode("utf-8", "replace").rstrip("\r\n")
    stripped = text.strip()
    if not stripped:
        return text
    extra: dict[str, Any] = {"stream": stream}
    if truncated:
        extra["truncated"] = True
    record = None if truncated else _parse_object(stripped)
    if record is None:
        getattr(logger, _plain_level(stripped, stream))(text, **extra)
        return text
    default = "info" if stream == "stdout" else "warning"
    method = level_of(record.pop(LEVEL, None), default)
    message = ""
    for key in _MESSAGE_KEYS:
        value = record.get(key)
        if isinstance(value, str):
            message = value
            del record[key]
            break
    for key in _CORRELATION_KEYS:
        value = record.pop(key, None)
        if isinstance(value, str) and CORRELATION_ID not in extra:
            extra[CORRELATION_ID] = value
    user = record.pop(USER_ID, None)
    if user is not None:
        extra[USER_ID] = str(user)
    for key, value in record.items():
        extra[f"app_{key}" if key in _RESERVED else key] = value
    getattr(logger, method)(message, **extra)
    return message or text


async def pump(
    stream: asyncio.StreamReader,
    on_line: Callable[[bytes, bool], None],
    *,
    max_line: int = MAX_LINE,
) -> None:
    """Read ``stream`` to EOF, calling ``on_line(line, truncated)`` for each line (a partial
    last line included)."""
    buffer = bytearray()
    skipping = False  # inside the rest of a line already emitted cut
    while True:
        chunk = await stream.read(_CHUNK)
        if not chunk:
            break
        buffer.extend(chunk)
        while True:
            end = buffer.find(b"\n")
            if end < 0:
                if len(buffer) > max_line:
                    if not skipping:
                        on_line(bytes(buffer[:max_line]), True)
                        skipping = True
                    buffer.clear()
                break
            if skipping:
                skipping = False
            elif end > max_line:
                on_line(bytes(buffer[:max_line]), True)
            else:
                on_line(bytes(buffer[:end]), False)
            del buffer[: end + 1]
    if buffer and not skipping:
        on_line(bytes(buffer[:max_line]), len(buffer) > max_line)
