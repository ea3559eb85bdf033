"""The public records of snapshots: one stored snapshot, and what taking one did."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["SnapshotInfo", "SnapshotReport"]


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
    prune_error: str | None = None
    """Why pruning did not run or stopped (the listing or a delete failed); the snapshot itself
    succeeded.  Nothing is deleted when the listing fails."""

    def to_json(self) -> dict[str, Any]:
        return {
            **self.info.to_json(),
            "duration": round(self.duration, 3),
            "steps": {name: round(value, 3) for name, value in self.steps.items()},
            "pruned": list(self.pruned),
            "prune_error": self.prune_error,
        }
