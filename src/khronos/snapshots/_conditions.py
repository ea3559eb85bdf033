"""The snapshots' alert conditions, per database and destination.

- ``snapshot.<db>.<dest>``: ERROR while the last attempt failed ("Snapshot of app to offsite
  failed: <the translated cause>"); fired on every failed attempt (the engine dedupes and
  repeats it), ``since`` the first failure of the streak; resolved by the next success.
- ``snapshot.<db>.<dest>.stale``: ERROR while the newest success is older than twice the
  interval (or, with none at all, the schedule has run that long without one).  ERROR, not
  WARN: it is the only alert when a snapshot hangs or the schedule stalls without failing, and
  an old second copy is the very risk snapshots exist to remove.  Resolved by a success.
- ``snapshot.<db>.<dest>.drill``: ERROR when the restore drill of the newest snapshot failed;
  resolved by a drill that passes.

The engine keeps firing conditions across restarts; at start :meth:`SnapshotConditions.recall`
fires again what ``snapshots.json`` says is still failing (a restored condition is not notified
twice) and resolves the rest, so no condition is left open or sent twice.
"""

from __future__ import annotations

from datetime import timedelta

import structlog

from khronos.backup import AlertSink
from khronos.catalog import Span, Text
from khronos.config import SnapshotDestination, format_duration
from khronos.snapshots._state import DestinationState, DrillResult

__all__ = ["SnapshotConditions", "condition_keys"]

_log = structlog.get_logger("khronos.snapshots")


def condition_keys(db: str, dest: str) -> list[str]:
    """The keys of the conditions of ``db`` at ``dest``: failed, stale, drill."""
    base = f"snapshot.{db}.{dest}"
    return [base, f"{base}.stale", f"{base}.drill"]


def _ago(seconds: float) -> Span:
    seconds = round(max(0.0, seconds))
    return Span(seconds, format_duration(timedelta(seconds=seconds)))


class SnapshotConditions:
    """Fires and resolves the conditions of every destination (calls never raise upward:
    the engine's ``fire`` and ``resolve`` do not)."""

    def __init__(self, alerts: AlertSink) -> None:
        self.alerts = alerts
        self._stale: set[str] = set()

    def recall(self, state: DestinationState, dest: SnapshotDestination) -> None:
        """At start: what a previous run left open holds until the next attempt."""
        failed, _, drill = condition_keys(state.db, state.dest)
        if state.failing and state.last_failure is not None:
            self.failed(state, dest)
        else:
            self.alerts.resolve(failed)
        if state.last_drill is not None and state.last_drill.ok is False:
            self.drill(state.db, dest, state.last_drill)
        else:
            self.alerts.resolve(drill)

    def failed(self, state: DestinationState, dest: SnapshotDestination) -> None:
        """The last attempt failed (``state`` already counts it)."""
        key = condition_keys(state.db, state.dest)[0]
        cause: str = state.last_failure.error if state.last_failure else Text("snapshot.unknown")
        hint = state.last_failure.hint if state.last_failure else None
        newest = state.last_success.at.isoformat() if state.last_success else None
        self.alerts.fire(
            key,
            Text("snapshot.failed", db=state.db, dest=state.dest, error=cause),
            "ERROR",
            {
                "db": state.db,
                "destination": state.dest,
                "url": dest.display,
                "error": cause,
                "consecutive_failures": state.consecutive_failures,
                "newest_snapshot": newest or "none",
                "hint": Text(
                    "snapshot.failed.hint", hint=hint or Text("snapshot.failed.fix_destination")
                ),
            },
            since=state.failing_since.timestamp() if state.failing_since else None,
            worst=Text("snapshot.worst_failures", count=state.consecutive_failures),
            worst_value=float(state.consecutive_failures),
        )

    def succeeded(self, state: DestinationState) -> None:
        """A snapshot succeeded: the failure and the staleness are over."""
        failed, stale, _ = condition_keys(state.db, state.dest)
        self.alerts.resolve(failed)
        self.alerts.resolve(stale)
        self._stale.discard(stale)

    def staleness(
        self, state: DestinationState, dest: SnapshotDestination, now: float, since: float
    ) -> None:
        """Fire or resolve the stale condition: ``since`` is the newest success's time, or when
        the schedule started when there is none."""
        key = condition_keys(state.db, state.dest)[1]
        interval = dest.interval.total_seconds()
        limit = 2 * interval
        age = now - since
        if age <= limit:
            if key in self._stale:
                self._stale.discard(key)
                self.alerts.resolve(key)
            return
        if key not in self._stale:
            _log.warning("snapshot alert", alert=key, db=state.db, dest=state.dest, age=age)
        self._stale.add(key)
        cause = state.last_failure.error if state.failing and state.last_failure else None
        message = Text(
            "snapshot.stale" if state.last_success is not None else "snapshot.none_yet",
            db=state.db,
            dest=state.dest,
            age=_ago(age),
            interval=_ago(interval),
            limit=_ago(limit),
            because=Text("backup.because", error=cause) if cause else "",
        )
        self.alerts.fire(
            key,
            message,
            "ERROR",
            {
                "db": state.db,
                "destination": state.dest,
                "age_seconds": round(age),
                "hint": Text("snapshot.stale.hint"),
            },
            since=since + limit,
            worst=Text("snapshot.worst_age", age=_ago(age)),
            worst_value=age,
        )

    def assume_stale_open(self, db: str, dest: str) -> None:
        """At start every stale key counts as possibly open (a previous run's): the first
        evaluation resolves it when it is clear."""
        self._stale.add(condition_keys(db, dest)[1])

    def drill(self, db: str, dest: SnapshotDestination, result: DrillResult) -> None:
        """A drill of the newest snapshot at ``dest`` ended: fire when it failed, resolve when
        it passed (nothing to check yet leaves the condition as it is)."""
        key = condition_keys(db, dest.label)[2]
        if result.ok is None:
            return
        if result.ok:
            self.alerts.resolve(key)
            return
        self.alerts.fire(
            key,
            Text(
                "snapshot.drill_failed",
                db=db,
                dest=dest.label,
                error=result.detail or Text("snapshot.unknown"),
            ),
            "ERROR",
            {
                "db": db,
                "destination": dest.label,
                "snapshot": result.key or "none",
                "error": result.detail or Text("snapshot.unknown"),
                "hint": Text("snapshot.drill_failed.hint"),
            },
        )
