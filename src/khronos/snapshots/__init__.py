"""Snapshots: the second, independent, encrypted copy of every database.

Litestream replicates each database to one place.  Beside it, on a schedule, Khronos takes a
consistent copy of the database (SQLite's online backup API, while the app writes), compresses
it, encrypts it to age recipients (or a passphrase) and uploads it to each of the database's
``snapshots:`` destinations (S3 and S3-compatible stores, local folders).  Each upload is read
back and checked; old snapshots are pruned grandfather-father-son; the scheduled drill restores
the newest one.  The stored object is a standard age file::

    age -d -i snapshots.key 2026-12-05T061500Z.sqlite3.zst.age | zstd -d > app.db

This module is the public surface (the contract between the snapshot engine, the daemon's
scheduler and the CLI); the work happens in its private modules.
"""

from __future__ import annotations

from khronos.snapshots._engine import (
    fetch_snapshot,
    list_snapshots,
    newest_snapshot,
    take_snapshot,
)
from khronos.snapshots._gfs import gfs_keep
from khronos.snapshots._records import SnapshotInfo, SnapshotReport
from khronos.snapshots._restore import pick_snapshot, restore_snapshot, snapshot_destinations

__all__ = [
    "SnapshotInfo",
    "SnapshotReport",
    "fetch_snapshot",
    "gfs_keep",
    "list_snapshots",
    "newest_snapshot",
    "pick_snapshot",
    "restore_snapshot",
    "snapshot_destinations",
    "take_snapshot",
]
