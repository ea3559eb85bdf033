"""Turning records into lines: the JSON and pretty renderers, the files and their filters.

Everything here runs on the queue listener's thread, never on the caller's: the caller only puts
the event (or the foreign ``LogRecord``) on a queue.  The JSON line of a record is rendered once
and shared by every file handler; secrets are masked by the last processor before rendering, so
every output (files and console) sees only redacted text.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import orjson
import structlog
from structlog.stdlib import ProcessorFormatter
from structlog.typing import EventDict, WrappedLogger

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
from khronos.logs._redact import Redactor, get_redactor

__all__ = [
    "CONTEXT_ATTR",
    "ConsoleHandler",
    "CriticalFilter",
    "JsonFormatter",
    "RecordFields",
    "RotatingFile",
    "UncaughtFilter",
    "make_console_formatter",
    "rotating_file",
]

CONTEXT_ATTR = "_khronos_context"
"""Attribute of a foreign ``LogRecord`` holding the caller's context (correlation ID...)."""
_RENDERED_ATTR = "_khronos_json"
_INTERNAL = frozenset({"_record", "_from_structlog", "event", "exc_info", "stack_info"})
_STATIC = (SERVICE, ENVIRONMENT, PID, VERSION)


class RecordFields:
    """The fields every line carries beside the event's own: service, environment, version."""

    def __init__(self, service: str, environment: str, version: str, redactor: Redactor) -> None:
        self.service = service
        self.environment = environment
        self.version = version
        self.redactor = redactor
        # (second, its formatted prefix) as one tuple: a forked child or the writes after
        # shutdown() format on the callers' threads, and a pair of attributes could mismatch.
        self._cached: tuple[int, str] = (-1, "")

    def timestamp(self, created: float) -> str:
        """ISO 8601 UTC with milliseconds: ``2024-05-01T12:00:00.123Z``."""
        second = int(created)
        cached_second, prefix = self._cached
        if second != cached_second:
            prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._cached = (second, prefix)
        millis = min(int((created - second) * 1000), 999)
        return f"{prefix}.{millis:03d}Z"

    def shape(self, _logger: WrappedLogger, _method: str, ed: EventDict) -> EventDict:
        """The ordered, redacted fields of one line (a processor)."""
        record: logging.LogRecord = ed["_record"]
        redactor = self.redactor
        message = ed.get("event", "")
        out: dict[str, Any] = {
            TIMESTAMP: self.timestamp(record.created),
            LEVEL: record.levelname.lower(),
            MESSAGE: redactor.redact(message if isinstance(message, str) else str(message)),
            CORRELATION_ID: ed.get(CORRELATION_ID),
            USER_ID: ed.get(USER_ID, SYSTEM_USER),
            SERVICE: self.service,
            ENVIRONMENT: self.environment,
            PID: record.process,
            VERSION: self.version,
        }
        if not ed.get("_from_structlog", True) or LOGGER in ed:
            out[LOGGER] = ed.get(LOGGER, record.name)
        for key, value in ed.items():
            if key in out or key in _INTERNAL:
                continue
            out[redactor.redact(key) if isinstance(key, str) else key] = redactor.redact_value(
                value, str(key)
            )
        return out


def merge_record_context(_logger: WrappedLogger, _method: str, ed: EventDict) -> EventDict:
    """Foreign records: add the context the caller had (captured by the queue handler)."""
    context: Mapping[str, Any] | None = getattr(ed["_record"], CONTEXT_ATTR, None)
    if context:
        for key, value in context.items():
            ed.setdefault(key, value)
    return ed


# orjson serialises dataclasses itself, never calling ``default``: let them through to it so
# that whatever redact_value() did not turn into plain values is still redacted as text.
_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS


def _render_json(_logger: WrappedLogger, _method: str, ed: EventDict) -> str:
    try:
        return orjson.dumps(ed, default=_default, option=_JSON_OPTIONS).decode()
    except (orjson.JSONEncodeError, TypeError):
        # e.g. lone surrogates from undecodable bytes: escape them, never drop the record
        return orjson.dumps(_sanitize(ed), default=_default, option=_JSON_OPTIONS).decode()


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


class JsonFormatter(ProcessorFormatter):
    """Renders a record as one JSON line, once, however many handlers share it."""

    def __init__(self, fields: RecordFields) -> None:
        super().__init__(
            processors=[structlog.processors.format_exc_info, fields.shape, _render_json],
            foreign_pre_chain=[merge_record_context],
            logger=None,
        )

    def format(self, record: logging.LogRecord) -> str:
        rendered: str | None = record.__dict__.get(_RENDERED_ATTR)
        if rendered is None:
            if isinstance(record.msg, dict) and "_logger" in record.__dict__:
                rendered = self._format_structlog(record)
            else:
                rendered = super().format(record)
            record.__dict__[_RENDERED_ATTR] = rendered
        return rendered

    def _format_structlog(self, record: logging.LogRecord) -> str:
        """``ProcessorFormatter.format`` for Khronos' own records, minus its two costs that
        buy nothing here: a copy of the record (these processors only read it) and the base
        ``Formatter`` pass (``"%(message)s"`` of a string is that string)."""
        msg: dict[str, Any] = record.msg  # type: ignore[assignment] # checked by the caller
        ed: Any = dict(msg)
        ed["_record"] = record
        ed["_from_structlog"] = True
        method = str(record.__dict__.get("_name", "info"))
        for processor in self.processors:
            ed = processor(None, method, ed)
        return str(ed)


def _pretty(_logger: WrappedLogger, _method: str, ed: EventDict) -> EventDict:
    out: dict[str, Any] = {
        "timestamp": ed[TIMESTAMP][11:23],
        "level": ed[LEVEL],
        "event": ed[MESSAGE],
    }
    for key, value in ed.items():
        if key in (TIMESTAMP, LEVEL, MESSAGE, *_STATIC) or value is None:
            continue
        if key == USER_ID and value == SYSTEM_USER:
            continue
        out[key] = value
    return out


def make_console_formatter(
    fields: RecordFields, *, pretty: bool, colors: bool
) -> logging.Formatter:
    """The console's formatter: the shared JSON one, or a readable line (colours on a TTY)."""
    if not pretty:
        return JsonFormatter(fields)
    return ProcessorFormatter(
        processors=[
            structlog.processors.format_exc_info,
            fields.shape,
            _pretty,
            structlog.dev.ConsoleRenderer(colors=colors, exception_formatter=_as_is),
        ],
        foreign_pre_chain=[merge_record_context],
        logger=None,
    )


def _as_is(sio: Any, exc_info: Any) -> None:  # pragma: no cover - exceptions arrive as text
    sio.write(str(exc_info))


class ConsoleHandler(logging.Handler):
    """Writes to a stream, by default whatever ``sys.stderr`` is at the time of writing."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        super().__init__()
        self._stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = self._stream if self._stream is not None else sys.stderr
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:  # noqa: BLE001 - logging must never raise into the app
            self.handleError(record)


def _flag(record: logging.LogRecord, name: str) -> bool:
    msg = record.msg
    if isinstance(msg, dict):
        return msg.get(name) is True
    return getattr(record, name, False) is True


class CriticalFilter(logging.Filter):
    """critical.log: critical records, and errors logged with ``critical=True``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.CRITICAL:
            return True
        return record.levelno >= logging.ERROR and _flag(record, CRITICAL_FLAG)


class UncaughtFilter(logging.Filter):
    """exceptions.log: only the records of uncaught exceptions."""

    def filter(self, record: logging.LogRecord) -> bool:
        return _flag(record, UNCAUGHT)


class RotatingFile(logging.handlers.RotatingFileHandler):
    """A numbered, size-rotated file; in a forked child, a guest that appends and never rotates.

    Two processes rotating one file would each rename it under the other, so only the process
    that configured logging rotates.  A child made by ``os.fork()`` becomes a *guest*
    (:meth:`become_guest`): it appends its lines (one ``write`` each, ``O_APPEND``) and, when the
    parent has rotated the file away, reopens the new live file instead of writing on into
    ``name.log.1``.
    """

    guest = False

    def become_guest(self) -> None:
        """In a forked child: drop the inherited stream and stop rotating.

        The inherited stream may hold part of a line the parent was writing at the fork; its
        descriptor is pointed at ``/dev/null`` before closing, so that part is never written.
        """
        self.guest = True
        stream, self.stream = self.stream, None
        if stream is not None:
            try:
                null = os.open(os.devnull, os.O_WRONLY)
                try:
                    os.dup2(null, stream.fileno())
                finally:
                    os.close(null)
                stream.close()
            except (OSError, ValueError):  # pragma: no cover - already closed
                pass

    _regular: bool | None = None

    def shouldRollover(self, record: logging.LogRecord) -> int:  # noqa: N802 - stdlib name
        """The owner rotates by size; a guest only reopens the file when it was rotated away.

        Like the stdlib's, but whether the path is a regular file (bpo-45401: never rotate
        ``/dev/null``) is checked when the file is opened, not with two ``stat`` calls per line.
        """
        if self.guest:
            self._reopen_if_moved()
            return False
        if self.maxBytes <= 0:
            return False
        if self.stream is None:
            path = Path(self.baseFilename)
            self._regular = not path.exists() or path.is_file()
            self.stream = self._open()
        if not self._regular:
            return False
        size = len(self.format(record)) + 1
        self.stream.seek(0, 2)  # another process (a forked guest) may have appended
        return self.stream.tell() + size >= self.maxBytes

    def _reopen_if_moved(self) -> None:
        if self.stream is None:
            return
        opened = os.fstat(self.stream.fileno())
        try:
            current = Path(self.baseFilename).stat()
        except FileNotFoundError:
            moved = True
        else:
            moved = (current.st_ino, current.st_dev) != (opened.st_ino, opened.st_dev)
        if moved:
            stream, self.stream = self.stream, None
            stream.close()  # FileHandler.emit opens the live name again


def rotating_file(
    path: Path, *, max_size: int, keep: int, formatter: logging.Formatter, level: int = 0
) -> RotatingFile:
    """A numbered, size-rotated file (``name.log``, ``name.log.1`` ... ``name.log.<keep>``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = RotatingFile(
        path,
        maxBytes=max_size,
        backupCount=keep,
        encoding="utf-8",
        errors="backslashreplace",
        delay=True,
    )
    handler.setFormatter(formatter)
    handler.setLevel(level)
    return handler
