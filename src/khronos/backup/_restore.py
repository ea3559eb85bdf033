"""Safe point-in-time restore on ``litestream restore``.

The order of operations, and why a crash at any point leaves a usable database:

1. **Refuse** (:class:`RestoreRefusedError`, exit 3) when another process has the target open
   (``/proc/locks`` and ``/proc/*/fd``, see :mod:`khronos.backup._sqlite`) or Khronos' Litestream
   control socket still replicates it, unless ``force``.
2. **Plan**: ``litestream restore -dry-run -json`` in a private work folder next to the target,
   bounded by ``probe_timeout`` (Litestream retries an unreachable S3 endpoint for about four
   minutes).  No backup, wrong bucket, bad credentials, a point in time with no backup: all are
   reported here, before anything is touched.
3. **Restore** into the work folder (same file system as the target), killed if the output stops
   growing for ``stall_timeout``; then ``PRAGMA integrity_check`` on the copy.  Up to here the
   current database has not been touched.
4. **Swap**, keeping the current database as the **safety copy** without copying its bytes:
   hard-link the current file to ``<db>.pre-restore-<UTC time>`` (the name claimed exclusively:
   ``-2``, ``-3``... when two restores run in the same second, so a safety copy is never
   overwritten), move its ``-wal`` and ``-journal`` beside that name and its ``-shm`` (and
   Litestream's local state folder ``.<db>-litestream``, which describes the old database) into
   the work folder, ``os.replace`` the restored file onto the target, fsync the folder.  The
   current database file itself is never written: if the replace fails, the link is removed and
   the sidecars are moved back, and the database is byte for byte what it was.  Nothing has it
   open (step 1), so the old file and its WAL moved aside together are exactly the database as
   it was.  A crash between the steps leaves the old file with its WAL beside the safety copy's
   name (SQLite applies it when the copy is opened); never the new file next to the old WAL,
   which SQLite would replay onto it.
5. **Seal** the safety copy: the old file, now reachable only by its new name, gets its WAL
   checkpointed into it (``journal_mode=DELETE``: one self-contained file, mode 0600).  A file
   SQLite cannot read stays as it was, sidecars beside it, and the result says ``raw-copy``.

The old way is kept where the fast one cannot be used: when a restore is forced over a database
another process has open (which may still write to the old file), or where the file system has
no hard links, the safety copy is taken with SQLite's backup API before the swap (``backup-api``;
``raw-copy``, file by file, for a database SQLite cannot read).  A restore that fails before the
swap changes nothing, and still leaves a safety copy taken that way.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import sqlite3
import tempfile
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from khronos.backup._control import ControlClient, control_socket_path, parse_time
from khronos.backup._download import PROBE_TIMEOUT, STALL_TIMEOUT, Progress, download, no_progress
from khronos.backup._invocation import CONFIG_NAME, Invocation, blocking
from khronos.backup._restore_args import not_a_file, output_target, parse_timestamp, parse_txid_arg
from khronos.backup._sqlite import (
    SIDECARS,
    IntegrityMode,
    backup_copy,
    db_holders,
    fsync_dir,
    integrity_problems,
    raw_copy,
    remove_sidecars,
    reserve_path,
)
from khronos.config import BackupConfig, DatabaseConfig, KhronosConfig
from khronos.errors import (
    BackupError,
    ControlError,
    NoBackupError,
    RestoreError,
    RestoreRefusedError,
)

__all__ = [
    "Progress",
    "RestorePlan",
    "RestoreResult",
    "output_target",
    "parse_timestamp",
    "parse_txid_arg",
    "restore_database",
]


@dataclass(frozen=True, slots=True)
class RestorePlan:
    """What a restore will do (``--dry-run`` prints it)."""

    db: str
    source: Path
    target: Path
    replica: str
    txid: str
    backup_time: datetime | None
    oldest_txid: str
    files: int
    bytes: int
    timestamp: datetime | None = None
    requested_txid: str | None = None
    safety_copy: Path | None = None


@dataclass(frozen=True, slots=True)
class RestoreResult:
    """What a restore did: the plan, and (unless ``dry_run``) how it went."""

    plan: RestorePlan
    dry_run: bool
    safety_copy: Path | None = None
    safety_copy_method: str | None = None
    """``kept`` (the old file itself, its WAL checkpointed into it), ``backup-api`` (copied with
    SQLite's backup API, WAL included), ``raw-copy`` (the database was unreadable: its files as
    they were), or None."""
    integrity: str | None = None
    size_bytes: int | None = None
    duration_seconds: float = 0.0
    in_use: list[str] = field(default_factory=list)
    """Why the restore would be refused: overridden by ``force``, or reported by ``dry_run``."""

    def to_json(self) -> dict[str, Any]:
        """The ``khronos restore --json`` document."""
        plan = self.plan
        return {
            "db": plan.db,
            "source": str(plan.source),
            "target": str(plan.target),
            "replica": plan.replica,
            "txid": plan.txid,
            "backup_time": plan.backup_time.isoformat() if plan.backup_time else None,
            "timestamp": plan.timestamp.isoformat() if plan.timestamp else None,
            "requested_txid": plan.requested_txid,
            "dry_run": self.dry_run,
            "safety_copy": str(self.safety_copy or plan.safety_copy or "") or None,
            "safety_copy_method": self.safety_copy_method,
            "integrity_check": self.integrity,
            "size_bytes": self.size_bytes,
            "duration_seconds": round(self.duration_seconds, 3),
            "in_use": self.in_use,
        }


_LTX = ("ltx", "-json", "-level", "all")
"""Every LTX file of the replica, at every compaction level."""

# ----------------------------------------------------------------------------- refusal


def _replicating(config: KhronosConfig, db: DatabaseConfig) -> bool:
    """Whether Khronos' Litestream control socket answers and lists this database."""
    sock = control_socket_path(Path(config.state_dir))
    if not sock.exists():
        return False

    async def listed() -> set[str]:
        async with ControlClient(sock, timeout=2.0) as client:
            return {entry.path for entry in await client.list()}

    try:
        return str(db.path) in blocking(listed())
    except (ControlError, ValueError):
        return False


def _check_in_use(config: KhronosConfig, db: DatabaseConfig, target: Path) -> list[str]:
    """Reasons the restore must not run now (empty: go ahead)."""
    reasons = []
    if target == Path(db.path) and _replicating(config, db):
        sock = control_socket_path(Path(config.state_dir))
        reasons.append(f"khronos run is still replicating it (its Litestream answers on {sock})")
    for holder in db_holders(target):
        if holder.is_litestream:
            reasons.append(f"Litestream is replicating it ({holder.describe()})")
        else:
            reasons.append(f"it is open by {holder.describe()}")
    return reasons


# ----------------------------------------------------------------------------- restore


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
    job = _Job(
        config=config,
        backup=backup,
        db=dbc,
        target=output_target(output) if output else Path(dbc.path),
        timestamp=parse_timestamp(timestamp) if timestamp is not None else None,
        txid=parse_txid_arg(txid) if txid is not None else None,
        notify=progress or no_progress,
        integrity=integrity,
        probe_timeout=probe_timeout,
        stall_timeout=stall_timeout,
    )
    job.notify("checking")
    reasons = job.check(other_output=output is not None)
    if reasons and not force and not dry_run:
        raise RestoreRefusedError(
            f"refusing to restore over {job.target}: " + "; ".join(reasons),
            hint="stop the application and khronos run first, or pass --force "
            "(a safety copy is kept)",
        )
    exists = job.target.exists()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    safety = Path(f"{job.target}.pre-restore-{stamp}") if exists and safety_copy else None
    return job.run(safety, dry_run=dry_run, in_use=reasons)


@dataclass(slots=True, kw_only=True)
class _Job:
    """One restore's settings and steps."""

    config: KhronosConfig
    backup: BackupConfig
    db: DatabaseConfig
    target: Path
    timestamp: datetime | None
    txid: str | None
    notify: Progress
    integrity: IntegrityMode
    probe_timeout: float
    stall_timeout: float
    started: float = field(default_factory=time.monotonic)

    @property
    def point(self) -> list[str]:
        if self.timestamp is not None:
            return ["-timestamp", self.timestamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")]
        return ["-txid", self.txid] if self.txid else []

    def check(self, *, other_output: bool) -> list[str]:
        kind = not_a_file(self.target)
        if kind is not None:
            # never replaced, not even with --force: a restore writes a database file, and
            # opening a FIFO for the safety copy would block forever
            raise RestoreRefusedError(
                f"{self.target} is {kind}, not a database file",
                hint="give the path of a regular file (or of one to create) with -o",
            )
        reasons = _check_in_use(self.config, self.db, self.target)
        if other_output and self.target.exists() and self.target != Path(self.db.path):
            reasons.insert(0, f"{self.target} already exists")
        return reasons

    def run(self, safety: Path | None, *, dry_run: bool, in_use: list[str]) -> RestoreResult:
        if dry_run:  # nothing is written next to the target
            work = Path(tempfile.mkdtemp(prefix="khronos-restore-"))
        else:
            self.target.parent.mkdir(parents=True, exist_ok=True)
            work = (
                self.target.parent / f".{self.target.name}.khronos-restore-{secrets.token_hex(4)}"
            )
            work.mkdir(mode=0o700)
        try:
            ls = Invocation.prepare(self.backup, work / CONFIG_NAME, dbs=[self.db])
            self.notify("planning")
            plan = self.plan(ls, safety)
            if dry_run:
                elapsed = time.monotonic() - self.started
                return RestoreResult(plan, True, duration_seconds=elapsed, in_use=in_use)
            method = None
            if safety is not None and in_use:  # forced: a process may still write the old file
                self.notify("safety copy")
                safety, method = _safety_copy(self.target, safety)
                plan = replace(plan, safety_copy=safety)
            try:
                size, kept = self.restore(ls, work, keep=safety if method is None else None)
            except RestoreError as exc:
                if safety is not None and method is None:  # unchanged; a copy all the same
                    safety, method = _late_safety_copy(self.target, safety)
                exc.safety_copy = str(safety) if method else None
                raise
            if kept is not None:
                safety, method = kept
            elif method is None:
                safety = None  # the database was gone by the time of the swap: nothing to keep
            plan = replace(plan, safety_copy=safety)
            self.notify("done")
            return RestoreResult(
                plan,
                False,
                safety_copy=safety,
                safety_copy_method=method,
                integrity="ok" if self.integrity != "none" else "skipped",
                size_bytes=size,
                duration_seconds=time.monotonic() - self.started,
                in_use=in_use,
            )
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def quick(self, ls: Invocation, *args: str) -> Any:
        """A quick Litestream command's JSON output (bounded by ``probe_timeout``)."""
        run = ls.run_json(
            *args, db=self.db, timeout=self.probe_timeout, op="restore", error=RestoreError
        )
        return blocking(run)

    def plan(self, ls: Invocation, safety: Path | None) -> RestorePlan:
        try:
            args = ("-dry-run", "-o", str(self.target), *self.point, "-json")
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
            target=self.target,
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

    def restore(
        self, ls: Invocation, work: Path, *, keep: Path | None
    ) -> tuple[int, tuple[Path, str] | None]:
        """Download, check and swap in, keeping the current database as ``keep`` (a name to
        claim) when given; the restored size, and the safety copy kept (path, method)."""
        restored = work / self.target.name
        self.notify("downloading", 0)
        download(
            ls,
            self.db,
            restored,
            point=self.point,
            progress=self.notify,
            stall_timeout=self.stall_timeout,
        )
        self.notify("integrity check")
        _check_restored(restored, self.integrity)
        size = restored.stat().st_size
        if self.target.exists():
            _keep_mode(self.target, restored)
        else:
            keep = None
        self.notify("swapping")
        kept = _swap(restored, self.target, work, keep)
        if kept is None or kept[1] != "kept":
            return size, kept
        self.notify("safety copy")
        return size, (kept[0], _seal(kept[0]))


def _check_restored(path: Path, mode: IntegrityMode) -> None:
    problems = integrity_problems(path, mode)
    if problems:
        raise RestoreError(
            f"the restored copy fails the integrity check: {'; '.join(problems[:3])}",
            hint="the replica may be damaged: try an earlier --timestamp or --txid",
        )


def _safety_copy(target: Path, wanted: Path) -> tuple[Path, str]:
    """Copy the current database (WAL included) to a fresh file named like ``wanted``.

    Returns the path really used (``wanted``, or ``wanted-2``... when that name is taken) and
    the method.  The name is claimed exclusively first, so an existing copy is never replaced.
    """
    try:
        safety = reserve_path(wanted)
    except OSError as exc:
        raise RestoreError(
            f"cannot create the safety copy {wanted}: {exc}",
            hint="free disk space or fix the folder's permissions, then retry",
        ) from exc
    try:
        backup_copy(target, safety)
        if integrity_problems(safety, "quick"):
            raise sqlite3.DatabaseError("the copy fails quick_check")
    except sqlite3.Error:
        remove_sidecars(safety)  # a half-written copy's journal must not meet the raw copy
        try:
            raw_copy(target, safety)
        except OSError as exc:
            with contextlib.suppress(OSError):
                safety.unlink()
            raise RestoreError(
                f"cannot take a safety copy of {target}: {exc}", hint="free disk space and retry"
            ) from exc
        return safety, "raw-copy"
    return safety, "backup-api"


def _late_safety_copy(target: Path, wanted: Path) -> tuple[Path | None, str | None]:
    """After a failed restore (nothing changed): a safety copy the old way, if it can be had."""
    try:
        return _safety_copy(target, wanted)
    except RestoreError:
        return None, None  # the restore's own error is the one to report


def _link_aside(target: Path, wanted: Path) -> Path:
    """Hard-link ``target`` to ``wanted`` (or ``wanted-2``... when taken); the name used."""
    for n in range(1, 1001):
        candidate = wanted if n == 1 else wanted.with_name(f"{wanted.name}-{n}")
        try:
            os.link(target, candidate)
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"{wanted} and 999 numbered variants already exist")


def _seal(copy: Path) -> str:
    """The kept old database as one self-contained file: WAL (or hot journal) applied, mode
    0600; ``raw-copy`` when SQLite cannot read it (its files stay as they were)."""
    copy.chmod(0o600)
    try:
        with contextlib.closing(sqlite3.connect(copy, isolation_level=None)) as conn:
            conn.execute("PRAGMA journal_mode=DELETE")  # checkpoints and removes the WAL
    except sqlite3.Error:
        return "raw-copy"
    return "kept"


def _keep_mode(old: Path, new: Path) -> None:
    st = old.stat()
    new.chmod(st.st_mode & 0o7777)
    with contextlib.suppress(OSError):
        os.chown(new, st.st_uid, st.st_gid)


def _swap(restored: Path, target: Path, work: Path, keep: Path | None) -> tuple[Path, str] | None:
    """Put ``restored`` in place of ``target`` (see the module docstring for the order),
    keeping the current database under the name ``keep`` when given: (its path, ``kept``), or
    a ``backup-api``/``raw-copy`` copy where the file system has no hard links.

    The current database file is not opened or written: it is linked, its sidecars are moved
    aside (and all is undone if the replace fails), so a failed swap leaves it byte for byte as
    it was.
    """
    moved: list[tuple[Path, Path]] = []
    kept: tuple[Path, str] | None = None
    try:
        if keep is not None:
            try:
                kept = (_link_aside(target, keep), "kept")
            except OSError as exc:
                if isinstance(exc, FileExistsError):
                    raise
                kept = _safety_copy(target, keep)  # no hard links here: copy it
        # the old WAL and hot journal belong with the kept file; the -shm index is rebuilt
        beside = kept[0] if kept is not None and kept[1] == "kept" else None
        # Litestream's local state describes the old database: without it, Litestream sees a
        # database behind its replica and starts over with a fresh snapshot (its issue #781).
        meta = target.parent / f".{target.name}-litestream"
        pairs = [
            (
                Path(f"{target}{suffix}"),
                Path(f"{beside}{suffix}")
                if beside is not None and suffix != "-shm"
                else work / f"old{suffix}",
            )
            for suffix in SIDECARS
        ]
        for sidecar, aside in [*pairs, (meta, work / "old-litestream")]:
            if sidecar.exists():
                sidecar.replace(aside)
                moved.append((aside, sidecar))
        restored.replace(target)
    except OSError as exc:
        for aside, sidecar in reversed(moved):
            with contextlib.suppress(OSError):
                aside.replace(sidecar)
        if kept is not None:
            with contextlib.suppress(OSError):
                kept[0].unlink()
        raise RestoreError(
            f"cannot move the restored database into place: {exc}",
            hint=f"{target} is unchanged; fix the cause and retry",
        ) from exc
    fsync_dir(target.parent)
    return kept
