"""The queue between the callers and the writer thread, the outputs behind it, and forks.

A log call only puts ``(level, event dict, time, logger name)`` (or a stdlib ``LogRecord``) on
a :class:`~queue.SimpleQueue`; one writer thread takes what is there in batches, renders each
record once and appends the line to the outputs that want it, then writes each output once per
batch.

**Nothing is dropped for speed.**  The queue holds at most ``max_queued`` records (a bound on
memory, and on what a ``kill -9`` can take with it); a caller that finds it full waits until
the writer has made room (*backpressure*: a burst runs at the speed of the disk).  It waits by
polling with short sleeps rather than on a condition variable, so that no lock is shared with
the writer (a SIGTERM handler that flushes the logs can never deadlock against a waiting
caller).  The writer thread itself never waits.  The only lines ever lost are those a file
cannot take (a full disk, see ``_files``), and those are counted and reported.

In a child made by ``os.fork()`` the writer thread does not exist: :meth:`Sink.forked` makes
the child write each record synchronously (children often end with ``os._exit``, as
multiprocessing's do, which runs no exit handler that could drain a queue) and turns its files
into guests that never rotate the parent's files.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any, NamedTuple

import structlog
from structlog.typing import EventDict

from khronos.logs._context import _correlation_id, _user_id
from khronos.logs._files import MAX_PENDING_BYTES, Console, Failure, LogFile
from khronos.logs._keys import CORRELATION_ID, USER_ID
from khronos.logs._render import CONTEXT_ATTR, Renderer

__all__ = ["DEFAULT_MAX_QUEUED", "ForeignHandler", "Outputs", "QueueLogger", "Route", "Sink"]

DEFAULT_MAX_QUEUED = 10_000
"""Records that may wait for the writer; a caller that finds more waits for room."""
RETRY_SECONDS = 1.0
"""How often a file that cannot be written is tried again while no new record comes."""
BATCH = 1024
"""Records the writer renders before writing them out."""
_MAX_WAIT_STEP = 0.005


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


class ForeignHandler(logging.Handler):
    """On the root logger: queue stdlib records with the caller's message and context."""

    def __init__(self, sink: Sink) -> None:
        super().__init__()
        self._sink = sink

    def handle(self, record: logging.LogRecord) -> bool:
        """Like ``Handler.handle`` without the handler's lock (``emit`` is thread-safe).

        A caller waiting for room in the queue must not hold a lock that the writer thread
        could need: a record the writer logs itself through ``logging`` would deadlock.
        """
        if not self.filter(record):
            return False
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        try:
            record.msg = record.getMessage()
            record.args = None
        except Exception:  # noqa: BLE001 - a bad format string is the caller's bug, not ours
            self.handleError(record)
            return
        context = structlog.contextvars.get_contextvars()
        context[CORRELATION_ID] = _correlation_id.get()
        context[USER_ID] = _user_id.get()
        setattr(record, CONTEXT_ATTR, context)
        self._sink.put(record)


class Route(NamedTuple):
    """Which records a file takes: from ``min_level``, and only critical/uncaught ones if set."""

    file: LogFile
    min_level: int
    only: str | None = None
    """``"critical"``, ``"uncaught"`` or None (every record from min_level)."""


class Outputs:
    """The files and the console; renders each record once and reports their failures."""

    def __init__(self, renderer: Renderer, console: Console | None) -> None:
        self.renderer = renderer
        self.console = console
        self.routes: list[Route] = []
        self._targets: dict[tuple[int, bool, bool], tuple[LogFile, ...]] = {}
        if console is not None:
            console.on_failure = self._console_failed

    def set_routes(self, routes: list[Route]) -> None:
        """The files and which records each takes."""
        self.routes = routes
        self._targets.clear()

    def _files_for(self, level: int, critical: bool, uncaught: bool) -> tuple[LogFile, ...]:
        """The files a record of this level and these flags goes to (computed once)."""
        wanted = {"critical": critical, "uncaught": uncaught}
        return tuple(
            route.file
            for route in self.routes
            if level >= route.min_level and (route.only is None or wanted[route.only])
        )

    @property
    def files(self) -> list[LogFile]:
        """Every file, in the order of the routes."""
        return [route.file for route in self.routes]

    def write(self, item: Any) -> None:
        """Render one queued record and hand its line to every output that wants it."""
        try:
            rendered = self.renderer.render(item)
        except Exception as exc:  # noqa: BLE001 - never lose a record quietly, never die
            rendered = self.renderer.notice(
                logging.ERROR, f"could not render a log record: {type(exc).__name__}: {exc}"
            )
        line = rendered.line
        key = (rendered.level, rendered.critical, rendered.uncaught)
        files = self._targets.get(key)
        if files is None:
            files = self._targets[key] = self._files_for(*key)
        for file in files:
            file.append(line)
        if self.console is not None:
            try:
                self.console.append(line, rendered.fields)
            except Exception:  # noqa: BLE001 - e.g. the pretty renderer: fall back to JSON
                self.console.append(line, None)

    def waiting(self) -> bool:
        """Whether a file holds lines it could not write yet."""
        return any(route.file.failure is not None for route in self.routes)

    def flush(self) -> None:
        """Write what every output has buffered."""
        for route in self.routes:
            route.file.flush()
        if self.console is not None:
            self.console.flush()

    def give_up_pending(self) -> None:
        """At shutdown: lines a failing file still holds are lost; count and report them."""
        for file in self.files:
            failure = file.failure
            if failure is None or not file.pending_lines:
                continue
            pending = file.give_up()
            self._report(
                logging.ERROR,
                f"{pending} log line(s) lost: {file.path} still cannot be written"
                f" ({failure.error})",
                path=str(file.path),
                lost=pending,
                reason=failure.reason,
            )

    def forked(self) -> None:
        """In a forked child: the files become guests; the parent's buffered lines are gone."""
        for file in self.files:
            file.become_guest()
        if self.console is not None:
            self.console.failure = None

    def close(self) -> None:
        """Write what is buffered and close the files."""
        for file in self.files:
            file.close()
        if self.console is not None:
            self.console.close()

    # ------------------------------------------------------------------ what the files report

    def failed(self, output: LogFile, failure: Failure) -> None:
        """A file stopped accepting lines: say so once, on the console (else stderr)."""
        self._report(
            logging.ERROR,
            f"{_headline(failure)}: cannot write {output.path} ({failure.error})",
            path=str(output.path),
            reason=failure.reason,
            kept_in_memory_bytes=MAX_PENDING_BYTES,
        )

    def recovered(self, output: LogFile, failure: Failure) -> None:
        """A file accepts lines again: say so, with what the outage cost."""
        self._report(
            logging.WARNING,
            f"log file writable again: {output.path} after {time.time() - failure.since:.1f} s"
            f" ({failure.error}); {failure.lost_total} line(s) lost",
            path=str(output.path),
            lost=failure.lost_total,
            reason=failure.reason,
        )

    def rotate_failed(self, output: LogFile, exc: OSError) -> None:
        """A file could not be rotated: it grows on (nothing lost); say so."""
        self._report(
            logging.ERROR,
            f"cannot rotate {output.path} ({exc.strerror or exc}); it grows past its max_size"
            " until rotating works again",
            path=str(output.path),
        )

    def notice(self, output: LogFile, failure: Failure) -> bytes:
        """The line written into a file when it can be written again."""
        lost = failure.lost
        return self.renderer.notice(
            logging.WARNING,
            f"{_headline(failure)}: could not write {output.path} for"
            f" {time.time() - failure.since:.1f} s ({failure.error}); {lost} line(s) lost",
            path=str(output.path),
            lost=lost,
            reason=failure.reason,
        ).line

    def _console_failed(self, failure: Failure) -> None:
        rendered = self.renderer.notice(
            logging.ERROR,
            f"cannot write the console ({failure.error}); its lines are lost, the files go on",
            reason=failure.reason,
        )
        for file in self.files:
            file.append(rendered.line)

    def _report(self, level: int, message: str, **fields: Any) -> None:
        rendered = self.renderer.notice(level, message, **fields)
        console = self.console
        if console is not None and console.failure is None:
            console.append(rendered.line, rendered.fields)
            console.flush()
            if console.failure is None:
                return
        _last_resort(message)


def _last_resort(message: str) -> None:
    try:
        sys.stderr.write(f"khronos: {message}\n")
        sys.stderr.flush()
    except Exception:  # noqa: BLE001, S110 - no stderr left to tell
        pass


def _headline(failure: Failure) -> str:
    return "log dir full" if failure.reason == "disk_full" else "log file unwritable"


class _Flush:
    """A marker: the writer sets ``done`` once everything queued before it is written."""

    def __init__(self) -> None:
        self.done = threading.Event()


_STOP = object()


class Sink:
    """The queue, its writer thread and the outputs behind it."""

    def __init__(self, outputs: Outputs, max_queued: int = DEFAULT_MAX_QUEUED) -> None:
        self.outputs = outputs
        self.max_queued = max_queued
        self.queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.running = False
        """Between :meth:`start` and :meth:`stop`; still true in a forked child."""
        self._thread: threading.Thread | None = None
        self._io = threading.RLock()

    def put(self, item: Any) -> None:
        """Queue a record for the writer thread (waiting for room); without one, write it now."""
        thread = self._thread
        if thread is None:  # after shutdown, or in a forked child
            self.write_now(item)
            return
        if self.queue.qsize() >= self.max_queued and thread is not threading.current_thread():
            self._wait_for_room(thread)
        self.queue.put(item)
        if self._thread is None:  # stopped meanwhile: write what the writer left behind
            self._drain_now()

    def _wait_for_room(self, thread: threading.Thread) -> None:
        step = 0.0001
        while (
            self.queue.qsize() >= self.max_queued and self._thread is thread and thread.is_alive()
        ):
            time.sleep(step)
            step = min(step * 2, _MAX_WAIT_STEP)

    def write_now(self, item: Any) -> None:
        """Render and write a record on the caller's thread."""
        with self._io:
            self.outputs.write(item)
            self.outputs.flush()

    def _drain_now(self) -> None:
        with self._io:
            while True:
                try:
                    item = self.queue.get_nowait()
                except queue.Empty:
                    break
                if isinstance(item, _Flush):
                    item.done.set()
                elif item is not _STOP:
                    self.outputs.write(item)
            self.outputs.flush()

    def start(self) -> None:
        """Start the writer thread."""
        thread = threading.Thread(target=self._run, name="khronos-log-writer", daemon=True)
        self._thread = thread
        self.running = True
        thread.start()

    def _run(self) -> None:
        get, qsize = self.queue.get, self.queue.qsize
        while True:
            try:
                # a file that cannot be written is tried again even if nothing new comes
                first = get(timeout=RETRY_SECONDS) if self.outputs.waiting() else get()
            except queue.Empty:
                with self._io:
                    self.outputs.flush()
                continue
            batch = [first]
            batch.extend(get() for _ in range(min(qsize(), BATCH - 1)))
            try:
                if self._write_batch(batch):
                    return
            except Exception as exc:  # noqa: BLE001 - the writer must outlive any bug below it
                _last_resort(f"log writer error, going on: {type(exc).__name__}: {exc}")

    def _write_batch(self, batch: Sequence[Any]) -> bool:
        """Write a batch; True when it held the stop marker."""
        outputs = self.outputs
        stop = False
        with self._io:
            try:
                for item in batch:
                    if item is _STOP:
                        stop = True  # what came after it was queued before the writer saw it
                    elif isinstance(item, _Flush):
                        outputs.flush()
                        item.done.set()
                    else:
                        try:
                            outputs.write(item)
                        except Exception as exc:  # noqa: BLE001 - the next records still go out
                            _last_resort(f"log record not written: {type(exc).__name__}: {exc}")
            finally:
                outputs.flush()
        return stop

    def flush(self) -> None:
        """Return once every record queued so far is written out."""
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            self._drain_now()
            return
        marker = _Flush()
        self.queue.put(marker)
        while not marker.done.wait(0.5):
            if self._thread is not thread or not thread.is_alive():
                self._drain_now()
                return

    def stop(self) -> None:
        """Write what is queued, stop the writer thread; later records are written at once."""
        thread, self._thread = self._thread, None
        self.running = False
        if thread is not None:
            self.queue.put(_STOP)
            if thread is not threading.current_thread():
                thread.join()
        self._drain_now()

    def forked(self) -> None:
        """In a child made by ``os.fork()``: write synchronously; never rotate the files.

        The inherited queue is dropped unread: what it held is the parent's to write.
        """
        self.queue = queue.SimpleQueue()
        self._thread = None
        self._io = threading.RLock()
        self.outputs.forked()
