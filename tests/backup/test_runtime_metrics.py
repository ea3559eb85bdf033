"""Backup metrics on a fresh registry: restore drill results and the WAL size."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from khronos.backup import BackupService, RecordingAlertSink
from khronos.backup._verify import verify_all
from tests.backup.conftest import MakeConfig, insert_rows, wait_for
from tests.backup.test_restore_support import replicating

pytestmark = pytest.mark.integration
LABELS = {"db": "app"}


def _damage_replica(replica: Path) -> None:
    for ltx in replica.rglob("*.ltx"):
        data = bytearray(ltx.read_bytes())
        data[120:] = b"\xff" * (len(data) - 120)
        ltx.write_bytes(bytes(data))


def test_failed_drill_sets_success_0_and_keeps_the_last_success_time(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    """A drill that passes, then one that fails: success 0, last success = the first drill."""
    config = make_config()
    insert_rows(tmp_path / "app.db", 5)
    with replicating(config, tmp_path) as rep:
        rep.sync()
    [passed] = verify_all(config)
    assert passed.ok
    _damage_replica(tmp_path / "replica")
    [failed] = verify_all(config)
    assert not failed.ok
    registry = CollectorRegistry()
    BackupService(config, registry=registry)
    assert registry.get_sample_value("khronos_backup_verify_success", LABELS) == 0.0
    last = registry.get_sample_value("khronos_backup_verify_last_success_timestamp_seconds", LABELS)
    assert last == passed.at.timestamp()


def test_verify_json_keeps_the_last_success(make_config: MakeConfig, tmp_path: Path) -> None:
    """verify.json's last_success_at survives a failed drill (an empty replica here)."""
    config = make_config()
    state = Path(config.state_dir)
    state.mkdir(parents=True)
    earlier = {"ok": True, "at": "2025-01-02T03:04:05+00:00", "txid": "01", "error": None}
    (state / "verify.json").write_text(json.dumps({"app": earlier}), encoding="utf-8")
    [report] = verify_all(config)
    assert not report.ok
    entry = json.loads((state / "verify.json").read_text())["app"]
    assert (entry["ok"], entry["last_success_at"]) == (False, "2025-01-02T03:04:05+00:00")


@pytest.mark.asyncio
async def test_wal_size_metric_is_the_wal_file_size(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    """khronos_db_wal_size_bytes reports the -wal file's size while Litestream holds it open."""
    registry = CollectorRegistry()
    service = BackupService(make_config(), registry=registry, alerts=RecordingAlertSink())
    await service.start()
    wal = tmp_path / "app.db-wal"
    try:
        insert_rows(tmp_path / "app.db", 20)
        await service.sync_now(timeout=30)

        def matches() -> bool:
            size = registry.get_sample_value("khronos_db_wal_size_bytes", LABELS)
            return size is not None and size > 0 and size == wal.stat().st_size

        await wait_for(matches, what="metric equals the -wal file size")
    finally:
        await service.stop()
