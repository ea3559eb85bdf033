"""``state_dir/snapshots.json``: per database and destination, what the snapshots last did.

Written by the daemon's schedule after every attempt and by the restore drill (``khronos verify``
and the daemon's drills), read by ``khronos status``, ``/api/status``, the metrics and the
daemon at start (the schedule resumes from the last success; an open failure stays open)::

    {
        "format": 1,
        "dbs": {
            "app": {
                "offsite": {
                    "last_success": {
                        "at": "2026-12-05T06:15:00+00:00",
                        "key": "...",
                        "size": 81234,
                        "duration_seconds": 1.2,
                        "verified": true,
                        "sha256": "...",
                    },
                    "last_failure": {"at": "...", "error": "bucket 'x' does not exist at ..."},
                    "failing_since": null,
                    "consecutive_failures": 0,
                    "next_due": "...",
                    "last_drill": {
                        "at": "...",
                        "ok": true,
                        "decrypted": false,
                        "key": "...",
                        "detail": "not decrypted: no identity_file",
                        "duration_seconds": 0.1,
                    },
                }
            }
        },
    }

Each change is a read-modify-write of one entry under ``state_dir/snapshots.lock`` (held for the
milliseconds of the change) and the project's atomic write (0600), so the daemon and a
``khronos verify`` running beside it never lose each other's update.  No secrets: object keys,
sizes, times and the engine's error messages (already free of secrets; redacted once more).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from khronos.locks import FileLock
from khronos.redact import get_redactor
from khronos.snapshots._records import SnapshotReport
from khronos.state import StateDir, write_json_atomic

__all__ = [
    "DestinationState",
    "DrillResult",
    "SnapshotFailure",
    "SnapshotSuccess",
    "read_snapshot_state",
    "update_snapshot_state",
]

_FORMAT = 1
_LOCK_WAIT_S = 5.0


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _when(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _text(value: object) -> str | None:
    return get_redactor().redact(value) if isinstance(value, str) and value else None


@dataclass(frozen=True, slots=True)
class SnapshotSuccess:
    """The last snapshot that was taken, uploaded and checked."""

    at: datetime
    key: str
    size: int
    duration_seconds: float
    verified: bool | None = None
    sha256: str | None = None

    @classmethod
    def of(cls, report: SnapshotReport, at: datetime | None = None) -> SnapshotSuccess:
        """The success ``report`` records (``at``: when it started; default its time)."""
        info = report.info
        return cls(
            at=at or info.taken_at,
            key=info.key,
            size=info.size,
            duration_seconds=report.duration,
            verified=info.verified,
            sha256=info.sha256,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "key": self.key,
            "size": self.size,
            "duration_seconds": round(self.duration_seconds, 3),
            "verified": self.verified,
            "sha256": self.sha256,
        }

    @classmethod
    def from_json(cls, data: object) -> SnapshotSuccess | None:
        if not isinstance(data, dict) or (at := _when(data.get("at"))) is None:
            return None
        verified = data.get("verified")
        return cls(
            at=at,
            key=str(data.get("key") or ""),
            size=int(_number(data.get("size")) or 0),
            duration_seconds=_number(data.get("duration_seconds")) or 0.0,
            verified=verified if isinstance(verified, bool) else None,
            sha256=data.get("sha256") if isinstance(data.get("sha256"), str) else None,
        )


@dataclass(frozen=True, slots=True)
class SnapshotFailure:
    """The last attempt that failed, and why (the engine's translated cause)."""

    at: datetime
    error: str
    hint: str | None = None
    """How to fix it, when the engine knows."""

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "error": self.error, "hint": self.hint}

    @classmethod
    def from_json(cls, data: object) -> SnapshotFailure | None:
        if not isinstance(data, dict) or (at := _when(data.get("at"))) is None:
            return None
        error = _text(data.get("error")) or "unknown error"
        return cls(at=at, error=error, hint=_text(data.get("hint")))


@dataclass(frozen=True, slots=True)
class DrillResult:
    """The restore drill of one destination's newest snapshot.

    ``ok`` None: nothing to check yet (no snapshot was ever taken there).  ``decrypted``: the
    snapshot was downloaded, decrypted, decompressed and integrity-checked (an
    ``identity_file`` is set); else only its listing (size and checksum) was checked.
    """

    at: datetime
    ok: bool | None
    decrypted: bool = False
    key: str | None = None
    detail: str | None = None
    """What was checked, or why it failed."""
    duration_seconds: float = 0.0
    snapshot_at: datetime | None = None
    """When the checked snapshot was taken."""

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "ok": self.ok,
            "decrypted": self.decrypted,
            "key": self.key,
            "detail": self.detail,
            "duration_seconds": round(self.duration_seconds, 3),
            "snapshot_at": _iso(self.snapshot_at),
        }

    @classmethod
    def from_json(cls, data: object) -> DrillResult | None:
        if not isinstance(data, dict) or (at := _when(data.get("at"))) is None:
            return None
        ok = data.get("ok")
        return cls(
            at=at,
            ok=ok if isinstance(ok, bool) else None,
            decrypted=bool(data.get("decrypted")),
            key=data.get("key") if isinstance(data.get("key"), str) else None,
            detail=_text(data.get("detail")),
            duration_seconds=_number(data.get("duration_seconds")) or 0.0,
            snapshot_at=_when(data.get("snapshot_at")),
        )


@dataclass(frozen=True, slots=True)
class DestinationState:
    """What is known of the snapshots of database ``db`` at destination ``dest``."""

    db: str
    dest: str
    last_success: SnapshotSuccess | None = None
    last_failure: SnapshotFailure | None = None
    failing_since: datetime | None = None
    """The first failure of the current streak (None: the last attempt succeeded)."""
    consecutive_failures: int = 0
    next_due: datetime | None = None
    """When the daemon's schedule takes the next one (as of its last attempt)."""
    last_drill: DrillResult | None = None

    @property
    def failing(self) -> bool:
        """Whether the last attempt failed."""
        return self.consecutive_failures > 0

    def succeeded(self, success: SnapshotSuccess, next_due: datetime | None) -> DestinationState:
        """This state after a success: the failure streak ends."""
        return replace(
            self,
            last_success=success,
            failing_since=None,
            consecutive_failures=0,
            next_due=next_due,
        )

    def failed(self, failure: SnapshotFailure, next_due: datetime | None) -> DestinationState:
        """This state after a failure: the streak goes on (or starts now)."""
        return replace(
            self,
            last_failure=failure,
            failing_since=self.failing_since or failure.at,
            consecutive_failures=self.consecutive_failures + 1,
            next_due=next_due,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "last_success": self.last_success.to_json() if self.last_success else None,
            "last_failure": self.last_failure.to_json() if self.last_failure else None,
            "failing_since": _iso(self.failing_since),
            "consecutive_failures": self.consecutive_failures,
            "next_due": _iso(self.next_due),
            "last_drill": self.last_drill.to_json() if self.last_drill else None,
        }

    @classmethod
    def from_json(cls, db: str, dest: str, data: object) -> DestinationState:
        """One entry (tolerant of missing keys and of damaged values)."""
        if not isinstance(data, dict):
            return cls(db, dest)
        failures = _number(data.get("consecutive_failures"))
        return cls(
            db,
            dest,
            last_success=SnapshotSuccess.from_json(data.get("last_success")),
            last_failure=SnapshotFailure.from_json(data.get("last_failure")),
            failing_since=_when(data.get("failing_since")),
            consecutive_failures=max(0, int(failures or 0)),
            next_due=_when(data.get("next_due")),
            last_drill=DrillResult.from_json(data.get("last_drill")),
        )


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    dbs = data.get("dbs") if isinstance(data, dict) else None
    return dbs if isinstance(dbs, dict) else {}


def read_snapshot_state(state_dir: str | Path) -> dict[tuple[str, str], DestinationState]:
    """Every entry of ``snapshots.json`` by (database, destination) label (empty when the file
    is missing or unreadable)."""
    out = {}
    for db, dests in _read(StateDir(state_dir).snapshots_file).items():
        if isinstance(dests, dict):
            for dest, entry in dests.items():
                out[(str(db), str(dest))] = DestinationState.from_json(str(db), str(dest), entry)
    return out


def update_snapshot_state(
    state_dir: str | Path,
    db: str,
    dest: str,
    change: Callable[[DestinationState], DestinationState],
) -> DestinationState:
    """Apply ``change`` to the entry of ``db``/``dest`` in ``snapshots.json`` (under its lock,
    written atomically); the new entry.  Raises OSError (a full disk) or LockedError."""
    files = StateDir(state_dir)
    lock = _lock(files.snapshots_lock)
    try:
        dbs = _read(files.snapshots_file)
        found = dbs.get(db)
        entries: dict[str, Any] = found if isinstance(found, dict) else {}
        new = change(DestinationState.from_json(db, dest, entries.get(dest)))
        dbs[db] = {**entries, dest: new.to_json()}
        write_json_atomic(files.snapshots_file, {"format": _FORMAT, "dbs": dbs})
        return new
    finally:
        lock.release()


def _lock(path: Path) -> FileLock:
    return FileLock.acquire(
        path,
        what="the snapshots state file",
        op="snapshot",
        hint="another khronos process is recording a snapshot; try again",
        wait=_LOCK_WAIT_S,
    )
