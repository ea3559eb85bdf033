"""Turning a queued record into its line: the ordered, redacted fields, JSON, the pretty console.

A queued record is either Khronos' own ``(level, event dict, time, logger name)`` tuple or a
foreign stdlib ``LogRecord`` (httpx, uvicorn...).  :meth:`Renderer.render` shapes either into the
same fields, masks secrets in every value, and renders the JSON line once for every output.

Written by hand rather than through ``structlog.stdlib.ProcessorFormatter``: that formatter wants
a ``LogRecord`` per line and runs a generic processor chain, which was most of the writer's time;
this module does the same work directly on the event dict (it still uses structlog's own
``format_exc_info`` and ``ConsoleRenderer``).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from typing import Any, NamedTuple

import orjson
import structlog

from khronos.logs._keys import (
    CORRELATION_ID,
    CRITICAL_FLAG,
    ENVIRONMENT,
    LEVEL,
    LOGGER,
    MESSAGE,
    PID,
    SERVICE,
    SYSTEM_USER,
    TIMESTAMP,
    UNCAUGHT,
    USER_ID,
    VERSION,
)
from khronos.redact import Redactor, get_redactor

__all__ = ["CONTEXT_ATTR", "Rendered", "Renderer", "pretty_renderer"]

CONTEXT_ATTR = "_khronos_context"
"""Attribute of a foreign ``LogRecord`` holding the caller's context (correlation ID...)."""
_INTERNAL = frozenset({"event", "exc_info", "stack_info"})
_STATIC = (SERVICE, ENVIRONMENT, PID, VERSION)
_MILLIS = tuple(f".{n:03d}Z" for n in range(1000))
_MAX_CACHED = 2_000
"""Distinct field names (and messages) remembered redacted; the caches restart beyond."""
_MAX_CACHED_MESSAGE = 200
_NUMBERS = frozenset({int, float, bool, type(None)})
_LEVEL_NAMES = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warning",
    logging.ERROR: "error",
    logging.CRITICAL: "critical",
}
# orjson serialises dataclasses itself, never calling ``default``: let them through to it so
# that whatever redact_value() did not turn into plain values is still redacted as text.
_JSON_OPTIONS = (
    orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_APPEND_NEWLINE
)


class Rendered(NamedTuple):
    """One record, ready for the outputs: its level, routing flags, fields and JSON line."""

    level: int
    critical: bool
    """Critical, or an error logged with ``critical=True`` (critical.log)."""
    uncaught: bool
    """An uncaught exception (exceptions.log)."""
    fields: dict[str, Any]
    line: bytes
    """The JSON line, with its newline."""


_process = [os.getpid()]

os.register_at_fork(after_in_child=lambda: _process.__setitem__(0, os.getpid()))


def _level_name(level: int) -> str:
    name = _LEVEL_NAMES.get(level)
    return name if name is not None else logging.getLevelName(level).lower()


class Renderer:
    """The fields every line carries beside the event's own: service, environment, version."""

    def __init__(self, service: str, environment: str, version: str, redactor: Redactor) -> None:
        self.service = service
        self.environment = environment
        self.version = version
        self.redactor = redactor
        # (second, its formatted prefix) as one tuple: a forked child or the writes after
        # shutdown() format on the callers' threads, and a pair of attributes could mismatch.
        self._cached: tuple[int, str] = (-1, "")
        # (redactor version, {field name: (redacted, numbers plain)}, {message: redacted}):
        # records reuse a few names and messages; one tuple, swapped whole when secrets change
        self._cached_texts: tuple[int, dict[str, tuple[str, bool]], dict[str, str]] = (-1, {}, {})

    def timestamp(self, created: float) -> str:
        """ISO 8601 UTC with milliseconds: ``2024-05-01T12:00:00.123Z``."""
        second = int(created)
        cached_second, prefix = self._cached
        if second != cached_second:
            prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._cached = (second, prefix)
        return prefix + _MILLIS[min(int((created - second) * 1000), 999)]

    def _learn_key(self, key: str) -> tuple[str, bool]:
        """A field name's redacted form, and whether numbers under it are written as they are."""
        return self.redactor.redact(key), self.redactor.redact_value(1, key) == 1

    def _caches(self) -> tuple[dict[str, tuple[str, bool]], dict[str, str]]:
        """Field names and messages seen before, redacted (valid until the secrets change)."""
        version, keys, messages = self._cached_texts
        if (
            version != self.redactor.version
            or len(keys) > _MAX_CACHED
            or len(messages) > _MAX_CACHED
        ):
            keys, messages = {}, {}
            self._cached_texts = (self.redactor.version, keys, messages)
        return keys, messages

    def render(self, item: Any) -> Rendered:
        """A queued item (Khronos' tuple or a foreign ``LogRecord``) as its line."""
        if isinstance(item, logging.LogRecord):
            return self._render_foreign(item)
        level, ed, created, _name = item
        critical, uncaught = ed.get(CRITICAL_FLAG) is True, ed.get(UNCAUGHT) is True
        return self._finish(level, ed, created, None, critical_flag=critical, uncaught=uncaught)

    def _render_foreign(self, record: logging.LogRecord) -> Rendered:
        ed: dict[str, Any] = {"event": record.getMessage()}
        context: Mapping[str, Any] | None = getattr(record, CONTEXT_ATTR, None)
        if context:
            for key, value in context.items():
                ed.setdefault(key, value)
        if record.exc_info:
            ed["exc_info"] = record.exc_info
        critical = getattr(record, CRITICAL_FLAG, False) is True
        uncaught = getattr(record, UNCAUGHT, False) is True
        return self._finish(
            record.levelno,
            ed,
            record.created,
            record.name,
            critical_flag=critical,
            uncaught=uncaught,
        )

    def _finish(
        self,
        level: int,
        ed: dict[str, Any],
        created: float,
        logger: str | None,
        *,
        critical_flag: bool,
        uncaught: bool,
    ) -> Rendered:
        if "exc_info" in ed:
            ed = dict(structlog.processors.format_exc_info(None, "", dict(ed)))
        redactor = self.redactor
        keys, messages = self._caches()
        message = ed.get("event", "")
        if message.__class__ is not str:
            message = str(message)
        redacted = messages.get(message)
        if redacted is None:
            redacted = redactor.redact(message)
            if len(message) <= _MAX_CACHED_MESSAGE:
                messages[message] = redacted
        fields: dict[str, Any] = {
            TIMESTAMP: self.timestamp(created),
            LEVEL: _level_name(level),
            MESSAGE: redacted,
            CORRELATION_ID: ed.get(CORRELATION_ID),
            USER_ID: ed.get(USER_ID, SYSTEM_USER),
            SERVICE: self.service,
            ENVIRONMENT: self.environment,
            PID: _process[0],
            VERSION: self.version,
        }
        if logger is not None or LOGGER in ed:
            fields[LOGGER] = ed.get(LOGGER, logger)
        redact_value = redactor.redact_value
        for key, value in ed.items():
            if key in fields or key in _INTERNAL:
                continue
            known = keys.get(key)
            if known is None:
                known = keys[key] = self._learn_key(key)
            name, plain_numbers = known
            # a number under a name that is not secret-looking is never masked: skip the call
            if plain_numbers and value.__class__ in _NUMBERS:
                fields[name] = value
            else:
                fields[name] = redact_value(value, key)
        critical = level >= logging.CRITICAL or (level >= logging.ERROR and critical_flag)
        return Rendered(level, critical, uncaught, fields, render_json(fields))

    def notice(self, level: int, message: str, **extra: Any) -> Rendered:
        """A record of Khronos' logging itself (a full disk, lines lost)."""
        ed = {"event": message, CORRELATION_ID: None, USER_ID: SYSTEM_USER, **extra}
        return self._finish(
            level, ed, time.time(), "khronos.logs", critical_flag=False, uncaught=False
        )


def render_json(fields: Mapping[str, Any]) -> bytes:
    """One JSON line (with its newline); values without a JSON form become their ``str()``."""
    try:
        return orjson.dumps(fields, default=_default, option=_JSON_OPTIONS)
    except (orjson.JSONEncodeError, TypeError):
        # e.g. lone surrogates from undecodable bytes: escape them, never drop the record
        return orjson.dumps(_sanitize(fields), default=_default, option=_JSON_OPTIONS)


def _default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return _clean(bytes(value).decode("utf-8", "backslashreplace"))
    if isinstance(value, set | frozenset):
        return [_default(v) if not isinstance(v, str | int | float) else v for v in value]
    return _clean(str(value))


def _clean(text: str) -> str:
    return get_redactor().redact(text.encode("utf-8", "backslashreplace").decode("utf-8"))


def _sanitize(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, Mapping):
        return {_sanitize(str(k)): _sanitize(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_sanitize(v) for v in value]
    return value


def _pretty(fields: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "timestamp": fields[TIMESTAMP][11:23],
        "level": fields[LEVEL],
        "event": fields[MESSAGE],
    }
    for key, value in fields.items():
        if key in (TIMESTAMP, LEVEL, MESSAGE, *_STATIC) or value is None:
            continue
        if key == USER_ID and value == SYSTEM_USER:
            continue
        out[key] = value
    return out


def pretty_renderer(*, colors: bool) -> Any:
    """A function from a record's fields to a readable console line (coloured on a TTY)."""
    renderer = structlog.dev.ConsoleRenderer(colors=colors, exception_formatter=_as_is)

    def render(fields: Mapping[str, Any]) -> str:
        return str(renderer(None, "", _pretty(fields)))

    return render


def _as_is(sio: Any, exc_info: Any) -> None:  # pragma: no cover - exceptions arrive as text
    sio.write(str(exc_info))
