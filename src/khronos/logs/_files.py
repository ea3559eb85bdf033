"""The outputs: numbered, size-rotated JSON files and the console; what they could not write.

Written by hand rather than with ``logging.handlers.RotatingFileHandler``, which writes and
flushes every record on its own (two ``seek``s and a ``write`` per line), rotates through a
window where the live name does not exist, and answers a failed write with a traceback on stderr
("--- Logging error ---") while the line is lost without a count.  Here:

- Lines are appended to a buffer and written with one ``write`` per batch (``O_APPEND``).
- Rotation renames ``name.log.{keep-1}`` ... ``name.log`` one step up, oldest first (the rename
  onto ``name.log.{keep}`` replaces the oldest), then opens the new live file at once: at any
  instant the names that exist hold the files in age order (what ``khronos logs -f`` relies
  on).
- A failed write (a full disk, EIO, no descriptors left) never raises and never prints a
  traceback: a partly written line is cut off again (the file stays valid JSON lines), the lines
  stay in memory (up to :data:`MAX_PENDING_BYTES` per file; the oldest beyond that are dropped and
  counted in :func:`records_lost`), the failure is reported once, and every later batch tries
  again.  The first successful write starts with a record saying what was lost.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

__all__ = [
    "MAX_PENDING_BYTES",
    "Console",
    "Failure",
    "FileEvents",
    "LogFile",
    "count_lost",
    "reason_of",
    "records_lost",
]

MAX_PENDING_BYTES = 4 * 1024 * 1024
"""Lines kept in memory per file while it cannot be written; older ones are dropped beyond."""
ROTATE_RETRY_SECONDS = 60.0
"""After a failed rotation the file grows on; rotating is tried again after this long."""
_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)

_REASONS = {
    errno.ENOSPC: "disk_full",
    errno.EDQUOT: "disk_full",
    errno.EMFILE: "too_many_open_files",
    errno.ENFILE: "too_many_open_files",
    errno.EIO: "io_error",
    errno.EACCES: "permission_denied",
    errno.EPERM: "permission_denied",
    errno.EROFS: "read_only",
    errno.EPIPE: "broken_pipe",
}

_lost: dict[tuple[str, str], int] = {}
_lost_lock = threading.Lock()


def reason_of(exc: BaseException) -> str:
    """A short label for why an output failed: ``disk_full``, ``io_error``..."""
    number = exc.errno if isinstance(exc, OSError) else None
    return _REASONS.get(number, "os_error") if number is not None else "error"


def count_lost(output: str, reason: str, lines: int) -> None:
    """Add to the process-wide count of lines an output could not write."""
    if lines <= 0:
        return
    with _lost_lock:
        key = (output, reason)
        _lost[key] = _lost.get(key, 0) + lines


def records_lost() -> dict[tuple[str, str], int]:
    """Lines that could not be written since the process started, per (output, reason).

    ``output`` is a file name (``combined.log``...) or ``console``; ``reason`` is
    ``disk_full``, ``too_many_open_files``, ``io_error``, ``permission_denied``,
    ``read_only``, ``broken_pipe``, ``os_error`` or ``error``.  The counts only grow (a
    Prometheus counter); a record lost from two files counts in each.  Lines merely waiting
    in memory for a full disk to accept them are not lost (yet).
    """
    with _lost_lock:
        return dict(_lost)


@dataclass
class Failure:
    """An output that cannot be written: since when, why, and what it lost meanwhile."""

    error: str
    """e.g. ``No space left on device``."""
    reason: str
    since: float = field(default_factory=time.time)
    lost: int = 0
    """Lines dropped since the last notice written into the file."""
    lost_total: int = 0
    """Lines dropped during the whole outage."""
    noted: bool = False
    """Whether a notice about this outage is already in the file."""


class FileEvents(Protocol):
    """What a file tells its owner: it failed, it recovered, the notice to write."""

    def failed(self, output: LogFile, failure: Failure) -> None: ...

    def recovered(self, output: LogFile, failure: Failure) -> None: ...

    def rotate_failed(self, output: LogFile, exc: OSError) -> None: ...

    def notice(self, output: LogFile, failure: Failure) -> bytes: ...


class LogFile:
    """``name.log`` with ``name.log.1`` ... ``name.log.<keep>``; see the module docstring.

    In a child made by ``os.fork()`` the file is a *guest* (:meth:`become_guest`): it appends its
    lines and, when the parent has rotated the file away, reopens the new live file instead of
    writing on into ``name.log.1``; it never rotates (two processes would rename the files under
    each other).  Not thread-safe: the sink serialises every call.
    """

    def __init__(self, path: Path, *, max_size: int, keep: int, events: FileEvents) -> None:
        self.path = path
        self.name = path.name
        self.max_size = max_size
        self.keep = keep
        self.events = events
        self.guest = False
        self.failure: Failure | None = None
        self._fd: int | None = None
        self._size = 0
        self._buf = bytearray()
        self._rotate_after = 0.0
        self._room = -1
        """Bytes that can still be appended with no check (the fast path); -1: always check."""

    @property
    def pending_lines(self) -> int:
        """Lines accepted but not written yet (waiting for the next flush, or a full disk)."""
        return self._buf.count(b"\n")

    def append(self, line: bytes) -> None:
        """Add one line (ending in a newline); rotate first when it would overflow the file."""
        size = len(line)
        if size <= self._room:
            self._buf += line
            self._room -= size
            return
        if self._fd is None and self.failure is None and not self.guest:
            self._open_or_fail()
        used = self._size + len(self._buf)
        if (
            used + size > self.max_size
            and used > 0
            and self.failure is None
            and not self.guest
            and time.monotonic() >= self._rotate_after
        ):
            self.flush()
            if self.failure is None:
                self._rotate()
        self._buf += line
        if self.failure is not None and len(self._buf) > MAX_PENDING_BYTES:
            self._drop_oldest()
        self._update_room()

    def _update_room(self) -> None:
        healthy = self._fd is not None and self.failure is None
        if healthy and self.guest:
            self._room = MAX_PENDING_BYTES - len(self._buf)
        elif healthy and time.monotonic() >= self._rotate_after:
            self._room = self.max_size - self._size - len(self._buf)
        else:
            self._room = -1

    def flush(self) -> None:
        """Write the buffered lines; on failure keep them for the next try (never raises)."""
        if not self._buf:
            return
        if self.guest:
            self._reopen_if_moved()
        if self._fd is None and not self._open_or_fail():
            return
        failure = self.failure
        notice = b""
        if failure is not None and (failure.lost or not failure.noted):
            notice = self.events.notice(self, failure)
        data = notice + self._buf if notice else self._buf
        written, error = self._write(data)
        if notice and written >= len(notice) and failure is not None:
            failure.noted, failure.lost = True, 0
        consumed = max(0, written - len(notice))
        if consumed:
            del self._buf[:consumed]
        if error is None:
            if failure is not None:
                self.failure = None
                self.events.recovered(self, failure)
        else:
            self._fail(error)
        self._update_room()

    def _write(self, data: bytes | bytearray) -> tuple[int, OSError | None]:
        """Write whole lines of ``data``: (bytes written, the error that stopped it)."""
        fd = self._fd
        assert fd is not None  # noqa: S101 - the callers open it
        view = memoryview(data)
        written = 0
        try:
            if not self.guest:  # a forked guest may have appended meanwhile
                self._size = os.fstat(fd).st_size
            while written < len(data):
                written += os.write(fd, view[written:])
        except OSError as exc:
            kept = data.rfind(b"\n", 0, written) + 1
            if kept < written:  # never leave half a line behind: it would break the next one
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, os.fstat(fd).st_size - (written - kept))
            self._size += kept
            return kept, exc
        finally:
            view.release()
        self._size += written
        return written, None

    def _fail(self, exc: OSError) -> None:
        self._room = -1
        if self.failure is None:
            self.failure = Failure(exc.strerror or str(exc), reason_of(exc))
            self.events.failed(self, self.failure)
        if len(self._buf) > MAX_PENDING_BYTES:
            self._drop_oldest()

    def _drop_oldest(self) -> None:
        """Keep the newest lines within MAX_PENDING_BYTES; count the ones dropped."""
        excess = len(self._buf) - MAX_PENDING_BYTES
        if excess <= 0:
            return
        cut = self._buf.find(b"\n", excess - 1) + 1
        if cut <= 0:  # pragma: no cover - every buffered line ends with a newline
            return
        dropped = self._buf.count(b"\n", 0, cut)
        del self._buf[:cut]
        failure = self.failure
        if failure is not None:
            failure.lost += dropped
            failure.lost_total += dropped
            count_lost(self.name, failure.reason, dropped)

    def _open_or_fail(self) -> bool:
        try:
            self._open()
        except OSError as exc:
            self._fail(exc)
            return False
        return True

    def _open(self) -> None:
        try:
            fd = os.open(self.path, _FLAGS, 0o644)
        except FileNotFoundError:  # the folder was removed under us: make it again
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, _FLAGS, 0o644)
        self._fd = fd
        self._size = os.fstat(fd).st_size

    def _rotate(self) -> None:
        """``name.log.N`` -> ``.N+1`` (the oldest replaced), ..., ``name.log`` -> ``.1``."""
        try:
            for index in self._rotated_indices():  # oldest first
                older = self._numbered(index)
                if index > self.keep:  # left from a larger `keep`
                    older.unlink(missing_ok=True)
                elif index < self.keep:
                    older.rename(self._numbered(index + 1))  # replaces .keep: the oldest goes
            self.path.rename(self._numbered(1))
        except OSError as exc:
            self._rotate_after = time.monotonic() + ROTATE_RETRY_SECONDS
            self.events.rotate_failed(self, exc)
            return
        self._close()
        self._open_or_fail()

    def give_up(self) -> int:
        """Drop the lines still waiting for a failing file (at shutdown): how many, counted."""
        dropped, failure = self.pending_lines, self.failure
        self._buf.clear()
        if failure is not None:
            count_lost(self.name, failure.reason, dropped)
        return dropped

    def _rotated_indices(self) -> list[int]:
        """The N of every ``name.log.N`` there is, highest first."""
        prefix = self.name + "."
        found = [
            int(entry.name[len(prefix) :])
            for entry in self.path.parent.iterdir()
            if entry.name.startswith(prefix) and entry.name[len(prefix) :].isdigit()
        ]
        return sorted(found, reverse=True)

    def _numbered(self, index: int) -> Path:
        return self.path.with_name(f"{self.name}.{index}")

    def become_guest(self) -> None:
        """In a forked child: forget the parent's unwritten lines; append, never rotate."""
        self.guest = True
        # a new buffer, not clear(): a fork while the parent's writer was in os.write leaves
        # its memoryview of the old one exported for good, and resizing that raises BufferError
        self._buf = bytearray()
        self.failure = None
        self._close()
        self._room = -1

    def _reopen_if_moved(self) -> None:
        if self._fd is None:
            return
        try:
            current = self.path.stat()
        except FileNotFoundError:
            moved = True
        else:
            opened = os.fstat(self._fd)
            moved = (current.st_ino, current.st_dev) != (opened.st_ino, opened.st_dev)
        if moved:
            self._close()

    def _close(self) -> None:
        fd, self._fd = self._fd, None
        self._room = -1
        if fd is not None:
            with contextlib.suppress(OSError):  # EIO on close: the data is already written
                os.close(fd)

    def close(self) -> None:
        """Write what is buffered (if it can) and close the file."""
        self.flush()
        self._close()


Report = Callable[[str, BaseException], None]


class Console:
    """JSON or pretty lines to a stream (by default whatever ``sys.stderr`` is at the time)."""

    name = "console"

    def __init__(
        self, stream: IO[str] | None, pretty: Callable[[dict[str, object]], str] | None
    ) -> None:
        self._stream = stream
        self._pretty = pretty
        self._parts: list[str] = []
        self.failure: Failure | None = None
        self.on_failure: Callable[[Failure], None] = lambda _failure: None

    def append(self, line: bytes, fields: dict[str, object] | None) -> None:
        """Add one record (its JSON line, or its fields for the pretty form)."""
        pretty = self._pretty
        self._parts.append(pretty(fields) + "\n" if pretty and fields else line.decode())

    def flush(self) -> None:
        """Write the batch; a stream that fails loses these lines, counted (never raises)."""
        if not self._parts:
            return
        text, lines = "".join(self._parts), len(self._parts)
        self._parts.clear()
        stream = self._stream if self._stream is not None else sys.stderr
        try:
            stream.write(text)
            stream.flush()
        except Exception as exc:  # noqa: BLE001 - any stream: a closed one raises ValueError
            count_lost(self.name, reason_of(exc), lines)
            if self.failure is None:
                self.failure = Failure(str(exc), reason_of(exc))
                self.on_failure(self.failure)
        else:
            self.failure = None

    @property
    def stream(self) -> IO[str]:
        """The stream written to now."""
        return self._stream if self._stream is not None else sys.stderr

    def close(self) -> None:
        """Write what is buffered."""
        self.flush()
