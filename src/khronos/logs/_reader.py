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

__all__ = ["LEVEL_ORDER", "LogQuery", "ReadStats", "follow", "log_files", "read_history"]

LEVEL_ORDER = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}


@dataclass
class ReadStats:
    """What reading found besides the records."""

    malformed: int = 0


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


def _lines(handle: IO[bytes]) -> Iterator[str]:
    for raw in handle:
        yield raw.decode("utf-8", "replace").rstrip("\r\n")


def read_history(
    files: list[Path], query: LogQuery, stats: ReadStats
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every matching (line, record) of the files, in order; malformed lines are counted."""
    match = query.matcher()
    for path in files:
        try:
            handle = path.open("rb")
        except FileNotFoundError:  # rotated away meanwhile
            continue
        with handle:
            for line in _lines(handle):
                record = _parse(line, stats)
                if record is not None and match(line, record):
                    yield line, record


def follow(
    path: Path,
    query: LogQuery,
    stats: ReadStats,
    *,
    from_start: bool = False,
    stop: Callable[[], bool] = lambda: False,
    poll_interval: float = 0.2,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """New records of the live file as they come, across rotation and truncation (tail -F).

    Starts at the end of the file (or its start with ``from_start``); ends when ``stop()``.
    """
    match = query.matcher()
    handle: IO[bytes] | None = None
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
                    handle = path.open("rb")
                except FileNotFoundError:
                    time.sleep(poll_interval)
                    continue
                if not from_start:
                    handle.seek(0, os.SEEK_END)
                from_start = True  # a file that appears later is read from its start
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
