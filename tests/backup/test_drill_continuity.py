"""The restore drill compares the restored copy with the live database at the same txid."""

from __future__ import annotations

import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

import pytest

from khronos.backup import (
    BackupService,
    RecordingAlertSink,
    VerifyReport,
    VerifyScheduler,
    litestream_env,
    render_config,
)
from khronos.config import KhronosConfig
from tests.backup.conftest import (
    MakeConfig,
    find_litestream,
    read_ids,
    restore_with_litestream,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


def _fill(app: sqlite3.Connection, rows: int, start: int) -> list[int]:
    for i in range(start, start + rows):
        app.execute("INSERT INTO rows (id, body) VALUES (?, ?)", (i, "x" * 100))
    return list(range(start, start + rows))


def _bare_replicate_once(config: KhronosConfig, tmp_path: Path) -> None:
    """What a bare Litestream (no Khronos) does after the reset: it carries on, missing rows."""
    assert config.backup is not None
    rendered = render_config(config.backup)
    conf = tmp_path / "bare.yml"
    rendered.write(conf)
    env, _ = litestream_env()
    env.update(rendered.env)
    subprocess.run(
        [str(find_litestream()), "replicate", "-once", "-config", str(conf)],
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )


async def _drill(config: KhronosConfig) -> VerifyReport:
    reports: list[VerifyReport] = []
    scheduler = VerifyScheduler(config, on_result=reports.append, interval=3600)
    await scheduler.run_once()
    (report,) = reports
    return report


async def test_drill_compares_with_the_live_database(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    """With the daemon's Litestream answering, a healthy backup is compared and passes."""
    config = make_config()
    service = BackupService(config, alerts=RecordingAlertSink())
    await service.start()
    try:
        with closing(sqlite3.connect(tmp_path / "app.db", isolation_level=None)) as app:
            _fill(app, 50, 0)
        report = await _drill(config)
    finally:
        await service.stop()
    assert report.ok, report.error
    assert report.continuity is not None
    assert report.continuity.startswith("ok at txid")


async def test_drill_finds_rows_missing_from_the_backup_and_the_repair_restores_them(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    """A replica that lost rows to a WAL reset fails the drill; the repair makes it whole."""
    config = make_config()
    db = tmp_path / "app.db"
    app = sqlite3.connect(db, isolation_level=None)
    try:
        first = BackupService(config, alerts=RecordingAlertSink())
        await first.start()
        try:
            ids = _fill(app, 200, 0)
            await first.sync_now(timeout=30)
        finally:
            await first.stop()
        ids += _fill(app, 50, 200)
        app.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
        ids += _fill(app, 3, 250)
        _bare_replicate_once(config, tmp_path)  # the loss happens here, without Khronos
        service = BackupService(config, alerts=RecordingAlertSink())
        await service.start()
        try:
            broken = await _drill(config)
            service.keeper.flag("app", broken.error or "")
            await wait_for(lambda: service.keeper.repairs["app"] == 1, what="the repair")
            repaired = await _drill(config)
        finally:
            await service.stop()
    finally:
        app.close()
    assert not broken.ok
    assert broken.gap
    assert "rows in the database" in (broken.error or "")
    assert repaired.ok, repaired.error
    assert (repaired.continuity or "").startswith("ok at txid")
    assert read_ids(restore_with_litestream(config, tmp_path / "restored.db")) == ids
