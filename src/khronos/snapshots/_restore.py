"""``khronos restore --from snapshot[:DEST]``: a snapshot as the source of the safe restore.

The snapshot is picked (the newest at or before ``--at``; from ``DEST``, else from the only
destination, else the newest across them), fetched into the restore's work folder beside the
database (download, checksum, decrypt, decompress) and handed to the path every restore takes
(:func:`khronos.backup.restore_from`: refuse while in use, safety copy, integrity check, atomic
swap).  The identity that decrypts it is read from ``--identity`` or the destination's
``identity_file``; it is never uploaded, logged or copied.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from khronos.backup import Progress, RestorePlan, RestoreResult, restore_from
from khronos.config import DatabaseConfig, KhronosConfig, SnapshotDestination
from khronos.errors import NoBackupError, SnapshotError
from khronos.snapshots._engine import fetch_snapshot, list_snapshots
from khronos.snapshots._records import SnapshotInfo

__all__ = ["pick_snapshot", "restore_snapshot", "snapshot_destinations"]


def snapshot_destinations(db: DatabaseConfig, name: str | None) -> list[SnapshotDestination]:
    """The destinations ``--from snapshot[:NAME]`` means; SnapshotError naming the choices."""
    if not db.snapshots:
        raise SnapshotError(
            f"the database {db.label} has no snapshot destinations",
            hint="add backup.dbs[].snapshots (see docs/snapshots.md), or restore from the replica",
        )
    if name is None:
        return list(db.snapshots)
    for dest in db.snapshots:
        if dest.label == name:
            return [dest]
    names = ", ".join(dest.label for dest in db.snapshots)
    raise SnapshotError(
        f"the database {db.label} has no snapshot destination named {name!r}",
        hint=f"its destinations: {names}",
    )


def pick_snapshot(
    db: DatabaseConfig, dests: list[SnapshotDestination], at: datetime | None
) -> tuple[SnapshotDestination, SnapshotInfo]:
    """The newest snapshot at or before ``at`` (None: the newest) across ``dests``.

    A destination that cannot be listed is skipped when another has a snapshot; when none has
    one, the listing errors are the error.  NoBackupError when there is no such snapshot.
    """
    best: tuple[SnapshotDestination, SnapshotInfo] | None = None
    failures: list[str] = []
    oldest: datetime | None = None
    for dest in dests:
        try:
            infos = list_snapshots(db, dest, details=False)
        except SnapshotError as exc:
            failures.append(f"{dest.label}: {exc.message}")
            continue
        if infos:
            first = infos[-1].taken_at
            oldest = first if oldest is None else min(oldest, first)
        fitting = [i for i in infos if at is None or i.taken_at <= at]
        if fitting and (best is None or fitting[0].taken_at > best[1].taken_at):
            best = (dest, fitting[0])
    if best is not None:
        return best
    if failures:
        raise SnapshotError(
            "cannot list the snapshots: " + "; ".join(failures),
            hint="check the destination's settings and the network, then retry",
            recoverable=True,
        )
    where = ", ".join(dest.label for dest in dests)
    if at is not None and oldest is not None:
        raise NoBackupError(
            f"no snapshot of {db.label} at or before {at.isoformat()} in {where}",
            hint=f"the oldest is from {oldest.isoformat()}; pick a later --at",
        )
    raise NoBackupError(
        f"no snapshot of {db.label} in {where} yet",
        hint="take one with: khronos snapshot now",
    )


@dataclass(frozen=True, slots=True)
class _SnapshotSource:
    """A restore's source: one snapshot (implements :class:`khronos.backup.RestoreSource`)."""

    db: DatabaseConfig
    dest: SnapshotDestination
    info: SnapshotInfo
    identity: Path
    at: datetime | None

    @property
    def damaged_hint(self) -> str:
        return "the snapshot is damaged: pick an older one with --at"

    def plan(self, work: Path, target: Path, safety: Path | None) -> RestorePlan:
        del work
        return RestorePlan(
            db=self.db.label,
            source=Path(self.db.path),
            target=target,
            replica=f"snapshot {self.dest.label} ({self.dest.display})",
            txid="",
            backup_time=self.info.taken_at,
            oldest_txid="",
            files=1,
            bytes=self.info.size,
            timestamp=self.at,
            safety_copy=safety,
            snapshot=self.info.key,
        )

    def fetch(self, work: Path, restored: Path, notify: Progress) -> None:
        del work
        notify("downloading", self.info.size)
        fetch_snapshot(
            self.db, self.dest, self.info, identity=self.identity, out=restored, integrity="none"
        )


def restore_snapshot(
    config: KhronosConfig,
    db: DatabaseConfig,
    *,
    dest: str | None = None,
    at: datetime | None = None,
    identity: Path | None = None,
    output: Path | str | None = None,
    force: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> RestoreResult:
    """Restore ``db`` (or ``output``) from its newest snapshot at or before ``at`` safely.

    ``identity`` defaults to the chosen destination's ``identity_file``.  Raises SnapshotError
    (no identity, a wrong one, an unreachable destination), NoBackupError, or the restore's
    errors; after any of them the current database is exactly as it was.
    """
    chosen, info = pick_snapshot(db, snapshot_destinations(db, dest), at)
    key = identity or chosen.identity_file
    if key is None:
        raise SnapshotError(
            f"no identity to decrypt the snapshots of {chosen.label}",
            hint="give --identity FILE (the file age-keygen wrote), or set identity_file: on "
            "the destination",
        )
    source = _SnapshotSource(db, chosen, info, Path(key), at)
    return restore_from(
        config, db, source, output=output, force=force, dry_run=dry_run, progress=progress
    )
