"""Backup status and a one-off sync without a running daemon, straight from Litestream's files.

- The **replica** txid comes from ``litestream ltx -json -level all`` (the highest ``max_txid``
  over every compaction level) with a temporary rendered config (mode 0600, in a private temp
  folder, removed afterwards); its newest file's timestamp is the last sync time.
- The **local** txid is the highest txid among the LTX files Litestream keeps next to the
  database (``.<name>-litestream/ltx/<level>/<min>-<max>.ltx``): Litestream's own position,
  which does not include commits made while no Litestream was running.
- The **lag** is the age of the oldest local LTX file beyond the replica's txid (0 when the
  replica has everything).
- ``backup now`` without a daemon runs ``litestream replicate -once`` (0.5.17 has it: one sync
  of every database and its replica, then exit) and then checks the replica.

Litestream's errors are translated by :func:`~._restore_run.explain_litestream_error` (a wrong
bucket, rejected credentials, an unreachable endpoint: the same words as ``restore`` and
``verify``) and quoted only after :func:`~._restore_run.scrub` (the configured secrets are
registered with the redactor first); ``AWS_CA_BUNDLE`` is dropped from its environment, as
everywhere else.
"""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from khronos.backup._control import parse_time
from khronos.backup._litestream import find_litestream, litestream_env, render_config
from khronos.backup._restore_run import (
    explain_litestream_error,
    litestream_error_text,
    log_dropped_env,
    register_secrets,
    scrub,
)
from khronos.backup._status import DbStatus, file_sizes
from khronos.config._backup import BackupConfig, DatabaseConfig
from khronos.errors import KhronosError

__all__ = [
    "LocalPosition",
    "ReplicaPosition",
    "force_snapshot",
    "local_position",
    "offline_status",
    "replica_position",
    "replicate_once",
]

_LTX_NAME = re.compile(r"([0-9a-f]{16})-([0-9a-f]{16})\.ltx")


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


async def _run(
    argv: list[str], env: Mapping[str, str], timeout: float, op: str
) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=dict(env),
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise KhronosError(
            f"litestream {' '.join(argv[1:3])} took longer than {timeout:g}s",
            op=op,
            hint="the replica may be unreachable",
            recoverable=True,
        ) from None
    return int(proc.returncode or 0), out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


class _TempConfig:
    """A rendered Litestream config in a private temp folder (0700 dir, 0600 file)."""

    def __init__(self, backup: BackupConfig, dbs: list[DatabaseConfig]) -> None:
        register_secrets(backup)
        # everything that may raise (an unset secret, no binary) before the folder exists
        rendered = render_config(backup, dbs=dbs)
        self.binary = str(find_litestream(backup.litestream))
        self.env, self.dropped = litestream_env()
        log_dropped_env(self.dropped, dbs=[db.label for db in dbs])
        self.env.update(rendered.env)
        self._dir = tempfile.TemporaryDirectory(prefix="khronos-ls-")
        self.path = Path(self._dir.name) / "litestream.yml"
        try:
            rendered.write(self.path)
        except OSError:
            self._dir.cleanup()
            raise

    def __enter__(self) -> _TempConfig:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._dir.cleanup()


async def replica_position(
    backup: BackupConfig, db: DatabaseConfig, *, timeout: float = 60.0, op: str = "status"
) -> ReplicaPosition:
    """Read the replica's newest txid with ``litestream ltx -json -level all``."""
    with _TempConfig(backup, [db]) as conf:
        argv = [conf.binary, "ltx", "-json", "-level", "all", "-config", str(conf.path)]
        rc, out, err = await _run([*argv, str(db.path)], conf.env, timeout, op)
    if rc != 0:
        raise explain_litestream_error(err, db, op=op) or KhronosError(
            f"cannot read the replica of {db.label}: "
            f"{litestream_error_text(err) or f'exit code {rc}'}",
            op=op,
            hint="check the replica's URL, credentials and network",
            recoverable=True,
        )
    try:
        entries = json.loads(out or "[]")
    except ValueError as exc:
        raise KhronosError(
            f"litestream ltx printed no JSON: {scrub(out[:200])!r}", op="status"
        ) from exc
    best: int | None = None
    newest: datetime | None = None
    for entry in entries or []:
        txid = int(entry["max_txid"], 16)
        best = txid if best is None else max(best, txid)
        when = parse_time(entry.get("timestamp"))
        if when is not None and (newest is None or when > newest):
            newest = when
    return ReplicaPosition(best, newest)


async def offline_status(backup: BackupConfig, *, timeout: float = 60.0) -> list[DbStatus]:
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


def _named_in(output: str, dbs: list[DatabaseConfig]) -> DatabaseConfig:
    """The database an error of a run over several is about (its path or bucket), else the first."""
    for db in dbs:
        if str(db.path) in output or (db.replica.bucket and f"{db.replica.bucket}" in output):
            return db
    return dbs[0]


async def replicate_once(
    backup: BackupConfig, dbs: list[DatabaseConfig], *, timeout: float = 60.0
) -> list[tuple[DatabaseConfig, int | None, int | None]]:
    """``litestream replicate -once`` for ``dbs``; (db, local txid, replica txid) after it."""
    started = datetime.now(UTC)
    with _TempConfig(backup, dbs) as conf:
        argv = [conf.binary, "replicate", "-once", "-config", str(conf.path)]
        rc, _out, err = await _run(argv, conf.env, timeout, "backup now")
    if rc != 0:
        raise explain_litestream_error(err, _named_in(err, dbs), op="backup now") or KhronosError(
            f"litestream replicate -once failed: {litestream_error_text(err) or f'exit code {rc}'}",
            op="backup now",
            hint="check the replica's URL, credentials and network",
            recoverable=True,
        )
    left = max(5.0, timeout - (datetime.now(UTC) - started).total_seconds())
    results = []
    for db in dbs:
        replica = await replica_position(backup, db, timeout=left, op="backup now")
        results.append((db, local_position(db.path).txid, replica.txid))
    return results


async def force_snapshot(
    backup: BackupConfig, dbs: list[DatabaseConfig], *, timeout: float = 600.0
) -> None:
    """``litestream replicate -once -force-snapshot`` for ``dbs``: ship what the WAL holds and
    write a full snapshot of each database to its replica.

    Run it while no ``litestream replicate`` has these databases open (before the daemon's
    starts, or after ``POST /stop`` on its control socket).  Raises :class:`KhronosError` (with
    Litestream's last error line, secrets masked) when it fails or takes longer than ``timeout``.
    """
    with _TempConfig(backup, dbs) as conf:
        argv = [conf.binary, "replicate", "-once", "-force-snapshot", "-config", str(conf.path)]
        rc, _out, err = await _run(argv, conf.env, timeout, "snapshot")
    if rc != 0:
        last = err.strip().splitlines()[-1] if err.strip() else f"exit code {rc}"
        raise KhronosError(
            f"litestream replicate -once -force-snapshot failed: {scrub(last)}",
            op="snapshot",
            hint="check the replica's URL, credentials and network",
            recoverable=True,
        )
