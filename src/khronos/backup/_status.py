"""Per-database replication status: txids, lag, last sync, errors, sizes, last restore drill.

**Lag** is the age of the oldest local change that is not in the replica yet, 0 when caught up.
Litestream numbers every local transaction (txid); :class:`DbTracker` remembers when it first saw
each new local txid and forgets it once the replica's txid reaches it, so the lag is
``now - first_seen(oldest pending txid)``.  It is exact to the poll interval and drops to 0 as
soon as the replica catches up.  A replica position of 0 means "not known" (Litestream resets it
after a failed upload), so the last known one is kept.

While Litestream does not answer (it crashed, was given up on, or hangs) no txid can be read,
so the tracker watches the files instead: each answered poll records the newest modification
time of the database and its WAL; a later unanswered poll that finds a newer one knows a change
was committed that Litestream has not seen, and counts the lag from that modification time.
The lag therefore keeps growing (and the lag alert fires) while replication is down, and the
change is handed over to the txid tracking when Litestream answers again.

**Sync errors** are counted from Litestream's log records (:meth:`DbTracker.record_log`): only
the failures of a sync (``monitor error`` for the replica upload, ``sync error`` and "disk full
while staging ltx file" for the local WAL copy), not every ERROR line.  Litestream logs a
failing streak at most every 30 s but each line carries ``consecutive_errors``, and the
"sync recovered" line carries ``previous_errors``: the count is exact, not one per line.

Files in ``state_dir`` (documented in docs/backup.md):

- ``status.json``: the daemon's snapshot, rewritten on every poll, read by ``khronos status``.
- ``verify.json``: the last restore drill per database label, written by ``khronos verify``
  and the daemon's schedule: ``{"app": {"ok": true, "at": "2025-01-01T00:00:00+00:00",
  "txid": "00000000000000a1", "error": null, "last_success_at": "2025-01-01T00:00:00+00:00",
  ...}}``; ``last_success_at`` survives failed drills (the metric
  ``backup_verify_last_success_timestamp_seconds`` reads it).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from khronos.backup._control import parse_time
from khronos.config._backup import DatabaseConfig

__all__ = [
    "STATUS_FILE",
    "VERIFY_FILE",
    "DbStatus",
    "DbTracker",
    "FileSignature",
    "VerifyResult",
    "change_time",
    "file_signature",
    "file_sizes",
    "format_txid",
    "parse_txid",
    "read_status_file",
    "read_verify_file",
    "status_document",
    "write_json_atomic",
]

STATUS_FILE = "status.json"
VERIFY_FILE = "verify.json"


def format_txid(txid: int | None) -> str | None:
    """A txid the way Litestream prints it: 16 hex digits."""
    return None if txid is None else f"{txid:016x}"


def parse_txid(value: str | int | None) -> int | None:
    """A txid from 16 hex digits (or an int)."""
    if value is None or value == "":
        return None
    return value if isinstance(value, int) else int(value, 16)


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """The last restore drill of one database (``state_dir/verify.json``)."""

    ok: bool
    at: datetime | None
    txid: str | None = None
    error: str | None = None
    last_success_at: datetime | None = None
    """When a drill of this database last passed (this one, or an earlier one)."""

    def to_json(self) -> dict[str, Any]:
        """The verify.json form."""
        return {
            "ok": self.ok,
            "at": self.at.isoformat() if self.at else None,
            "txid": self.txid,
            "error": self.error,
            "last_success_at": self.last_success_at.isoformat() if self.last_success_at else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> VerifyResult:
        """Read one verify.json entry (tolerant of missing keys and of older files)."""
        at = _when(data.get("at"))
        ok = bool(data.get("ok"))
        last = _when(data.get("last_success_at")) or (at if ok else None)
        return cls(
            ok=ok, at=at, txid=data.get("txid"), error=data.get("error"), last_success_at=last
        )


def _when(value: object) -> datetime | None:
    return parse_time(value) if isinstance(value, str) and value else None


@dataclass(frozen=True, slots=True)
class DbStatus:
    """Everything ``khronos status`` shows about one database."""

    name: str
    path: Path
    replica: str
    local_txid: int | None = None
    replica_txid: int | None = None
    lag_seconds: float | None = None
    last_sync_at: datetime | None = None
    replicating: bool = False
    sync_errors: int = 0
    db_exists: bool = True
    db_size_bytes: int | None = None
    wal_size_bytes: int | None = None
    last_verify: VerifyResult | None = None
    last_error: str | None = None
    """Litestream's last replication error (secrets masked), while its streak lasts."""
    failing_since: datetime | None = None
    """When the current streak of replication errors began (None: no error since the last
    success)."""
    replica_down: bool = False
    """The replica has accepted nothing for longer than ``backup.down_alert_after``."""

    def to_json(self) -> dict[str, Any]:
        """The JSON form used by status.json and ``khronos status --json``."""
        return {
            "name": self.name,
            "path": str(self.path),
            "replica": self.replica,
            "local_txid": format_txid(self.local_txid),
            "replica_txid": format_txid(self.replica_txid),
            "lag_seconds": None if self.lag_seconds is None else round(self.lag_seconds, 3),
            "last_sync_at": self.last_sync_at.isoformat() if self.last_sync_at else None,
            "replicating": self.replicating,
            "sync_errors": self.sync_errors,
            "db_exists": self.db_exists,
            "db_size_bytes": self.db_size_bytes,
            "wal_size_bytes": self.wal_size_bytes,
            "last_verify": self.last_verify.to_json() if self.last_verify else None,
            "last_error": self.last_error,
            "failing_since": self.failing_since.isoformat() if self.failing_since else None,
            "replica_down": self.replica_down,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DbStatus:
        """Read the JSON form back."""
        last_sync = data.get("last_sync_at")
        verify = data.get("last_verify")
        return cls(
            name=str(data["name"]),
            path=Path(data["path"]),
            replica=str(data.get("replica", "")),
            local_txid=parse_txid(data.get("local_txid")),
            replica_txid=parse_txid(data.get("replica_txid")),
            lag_seconds=data.get("lag_seconds"),
            last_sync_at=parse_time(last_sync) if isinstance(last_sync, str) else None,
            replicating=bool(data.get("replicating")),
            sync_errors=int(data.get("sync_errors") or 0),
            db_exists=bool(data.get("db_exists", True)),
            db_size_bytes=data.get("db_size_bytes"),
            wal_size_bytes=data.get("wal_size_bytes"),
            last_verify=VerifyResult.from_json(verify) if isinstance(verify, dict) else None,
            last_error=data.get("last_error"),
            failing_since=_when(data.get("failing_since")),
            replica_down=bool(data.get("replica_down")),
        )

    def with_verify(self, verify: VerifyResult | None) -> DbStatus:
        """A copy with ``last_verify`` set."""
        return replace(self, last_verify=verify)


def file_sizes(path: Path) -> tuple[bool, int | None, int | None]:
    """(exists, db size, WAL size) from the file system; missing files give None sizes."""
    try:
        size = path.stat().st_size
    except OSError:
        return False, None, None
    try:
        wal = Path(f"{path}-wal").stat().st_size
    except OSError:
        wal = 0
    return True, size, wal


FileSignature = tuple[int, int, int] | None
"""A file's (inode, size, mtime in ns), None when it does not exist."""


def file_signature(path: Path) -> FileSignature:
    """What changes when a file is written or replaced (one ``stat``)."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def change_time(path: Path) -> float | None:
    """The newest modification time of the database and its WAL; None when neither exists."""
    times = []
    for candidate in (path, Path(f"{path}-wal")):
        try:
            times.append(candidate.stat().st_mtime)
        except OSError:
            continue
    return max(times, default=None)


_SYNC_ERRORS = {
    "monitor error": "replica",
    "sync error": "db",
    "disk full while staging ltx file, replication paused until space is freed": "db",
}
"""Litestream 0.5.17's log messages for a failed sync, and which loop logs them."""
_RECOVERED = {"replica sync recovered": "replica", "sync recovered": "db"}


def _count(value: object) -> int:
    try:
        return max(1, int(str(value)))
    except ValueError:
        return 1


@dataclass(slots=True)
class DbTracker:
    """The live status of one database, updated by each control-socket poll."""

    db: DatabaseConfig
    local_txid: int | None = None
    replica_txid: int | None = None
    last_sync_at: datetime | None = None
    sync_errors: int = 0
    replicating: bool = False
    pending: dict[int, float] = field(default_factory=dict)
    """Local txids not yet in the replica -> wall time they were first seen."""
    seen_mtime: float | None = None
    """Newest db/WAL modification time when Litestream last reported the txids."""
    unseen_since: float | None = None
    """Modification time of the first change found while Litestream did not answer."""
    streaks: dict[str, int] = field(default_factory=dict)
    """Failing sync streak per loop (replica, db): the ``consecutive_errors`` counted so far."""
    last_error: str | None = None
    """The last sync error's text (as Litestream logged it; mask it before showing it)."""
    failing_since: float | None = None
    """Wall time the current streak of sync errors began."""

    def observe(
        self, local_txid: int, replica_txid: int, now: float, mtime: float | None = None
    ) -> None:
        """Record one answered poll: the txids (replica 0: unknown, keep the last known one).

        ``mtime`` is :func:`change_time` taken *before* asking Litestream, the baseline for
        :meth:`observe_files`.
        """
        if self.local_txid is not None and local_txid < self.local_txid:
            # The database was replaced (a restore): start over.
            self.pending.clear()
            self.replica_txid = None
        if replica_txid > 0:
            self.replica_txid = replica_txid
        self.local_txid = local_txid
        if local_txid > 0 and local_txid > (self.replica_txid or 0):
            first = now if self.unseen_since is None else min(now, self.unseen_since)
            self.pending[local_txid] = min(self.pending.get(local_txid, first), first)
        self.unseen_since = None
        if mtime is not None:
            self.seen_mtime = mtime
        done = self.replica_txid or 0
        for txid in [t for t in self.pending if t <= done]:
            del self.pending[txid]

    def observe_files(self, mtime: float | None) -> None:
        """Record a poll Litestream did not answer: a newer db/WAL file means a change it missed."""
        if mtime is None:
            return
        if self.seen_mtime is None:
            self.seen_mtime = mtime  # never answered yet: changes from now on are counted
        elif mtime > self.seen_mtime and self.unseen_since is None:
            self.unseen_since = mtime

    def record_log(self, record: dict[str, Any]) -> bool:
        """Count the sync errors in one Litestream log record; True when it was about syncing."""
        message = str(record.get("msg", ""))
        loop = _SYNC_ERRORS.get(message)
        if loop is not None:
            streak = _count(record.get("consecutive_errors"))
            seen = self.streaks.get(loop, 0)
            self.sync_errors += streak - seen if streak > seen else streak
            self.streaks[loop] = streak
            self.last_error = str(record.get("error") or message)
            if self.failing_since is None:
                when = parse_time(str(record.get("time") or "")) if record.get("time") else None
                self.failing_since = when.timestamp() if when is not None else time.time()
            return True
        loop = _RECOVERED.get(message)
        if loop is not None:
            total = _count(record.get("previous_errors"))
            self.sync_errors += max(0, total - self.streaks.pop(loop, 0))
            if not self.streaks:
                self.last_error = self.failing_since = None
            return True
        return False

    def lag(self, now: float) -> float:
        """Seconds since the oldest change not yet in the replica was made or seen; 0 if none."""
        starts = list(self.pending.values())
        if self.unseen_since is not None:
            starts.append(self.unseen_since)
        if not starts:
            return 0.0
        return max(0.0, now - min(starts))

    def snapshot(self, now: float | None = None) -> DbStatus:
        """The current status as an immutable :class:`DbStatus`."""
        now = time.time() if now is None else now
        exists, size, wal = file_sizes(self.db.path)
        return DbStatus(
            name=self.db.label,
            path=self.db.path,
            replica=self.db.replica.display,
            local_txid=self.local_txid,
            replica_txid=self.replica_txid,
            lag_seconds=self.lag(now),
            last_sync_at=self.last_sync_at,
            replicating=self.replicating,
            sync_errors=self.sync_errors,
            db_exists=exists,
            db_size_bytes=size,
            wal_size_bytes=wal,
            last_error=self.last_error,
            failing_since=(
                datetime.fromtimestamp(self.failing_since, UTC) if self.failing_since else None
            ),
        )


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON (mode 0600) through a temp file and a rename: readers never see half a file.

    A missing folder (``state_dir``) is created 0700.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(data, indent=2, default=str) + "\n")
    tmp.chmod(0o600)
    tmp.replace(path)


def read_verify_file(state_dir: Path) -> dict[str, VerifyResult]:
    """The last restore drill per database label; empty when there is none (or it is unreadable)."""
    try:
        data = json.loads((state_dir / VERIFY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    out: dict[str, VerifyResult] = {}
    for label, entry in data.items():
        if isinstance(entry, dict):
            try:
                out[str(label)] = VerifyResult.from_json(entry)
            except (TypeError, ValueError):
                continue
    return out


def read_status_file(state_dir: Path) -> tuple[datetime | None, int | None, list[DbStatus]]:
    """The daemon's snapshot: (written at, daemon pid, statuses); empty when missing."""
    try:
        data = json.loads((state_dir / STATUS_FILE).read_text(encoding="utf-8"))
        written = parse_time(data["written_at"])
        pid = data.get("pid")
        return written, pid, [DbStatus.from_json(d) for d in data.get("databases", [])]
    except (OSError, ValueError, KeyError, TypeError):
        return None, None, []


def status_document(statuses: list[DbStatus], **extra: Any) -> dict[str, Any]:
    """The status.json / ``khronos status --json`` document."""
    return {
        "written_at": datetime.now(UTC).isoformat(),
        **extra,
        "databases": [s.to_json() for s in statuses],
    }
