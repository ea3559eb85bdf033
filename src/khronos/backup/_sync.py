"""Forcing a sync: ``khronos backup now``, and the full snapshot the continuity repair takes.

- :func:`backup_now` asks the running daemon's Litestream (its control socket:
  :func:`sync_and_wait`, ``POST /sync`` with wait, then the replica's txid checked) and, without
  a daemon, runs ``litestream replicate -once`` (:func:`replicate_once`: one sync of every
  database and its replica, then exit) and reads the replica's position
  (:func:`~._status.replica_position`).  Either way it succeeds only when the replica has the
  local txid.
- :func:`force_snapshot` runs ``litestream replicate -once -force-snapshot`` for the
  databases the continuity repair names (:mod:`._continuity`).

Every Litestream run goes through :class:`~._invocation.Invocation`; a failed sync through
the daemon is explained in the same words (:func:`~._invocation.explain_litestream_error`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

from khronos.backup._control import ControlClient, ControlError, SyncResult, control_socket_path
from khronos.backup._invocation import (
    Invocation,
    explain_litestream_error,
    register_secrets,
    scrub,
)
from khronos.backup._status import Source, local_position, replica_position
from khronos.clock import Clock, SystemClock
from khronos.config import BackupConfig, DatabaseConfig, KhronosConfig
from khronos.errors import BackupError, SyncError

__all__ = ["SyncOutcome", "backup_now", "force_snapshot", "replicate_once", "sync_and_wait"]


@dataclass(frozen=True, slots=True)
class SyncOutcome:
    """One database after ``backup now``."""

    name: str
    local_txid: int | None
    replica_txid: int | None
    via: Source


async def backup_now(
    config: KhronosConfig, db: str | None = None, *, timeout: float = 60.0
) -> list[SyncOutcome]:
    """Force a sync of ``db`` (default: every database) and wait until the replica has the
    local txid; :class:`SyncError` (or Litestream's failure, explained) when it does not."""
    backup = config.require_backup()
    dbs = [backup.select(db)] if db is not None else list(backup.dbs)
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


def _explained(exc: SyncError, dbs: list[DatabaseConfig]) -> BackupError:
    """A failed sync through the daemon in the words restore and verify use, secrets masked."""
    db = next((d for d in dbs if exc.message.startswith(f"{d.label}: ")), dbs[0])
    explained = explain_litestream_error(
        exc.message.removeprefix(f"{db.label}: "), db, op=exc.op or "backup now"
    )
    if explained is not None:
        explained.message = f"{db.label}: {explained.message}"
        return explained
    return SyncError(scrub(exc.message), op=exc.op, hint=exc.hint, recoverable=exc.recoverable)


async def sync_and_wait(
    client: ControlClient,
    dbs: list[DatabaseConfig],
    *,
    timeout: float,
    clock: Clock | None = None,
) -> list[SyncResult]:
    """``POST /sync`` with wait for each database, then check the replica has the txid."""
    clock = clock or SystemClock()
    deadline = clock.monotonic() + timeout
    results = []
    for db in dbs:
        while True:
            left = max(1.0, deadline - clock.monotonic())
            try:
                result = await client.sync(db.path, wait=True, timeout=left)
                break
            except ControlError as exc:
                if exc.recoverable and clock.monotonic() + 0.2 < deadline:
                    await asyncio.sleep(0.2)  # Litestream (re)starting: try again
                    continue
                raise SyncError(
                    f"{db.label}: {exc.message}",
                    op="backup now",
                    hint="check the replica (network, credentials) and the khronos run log",
                    recoverable=True,
                ) from exc
        while result.replicated_txid < result.txid and clock.monotonic() < deadline:
            await asyncio.sleep(0.2)
            result = await client.sync(db.path)
        if result.replicated_txid < result.txid:
            raise SyncError(
                f"{db.label}: the replica has txid {result.replicated_txid:016x}, "
                f"the database {result.txid:016x} after {timeout:g}s",
                op="backup now",
                hint="the replica is unreachable or slow; check the khronos run log",
                recoverable=True,
            )
        results.append(result)
    return results


async def replicate_once(
    backup: BackupConfig, dbs: list[DatabaseConfig], *, timeout: float = 60.0
) -> list[tuple[DatabaseConfig, int | None, int | None]]:
    """``litestream replicate -once`` for ``dbs``; (db, local txid, replica txid) after it."""
    started = datetime.now(UTC)
    with Invocation.temporary(backup, dbs) as ls:
        await ls.run("replicate", "-once", timeout=timeout, op="backup now")
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
    starts, or after ``POST /stop`` on its control socket).  Raises :class:`BackupError` (with
    Litestream's error, secrets masked) when it fails or takes longer than ``timeout``.
    """
    with Invocation.temporary(backup, dbs) as ls:
        await ls.run("replicate", "-once", "-force-snapshot", timeout=timeout, op="snapshot")
