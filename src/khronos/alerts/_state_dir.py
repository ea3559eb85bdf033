"""What the engine does while the outbox file in ``state_dir`` cannot be written.

:class:`StateDirWatch` raises the condition ``khronos.state_dir`` ("state_dir full: cannot
write PATH (No space left on device)") as soon as a write fails - the notice itself waits in
memory and goes out through whatever channel works - and resolves it once writes have
succeeded for :data:`HOLD_S` seconds, so a disk on the edge of full does not send a notice per
write.  :func:`report_unsaved` tells, at stop, what could not be saved.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import structlog

from khronos.alerts._catalog import Text
from khronos.alerts._outbox import Outbox

if TYPE_CHECKING:
    from khronos.alerts._engine import AlertEngine

__all__ = ["HOLD_S", "STATE_DIR_CONDITION", "StateDirWatch", "report_unsaved"]

STATE_DIR_CONDITION = "khronos.state_dir"
"""The condition key of "the outbox file in state_dir cannot be written"."""

HOLD_S = 10.0
"""Writes must succeed this long (on the engine's clock) before the condition resolves."""

_log = structlog.get_logger("khronos.alerts")


class StateDirWatch:
    """Fires and resolves ``khronos.state_dir`` from the outbox's :attr:`Outbox.write_problem`."""

    def __init__(self, engine: AlertEngine) -> None:
        self._engine = engine
        self._ok_since: float | None = None
        self._local = threading.local()

    def check(self) -> None:
        """Look at the outbox now (re-entrant calls, from the condition's own notice, return)."""
        if getattr(self._local, "busy", False):
            return
        self._local.busy = True
        try:
            self._check()
        finally:
            self._local.busy = False

    def _check(self) -> None:
        engine = self._engine
        problem = engine.outbox.write_problem
        if problem is not None:
            self._ok_since = None
            engine.fire(
                STATE_DIR_CONDITION,
                problem.message,
                "ERROR",
                {
                    "path": str(problem.path),
                    "error": problem.error,
                    "hint": Text("state_dir.hint", max_pending=engine.outbox.max_pending),
                },
                since=problem.since,
            )
        elif engine.is_firing(STATE_DIR_CONDITION):
            now = engine.clock.monotonic()
            if self._ok_since is None:
                self._ok_since = now
            if now - self._ok_since >= HOLD_S:
                engine.resolve(STATE_DIR_CONDITION)


def report_unsaved(outbox: Outbox) -> None:
    """Stopping while the outbox file cannot be written: say what is lost or will repeat, and
    write each undelivered alert to the log (the channel that always works)."""
    problem = outbox.write_problem
    waiting = outbox.waiting_in_memory()
    if problem is None or not (waiting or outbox.unsaved_deliveries):
        return
    _log.error(
        "stopping while the alert outbox cannot be written",
        path=str(problem.path),
        reason=problem.reason,
        alerts_not_delivered=len({m.alert_id for _, m in waiting}),
        delivered_will_repeat=outbox.unsaved_deliveries,
        hint="the alerts not delivered are in the log lines below; the alerts delivered but not "
        "yet removed from the outbox are sent again at the next start",
    )
    logged: set[str] = set()
    for channel, message in waiting:
        if message.alert_id not in logged:
            logged.add(message.alert_id)
            _log.error(
                "alert lost: not delivered and not saved",
                alert_id=message.alert_id,
                channel=channel,
                text=message.plain,
            )
