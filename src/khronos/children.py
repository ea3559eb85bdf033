"""Supervised child processes: the restart policy's arithmetic and dying with Khronos.

Written once, used by both supervisors (Litestream in :mod:`khronos.backup`, the app in
:mod:`khronos.app`):

- :class:`RestartBudget` is the PM2 policy of ``backup.restart`` and ``app.restart``: a run
  shorter than ``min_uptime`` is a *quick crash*; after ``max_restarts`` quick crashes in a row
  the supervisor gives up (and says so with a CRITICAL alert); a longer run resets the count.
  Each restart waits ``delay``.
- :func:`die_with_parent` is the ``preexec_fn`` for a child started in its own session (so a
  Ctrl-C on the terminal reaches Khronos only): on Linux the kernel sends the child SIGTERM
  when Khronos dies, even by SIGKILL (``PR_SET_PDEATHSIG``).  The death signal is tied to the
  *thread* that started the child: run the event loop in the main thread, or in a thread that
  lives as long as the service.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["ExitVerdict", "RestartBudget", "die_with_parent"]

_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True, slots=True)
class ExitVerdict:
    """What the policy says about one exit."""

    quick: bool
    """The run was shorter than ``min_uptime``."""
    quick_crashes: int
    """Quick crashes in a row, this one included."""
    give_up: bool
    """More quick crashes in a row than ``max_restarts``: stop restarting."""
    delay: float
    """Seconds to wait before the restart (when not giving up)."""


class RestartBudget:
    """The restart policy's state: quick crashes in a row, and whether to give up."""

    def __init__(self, *, max_restarts: int, min_uptime: float, delay: float) -> None:
        self.max_restarts = max_restarts
        self.min_uptime = min_uptime
        self.delay = delay
        self.quick_crashes = 0

    def __repr__(self) -> str:
        return (
            f"RestartBudget(max_restarts={self.max_restarts}, min_uptime={self.min_uptime:g}, "
            f"delay={self.delay:g}, quick_crashes={self.quick_crashes})"
        )

    def exited(self, uptime: float) -> ExitVerdict:
        """Record an exit after ``uptime`` seconds of running; the verdict."""
        quick = uptime < self.min_uptime
        self.quick_crashes = self.quick_crashes + 1 if quick else 0
        give_up = quick and self.quick_crashes > self.max_restarts
        return ExitVerdict(quick, self.quick_crashes, give_up, self.delay)

    def reset(self) -> None:
        """Forget the crashes (a planned restart, or a run that lasted)."""
        self.quick_crashes = 0


def die_with_parent(parent_pid: int) -> Callable[[], None]:
    """A ``preexec_fn``: SIGTERM to the child when the parent dies (Linux ``prctl``)."""
    libc_name = ctypes.util.find_library("c") if sys.platform.startswith("linux") else None

    def setup() -> None:
        if libc_name:
            libc = ctypes.CDLL(libc_name, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
            if os.getppid() != parent_pid:  # the parent died before prctl took effect
                os._exit(1)

    return setup
