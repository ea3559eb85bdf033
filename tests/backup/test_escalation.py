"""A replica that accepts nothing escalates: ERROR after down_alert_after, the cause named."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from khronos.backup import BackupService, RecordingAlertSink
from tests.backup.conftest import MakeConfig, insert_rows, s3_replica_yaml, wait_for
from tests.proxy import TcpProxy

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


async def test_wrong_bucket_is_named_and_escalates_to_error(
    make_config: MakeConfig, tmp_path: Path, s3_proxy: TcpProxy
) -> None:
    """A bucket that does not exist: lag WARN, then ERROR naming the bucket; backup_up 0."""
    config = make_config(
        s3_replica_yaml("no-such-bucket-khronos", s3_proxy.url),
        extra="  lag_alert_after: 1s\n  down_alert_after: 3s\n",
    )
    registry = CollectorRegistry()
    alerts = RecordingAlertSink()
    service = BackupService(config, registry=registry, alerts=alerts, poll_interval=0.2)
    await service.start()
    try:
        insert_rows(tmp_path / "app.db", 5)
        await wait_for(lambda: "backup.replica.app" in alerts.open, what="replica down alert")
        await wait_for(
            lambda: "does not exist" in (alerts.open["backup.replica.app"].message or ""),
            what="the cause in the alert",
        )
        up = registry.get_sample_value("khronos_backup_up", {"db": "app"})
        status = service.status()[0]
    finally:
        await service.stop()
    event = alerts.open["backup.replica.app"]
    assert event.level == "ERROR"
    assert "bucket 'no-such-bucket-khronos' does not exist" in (event.message or "")
    assert up == 0.0
    assert status.replica_down
    assert status.last_error is not None
    assert "RequestID" not in status.last_error
