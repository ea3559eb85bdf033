"""What ``khronos status``, ``/api/status`` and the dashboard show of each database's snapshots.

Per database label, one entry per destination (in the configuration's order): where it goes
(no secrets), how often, the newest success (time, age, size, duration, verified, key), the next
due time, whether one is being taken now, the failure streak and last error, whether it is stale
(older than twice the interval), and the last drill.  Times are Unix seconds (the dashboard's
form) or ISO 8601 (``khronos status --json``'s form).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Literal

from khronos.config import KhronosConfig
from khronos.redact import get_redactor
from khronos.snapshots._schedule import snapshot_pairs
from khronos.snapshots._state import DestinationState

__all__ = ["snapshot_status"]

TimeForm = Literal["unix", "iso"]


def snapshot_status(
    config: KhronosConfig,
    states: Iterable[DestinationState],
    *,
    now: float,
    running: Callable[[str, str], bool] | None = None,
    times: TimeForm = "unix",
) -> dict[str, list[dict[str, Any]]]:
    """Database label -> its destinations' entries (every configured pair, known or not)."""
    known = {(s.db, s.dest): s for s in states}
    redact = get_redactor().redact

    def when(value: datetime | None) -> float | str | None:
        if value is None:
            return None
        return value.timestamp() if times == "unix" else value.isoformat()

    out: dict[str, list[dict[str, Any]]] = {}
    for db, dest in snapshot_pairs(config):
        state = known.get((db.label, dest.label)) or DestinationState(db.label, dest.label)
        interval = dest.interval.total_seconds()
        success = state.last_success
        age = None if success is None else max(0.0, now - success.at.timestamp())
        failure = state.last_failure if state.failing else None
        drill = state.last_drill
        out.setdefault(db.label, []).append(
            {
                "dest": dest.label,
                "url": redact(dest.display),
                "interval_seconds": interval,
                "encrypted": True,
                "identity_file": dest.identity_file is not None,
                "last_success_at": when(success.at if success else None),
                "age_seconds": None if age is None else round(age, 1),
                "size_bytes": success.size if success else None,
                "duration_seconds": success.duration_seconds if success else None,
                "verified": success.verified if success else None,
                "key": success.key if success else None,
                "stale": age is not None and age > 2 * interval,
                "next_due_at": when(state.next_due),
                "running": bool(running and running(db.label, dest.label)),
                "consecutive_failures": state.consecutive_failures,
                "last_error": redact(failure.error) if failure else None,
                "last_failure_at": when(failure.at if failure else None),
                "last_drill": None
                if drill is None
                else {
                    "at": when(drill.at),
                    "ok": drill.ok,
                    "decrypted": drill.decrypted,
                    "key": drill.key,
                    "detail": redact(drill.detail) if drill.detail else None,
                },
            }
        )
    return out
