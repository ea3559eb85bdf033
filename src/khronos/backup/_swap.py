"""The safe restore path every restore shares, whatever the source (Litestream's replica, a
snapshot): refuse while in use, fetch beside the target, check, swap atomically, keep the old
database as the safety copy.

The order of operations, and why a crash at any point leaves a usable database:

1. **Refuse** (:class:`RestoreRefusedError`, exit 3) when another process has the target open
   (``/proc/locks`` and ``/proc/*/fd``, see :mod:`khronos.backup._sqlite`) or Khronos' Litestream
   control socket still replicates it, unless ``force``.
2. **Plan** (the source's :meth:`RestoreSource.plan`): what will be restored; a missing backup,
   a wrong bucket, bad credentials are reported here, before anything is touched.
3. **Fetch** (:meth:`RestoreSource.fetch`) into a private work folder next to the target (same
   file system); then ``PRAGMA integrity_check`` on the copy.  Up to here the current database
   has not been touched.
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
from typing import Any, Protocol

from khronos.backup._control import ControlClient, control_socket_path
from khronos.backup._download import Progress, no_progress
from khronos.backup._invocation import blocking
from khronos.backup._restore_args import not_a_file, output_target
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
from khronos.config import DatabaseConfig, KhronosConfig
from khronos.errors import ControlError, RestoreError, RestoreRefusedError

__all__ = ["RestorePlan", "RestoreResult", "RestoreSource", "check_in_use", "restore_from"]


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
    snapshot: str | None = None
    """The snapshot restored (its key), for a restore from a snapshot; None from the replica."""


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
            "snapshot": plan.snapshot,
            "dry_run": self.dry_run,
            "safety_copy": str(self.safety_copy or plan.safety_copy or "") or None,
            "safety_copy_method": self.safety_copy_method,
            "integrity_check": self.integrity,
            "size_bytes": self.size_bytes,
            "duration_seconds": round(self.duration_seconds, 3),
            "in_use": self.in_use,
        }


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


def check_in_use(config: KhronosConfig, db: DatabaseConfig, target: Path) -> list[str]:
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


class RestoreSource(Protocol):
    """Where a restore's database comes from: Litestream's replica, or a snapshot."""

    @property
    def damaged_hint(self) -> str:
        """The hint when the fetched copy fails the integrity check."""
        ...

    def plan(self, work: Path, target: Path, safety: Path | None) -> RestorePlan:
        """What the restore will do (``--dry-run`` prints it), with ``work`` as scratch space;
        raises before anything is changed when there is nothing to restore."""
        ...

    def fetch(self, work: Path, restored: Path, notify: Progress) -> None:
        """Write the database to restore at ``restored`` (in ``work``, beside the target)."""
        ...


# ----------------------------------------------------------------------------- the path


def restore_from(
    config: KhronosConfig,
    db: DatabaseConfig,
    source: RestoreSource,
    *,
    output: Path | str | None = None,
    force: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
    integrity: IntegrityMode = "full",
    safety_copy: bool = True,
) -> RestoreResult:
    """Restore ``db`` (or ``output``) from ``source`` safely (see the module docstring).

    Raises :class:`RestoreRefusedError` when the database is in use (unless ``force``), or the
    source's errors; after any of them the current database is exactly as it was.
    """
    run = _Run(
        config=config,
        db=db,
        source=source,
        target=output_target(output) if output else Path(db.path),
        notify=progress or no_progress,
        integrity=integrity,
    )
    run.notify("checking")
    reasons = run.check(other_output=output is not None)
    if reasons and not force and not dry_run:
        raise RestoreRefusedError(
            f"refusing to restore over {run.target}: " + "; ".join(reasons),
            hint="stop the application and khronos run first, or pass --force "
            "(a safety copy is kept)",
        )
    exists = run.target.exists()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    safety = Path(f"{run.target}.pre-restore-{stamp}") if exists and safety_copy else None
    return run.run(safety, dry_run=dry_run, in_use=reasons)


@dataclass(slots=True, kw_only=True)
class _Run:
    """One restore's settings and steps."""

    config: KhronosConfig
    db: DatabaseConfig
    source: RestoreSource
    target: Path
    notify: Progress
    integrity: IntegrityMode
    started: float = field(default_factory=time.monotonic)

    def check(self, *, other_output: bool) -> list[str]:
        kind = not_a_file(self.target)
        if kind is not None:
            # never replaced, not even with --force: a restore writes a database file, and
            # opening a FIFO for the safety copy would block forever
            raise RestoreRefusedError(
                f"{self.target} is {kind}, not a database file",
                hint="give the path of a regular file (or of one to create) with -o",
            )
        reasons = check_in_use(self.config, self.db, self.target)
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
            self.notify("planning")
            plan = self.source.plan(work, self.target, safety)
            if dry_run:
                elapsed = time.monotonic() - self.started
                return RestoreResult(plan, True, duration_seconds=elapsed, in_use=in_use)
            method = None
            if safety is not None and in_use:  # forced: a process may still write the old file
                self.notify("safety copy")
                safety, method = _safety_copy(self.target, safety)
                plan = replace(plan, safety_copy=safety)
            try:
                size, kept = self.restore(work, keep=safety if method is None else None)
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

    def restore(self, work: Path, *, keep: Path | None) -> tuple[int, tuple[Path, str] | None]:
        """Fetch, check and swap in, keeping the current database as ``keep`` (a name to
        claim) when given; the restored size, and the safety copy kept (path, method)."""
        restored = work / self.target.name
        self.notify("downloading", 0)
        self.source.fetch(work, restored, self.notify)
        self.notify("integrity check")
        _check_restored(restored, self.integrity, self.source.damaged_hint)
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


# ----------------------------------------------------------------------------- steps


def _check_restored(path: Path, mode: IntegrityMode, hint: str) -> None:
    problems = integrity_problems(path, mode)
    if problems:
        raise RestoreError(
            f"the restored copy fails the integrity check: {'; '.join(problems[:3])}", hint=hint
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
