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
from typing import TYPE_CHECKING, Any

from khronos.snapshots._engine import (
    fetch_snapshot,
    list_snapshots,
    newest_snapshot,
    take_snapshot,
)
from khronos.snapshots._gfs import gfs_keep
from khronos.snapshots._records import SnapshotInfo, SnapshotReport
from khronos.snapshots._restore import pick_snapshot, restore_snapshot, snapshot_destinations

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
    "fetch_snapshot",
    "gfs_keep",
    "list_snapshots",
    "newest_snapshot",
    "pick_snapshot",
    "read_snapshot_state",
    "record_drills",
    "restore_snapshot",
    "snapshot_destinations",
    "snapshot_pairs",
    "snapshot_routes",
    "snapshot_status",
    "take_snapshot",
    "update_snapshot_state",
]


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
