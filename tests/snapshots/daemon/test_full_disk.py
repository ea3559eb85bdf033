"""A full disk under state_dir (where snapshots are prepared and recorded), on the real engine:
the snapshot fails with a clear cause and an alert, nothing is left behind, the schedule
survives the state file it cannot write, and the first snapshot after space is back succeeds."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import pytest

from khronos.backup import RecordingAlertSink
from khronos.clock import ManualClock
from khronos.health import Health, set_health
from khronos.snapshots import SnapshotScheduler, read_snapshot_state
from tests.polling import wait_for
from tests.smallfs import small_filesystem
from tests.snapshots.daemon.helpers import snapshot_config
from tests.snapshots.daemon.test_daemon_run import age_key

pytestmark = pytest.mark.integration
KEY = "snapshot.app.offsite"


def test_a_full_state_dir_fails_the_snapshot_clearly_and_recovers(tmp_path: Path) -> None:
    """Filled: ERROR naming the lack of space, no temp folder left; freed: resolved."""
    with closing(sqlite3.connect(tmp_path / "app.db")) as conn, conn:
        conn.execute("CREATE TABLE t (b BLOB)")
        conn.executemany("INSERT INTO t VALUES (?)", [(os.urandom(4096),)] * 64)
    recipient = age_key(tmp_path / "snapshots.key")
    (tmp_path / "snap-offsite").mkdir()
    config = snapshot_config(tmp_path, recipient=recipient)
    sink, health = RecordingAlertSink(), Health()
    with small_filesystem(tmp_path / "state", "1m") as fs:
        fs.fill()
        sched = SnapshotScheduler(config, alerts=sink, clock=ManualClock(time.time()))
        previous = set_health(health)

        async def main() -> None:
            await sched.start()
            await wait_for(lambda: KEY in sink.open, what="the failure alert")
            fs.free()
            await wait_for(lambda: KEY not in sink.open, what="resolved once there is room")
            await sched.stop()

        try:
            asyncio.run(main())
        finally:
            set_health(previous)
        failed = next(e for e in sink.events if e.key == KEY and e.action == "fire")
        assert "is larger than the free space in the temp folder" in str(failed.message)
        assert health.errors.get("snapshots", 0) >= 1  # snapshots.json could not be written
        assert not list((tmp_path / "state" / "snapshots-tmp").glob("daemon-*"))
        assert read_snapshot_state(config.state_dir)[("app", "offsite")].last_success is not None
