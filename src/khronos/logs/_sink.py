"""The queue between the callers and the writer thread, and what happens to it after a fork.

A log call only puts ``(level, event dict, time, logger name)`` (or a stdlib ``LogRecord``) on a
:class:`~queue.SimpleQueue`; a :class:`~logging.handlers.QueueListener` thread renders and
writes it.  The queue holds at most ``max_queued`` records: beyond that a sustained burst would
only grow memory (and a ``kill -9`` would lose the whole backlog), so further records are
dropped and counted, and one warning with the count is written once the queue has drained.

In a child made by ``os.fork()`` the writer thread does not exist: :meth:`Sink.forked` makes
the child write each record synchronously (children often end with ``os._exit``, as
multiprocessing's do, which runs no exit handler that could drain a queue) and turns its file
handlers into guests that never rotate the parent's files.
"""

from __future__ import annotations

import logging
import logging.handlers
import queue
import threading
import time
from typing import Any

import structlog
from structlog.typing import EventDict

from khronos.logs._context import _correlation_id, _user_id
from khronos.logs._keys import CORRELATION_ID, SYSTEM_USER, USER_ID
from khronos.logs._output import CONTEXT_ATTR, RotatingFile

__all__ = ["DEFAULT_MAX_QUEUED", "ForeignHandler", "QueueLogger", "Sink"]

DEFAULT_MAX_QUEUED = 100_000
"""Records waiting to be written beyond which new ones are dropped (and counted)."""
_DROPPED_LOGGER = "khronos.logs"


class QueueLogger:
    """structlog's wrapped logger: hands the event dict to the sink with its level and time."""

    def __init__(self, sink: Sink, name: str) -> None:
        self._sink = sink
        self.name = name

    def _put(self, level: int, ed: EventDict) -> None:
        self._sink.put((level, ed, time.time(), self.name))

    def debug(self, ed: EventDict) -> None:
        self._put(logging.DEBUG, ed)

    def info(self, ed: EventDict) -> None:
        self._put(logging.INFO, ed)

    def warning(self, ed: EventDict) -> None:
        self._put(logging.WARNING, ed)

    def error(self, ed: EventDict) -> None:
        self._put(logging.ERROR, ed)

    def critical(self, ed: EventDict) -> None:
        self._put(logging.CRITICAL, ed)

    warn = warning
    fatal = critical
    exception = error
    msg = info


class ForeignHandler(logging.handlers.QueueHandler):
    """On the root logger: queue stdlib records with the caller's message and context."""

    def __init__(self, sink: Sink) -> None:
        super().__init__(sink.queue)
        self._sink = sink

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        record.msg = record.getMessage()
        record.args = None
        context = structlog.contextvars.get_contextvars()
        context[CORRELATION_ID] = _correlation_id.get()
        context[USER_ID] = _user_id.get()
        setattr(record, CONTEXT_ATTR, context)
        return record

    def enqueue(self, record: logging.LogRecord) -> None:
        self._sink.put(record)


def to_record(item: Any) -> logging.LogRecord:
    """A queued item as the ``LogRecord`` the handlers take (stdlib records pass as they are)."""
    if isinstance(item, logging.LogRecord):
        return item
    level, ed, created, name = item
    made = logging.LogRecord(name, level, "", 0, ed, None, None)
    made.created = created
    made.msecs = (created - int(created)) * 1000
    # _logger/_name mark it as structlog's for ProcessorFormatter (as wrap_for_formatter does)
    made.__dict__["_logger"] = None
    made.__dict__["_name"] = logging.getLevelName(level).lower()
    return made


class _Listener(logging.handlers.QueueListener):
    def __init__(self, sink: Sink) -> None:
        super().__init__(sink.queue, *sink.handlers, respect_handler_level=True)
        self._sink = sink

    def prepare(self, record: Any) -> logging.LogRecord:
        return to_record(record)

    def handle(self, record: logging.LogRecord) -> None:
        super().handle(record)
        if self._sink.dropped and self._sink.queue.empty():
            count = self._sink.take_dropped()
            if count:
                super().handle(self._sink.dropped_record(count))


class Sink:
    """The queue, its writer thread and the handlers behind it."""

    def __init__(self, handlers: list[logging.Handler], max_queued: int = DEFAULT_MAX_QUEUED):
        self.handlers = handlers
        self.max_queued = max_queued
        self.queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.listener: _Listener | None = None
        self.running = False
        """Between :meth:`start` and :meth:`stop`; still true in a forked child."""
        self.dropped = 0
        self._drop_lock = threading.Lock()

    def put(self, item: Any) -> None:
        """Queue a record for the writer thread; without one, write it now."""
        if self.listener is None:  # after shutdown, or in a forked child
            self.write_now(item)
        elif self.queue.qsize() < self.max_queued:
            self.queue.put_nowait(item)
        else:
            with self._drop_lock:
                self.dropped += 1

    def take_dropped(self) -> int:
        """How many records were dropped since the last call (and reset the count)."""
        with self._drop_lock:
            count, self.dropped = self.dropped, 0
        return count

    def dropped_record(self, count: int) -> logging.LogRecord:
        """The warning written once the queue drained after records were dropped."""
        event: EventDict = {
            "event": (
                f"dropped {count} log record(s): more than {self.max_queued} were waiting to"
                " be written"
            ),
            "dropped": count,
            CORRELATION_ID: None,
            USER_ID: SYSTEM_USER,
        }
        return to_record((logging.WARNING, event, time.time(), _DROPPED_LOGGER))

    def write_now(self, item: Any) -> None:
        """Render and write a record on the caller's thread."""
        record = to_record(item)
        for handler in self.handlers:
            if record.levelno >= handler.level:
                handler.handle(record)

    def start(self) -> None:
        """Start the writer thread."""
        self.listener = _Listener(self)
        self.listener.start()
        self.running = True

    def stop(self) -> None:
        """Write what is queued, stop the writer thread and flush the files."""
        listener, self.listener = self.listener, None
        self.running = False
        if listener is not None:
            listener.stop()
        count = self.take_dropped()
        if count:
            self.write_now(self.dropped_record(count))
        for handler in self.handlers:
            handler.flush()

    def forked(self) -> None:
        """In a child made by ``os.fork()``: write synchronously; never rotate the files.

        The inherited queue is dropped unread: what it held is the parent's to write.
        """
        self.queue = queue.SimpleQueue()
        self.listener = None
        self.dropped = 0
        self._drop_lock = threading.Lock()
        for handler in self.handlers:
            if isinstance(handler, RotatingFile):
                handler.become_guest()
