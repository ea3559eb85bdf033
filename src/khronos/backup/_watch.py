"""Wake the backup poller when a database or its WAL changes, so an idle daemon can sleep.

:class:`FileWatch` watches the folder of each database with Linux's inotify (through
``inotify_simple``, a thin ctypes wrapper) and sets :attr:`FileWatch.changed` when the database
file or its ``-wal`` is written, created, replaced or removed.  The poller waits on that event
instead of looking at the files every ``poll_interval``: a commit wakes it at once, and nothing
wakes it while nothing is written.  The event is a hint, never the truth: the poller still
compares the files' ``stat`` with what its last poll saw.

While the poller is busy (data waiting for the replica, a fault) it polls on its own clock
anyway, so it :meth:`pauses <FileWatch.pause>` the watch: a stream of writes then costs no
wake-ups here (the kernel queues, and past its limit coalesces, the events until
:meth:`FileWatch.resume` drops them).  Where inotify is not available (not Linux, no watch left
in ``fs.inotify.max_user_watches``) :meth:`FileWatch.start` returns False and the poller looks
every ``poll_interval`` as before.  SQLite's ``-shm`` file is written through ``mmap``, which
inotify does not report: it is not needed, every commit writes the WAL.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import structlog

__all__ = ["FileWatch"]

_log = structlog.get_logger("khronos.backup")
_Q_OVERFLOW = 0x4000
"""The kernel dropped events (its queue was full): anything may have changed."""
_IGNORED = 0x8000
"""A watched folder went away (removed, or its file system unmounted)."""


class FileWatch:
    """Sets :attr:`changed` when one of ``paths`` (or its ``-wal``) changes."""

    def __init__(self, paths: list[Path]) -> None:
        self.names: dict[Path, set[str]] = {}
        for path in paths:
            self.names.setdefault(path.parent, set()).update({path.name, f"{path.name}-wal"})
        self.changed = asyncio.Event()
        """Set on a change of a watched file (or when the kernel's queue overflowed)."""
        self._inotify: Any = None  # an inotify_simple.INotify
        self._folders: dict[int, set[str]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reading = False

    @property
    def active(self) -> bool:
        """Whether the files are watched (False: inotify is not available here)."""
        return self._inotify is not None

    def start(self) -> bool:
        """Watch the folders from now on; False (and a debug log) when inotify is unavailable."""
        try:
            from inotify_simple import INotify, flags  # noqa: PLC0415 - Linux only

            inotify = INotify(nonblocking=True)
        except (ImportError, OSError, AttributeError) as exc:
            _log.debug("no inotify: the backup poller looks at the files instead", error=str(exc))
            return False
        mask = (
            flags.MODIFY
            | flags.CREATE
            | flags.DELETE
            | flags.MOVED_FROM
            | flags.MOVED_TO
            | flags.ATTRIB
            | flags.CLOSE_WRITE
        )
        try:
            for folder, names in self.names.items():
                self._folders[inotify.add_watch(folder, mask)] = names
        except OSError as exc:  # no watch left, or a folder that does not exist (yet)
            inotify.close()
            self._folders.clear()
            _log.debug("cannot watch the databases' folders", error=str(exc))
            return False
        self._inotify = inotify
        self._loop = asyncio.get_running_loop()
        self.resume()
        return True

    def pause(self) -> None:
        """Stop reading the events (the caller polls on its own clock meanwhile)."""
        if self._reading and self._loop is not None and self._inotify is not None:
            self._loop.remove_reader(self._fd())
            self._reading = False

    def resume(self) -> None:
        """Read events again, dropping those that came while paused."""
        if self._reading or self._loop is None or self._inotify is None:
            return
        self._drain()
        self.changed.clear()
        self._loop.add_reader(self._fd(), self._on_events)
        self._reading = True

    def close(self) -> None:
        """Stop watching."""
        self.pause()
        inotify, self._inotify = self._inotify, None
        if inotify is not None:
            with contextlib.suppress(OSError):
                inotify.close()

    def _fd(self) -> int:
        return int(self._inotify.fd)

    def _drain(self) -> list[tuple[int, int, int, str]]:
        try:
            return list(self._inotify.read(timeout=0))
        except (BlockingIOError, OSError):
            return []

    def _on_events(self) -> None:
        for wd, mask, _cookie, name in self._drain():
            names = self._folders.get(wd)
            if names is None or name in names or mask & (_Q_OVERFLOW | _IGNORED):
                self.changed.set()
                return
