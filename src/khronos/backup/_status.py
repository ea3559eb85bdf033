"""Where each database's backup is: the one place ``khronos status`` (and the daemon's own
``/status``, metrics and alerts) get their :class:`DbStatus` from.

:func:`query_status` asks, in this order:

1. **The daemon**, when its Litestream answers on the control socket in ``state_dir``: txids
   and the replication state from there (``POST /sync`` without waiting: local, never the
   network), the lag and error counts from the daemon's ``status.json`` when it is fresh.
2. **The daemon's snapshot** (``status.json``), when the daemon runs (its pid is alive, the
   file is fresh and says ``running``) but its Litestream does not answer (crashed, given up
   on, hung): the daemon keeps counting the lag from the database files
   (:class:`~._tracker.DbTracker`), where the replica alone would say nothing changed.
3. **The replica** itself, without a daemon (:func:`replica_status`, ``replicating: false``):

   - the replica's txid from ``litestream ltx -json -level all`` (the highest ``max_txid``
     over every compaction level), run through :class:`~._invocation.Invocation` (a private
     rendered config, secrets masked, Litestream's errors translated); its newest file's
     timestamp is the last sync time;
   - the local txid from the LTX files Litestream keeps next to the database
     (``.<name>-litestream/ltx/<level>/<min>-<max>.ltx``): Litestream's own position, which
     does not include commits made while no Litestream was running;
   - the lag: the age of the oldest local LTX file beyond the replica's txid (0 when the
     replica has everything).

Files in ``state_dir`` (documented in docs/backup.md):

- ``status.json``: the daemon's snapshot, rewritten on every poll (:func:`status_document`).
- ``verify.json``: the last restore drill per database label, written by ``khronos verify``
  and the daemon's schedule (:func:`~._verify.record_results`): ``{"app": {"ok": true, "at":
  "2025-01-01T00:00:00+00:00", "txid": "00000000000000a1", "error": null, "last_success_at":
  "2025-01-01T00:00:00+00:00", ...}}``; ``last_success_at`` survives failed drills (the metric
  ``backup_verify_last_success_timestamp_seconds`` reads it).  Every status carries its
  database's entry as ``last_verify``.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from khronos.backup._control import ControlClient, ControlError, control_socket_path, parse_time
from khronos.backup._invocation import Invocation
from khronos.config import BackupConfig, DatabaseConfig, KhronosConfig
from khronos.state import StateDir

__all__ = [
    "DbStatus",
    "LocalPosition",
    "ReplicaPosition",
    "Source",
    "VerifyResult",
    "file_sizes",
    "format_txid",
    "local_position",
    "parse_txid",
    "query_status",
    "read_status_file",
    "read_verify_file",
    "replica_position",
    "replica_status",
    "status_document",
]

Source = Literal["daemon", "replica"]
"""Where a status came from: the running daemon (its socket or its snapshot), or the replica."""
_FRESH = timedelta(seconds=15)
_LTX_NAME = re.compile(r"([0-9a-f]{16})-([0-9a-f]{16})\.ltx")


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
    duration_seconds: float | None = None
    """How long the drill took (None in files written before it was recorded)."""

    def to_json(self) -> dict[str, Any]:
        """The verify.json form."""
        return {
            "ok": self.ok,
            "at": self.at.isoformat() if self.at else None,
            "txid": self.txid,
            "error": self.error,
            "last_success_at": self.last_success_at.isoformat() if self.last_success_at else None,
            "duration_seconds": self.duration_seconds,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> VerifyResult:
        """Read one verify.json entry (tolerant of missing keys and of older files)."""
        at = _when(data.get("at"))
        ok = bool(data.get("ok"))
        last = _when(data.get("last_success_at")) or (at if ok else None)
        duration = data.get("duration_seconds")
        return cls(
            ok=ok,
            at=at,
            txid=data.get("txid"),
            error=data.get("error"),
            last_success_at=last,
            duration_seconds=float(duration) if isinstance(duration, int | float) else None,
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


# ------------------------------------------------------------------------ files in state_dir


def read_verify_file(state_dir: Path) -> dict[str, VerifyResult]:
    """The last restore drill per database label; empty when there is none (or it is unreadable)."""
    try:
        data = json.loads(StateDir(state_dir).verify_file.read_text(encoding="utf-8"))
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
        data = json.loads(StateDir(state_dir).status_file.read_text(encoding="utf-8"))
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


# ------------------------------------------------------------------------ from the replica


@dataclass(frozen=True, slots=True)
class ReplicaPosition:
    """The replica's newest txid and when its newest file was written."""

    txid: int | None
    updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class LocalPosition:
    """Litestream's local txid and, per local LTX file, (min txid, mtime)."""

    txid: int | None
    files: list[tuple[int, float]]


def local_position(db_path: Path) -> LocalPosition:
    """The highest txid among the local LTX files Litestream keeps beside the database."""
    root = db_path.parent / f".{db_path.name}-litestream" / "ltx"
    best: int | None = None
    files: list[tuple[int, float]] = []
    for path in root.glob("*/*.ltx"):
        match = _LTX_NAME.fullmatch(path.name)
        if match is None:
            continue
        low, high = int(match[1], 16), int(match[2], 16)
        best = high if best is None else max(best, high)
        try:
            files.append((low, path.stat().st_mtime))
        except OSError:
            continue
    return LocalPosition(best, files)


async def replica_position(
    backup: BackupConfig, db: DatabaseConfig, *, timeout: float = 60.0, op: str = "status"
) -> ReplicaPosition:
    """Read the replica's newest txid with ``litestream ltx -json -level all``."""
    with Invocation.temporary(backup, [db]) as ls:
        entries = await ls.run_json("ltx", "-json", "-level", "all", db=db, timeout=timeout, op=op)
    best: int | None = None
    newest: datetime | None = None
    for entry in entries or []:
        txid = int(entry["max_txid"], 16)
        best = txid if best is None else max(best, txid)
        when = parse_time(entry.get("timestamp"))
        if when is not None and (newest is None or when > newest):
            newest = when
    return ReplicaPosition(best, newest)


async def replica_status(backup: BackupConfig, *, timeout: float = 60.0) -> list[DbStatus]:
    """Every database's status from the replica and the local files (``replicating: false``)."""
    out = []
    now = time.time()
    for db in backup.dbs:
        exists, size, wal = file_sizes(db.path)
        local = local_position(db.path)
        replica = await replica_position(backup, db, timeout=timeout)
        lag: float | None = None
        if local.txid is not None:
            done = replica.txid or 0
            pending = [mtime for low, mtime in local.files if low > done]
            lag = max(0.0, now - min(pending)) if pending and local.txid > done else 0.0
        out.append(
            DbStatus(
                name=db.label,
                path=db.path,
                replica=db.replica.display,
                local_txid=local.txid,
                replica_txid=replica.txid,
                lag_seconds=lag,
                last_sync_at=replica.updated_at,
                replicating=False,
                db_exists=exists,
                db_size_bytes=size,
                wal_size_bytes=wal,
            )
        )
    return out


# ------------------------------------------------------------------------- from the daemon


async def _daemon_status(config: KhronosConfig, client: ControlClient) -> list[DbStatus]:
    backup = config.require_backup()
    listing = {entry.path: entry for entry in await client.list()}
    written, _pid, saved = read_status_file(config.state_dir)
    fresh = written is not None and datetime.now(UTC) - written < _FRESH
    by_name = {s.name: s for s in saved} if fresh else {}
    out = []
    for db in backup.dbs:
        entry = listing.get(str(db.path))
        exists, size, wal = file_sizes(db.path)
        local = replica = None
        if exists:
            result = await client.sync(db.path)
            local, replica = result.txid, result.replicated_txid or None
        previous = by_name.get(db.label)
        if replica is None and previous is not None:
            replica = previous.replica_txid
        lag = previous.lag_seconds if previous is not None else None
        if local is not None and replica is not None and replica >= local:
            lag = 0.0
        out.append(
            DbStatus(
                name=db.label,
                path=db.path,
                replica=db.replica.display,
                local_txid=local,
                replica_txid=replica,
                lag_seconds=lag,
                last_sync_at=entry.last_sync_at if entry else None,
                replicating=entry is not None and entry.status == "replicating",
                sync_errors=previous.sync_errors if previous else 0,
                db_exists=exists,
                db_size_bytes=size,
                wal_size_bytes=wal,
            )
        )
    return out


def _daemon_snapshot(config: KhronosConfig) -> list[DbStatus] | None:
    """The running daemon's last status.json, when it is fresh and its process alive."""
    try:
        raw = json.loads(StateDir(config.state_dir).status_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(raw, dict) or raw.get("running") is not True:
        return None
    written, pid, saved = read_status_file(config.state_dir)
    if written is None or not saved or datetime.now(UTC) - written > _FRESH:
        return None
    if not isinstance(pid, int) or not _alive(pid):
        return None
    return saved


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def query_status(
    config: KhronosConfig, *, timeout: float = 60.0
) -> tuple[Source, list[DbStatus]]:
    """Every database's status: from the running daemon if it answers, else from the replica
    (see the module docstring); each with its last restore drill."""
    backup = config.require_backup()
    socket = control_socket_path(config.state_dir)
    statuses: list[DbStatus] | None = None
    source: Source = "daemon"
    if socket.exists():
        async with ControlClient(socket, timeout=5.0) as client:
            try:
                statuses = await _daemon_status(config, client)
            except ControlError:
                statuses = None
    if statuses is None:
        statuses = _daemon_snapshot(config)
    if statuses is None:
        source = "replica"
        statuses = await replica_status(backup, timeout=timeout)
    verify = read_verify_file(config.state_dir)
    return source, [replace(s, last_verify=verify.get(s.name)) for s in statuses]
