"""What ``khronos status`` and ``khronos backup now`` do, with or without a running daemon.

With a daemon, its Litestream answers on the control socket in ``state_dir``: txids and the
replication state come from there, the lag and error counts from the daemon's ``status.json``.
When the daemon runs but its Litestream does not answer (crashed, given up on, hung), the
daemon's own snapshot is shown: it keeps counting the lag from the database files (see
:mod:`khronos.backup._status`), where the replica alone would say nothing changed.
Without a daemon, the replica is read directly (:mod:`khronos.backup._offline`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from khronos.backup._control import ControlClient, ControlError, control_socket_path
from khronos.backup._offline import offline_status, replicate_once
from khronos.backup._restore_run import explain_litestream_error, register_secrets, scrub
from khronos.backup._status import (
    STATUS_FILE,
    DbStatus,
    file_sizes,
    read_status_file,
    read_verify_file,
)
from khronos.config import KhronosConfig
from khronos.config._backup import BackupConfig, DatabaseConfig
from khronos.errors import KhronosError

if TYPE_CHECKING:
    from khronos.backup._service import SyncError

__all__ = ["SyncOutcome", "backup_now", "query_status", "require_backup"]

Source = Literal["daemon", "replica"]
_FRESH = timedelta(seconds=15)


def require_backup(config: KhronosConfig) -> BackupConfig:
    """The backup section, or a clear error."""
    if config.backup is None:
        raise KhronosError(
            "the configuration has no backup: section",
            op="backup",
            hint="add backup: with at least one database (see docs/backup.md)",
        )
    return config.backup


async def _daemon_status(config: KhronosConfig, client: ControlClient) -> list[DbStatus]:
    backup = require_backup(config)
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
        raw = json.loads((config.state_dir / STATUS_FILE).read_text(encoding="utf-8"))
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
    """Every database's status: from the running daemon if it answers, else from the replica."""
    backup = require_backup(config)
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
        statuses = await offline_status(backup, timeout=timeout)
    verify = read_verify_file(config.state_dir)
    return source, [replace(s, last_verify=verify.get(s.name)) for s in statuses]


@dataclass(frozen=True, slots=True)
class SyncOutcome:
    """One database after ``backup now``."""

    name: str
    local_txid: int | None
    replica_txid: int | None
    via: Source


def _explained(exc: SyncError, dbs: list[DatabaseConfig]) -> KhronosError:
    """A failed sync through the daemon in the words restore and verify use, secrets masked."""
    from khronos.backup._service import SyncError  # noqa: PLC0415 - see backup_now

    db = next((d for d in dbs if exc.message.startswith(f"{d.label}: ")), dbs[0])
    explained = explain_litestream_error(
        exc.message.removeprefix(f"{db.label}: "), db, op=exc.op or "backup now"
    )
    if explained is not None:
        explained.message = f"{db.label}: {explained.message}"
        return explained
    return SyncError(scrub(exc.message), op=exc.op, hint=exc.hint, recoverable=exc.recoverable)


async def backup_now(
    config: KhronosConfig, db: str | None = None, *, timeout: float = 60.0
) -> list[SyncOutcome]:
    """Force a sync and wait until the replica has the local txid (raises SyncError if not)."""
    # the daemon's side, imported here so that `khronos status` does not import it
    from khronos.backup._service import SyncError, select_dbs, sync_and_wait  # noqa: PLC0415

    backup = require_backup(config)
    dbs = select_dbs(backup, db)
    socket = control_socket_path(config.state_dir)
    if socket.exists():
        async with ControlClient(socket, timeout=5.0) as client:
            try:
                await client.info()
            except ControlError:
                pass
            else:
                register_secrets(backup)  # a message quoting S3 may name the access key id
                try:
                    results = await sync_and_wait(client, dbs, timeout=timeout)
                except SyncError as exc:
                    raise _explained(exc, dbs) from exc
                return [
                    SyncOutcome(d.label, r.txid, r.replicated_txid, "daemon")
                    for d, r in zip(dbs, results, strict=True)
                ]
    outcomes = []
    for entry, local, replica in await replicate_once(backup, dbs, timeout=timeout):
        if local is None or replica is None or replica < local:
            raise SyncError(
                f"{entry.label}: after litestream replicate -once the replica has txid "
                f"{replica if replica is None else f'{replica:016x}'}, "
                f"the database {local if local is None else f'{local:016x}'}",
                op="backup now",
                hint="check the replica's URL, credentials and network",
                recoverable=True,
            )
        outcomes.append(SyncOutcome(entry.label, local, replica, "replica"))
    return outcomes
