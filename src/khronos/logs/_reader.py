"""Reading the JSON log files back: rotated files in order, filters, following the live file."""

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

__all__ = [
    "LEVEL_ORDER",
    "LogQuery",
    "Position",
    "ReadStats",
    "follow",
    "log_files",
    "read_history",
]

LEVEL_ORDER = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}


@dataclass(frozen=True)
class Position:
    """Where reading stopped: which file (inode, device) and the offset after its last line.

    A name can point at another file a moment later (rotation renames ``combined.log`` to
    ``combined.log.1``), so a position names the file by identity, not by path.
    """

    inode: int
    device: int
    offset: int

    def same_file(self, info: os.stat_result) -> bool:
        """Whether ``info`` (a stat) is of the file this position is in."""
        return (info.st_ino, info.st_dev) == (self.inode, self.device)


@dataclass
class ReadStats:
    """What reading found besides the records, and where it stopped."""

    malformed: int = 0
    position: Position | None = None
    """The end of what :func:`read_history` read of the last file (for :func:`follow`)."""


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


def _parse(line: str, stats: ReadStats) -> dict[str, Any] | None:
    if not line.strip():
        return None
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        stats.malformed += 1
        return None
    if not isinstance(record, dict):
        stats.malformed += 1
        return None
    return record


def read_history(
    files: list[Path], query: LogQuery, stats: ReadStats, *, leave_partial: bool = False
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every matching (line, record) of the files, in order; malformed lines are counted.

    The files are followed by identity: when a rotation renames them during the read, each is
    still read once, under its new name.  ``stats.position`` ends at the last line read of the
    last file; with ``leave_partial`` a last line still being written (no newline yet) is left
    for :func:`follow`.
    """
    match = query.matcher()
    identities = [_identity(path) for path in files]
    for index, (path, identity) in enumerate(zip(files, identities, strict=True)):
        handle = _open_same(path, identity) if identity is not None else None
        if handle is None:  # deleted meanwhile (rotated past `keep`)
            continue
        last = index == len(files) - 1
        offset = 0
        with handle:
            for raw in handle:
                if leave_partial and last and not raw.endswith(b"\n"):
                    break
                offset += len(raw)
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                record = _parse(line, stats)
                if record is not None and match(line, record):
                    yield line, record
            info = os.fstat(handle.fileno())
            stats.position = Position(info.st_ino, info.st_dev, offset)


def _identity(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except FileNotFoundError:
        return None


def _open_same(path: Path, identity: os.stat_result) -> IO[bytes] | None:
    """The file that was at ``path`` when ``identity`` was taken, wherever rotation moved it."""
    key = (identity.st_ino, identity.st_dev)
    base = _base_name(path.name)
    for candidate in (path, *log_files(path.parent, base)):
        try:
            handle = candidate.open("rb")
        except FileNotFoundError:
            continue
        info = os.fstat(handle.fileno())
        if (info.st_ino, info.st_dev) == key:
            return handle
        handle.close()
    return None


def _base_name(name: str) -> str:
    """``combined.log`` for ``combined.log.3`` (and for ``combined.log``)."""
    stem, _, suffix = name.rpartition(".")
    return stem if stem and suffix.isdigit() else name


def follow(
    path: Path,
    query: LogQuery,
    stats: ReadStats,
    *,
    start: Position | None = None,
    stop: Callable[[], bool] = lambda: False,
    poll_interval: float = 0.2,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """New records of the live file as they come, across rotation and truncation (tail -F).

    Starts where :func:`read_history` stopped (``start``, its ``stats.position``): in that same
    file even if it has been rotated since, so nothing written between the two is lost.  With
    no ``start`` (there was no file to read), from the beginning of the live file once it
    exists.  Ends when ``stop()``.
    """
    match = query.matcher()
    handle: IO[bytes] | None = _resume(path, start) if start is not None else None
    pending = b""

    def lines_of(chunk: bytes) -> Iterator[tuple[str, dict[str, Any]]]:
        nonlocal pending
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for raw in complete:
            line = raw.decode("utf-8", "replace")
            record = _parse(line, stats)
            if record is not None and match(line, record):
                yield line, record

    try:
        while not stop():
            if handle is None:
                try:
                    handle = path.open("rb")  # a new live file: read from its start
                except FileNotFoundError:
                    time.sleep(poll_interval)
                    continue
            chunk = handle.read()
            if chunk:
                yield from lines_of(chunk)
                continue
            if _replaced(path, handle):
                # What was written to the old file just before the rename, then the files
                # rotated since (several rotations between two polls), then the new live file.
                yield from lines_of(handle.read())
                missed = _newer_rotated(path, handle)
                handle.close()
                handle, pending = None, b""
                yield from read_history(missed, query, stats)
                continue
            time.sleep(poll_interval)
    finally:
        if handle is not None:
            handle.close()


def _resume(path: Path, start: Position) -> IO[bytes] | None:
    """The file ``start`` is in (live or rotated since), at its offset; None if deleted."""
    for candidate in (path, *reversed(log_files(path.parent, path.name))):
        try:
            handle = candidate.open("rb")
        except FileNotFoundError:
            continue
        if start.same_file(os.fstat(handle.fileno())):
            handle.seek(start.offset)
            return handle
        handle.close()
    return None


def _replaced(path: Path, handle: IO[bytes]) -> bool:
    """Whether the name now points at another file (rotation) or the file shrank (truncation)."""
    try:
        current = path.stat()
    except FileNotFoundError:
        return True
    opened = os.fstat(handle.fileno())
    return (current.st_ino, current.st_dev) != (opened.st_ino, opened.st_dev) or (
        current.st_size < handle.tell()
    )


def _newer_rotated(path: Path, handle: IO[bytes]) -> list[Path]:
    """The rotated files newer than the one ``handle`` has open (it became ``name.N``)."""
    opened = os.fstat(handle.fileno())
    rotated = [p for p in log_files(path.parent, path.name) if p != path]
    for index, candidate in enumerate(rotated):
        try:
            info = candidate.stat()
        except FileNotFoundError:
            continue
        if (info.st_ino, info.st_dev) == (opened.st_ino, opened.st_dev):
            return rotated[index + 1 :]
    return []
