"""Tell someone when the log files cannot be written: the log itself is no channel for that.

While a log file cannot be written (a full disk, no descriptors left) its lines wait in memory
and the pipeline says so once on the console (see ``_sink``).  A daemon under systemd has no one
reading its console, so :class:`LogFilesWatch` looks at :func:`failing_files` every ``every``
seconds and calls ``on_change`` with the failing files whenever that set changes - the daemon
turns a non-empty set into an alert condition ("log dir full: cannot write PATH") and an empty
one into its resolved notice.

Polling rather than a callback from the writer thread: the writer must never wait on the event
loop or the alert engine, and a 5 s look at a small dict costs nothing measurable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from pathlib import Path

from khronos.catalog import Text
from khronos.health import spawn, stop_part
from khronos.lifecycle import Lifecycle
from khronos.logs._setup import failing_files

__all__ = ["LOG_FILES_PART", "LogFilesWatch", "describe_failing"]

LOG_FILES_PART = "logs.watch"
"""The part name of the watch's task (internal errors and /healthz)."""


def describe_failing(failing: Mapping[Path, str]) -> str:
    """One line for the failing files: ``log dir full: cannot write /var/log/x/combined.log
    (No space left on device)``, ``+ N more`` beyond the first."""
    if not failing:
        return Text("logs.writable")
    (path, error), *rest = sorted(failing.items())
    what = "logs.dir_full" if "No space left" in error else "logs.unwritable"
    more = Text("logs.more", count=len(rest)) if rest else ""
    return Text(what, path=path, error=error, more=more)


class LogFilesWatch(Lifecycle):
    """Calls ``on_change(failing)`` each time the set of unwritable log files changes."""

    def __init__(
        self,
        on_change: Callable[[dict[Path, str]], None],
        *,
        every: float = 5.0,
        read: Callable[[], dict[Path, str]] = failing_files,
    ) -> None:
        self._on_change = on_change
        self.every = every
        self._read = read
        self._last: frozenset[Path] = frozenset()
        self.task: asyncio.Task[None] | None = None

    def check(self) -> None:
        """Look now; call ``on_change`` when the failing files are not those seen last."""
        failing = self._read()
        if frozenset(failing) != self._last:
            self._on_change(failing)
            self._last = frozenset(failing)

    async def start(self) -> None:
        if self.task is None:
            self.task = spawn(LOG_FILES_PART, self._loop)

    async def stop(self) -> None:
        task, self.task = self.task, None
        await stop_part(task, LOG_FILES_PART)

    async def _loop(self) -> None:
        while True:
            self.check()
            await asyncio.sleep(self.every)
