"""`khronos run` replicating to S3 (moto behind a cuttable TCP proxy): drills and secrets."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from tests.alerts.fake_telegram import FakeTelegram
from tests.backup.conftest import S3_KEY, S3_SECRET, s3_replica_yaml
from tests.daemon.harness import metric, poll, start, stop, write_config
from tests.proxy import TcpProxy

pytestmark = pytest.mark.integration


def test_failed_restore_drill_pages_critical_and_resolves_and_s3_keys_never_leak(
    tmp_path: Path,
    env: dict[str, str],
    telegram: FakeTelegram,
    bucket: str,
    s3_proxy: TcpProxy,
) -> None:
    """With the S3 endpoint cut, the scheduled drill fails: a CRITICAL "restore drill failed"
    reaches Telegram and the metric says 0; with S3 back, a later drill passes and a resolved
    notice follows.  The S3 keys appear in no log, output, state file or message."""
    config = write_config(tmp_path, telegram)
    text = config.read_text(encoding="utf-8")
    file_replica = f'{{url: "file://{tmp_path}/replica", sync-interval: 200ms}}'
    assert file_replica in text
    config.write_text(text.replace(file_replica, s3_replica_yaml(bucket, s3_proxy.url)))
    with closing(sqlite3.connect(tmp_path / "app.db")) as conn, conn:
        conn.executemany("INSERT INTO rows (body) VALUES (?)", [("x",)] * 100)

    verify_ok = 'khronos_backup_verify_success{db="app"}'
    daemon = start(tmp_path, env)
    try:
        poll(lambda: metric(daemon.url, verify_ok) == 1.0, timeout=90, what="a passing drill")
        s3_proxy.cut()
        poll(
            lambda: any("Restore drill of app failed" in t for t in telegram.texts()),
            timeout=120,
            what="the CRITICAL restore-drill alert",
        )
        assert metric(daemon.url, verify_ok) == 0.0
        (page,) = [t for t in telegram.texts() if "Restore drill of app failed" in t]
        assert "CRITICAL" in page
        s3_proxy.restore()
        poll(
            lambda: any("Resolved" in t and "Restore drill" in t for t in telegram.texts()),
            timeout=120,
            what="the resolved notice",
        )
        assert metric(daemon.url, verify_ok) == 1.0
    finally:
        s3_proxy.restore()
        assert stop(daemon.proc) == 0, daemon.err.read_text()[-2000:]

    places = list((tmp_path / "logs").iterdir())
    places += [p for p in (tmp_path / "state").iterdir() if p.is_file()]
    places += [daemon.out, daemon.err]
    texts = [p.read_text(errors="replace") for p in places] + telegram.texts()
    assert any("litestream" in t for t in texts)  # the places checked are not all empty
    for text in texts:
        assert S3_KEY not in text
        assert S3_SECRET not in text
