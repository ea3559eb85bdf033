"""Backup alerts with a real Litestream: down and hung replication, lag while down, repeats."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from khronos.alerts import AlertEngine, LogNotifier, Outbox
from khronos.backup import BackupService, RecordingAlertSink
from khronos.clock import ManualClock
from tests.backup.conftest import MakeConfig, insert_rows, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


def _caught_up(service: BackupService) -> bool:
    (db,) = service.status()
    return db.replicating and db.local_txid is not None and db.lag_seconds == 0.0


async def test_lag_alert_fires_while_litestream_is_down(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    """Litestream killed and given up on, writes go on: the lag grows and its alert fires."""
    config = make_config(
        restart="{delay: 100ms, min_uptime: 1h, max_restarts: 0}",
        extra="  lag_alert_after: 1s\n",
    )
    alerts = RecordingAlertSink()
    service = BackupService(config, alerts=alerts, poll_interval=0.1)
    await service.start()
    supervisor = service.supervisor
    assert supervisor is not None
    try:
        insert_rows(tmp_path / "app.db", 3)
        await wait_for(lambda: _caught_up(service), what="caught up")
        assert supervisor.pid is not None
        os.kill(supervisor.pid, signal.SIGKILL)
        await wait_for(lambda: supervisor.gave_up, what="restart policy gives up")
        insert_rows(tmp_path / "app.db", 3, start=3)
        await wait_for(lambda: alerts.fired("backup.lag.app", "WARN"), what="lag alert")
        first = service.status()[0].lag_seconds or 0.0
        await wait_for(lambda: (service.status()[0].lag_seconds or 0.0) > first, what="growing")
    finally:
        await service.stop()
    assert first > 1.0
    assert alerts.open["backup.replication"].level == "CRITICAL"


async def test_hung_litestream_raises_replication_alert_and_recovers(
    make_config: MakeConfig,
) -> None:
    """A stopped (SIGSTOP) Litestream is "replication down" (ERROR); SIGCONT resolves it."""
    alerts = RecordingAlertSink()
    service = BackupService(
        make_config(), alerts=alerts, poll_interval=0.1, stall_after=1.0, control_timeout=0.5
    )
    await service.start()
    supervisor = service.supervisor
    assert supervisor is not None
    pid = supervisor.pid
    assert pid is not None
    try:
        await wait_for(lambda: service.status()[0].replicating, what="replicating")
        os.kill(pid, signal.SIGSTOP)
        await wait_for(lambda: "backup.replication" in alerts.open, what="replication alert")
        assert alerts.open["backup.replication"].level == "ERROR"
        os.kill(pid, signal.SIGCONT)
        await wait_for(lambda: alerts.resolved("backup.replication"), what="resolved")
    finally:
        os.kill(pid, signal.SIGCONT)
        await service.stop()
    assert supervisor.pid is None  # stopped by the service, not replaced by a restart
    assert supervisor.restarts == 0


async def test_held_condition_is_repeated_by_the_engine(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    """A missing database keeps being reported: the engine repeats it after repeat_interval."""
    clock = ManualClock()
    engine = AlertEngine(
        Outbox(tmp_path / "outbox.db"), [LogNotifier()], clock=clock, repeat_interval=60.0
    )
    service = BackupService(make_config(), alerts=engine, poll_interval=0.1)
    await service.start()
    try:
        (tmp_path / "app.db").rename(tmp_path / "moved.db")
        key = "backup.db_down.app"
        await wait_for(lambda: key in engine.conditions, what="database down")
        first = engine.outbox.count()
        clock.advance(61.0)
        await wait_for(
            lambda: engine.conditions[key].last_notified == clock.monotonic(), what="the repeat"
        )
        assert engine.outbox.count() > first
    finally:
        (tmp_path / "moved.db").rename(tmp_path / "app.db")
        await service.stop()
        await engine.stop()
        engine.outbox.close()
    assert engine.conditions[key].level.name == "CRITICAL"
