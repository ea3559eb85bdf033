"""Chaos: the snapshot destination (moto's S3 behind the cuttable proxy) cut for a while under a
write load.  Each snapshot alert is delivered once and resolved, snapshots resume on their own,
and the snapshot taken after the load holds every committed row."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.alerts.fake_telegram import FakeTelegram
from tests.backup.conftest import REGION, S3_KEY, S3_SECRET
from tests.chaos.harness import Outcome, Writer, chaos_config, duplicates, start, stop, timed
from tests.daemon.harness import khronos, poll
from tests.proxy import TcpProxy
from tests.snapshots.daemon.test_daemon_run import age_key

pytestmark = pytest.mark.integration

_ABOUT = ("Snapshot of app", "snapshot of app", "Newest snapshot of app")


def _snapshot_alerts(telegram: FakeTelegram) -> tuple[list[str], list[str]]:
    """The snapshot alerts delivered, and their resolved notices."""
    texts = [t for t in telegram.texts() if any(a in t for a in _ABOUT)]
    return [t for t in texts if "Resolved" not in t], [t for t in texts if "Resolved" in t]


def _entry(tmp_path: Path, env: dict[str, str]) -> dict[str, Any]:
    done = khronos("status", "--json", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout)["databases"][0]["snapshots"][0])


def test_snapshot_destination_outage(  # noqa: PLR0917 - pytest passes fixtures positionally
    tmp_path: Path,
    env: dict[str, str],
    telegram: FakeTelegram,
    bucket: str,
    s3_proxy: TcpProxy,
    chaos_results: Path,
) -> None:
    """Cut for a while: the failure alerted once and resolved once it is back; the first
    snapshot after the load restores every committed row."""
    seconds = float(os.environ.get("KHRONOS_CHAOS_SNAPSHOT_OUTAGE", "10"))
    outcome = Outcome(
        "snapshot destination outage",
        1,
        notes=f"the TCP proxy in front of the snapshot destination (moto's S3) cut for "
        f"{seconds:g}s while the writer commits (snapshots every 2s, encrypted to age).",
    )
    recipient = age_key(tmp_path / "snapshots.key")
    path = chaos_config(tmp_path, telegram)
    path.write_text(
        path.read_text(encoding="utf-8") + "      snapshots:\n"
        f"        - {{url: 's3://{bucket}/snaps', name: offsite, endpoint: '{s3_proxy.url}', "
        f"region: {REGION}, force-path-style: true, access-key-id: {S3_KEY}, "
        f"secret-access-key: {S3_SECRET}, interval: 2s, "
        f"encrypt: {{recipients: [{recipient}]}}, identity_file: {tmp_path}/snapshots.key}}\n",
        encoding="utf-8",
    )
    daemon = start(tmp_path, env)
    writer = Writer(tmp_path, pause=0.02)
    try:
        poll(lambda: _entry(tmp_path, env)["last_success_at"], what="a snapshot")
        s3_proxy.cut()
        cut_at = time.monotonic()
        poll(lambda: _snapshot_alerts(telegram)[0], timeout=120, what="the snapshot alert")
        time.sleep(max(0.0, seconds - (time.monotonic() - cut_at)))  # the outage's length
        s3_proxy.restore()
        outcome.recover_seconds.append(
            timed(
                lambda: (
                    not _entry(tmp_path, env)["consecutive_failures"]
                    and len(_snapshot_alerts(telegram)[1]) >= len(_snapshot_alerts(telegram)[0])
                ),
                timeout=300,
                what="a snapshot again, every alert resolved",
            )
        )
        committed = writer.stop()
        stopped_at = time.time()
        poll(
            lambda: _after(_entry(tmp_path, env)["last_success_at"], stopped_at),
            what="a snapshot after the last commit",
        )
        out = tmp_path / "from-snapshot.db"
        restore = khronos(
            "restore", "--from", "snapshot", "-o", str(out), "-y", cwd=tmp_path, env=env
        )
        assert restore.returncode == 0, restore.stdout + restore.stderr
    finally:
        s3_proxy.restore()
        writer.stop()
        assert stop(daemon.proc) == 0, daemon.err.read_text()[-2000:]
    with closing(sqlite3.connect(out)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        restored = {r[0] for r in conn.execute("SELECT id FROM rows")}
    fired, resolved = _snapshot_alerts(telegram)
    outcome.rows_committed, outcome.rows_restored = len(committed), len(restored)
    outcome.alerts_expected = 2 * len(fired)
    outcome.alerts_delivered = len(fired) + len(resolved)
    outcome.duplicates = duplicates(telegram.texts())
    outcome.save(chaos_results)
    assert set(committed) <= restored
    assert any("Snapshot of app to offsite failed" in t for t in fired)
    assert len(resolved) == len(fired)
    assert outcome.duplicates == 0


def _after(when: str | None, unix: float) -> bool:
    return when is not None and datetime.fromisoformat(when).timestamp() > unix
