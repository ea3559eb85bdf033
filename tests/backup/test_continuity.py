"""The crash window: the WAL guard, the continuity check, and the repair that restores every row.

The scenario the repair is for, made deterministic: Litestream stops (cleanly or not), the
application writes on and checkpoints with RESTART, then writes a few rows into the fresh WAL.
The old frames beyond the new WAL's end still carry the old salts, so a restarted Litestream
0.5.17 takes the reset for one it had seen and carries on: the rows written while it was away are
missing from the replica.
"""

from __future__ import annotations

import os
import signal
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from khronos.backup import BackupService, RecordingAlertSink
from khronos.backup._continuity import WalGuard, continuity_gap, wal_header
from tests.backup.conftest import MakeConfig, make_db, read_ids, restore_with_litestream, wait_for

pytestmark = pytest.mark.asyncio


def _fill(app: sqlite3.Connection, rows: int, start: int = 0, size: int = 3000) -> list[int]:
    """Commit ``rows`` rows (one transaction each) with the default autocheckpoint."""
    for i in range(start, start + rows):
        app.execute("INSERT INTO rows (id, body) VALUES (?, ?)", (i, "x" * size))
    return list(range(start, start + rows))


def _reset_wal_then_write(app: sqlite3.Connection, start: int, rows: int) -> list[int]:
    """What an application does while nobody holds the WAL: checkpoint (RESTART), write more."""
    app.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
    return _fill(app, rows, start, size=100)


def _connect(db: Path) -> sqlite3.Connection:
    """The application's connection, kept open as an application keeps it."""
    app = sqlite3.connect(db, isolation_level=None)
    app.execute("SELECT count(*) FROM rows").fetchone()
    return app


async def test_guard_keeps_the_wal_from_being_reset(tmp_path: Path) -> None:
    """While the guard holds, the application's autocheckpoints cannot reset the WAL."""
    db = make_db(tmp_path / "app.db")
    with closing(_connect(db)) as app:
        _fill(app, 10)
        guard = WalGuard(db)
        assert guard.hold()
        before = wal_header(db)
        _fill(app, 1500, start=10)  # ~1500 pages: past the 1000-page autocheckpoint
        held = wal_header(db)
        guard.release()
        _fill(app, 1500, start=1510)
        after = wal_header(db)
    assert before is not None
    assert held is not None
    assert after is not None
    assert (held.salt1, held.salt2) == (before.salt1, before.salt2)
    assert (after.salt1, after.salt2) != (before.salt1, before.salt2)


async def test_guard_never_creates_a_database(tmp_path: Path) -> None:
    """Holding a missing database does nothing (and creates no file)."""
    guard = WalGuard(tmp_path / "missing.db")
    assert not guard.hold()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.integration
async def test_continuity_gap_finds_a_reset_made_while_litestream_was_away(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    """After a clean stop the WAL is continuous; a RESTART checkpoint by the app breaks it."""
    config = make_config()
    db = tmp_path / "app.db"
    app = _connect(db)
    service = BackupService(config, alerts=RecordingAlertSink())
    await service.start()
    try:
        _fill(app, 20)
        await service.sync_now(timeout=30)
    finally:
        await service.stop()
    assert continuity_gap(db) is None
    _fill(app, 5, start=20)
    assert continuity_gap(db) is None  # more frames, same WAL: Litestream reads them later
    _reset_wal_then_write(app, 25, 2)
    reason = continuity_gap(db)
    app.close()
    assert reason is not None
    assert "reset" in reason
    assert continuity_gap(db) is not None  # and the app's last close removed the WAL: still


@pytest.mark.integration
async def test_rows_written_across_a_wal_reset_are_all_restored(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    """The reset is found at start, the WAL truncated, Litestream snapshots: every row restores."""
    config = make_config()
    db = tmp_path / "app.db"
    registry = CollectorRegistry()
    app = _connect(db)
    first = BackupService(config, alerts=RecordingAlertSink())
    await first.start()
    try:
        ids = _fill(app, 200, size=100)
        await first.sync_now(timeout=30)
    finally:
        await first.stop()
    ids += _fill(app, 50, start=200, size=100)  # written while no Litestream runs
    ids += _reset_wal_then_write(app, 250, 3)
    second = BackupService(config, registry=registry, alerts=RecordingAlertSink())
    await second.start()
    try:
        ids += _fill(app, 10, start=253)
        await second.sync_now(timeout=30)
    finally:
        await second.stop()
        app.close()
    assert read_ids(restore_with_litestream(config, tmp_path / "restored.db")) == ids
    assert registry.get_sample_value("khronos_backup_repairs_total", {"db": "app"}) == 1.0


@pytest.mark.integration
async def test_a_guarded_restart_needs_no_repair(make_config: MakeConfig, tmp_path: Path) -> None:
    """kill -9 of Litestream under an app that checkpoints: the guard holds, nothing to repair."""
    config = make_config(restart="{delay: 1s, min_uptime: 100ms, max_restarts: 10}")
    db = tmp_path / "app.db"
    registry = CollectorRegistry()
    service = BackupService(config, registry=registry, alerts=RecordingAlertSink())
    app = _connect(db)
    await service.start()
    supervisor = service.supervisor
    assert supervisor is not None
    try:
        ids = _fill(app, 100)
        await service.sync_now(timeout=30)
        old = supervisor.pid
        assert old is not None
        os.kill(old, signal.SIGKILL)
        await wait_for(lambda: not supervisor.running, what="litestream gone")
        ids += _fill(app, 1200, start=100)  # past the autocheckpoint, during the restart delay
        await wait_for(lambda: service.status()[0].replicating, what="replicating again")
        await service.sync_now(timeout=30)
    finally:
        await service.stop()
        app.close()
    assert registry.get_sample_value("khronos_backup_repairs_total", {"db": "app"}) == 0.0
    assert read_ids(restore_with_litestream(config, tmp_path / "restored.db")) == ids
