"""Point-in-time restore from Litestream's replica, on ``litestream restore``.

The safety steps (refuse while in use, safety copy, integrity check, atomic swap) are shared
with the restore from a snapshot and live in :mod:`khronos.backup._swap`; this module is the
Litestream source of that path:

- **Plan**: ``litestream restore -dry-run -json`` in the private work folder next to the
  target, bounded by ``probe_timeout`` (Litestream retries an unreachable S3 endpoint for about
  four minutes).  No backup, wrong bucket, bad credentials, a point in time with no backup: all
  are reported here, before anything is touched.
- **Fetch**: ``litestream restore`` into the work folder, killed if the output stops growing
  for ``stall_timeout`` (:mod:`khronos.backup._download`).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from khronos.backup._control import parse_time
from khronos.backup._download import PROBE_TIMEOUT, STALL_TIMEOUT, Progress, download
from khronos.backup._invocation import CONFIG_NAME, Invocation, blocking
from khronos.backup._restore_args import output_target, parse_timestamp, parse_txid_arg
from khronos.backup._sqlite import IntegrityMode
from khronos.backup._swap import RestorePlan, RestoreResult, restore_from
from khronos.config import BackupConfig, DatabaseConfig, KhronosConfig
from khronos.errors import BackupError, NoBackupError, RestoreError

__all__ = [
    "Progress",
    "RestorePlan",
    "RestoreResult",
    "output_target",
    "parse_timestamp",
    "parse_txid_arg",
    "restore_database",
]


_LTX = ("ltx", "-json", "-level", "all")
"""Every LTX file of the replica, at every compaction level."""


def restore_database(
    config: KhronosConfig,
    db: DatabaseConfig | str | Path | None = None,
    *,
    output: Path | str | None = None,
    timestamp: str | datetime | None = None,
    txid: str | int | None = None,
    force: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
    integrity: IntegrityMode = "full",
    safety_copy: bool = True,
    probe_timeout: float = PROBE_TIMEOUT,
    stall_timeout: float = STALL_TIMEOUT,
) -> RestoreResult:
    """Restore ``db`` from its replica (latest, or at ``timestamp``/``txid``) safely.

    Raises :class:`RestoreRefusedError` when the database is in use (unless ``force``),
    :class:`NoBackupError`, :class:`ReplicaAccessError` or :class:`RestoreError`; after any of
    them the current database is exactly as it was.  ``integrity="none"`` and
    ``safety_copy=False`` skip those steps (for measurements; the CLI always does both).
    """
    backup = config.require_backup()
    dbc = db if isinstance(db, DatabaseConfig) else backup.select(db)
    if timestamp is not None and txid is not None:
        raise ValueError("give either a timestamp or a txid, not both")
    source = _Litestream(
        backup=backup,
        db=dbc,
        timestamp=parse_timestamp(timestamp) if timestamp is not None else None,
        txid=parse_txid_arg(txid) if txid is not None else None,
        probe_timeout=probe_timeout,
        stall_timeout=stall_timeout,
    )
    return restore_from(
        config,
        dbc,
        source,
        output=output,
        force=force,
        dry_run=dry_run,
        progress=progress,
        integrity=integrity,
        safety_copy=safety_copy,
    )


@dataclass(slots=True, kw_only=True)
class _Litestream:
    """The restore's source: Litestream's replica (latest, or a point in time)."""

    backup: BackupConfig
    db: DatabaseConfig
    timestamp: datetime | None
    txid: str | None
    probe_timeout: float
    stall_timeout: float
    ls: Invocation | None = None

    @property
    def damaged_hint(self) -> str:
        return "the replica may be damaged: try an earlier --timestamp or --txid"

    @property
    def point(self) -> list[str]:
        if self.timestamp is not None:
            return ["-timestamp", self.timestamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")]
        return ["-txid", self.txid] if self.txid else []

    def quick(self, ls: Invocation, *args: str) -> Any:
        """A quick Litestream command's JSON output (bounded by ``probe_timeout``)."""
        run = ls.run_json(
            *args, db=self.db, timeout=self.probe_timeout, op="restore", error=RestoreError
        )
        return blocking(run)

    def plan(self, work: Path, target: Path, safety: Path | None) -> RestorePlan:
        ls = self.ls = Invocation.prepare(self.backup, work / CONFIG_NAME, dbs=[self.db])
        try:
            args = ("-dry-run", "-o", str(target), *self.point, "-json")
            plan = self.quick(ls, "restore", *args) or {}
        except NoBackupError as exc:
            clearer = self._no_backup_at(ls)
            if clearer is None:
                raise
            raise clearer from exc
        files = plan.get("files") or []
        times = [parse_time(f.get("timestamp")) for f in files]
        return RestorePlan(
            db=self.db.label,
            source=Path(self.db.path),
            target=target,
            replica=self.db.replica.display,
            txid=str(plan.get("max_txid", "")),
            backup_time=max((t for t in times if t is not None), default=None),
            oldest_txid=str(plan.get("min_txid", "")),
            files=len(files),
            bytes=sum(int(f.get("size", 0)) for f in files),
            timestamp=self.timestamp,
            requested_txid=self.txid,
            safety_copy=safety,
        )

    def _no_backup_at(self, ls: Invocation) -> NoBackupError | None:
        """A clearer error when a point in time was asked for and the replica has backups."""
        if self.timestamp is None and self.txid is None:
            return None
        oldest = None
        with contextlib.suppress(BackupError, ValueError, TypeError, AttributeError):
            times = [parse_time(f.get("timestamp")) for f in self.quick(ls, *_LTX) or []]
            oldest = min((t for t in times if t is not None), default=None)
        if oldest is None:
            return None
        if self.timestamp is not None:
            what = f"at or before {self.timestamp.isoformat()}"
            hint = f"the oldest backup is from {oldest.isoformat()}; pick a later --timestamp"
        else:
            what = f"up to txid {self.txid}"
            hint = "pick a txid the replica has (litestream ltx lists them)"
        return NoBackupError(
            f"the replica {self.db.replica.display} has no backup {what}",
            hint=f"{hint} (history is kept for backup.snapshot.retention)",
        )

    def fetch(self, work: Path, restored: Path, notify: Progress) -> None:
        del work  # the Invocation prepared by plan() lives there
        if self.ls is None:
            raise RuntimeError("fetch() before plan()")
        download(
            self.ls,
            self.db,
            restored,
            point=self.point,
            progress=notify,
            stall_timeout=self.stall_timeout,
        )
