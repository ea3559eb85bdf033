"""Replication end to end: real Litestream, a file replica and moto S3 behind a cuttable proxy."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest
import structlog
from prometheus_client import CollectorRegistry

from khronos.backup import BackupService, RecordingAlertSink
from tests.backup.conftest import (
    MakeConfig,
    fault_repeat,
    insert_rows,
    read_ids,
    restore_with_litestream,
    s3_replica_yaml,
    wait_for,
)
from tests.proxy import TcpProxy

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


def _caught_up(service: BackupService) -> bool:
    (db,) = service.status()
    return db.replicating and db.local_txid is not None and db.lag_seconds == 0.0


async def test_file_replica_replicates_rows(make_config: MakeConfig, tmp_path: Path) -> None:
    """Rows written while the service runs are in a file replica restored by bare Litestream."""
    config = make_config()
    service = BackupService(config, alerts=RecordingAlertSink())
    await service.start()
    try:
        ids = insert_rows(tmp_path / "app.db", 50)
        await service.sync_now(timeout=30)
    finally:
        await service.stop()
    assert read_ids(restore_with_litestream(config, tmp_path / "restored.db")) == ids


async def test_s3_replica_replicates_rows(
    make_config: MakeConfig, tmp_path: Path, bucket: str, s3_proxy: TcpProxy
) -> None:
    """Rows reach an S3 replica (moto through the proxy) and restore intact."""
    config = make_config(s3_replica_yaml(bucket, s3_proxy.url))
    service = BackupService(config, alerts=RecordingAlertSink())
    await service.start()
    try:
        ids = insert_rows(tmp_path / "app.db", 50)
        await service.sync_now(timeout=60)
    finally:
        await service.stop()
    assert read_ids(restore_with_litestream(config, tmp_path / "restored.db")) == ids


async def test_kill9_during_writes_is_restarted_and_loses_nothing(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    """kill -9 Litestream under a write load, repeatedly: restarted, restore has every row."""
    repeats = fault_repeat()
    config = make_config(restart="{delay: 200ms, min_uptime: 1s, max_restarts: 1000}")
    alerts = RecordingAlertSink()
    service = BackupService(config, alerts=alerts)
    stop = threading.Event()
    written: list[int] = []

    def writer() -> None:
        n = 0
        while not stop.is_set():
            written.extend(insert_rows(tmp_path / "app.db", 5, start=n))
            n += 5

    await service.start()
    supervisor = service.supervisor
    thread = threading.Thread(target=writer)
    try:
        assert supervisor is not None
        thread.start()
        try:
            for _ in range(repeats):
                old = supervisor.pid
                assert old is not None
                os.kill(old, signal.SIGKILL)
                await wait_for(
                    lambda old=old: (
                        supervisor.pid not in {None, old}  # type: ignore[misc]
                        and service.status()[0].replicating
                    ),
                    what="restarted and replicating",
                )
        finally:
            stop.set()
            if thread.is_alive():
                thread.join()
        await service.sync_now(timeout=60)
    finally:
        await service.stop()
    assert supervisor.restarts == repeats
    assert alerts.fired("backup.replication", "ERROR")
    assert read_ids(restore_with_litestream(config, tmp_path / "restored.db")) == written


async def test_s3_outage_raises_lag_alert_and_recovers(
    make_config: MakeConfig, tmp_path: Path, bucket: str, s3_proxy: TcpProxy
) -> None:
    """Proxy cut past lag_alert_after: lag grows, alert fires, sync errors are counted once
    Litestream's upload gives up (after its ~2 min of retries); restored: lag 0, nothing lost."""
    config = make_config(s3_replica_yaml(bucket, s3_proxy.url), extra="  lag_alert_after: 2s\n")
    alerts = RecordingAlertSink()
    registry = CollectorRegistry()
    service = BackupService(config, registry=registry, alerts=alerts, poll_interval=0.2)
    labels = {"db": "app"}
    await service.start()
    try:
        ids = insert_rows(tmp_path / "app.db", 5)
        await wait_for(lambda: _caught_up(service), what="first sync")
        errors_before = registry.get_sample_value("khronos_backup_sync_errors_total", labels)
        s3_proxy.cut()
        ids += insert_rows(tmp_path / "app.db", 5, start=5)
        await wait_for(lambda: alerts.fired("backup.lag.app", "WARN"), what="lag alert")
        assert (service.status()[0].lag_seconds or 0) > 2
        await wait_for(
            lambda: (
                (registry.get_sample_value("khronos_backup_sync_errors_total", labels) or 0)
                > (errors_before or 0)
            ),
            timeout=240,
            what="a sync error counted",
        )
        s3_proxy.restore()
        await wait_for(lambda: alerts.resolved("backup.lag.app"), timeout=120, what="resolve")
        await wait_for(lambda: _caught_up(service), timeout=60, what="lag back to 0")
    finally:
        s3_proxy.restore()
        await service.stop()
    assert errors_before == 0.0
    assert read_ids(restore_with_litestream(config, tmp_path / "restored.db")) == ids


async def test_aws_ca_bundle_is_dropped_and_logged(
    make_config: MakeConfig, tmp_path: Path, bucket: str, s3_proxy: TcpProxy
) -> None:
    """With AWS_CA_BUNDLE set, S3 replication still works and a log line says it was dropped."""
    config = make_config(s3_replica_yaml(bucket, s3_proxy.url))
    environ = {**os.environ, "AWS_CA_BUNDLE": str(tmp_path / "bundle.pem")}
    service = BackupService(config, alerts=RecordingAlertSink(), environ=environ)
    with structlog.testing.capture_logs() as logs:
        await service.start()
        try:
            ids = insert_rows(tmp_path / "app.db", 10)
            await service.sync_now(timeout=60)
        finally:
            await service.stop()
    said = [entry for entry in logs if "AWS_CA_BUNDLE" in entry["event"]]
    assert [entry["log_level"] for entry in said] == ["info"]  # once, at info, in the daemon
    assert read_ids(restore_with_litestream(config, tmp_path / "restored.db")) == ids


async def test_litestream_logs_are_forwarded(make_config: MakeConfig) -> None:
    """Litestream's JSON stderr lines arrive in structlog with component=litestream."""
    service = BackupService(make_config(), alerts=RecordingAlertSink())
    with structlog.testing.capture_logs() as logs:
        await service.start()
        await wait_for(lambda: service.status()[0].replicating, what="replicating")
        await service.stop()
    forwarded = [e for e in logs if e.get("component") == "litestream"]
    assert any(e["event"] == "control socket listening" for e in forwarded)
    assert all(e["log_level"] in {"debug", "info", "warning", "error"} for e in forwarded)
    durations = [e[k] for e in forwarded for k in ("interval", "sync-interval") if k in e]
    assert durations  # e.g. "starting compaction monitor" interval=5m, "replicating to"
    assert all(isinstance(d, str) and d[-1] in "smh" for d in durations), durations


async def test_metrics_are_computed_at_scrape_time(make_config: MakeConfig, tmp_path: Path) -> None:
    """The collector on a fresh registry reports up, lag, sizes and restarts for the db."""
    registry = CollectorRegistry()
    service = BackupService(make_config(), registry=registry, alerts=RecordingAlertSink())
    await service.start()
    try:
        insert_rows(tmp_path / "app.db", 3)
        await wait_for(lambda: _caught_up(service), what="caught up")
        labels = {"db": "app"}
        assert registry.get_sample_value("khronos_backup_up", labels) == 1.0
        assert registry.get_sample_value("khronos_backup_lag_seconds", labels) == 0.0
        assert (registry.get_sample_value("khronos_db_size_bytes", labels) or 0) > 0
        assert registry.get_sample_value("khronos_backup_process_restarts_total") == 0.0
        assert registry.get_sample_value("khronos_backup_last_sync_timestamp_seconds", labels)
    finally:
        await service.stop()
    assert registry.get_sample_value("khronos_backup_up", labels) == 0.0


async def test_missing_database_raises_database_down(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    """A database file that disappears raises the CRITICAL 'Database down' alert; back: resolved."""
    config = make_config()
    alerts = RecordingAlertSink()
    service = BackupService(config, alerts=alerts, poll_interval=0.1)
    await service.start()
    try:
        db = tmp_path / "app.db"
        db.rename(tmp_path / "moved.db")
        await wait_for(lambda: alerts.fired("backup.db_down.app", "CRITICAL"), what="down")
        (tmp_path / "moved.db").rename(db)
        await wait_for(lambda: alerts.resolved("backup.db_down.app"), what="resolved")
    finally:
        await service.stop()
