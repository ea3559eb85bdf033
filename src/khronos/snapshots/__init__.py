"""Snapshots: the second, independent, encrypted copy of every database.

Litestream replicates each database to one place.  Beside it, on a schedule, Khronos takes a
consistent copy of the database (SQLite's online backup API, while the app writes), compresses
it, encrypts it to age recipients (or a passphrase) and uploads it to each of the database's
``snapshots:`` destinations (S3 and S3-compatible stores, local folders).  Each upload is read
back and checked; old snapshots are pruned grandfather-father-son; the scheduled drill restores
the newest one.  The stored object is a standard age file::

    age -d -i snapshots.key 2026-12-05T061500Z.sqlite3.zst.age | zstd -d > app.db

This module is the public surface (the contract between the snapshot engine, the daemon's
scheduler and the CLI); the work happens in its private modules.  Inside ``khronos run``:
:class:`SnapshotScheduler` (``_schedule``: the queue, one snapshot at a time), its alert
conditions (``_conditions``), metrics (``_metrics``), ``state_dir/snapshots.json``
(``_state``), the drill of the newest snapshot (``_drill``) and what status shows (``_status``).
Those names load on first use, so ``khronos status`` does not import the daemon's side.
"""

from __future__ import annotations

import importlib as _importlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from khronos.snapshots._conditions import SnapshotConditions, condition_keys
    from khronos.snapshots._drill import (
        SnapshotDrill,
        drill_destination,
        drill_snapshots,
        record_drills,
    )
    from khronos.snapshots._metrics import SnapshotCollector, SnapshotSample
    from khronos.snapshots._routes import snapshot_routes
    from khronos.snapshots._schedule import (
        SNAPSHOTS_PART,
        SnapshotScheduler,
        TakeSnapshot,
        snapshot_pairs,
    )
    from khronos.snapshots._state import (
        DestinationState,
        DrillResult,
        SnapshotFailure,
        SnapshotSuccess,
        read_snapshot_state,
        update_snapshot_state,
    )
    from khronos.snapshots._status import snapshot_status

__all__ = [
    "SNAPSHOTS_PART",
    "DestinationState",
    "DrillResult",
    "SnapshotCollector",
    "SnapshotConditions",
    "SnapshotDrill",
    "SnapshotFailure",
    "SnapshotInfo",
    "SnapshotReport",
    "SnapshotSample",
    "SnapshotScheduler",
    "SnapshotSuccess",
    "TakeSnapshot",
    "condition_keys",
    "drill_destination",
    "drill_snapshots",
    "read_snapshot_state",
    "record_drills",
    "snapshot_pairs",
    "snapshot_routes",
    "snapshot_status",
    "update_snapshot_state",
]


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    """One stored snapshot of database ``db`` at destination ``dest`` (their labels)."""

    db: str
    dest: str
    key: str
    """The object's name in the destination (relative to its path)."""
    taken_at: datetime
    """When the copy was taken (aware, UTC)."""
    size: int
    """Stored bytes (compressed and encrypted)."""
    sha256: str | None = None
    """Hex SHA-256 of the stored bytes, when the destination records it."""
    db_bytes: int | None = None
    """The database's size when copied."""
    encrypted: bool = True
    verified: bool | None = None
    """Read back and checked after upload (None: not known from the listing)."""

    def to_json(self) -> dict[str, Any]:
        """The snapshot as JSON-ready values (no secrets)."""
        return {
            "db": self.db,
            "dest": self.dest,
            "key": self.key,
            "taken_at": self.taken_at.isoformat(),
            "size": self.size,
            "sha256": self.sha256,
            "db_bytes": self.db_bytes,
            "encrypted": self.encrypted,
            "verified": self.verified,
        }


@dataclass(frozen=True, slots=True)
class SnapshotReport:
    """What taking one snapshot did, and how long each step took (seconds)."""

    info: SnapshotInfo
    duration: float
    steps: dict[str, float] = field(default_factory=dict)
    """Seconds per step: ``copy`` (backup API), ``compress``, ``encrypt``, ``upload``,
    ``verify``, ``prune``."""
    pruned: tuple[str, ...] = ()
    """Keys deleted by retention after this snapshot succeeded."""

    def to_json(self) -> dict[str, Any]:
        return {
            **self.info.to_json(),
            "duration": round(self.duration, 3),
            "steps": {name: round(value, 3) for name, value in self.steps.items()},
            "pruned": list(self.pruned),
        }


_LAZY = {
    "DestinationState": "khronos.snapshots._state",
    "DrillResult": "khronos.snapshots._state",
    "SNAPSHOTS_PART": "khronos.snapshots._schedule",
    "SnapshotCollector": "khronos.snapshots._metrics",
    "SnapshotConditions": "khronos.snapshots._conditions",
    "SnapshotDrill": "khronos.snapshots._drill",
    "SnapshotFailure": "khronos.snapshots._state",
    "SnapshotSample": "khronos.snapshots._metrics",
    "SnapshotScheduler": "khronos.snapshots._schedule",
    "SnapshotSuccess": "khronos.snapshots._state",
    "TakeSnapshot": "khronos.snapshots._schedule",
    "condition_keys": "khronos.snapshots._conditions",
    "drill_destination": "khronos.snapshots._drill",
    "drill_snapshots": "khronos.snapshots._drill",
    "read_snapshot_state": "khronos.snapshots._state",
    "record_drills": "khronos.snapshots._drill",
    "snapshot_pairs": "khronos.snapshots._schedule",
    "snapshot_routes": "khronos.snapshots._routes",
    "snapshot_status": "khronos.snapshots._status",
    "update_snapshot_state": "khronos.snapshots._state",
}
"""Exported name -> the module that defines it (imported on first use)."""


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'khronos.snapshots' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value
