"""Reading the JSON log files back: rotated files in order, filters, following the live file.

A log is ``name.log`` and its rotated files ``name.log.1`` (newest) ... ``name.log.N``
(oldest), renamed one step up at every rotation while the writer keeps going.  A name is
therefore no way to hold on to a file: :class:`LogReader` keeps the file it reads *open* and
finds the next one by identity, never by a list of names taken earlier (a rotation between
listing the names and opening them skipped whole files, and lines written between reading the
history and following were lost).

Finding the next file: the current file is at ``name.log.k`` (found by its inode); open
``name.log.{k-1}`` (``name.log`` for k = 1), then check the current file is *still* at ``.k``.
A rotation renames the oldest first and the live file last, so at any instant the names are in
age order with at most one empty name (the one just renamed away) moving down: two
neighbouring names that both exist at one instant hold neighbouring files.  So if the current
file did not move while its neighbour was opened, the neighbour is its successor.  A missing
neighbour is that empty name passing by: look again (only a name missing for
:data:`GAP_SECONDS` is stepped over).  Before switching, the current file is read to its end
once more: whatever the writer put there before renaming it is in it by then.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import orjson

from khronos.logs._keys import CORRELATION_ID, LEVEL, TIMESTAMP, USER_ID

__all__ = ["LEVEL_ORDER", "LogQuery", "LogReader", "log_files"]

LEVEL_ORDER = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}


@dataclass(frozen=True)
class LogQuery:
    """Which records to show; every set criterion must match."""

    level: str | None = None
    user: str | None = None
    correlation: str | None = None
    since: timedelta | None = None
    grep: str | None = None
    now: datetime | None = None

    def cutoff(self) -> str | None:
        """The oldest ``@timestamp`` to show, in the files' own (sortable) format."""
        if self.since is None:
            return None
        start = (self.now or datetime.now(UTC)) - self.since
        return start.strftime("%Y-%m-%dT%H:%M:%S.") + f"{start.microsecond // 1000:03d}Z"

    def matcher(self) -> Callable[[str, dict[str, Any]], bool]:
        """A predicate on (raw line, record), with everything precomputed."""
        minimum = LEVEL_ORDER.get(self.level.lower(), 0) if self.level else 0
        cutoff = self.cutoff()
        needle = self.grep.lower() if self.grep else None

        def match(line: str, record: dict[str, Any]) -> bool:
            if minimum and LEVEL_ORDER.get(str(record.get(LEVEL, "")).lower(), 0) < minimum:
                return False
            if self.user is not None and str(record.get(USER_ID)) != self.user:
                return False
            if self.correlation is not None and record.get(CORRELATION_ID) != self.correlation:
                return False
            if cutoff is not None and str(record.get(TIMESTAMP, "")) < cutoff:
                return False
            return needle is None or needle in line.lower()

        return match


def log_files(directory: Path, name: str = "combined.log") -> list[Path]:
    """``name.N`` ... ``name.1`` (oldest first), then the live ``name``: those that exist."""
    rotated: list[tuple[int, Path]] = []
    for path in directory.glob(f"{name}.*"):
        suffix = path.name[len(name) + 1 :]
        if suffix.isdigit():
            rotated.append((int(suffix), path))
    files = [path for _, path in sorted(rotated, reverse=True)]
    live = directory / name
    if live.exists():
        files.append(live)
    return files


_CHUNK = 1 << 20
_RETRY = 0.001
"""Pause before looking again while a rotation is under way (a name briefly missing)."""
_pause = time.sleep
GAP_SECONDS = 1.0
"""A name missing this long below the current file is a gap (deleted by hand, or a live file
the writer could not create yet), not a rotation passing through: step over it."""


class LogReader:
    """One log read oldest line first, then followed as it grows: every line exactly once::

    with LogReader(Path("logs"), "combined.log") as reader:
        for line, record in reader.history(leave_partial=True):
            print(line)
        for line, record in reader.follow(stop=lambda: False):
            print(line)
    """

    def __init__(
        self, directory: Path, name: str = "combined.log", query: LogQuery | None = None
    ) -> None:
        self.directory = directory
        self.name = name
        self.malformed = 0
        """Lines that were not a JSON object (skipped)."""
        self._match = (query or LogQuery()).matcher()
        self._handle: IO[bytes] | None = None
        self._index = 0
        self._pending = b""

    def __enter__(self) -> LogReader:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the file being read."""
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.close()

    def history(self, *, leave_partial: bool = False) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every matching (line, record) from the oldest file to the end of the live one.

        With ``leave_partial`` a last line still being written (no newline yet) is left for
        :meth:`follow`; without, it is shown as it is.
        """
        if self._handle is None:
            self._handle = self._open_oldest()
        while self._handle is not None:
            yield from self._read()
            successor = self._successor()
            if successor is None:  # this is the live file: the history ends here
                break
            yield from self._switch(successor)
        if not leave_partial:
            yield from self._flush_partial()

    def follow(
        self, *, stop: Callable[[], bool] = lambda: False, poll_interval: float = 0.2
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """New records as they come, across rotations and truncation (``tail -F``).

        Continues exactly where :meth:`history` stopped; without a history, from the oldest
        file (or the first one to appear).  Ends when ``stop()``.
        """
        while not stop():
            if self._handle is None:
                self._handle = self._open_oldest()
                if self._handle is None:
                    time.sleep(poll_interval)
                    continue
            got = False
            for found in self._read():
                got = True
                yield found
            if got:
                continue
            successor = self._successor()
            if successor is not None:
                yield from self._switch(successor)
            elif os.fstat(self._handle.fileno()).st_nlink == 0:  # every file deleted
                self.close()
                self._pending = b""
            elif self._truncated():
                self._handle.seek(0)
                self._pending = b""
            else:
                time.sleep(poll_interval)

    # ----------------------------------------------------------------------------- reading

    def _read(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """The complete lines of the current file up to its end."""
        handle = self._handle
        assert handle is not None  # noqa: S101 - callers check
        while chunk := handle.read(_CHUNK):
            *complete, self._pending = (self._pending + chunk).split(b"\n")
            for raw in complete:
                yield from self._emit(raw)

    def _emit(self, raw: bytes) -> Iterator[tuple[str, dict[str, Any]]]:
        line = raw.decode("utf-8", "replace").rstrip("\r")
        if not line.strip():
            return
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            self.malformed += 1
            return
        if not isinstance(record, dict):
            self.malformed += 1
            return
        if self._match(line, record):
            yield line, record

    def _flush_partial(self) -> Iterator[tuple[str, dict[str, Any]]]:
        pending, self._pending = self._pending, b""
        if pending:
            yield from self._emit(pending)

    def _switch(self, successor: IO[bytes]) -> Iterator[tuple[str, dict[str, Any]]]:
        """Finish the current file (what was written before its rename), go on with the next."""
        yield from self._read()
        yield from self._flush_partial()  # a rotated file's unterminated last line is final
        self.close()
        self._handle = successor
        self._index = max(self._index - 1, 0)

    def _truncated(self) -> bool:
        """Whether the live file, still the one open, shrank (copytruncate).

        A live name that points at another file is a rotation, never a truncation: the next
        look finds the successor.
        """
        handle = self._handle
        assert handle is not None  # noqa: S101 - callers check
        try:
            current = self._path(0).stat()
        except FileNotFoundError:
            return False
        opened = os.fstat(handle.fileno())
        same = (current.st_ino, current.st_dev) == (opened.st_ino, opened.st_dev)
        return same and current.st_size < handle.tell()

    # ------------------------------------------------------------------ finding the files

    def _path(self, index: int) -> Path:
        return self.directory / (self.name if index == 0 else f"{self.name}.{index}")

    def _open_oldest(self) -> IO[bytes] | None:
        """The oldest file, checked to still be the oldest once open (None: no file yet)."""
        while True:
            files = log_files(self.directory, self.name)
            if not files:
                return None
            try:
                handle = files[0].open("rb")
            except FileNotFoundError:
                _pause(_RETRY)
                continue
            again = log_files(self.directory, self.name)
            if again and again[0] == files[0] and _holds(files[0], handle):
                self._index = _index_of(files[0], self.name)
                return handle
            handle.close()
            _pause(_RETRY)

    def _successor(self) -> IO[bytes] | None:
        """The next newer file, opened; None when the current file is the newest there is."""
        handle = self._handle
        assert handle is not None  # noqa: S101 - callers check
        missing_since: tuple[int, float] | None = None
        while True:
            index = self._locate(handle)
            if index is None:
                if os.fstat(handle.fileno()).st_nlink == 0:
                    # rotated past `keep` and deleted while read: go on with the oldest left
                    return self._open_oldest()
                _pause(_RETRY)  # being renamed right now: look again
                continue
            self._index = index
            if index == 0:
                return None
            try:
                successor: IO[bytes] | None = self._path(index - 1).open("rb")
            except FileNotFoundError:
                # Most likely a rotation passing through (the name is back in a moment); only
                # a name missing for GAP_SECONDS is a real gap to step over.
                now = time.monotonic()
                if missing_since is None or missing_since[0] != index:
                    missing_since = (index, now)
                if now - missing_since[1] < GAP_SECONDS:
                    _pause(_RETRY)
                    continue
                successor = self._open_from(index - 2)
            if _holds(self._path(index), handle):  # did not move: its neighbour is next
                return successor
            if successor is not None:
                successor.close()

    def _open_from(self, index: int) -> IO[bytes] | None:
        """The first file that exists at ``name.{index}`` or below (None: none does)."""
        for lower in range(index, -1, -1):
            try:
                return self._path(lower).open("rb")
            except FileNotFoundError:
                continue
        return None

    def _locate(self, handle: IO[bytes]) -> int | None:
        """Which name (0: live, k: ``name.k``) the open file has now."""
        for index in (self._index, self._index + 1):
            if _holds(self._path(index), handle):
                return index
        for path in log_files(self.directory, self.name):
            if _holds(path, handle):
                return _index_of(path, self.name)
        return None


def _holds(path: Path, handle: IO[bytes]) -> bool:
    """Whether ``path`` names the file ``handle`` has open."""
    try:
        current = path.stat()
    except FileNotFoundError:
        return False
    opened = os.fstat(handle.fileno())
    return (current.st_ino, current.st_dev) == (opened.st_ino, opened.st_dev)


def _index_of(path: Path, name: str) -> int:
    return 0 if path.name == name else int(path.name[len(name) + 1 :])
