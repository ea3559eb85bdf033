"""Taking, listing and fetching snapshots.

**Taking one** (:func:`take_snapshot`, blocking; the daemon runs it in a thread): refuse when
``tmp_dir`` has less free space than the database; then, in a low-priority thread of its own
(:mod:`._copy`): the online copy, ``PRAGMA integrity_check`` of the copy, compression and
encryption in one streaming pass (:mod:`._codec`), the upload (atomic in both stores: S3 shows an
object only once complete, a folder gets it by rename), the read-back (size and SHA-256 of what
the destination returns must equal what was uploaded; a mismatching object is deleted), the
manifest, and only then the pruning (grandfather-father-son; never the snapshot just made, and
nothing when the listing fails).

**Names.**  ``<path>/<db>/<UTC time>.sqlite3.zst.age`` (``2026-12-05T061500.123Z``: sortable as
text, unique to the millisecond), and beside it its manifest ``<same>.json``, written after the
read-back succeeded: ``{"format": 1, "db", "taken_at", "size", "sha256", "db_bytes",
"encryption", "verified_at"}``.  A snapshot without a manifest was uploaded but never verified
(the process stopped in between); it is listed with ``verified: false`` and can still be
restored (age's authentication and SQLite's integrity check still guard it).  On S3 the SHA-256
and database size are also in the object's metadata (``x-amz-meta-sha256``,
``x-amz-meta-db-bytes``) for people checking by hand.  The manifest is a file beside the object
rather than only metadata so that a folder destination works the same way and a listing knows
which snapshots were verified.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import sqlite3
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import structlog

from khronos.backup import integrity_problems
from khronos.config import DatabaseConfig, SnapshotDestination
from khronos.errors import SnapshotError
from khronos.snapshots._codec import file_digest, open_sealed, read_identities, seal
from khronos.snapshots._copy import check_room, low_priority, online_copy
from khronos.snapshots._gfs import gfs_keep
from khronos.snapshots._records import SnapshotInfo, SnapshotReport
from khronos.snapshots._s3 import os_error
from khronos.snapshots._store import Entry, Store, open_store

__all__ = [
    "SUFFIX",
    "fetch_snapshot",
    "list_snapshots",
    "newest_snapshot",
    "snapshot_key",
    "take_snapshot",
]

_log = structlog.get_logger("khronos.snapshots")
_READERS = 4
"""Manifests read at once by a detailed listing."""
_ONE_AT_A_TIME = threading.Lock()
"""Snapshots of this process run one after the other (each holds a read transaction and I/O)."""
SUFFIX = ".sqlite3.zst.age"
_MANIFEST = ".json"
_NAME = re.compile(r"(\d{4}-\d\d-\d\dT\d{6})(?:\.(\d{3}))?Z" + re.escape(SUFFIX))


def snapshot_key(db: DatabaseConfig, taken_at: datetime) -> str:
    """The key of the snapshot of ``db`` taken at ``taken_at`` (relative to the dest's path)."""
    moment = taken_at.astimezone(UTC)
    stamp = f"{moment:%Y-%m-%dT%H%M%S}.{moment.microsecond // 1000:03d}Z"
    return f"{db.label}/{stamp}{SUFFIX}"


def _time_of(key: str) -> datetime | None:
    match = _NAME.fullmatch(key.rsplit("/", 1)[-1])
    if match is None:
        return None
    moment = datetime.strptime(match[1], "%Y-%m-%dT%H%M%S").replace(tzinfo=UTC)
    return moment.replace(microsecond=int(match[2] or 0) * 1000)


@dataclass(slots=True)
class _Listing:
    """The snapshots of one database in one store, from one listing (no manifests read)."""

    snapshots: dict[str, tuple[datetime, int]] = field(default_factory=dict)
    manifests: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, entries: list[Entry]) -> _Listing:
        listing = cls()
        for entry in entries:
            if entry.key.endswith(SUFFIX + _MANIFEST):
                listing.manifests.add(entry.key.removesuffix(_MANIFEST))
                continue
            moment = _time_of(entry.key)
            if moment is not None:
                listing.snapshots[entry.key] = (moment, entry.size)
        return listing


def _with_manifest(store: Store, info: SnapshotInfo) -> SnapshotInfo:
    """``info`` with what its manifest says; when a manifest exists (``info.verified``) but
    cannot be read, ``verified`` is None (not known)."""
    unknown = replace(info, verified=None) if info.verified else info
    try:
        data = json.loads(store.get_bytes(info.key + _MANIFEST))
    except (SnapshotError, ValueError):
        return unknown
    if not isinstance(data, dict):
        return unknown
    sha = data.get("sha256")
    db_size = data.get("db_bytes")
    return SnapshotInfo(
        info.db,
        info.dest,
        info.key,
        info.taken_at,
        info.size,
        sha256=sha if isinstance(sha, str) else None,
        db_bytes=db_size if isinstance(db_size, int) else None,
        verified=bool(data.get("verified_at")) and data.get("size") == info.size,
    )


def list_snapshots(
    db: DatabaseConfig, dest: SnapshotDestination, *, details: bool = True
) -> list[SnapshotInfo]:
    """The snapshots of ``db`` at ``dest``, newest first; SnapshotError when the listing fails.

    ``details`` reads each manifest (SHA-256, database size, verified); without it only the
    listing is read (``verified`` is then whether a manifest exists).
    """
    store = open_store(dest)
    listing = _Listing.of(store.entries(db.label))
    infos = [
        SnapshotInfo(db.label, dest.label, key, moment, size, verified=key in listing.manifests)
        for key, (moment, size) in sorted(
            listing.snapshots.items(), key=lambda item: item[1][0], reverse=True
        )
    ]
    if details:  # the manifests are small: read them a few at a time
        with ThreadPoolExecutor(_READERS, thread_name_prefix="khronos-manifest") as pool:
            infos = list(pool.map(lambda i: _with_manifest(store, i) if i.verified else i, infos))
    return infos


def newest_snapshot(db: DatabaseConfig, dest: SnapshotDestination) -> SnapshotInfo | None:
    """The newest snapshot of ``db`` at ``dest`` with its manifest read, or None."""
    infos = list_snapshots(db, dest, details=False)
    if not infos:
        return None
    return _with_manifest(open_store(dest), infos[0])


# ----------------------------------------------------------------------------- take


def take_snapshot(
    db: DatabaseConfig,
    dest: SnapshotDestination,
    *,
    tmp_dir: Path,
    now: datetime | None = None,
) -> SnapshotReport:
    """Take one snapshot of ``db`` to ``dest`` (see the module docstring); SnapshotError when
    any step fails (nothing is pruned then).  ``now`` fixes the snapshot's time (tests).  One
    at a time per process: a second call waits for the first."""
    started = time.monotonic()
    check_room(Path(db.path), tmp_dir)
    job = _Take(db, dest, tmp_dir, now)
    with _ONE_AT_A_TIME:
        report = low_priority(job.run)
    info = report.info
    duration = time.monotonic() - started
    _log.info(
        "snapshot taken",
        db=info.db,
        dest=info.dest,
        key=info.key,
        size=info.size,
        db_bytes=info.db_bytes,
        seconds=round(duration, 3),
        pruned=len(report.pruned),
    )
    if report.prune_error:
        _log.warning("snapshots not pruned", db=info.db, dest=info.dest, error=report.prune_error)
    return SnapshotReport(info, duration, report.steps, report.pruned, report.prune_error)


@dataclass(slots=True)
class _Take:
    db: DatabaseConfig
    dest: SnapshotDestination
    tmp_dir: Path
    now: datetime | None
    steps: dict[str, float] = field(default_factory=dict)

    def _step(self, name: str, started: float) -> float:
        now = time.perf_counter()
        self.steps[name] = self.steps.get(name, 0.0) + now - started
        return now

    def run(self) -> SnapshotReport:
        try:
            work = Path(tempfile.mkdtemp(prefix="khronos-snapshot-", dir=self.tmp_dir))
        except OSError as exc:
            raise os_error(exc, "snapshot", self.tmp_dir) from None
        try:
            return self._run(work)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _run(self, work: Path) -> SnapshotReport:
        source = Path(self.db.path)
        copy = work / f"{self.db.label}.sqlite3"
        clock = time.perf_counter()
        taken = (self.now or datetime.now(UTC)).astimezone(UTC)
        taken = taken.replace(microsecond=taken.microsecond // 1000 * 1000)  # as its name says
        try:
            online_copy(source, copy)
        except sqlite3.Error as exc:
            if "disk is full" in str(exc):
                raise SnapshotError(
                    f"copy: disk full at {work}",
                    hint="free space there, then retry",
                    recoverable=True,
                ) from None
            raise SnapshotError(
                f"cannot copy the database {source}: {exc}",
                hint="is it a readable SQLite database? (the disk may be full: see the cause)",
                recoverable=True,
            ) from None
        except OSError as exc:
            raise os_error(exc, "copy", work) from None
        clock = self._step("copy", clock)
        problems = integrity_problems(copy, "full")
        if problems:
            raise SnapshotError(
                f"the copy of {source} fails the integrity check: {'; '.join(problems[:3])}",
                hint="the database itself may be damaged: run khronos verify, and restore",
            )
        clock = self._step("check", clock)
        db_size = copy.stat().st_size
        key = snapshot_key(self.db, taken)
        try:
            sealed = seal(copy, work / key.rsplit("/", 1)[-1], self.dest.encryption)
        except OSError as exc:
            raise os_error(exc, "compress", work) from None
        copy.unlink()
        self.steps["compress"] = sealed.compress
        self.steps["encrypt"] = sealed.encrypt
        clock = time.perf_counter()
        store = open_store(self.dest)
        metadata = {"sha256": sealed.sha256, "db-bytes": str(db_size)}
        store.put_file(sealed.path, key, metadata)
        clock = self._step("upload", clock)
        self._verify(store, key, sealed.size, sealed.sha256)
        manifest = {
            "format": 1,
            "db": self.db.label,
            "taken_at": taken.isoformat(),
            "size": sealed.size,
            "sha256": sealed.sha256,
            "db_bytes": db_size,
            "encryption": "passphrase" if self.dest.encryption.passphrase_file else "recipients",
            "verified_at": datetime.now(UTC).isoformat(),
        }
        store.put_bytes(key + _MANIFEST, json.dumps(manifest, indent=1).encode())
        clock = self._step("verify", clock)
        info = SnapshotInfo(
            self.db.label,
            self.dest.label,
            key,
            taken,
            sealed.size,
            sha256=sealed.sha256,
            db_bytes=db_size,
            verified=True,
        )
        pruned: tuple[str, ...] = ()
        prune_error = None
        try:
            pruned = self._prune(store, key, taken)
        except SnapshotError as exc:
            prune_error = str(exc)
        self._step("prune", clock)
        return SnapshotReport(info, 0.0, dict(self.steps), pruned, prune_error)

    def _verify(self, store: Store, key: str, size: int, sha256: str) -> None:
        got_size, got_sha = store.digest(key)
        if (got_size, got_sha) == (size, sha256):
            return
        with contextlib.suppress(SnapshotError):  # the check's failure is the one to report
            store.delete([key])
        raise SnapshotError(
            f"verify: {self.dest.display} returned {got_size} bytes with another SHA-256 than "
            f"the {size} bytes uploaded; the object was deleted",
            hint="the store damaged the upload: the next snapshot retries",
            recoverable=True,
        )

    def _prune(self, store: Store, newest: str, now: datetime) -> tuple[str, ...]:
        """Delete what retention does not keep; never ``newest``.  Raises SnapshotError when
        the listing fails (then nothing is deleted)."""
        listing = _Listing.of(store.entries(self.db.label))
        times = {key: moment for key, (moment, _size) in listing.snapshots.items()}
        keep = gfs_keep(times.values(), self.dest.retention, now=now)
        doomed = sorted(k for k, moment in times.items() if moment not in keep and k != newest)
        orphans = sorted(k for k in listing.manifests if k not in listing.snapshots)
        if not doomed and not orphans:
            return ()
        store.delete(
            [k for key in doomed for k in (key, key + _MANIFEST)]
            + [key + _MANIFEST for key in orphans]
        )
        return tuple(doomed)


# ----------------------------------------------------------------------------- fetch


def fetch_snapshot(
    db: DatabaseConfig,
    dest: SnapshotDestination,
    info: SnapshotInfo,
    *,
    identity: Path,
    out: Path,
    integrity: Literal["quick", "full", "none"] = "quick",
) -> Path:
    """Download ``info``, check its size and SHA-256, decrypt it with ``identity`` (age
    identities, or the passphrase file for a destination encrypted with a passphrase),
    decompress it and check it with SQLite into ``out`` (replaced); ``out``.

    Raises SnapshotError (a wrong identity, a damaged or missing object, an unreachable
    destination); then nothing is left behind and ``out`` is untouched.  Runs at low priority,
    like taking one (the scheduled drill must not slow the app down).
    """
    del db  # the key names the database; kept for symmetry with take/list
    read_identities(identity, dest.encryption)  # a wrong file fails before any download
    store = open_store(dest)
    if info.sha256 is None:
        info = _with_manifest(store, info)
    out = out.absolute()
    low_priority(lambda: _fetch(store, dest, info, identity=identity, out=out, integrity=integrity))
    return out


def _fetch(
    store: Store,
    dest: SnapshotDestination,
    info: SnapshotInfo,
    *,
    identity: Path,
    out: Path,
    integrity: Literal["quick", "full", "none"],
) -> None:
    """:func:`fetch_snapshot`'s work (in a low-priority thread of its own)."""
    try:
        work = Path(tempfile.mkdtemp(prefix=f".{out.name}.fetch-", dir=out.parent))
    except OSError as exc:
        raise os_error(exc, "fetch", out.parent) from None
    try:
        stored = work / "snapshot.age"
        store.get_file(info.key, stored)
        size, sha = file_digest(stored)
        if size != info.size or (info.sha256 is not None and sha != info.sha256):
            raise SnapshotError(
                f"the snapshot {info.key} downloaded from {dest.display} does not match its "
                "checksum (size or SHA-256)",
                hint="it was damaged in storage or on the way: retry, or pick an older one",
                recoverable=True,
            )
        plain = work / "snapshot.sqlite3"
        try:
            open_sealed(stored, plain, identity, dest.encryption)
        except OSError as exc:
            raise os_error(exc, "fetch", work) from None
        stored.unlink()
        problems = integrity_problems(plain, integrity)
        if problems:
            raise SnapshotError(
                f"the snapshot {info.key} fails the integrity check: {'; '.join(problems[:3])}",
                hint="pick an older snapshot (--at)",
            )
        plain.replace(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
