"""An idle backup poller asks Litestream nothing between heartbeats; a commit wakes it at once.

Each test sets a heartbeat of an hour, so whatever the poller learns after the database went
quiet it learned from the file watch (inotify) or, without one, from its look at the files.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from khronos.backup import BackupService, RecordingAlertSink
from khronos.backup._watch import FileWatch
from khronos.state import StateDir
from tests.backup.conftest import MakeConfig, insert_rows, wait_for

pytestmark = pytest.mark.asyncio


def _written_at(service: BackupService) -> str:
    return str(json.loads((StateDir(service.state_dir).status_file).read_text())["written_at"])


async def _wait_quiet(service: BackupService) -> str:
    """Wait until status.json stops being rewritten (a full poll rewrites it); its written_at."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while loop.time() < deadline:
        before = _written_at(service)
        await asyncio.sleep(1.0)  # ten poll intervals
        if _written_at(service) == before:
            return before
    pytest.fail("the poller never went quiet: status.json kept being rewritten")


async def _idle_then_commit(service: BackupService, db: Path) -> bool:
    """Start, wait for quiet, commit a row, see it replicated; whether the files were watched."""
    await service.start()
    try:
        written = StateDir(service.state_dir).status_file
        await wait_for(
            lambda: written.exists() and service.status()[0].local_txid is not None,
            what="the first poll",
        )
        quiet_since = await _wait_quiet(service)
        before = service.status()[0].local_txid or 0
        insert_rows(db, 1)
        await wait_for(lambda: (service.status()[0].local_txid or 0) > before, what="commit seen")
        assert _written_at(service) != quiet_since
        await wait_for(lambda: service.status()[0].lag_seconds == 0.0, what="replicated")
        return service._watch.active
    finally:
        await service.stop()


@pytest.mark.integration
async def test_idle_poller_is_quiet_and_a_commit_wakes_it(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    """No full poll while nothing is written (an hour's heartbeat); a commit is seen at once."""
    service = BackupService(
        make_config(), alerts=RecordingAlertSink(), poll_interval=0.1, idle_poll_interval=3600
    )
    watched = await _idle_then_commit(service, tmp_path / "app.db")
    assert watched or not Path("/proc/sys/fs/inotify").exists()


@pytest.mark.integration
async def test_without_inotify_the_poller_looks_at_the_files(
    make_config: MakeConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where inotify is missing the same holds: quiet while idle, a commit seen at once."""
    monkeypatch.setattr(FileWatch, "start", lambda _self: False)
    service = BackupService(
        make_config(), alerts=RecordingAlertSink(), poll_interval=0.1, idle_poll_interval=3600
    )
    assert not await _idle_then_commit(service, tmp_path / "app.db")


async def test_file_watch_wakes_on_the_database_and_its_wal_only(tmp_path: Path) -> None:
    """Writes to the database wake the watch; another file in the same folder does not."""
    db = tmp_path / "app.db"
    with closing(sqlite3.connect(db)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
    watch = FileWatch([db])
    if not watch.start():
        pytest.skip("inotify is not available here")
    try:
        (tmp_path / "other.log").write_text("noise")
        await asyncio.sleep(0.2)  # let the event loop read the folder's events
        assert not watch.changed.is_set()
        with closing(sqlite3.connect(db)) as conn, conn:
            conn.execute("CREATE TABLE t (x)")
        await asyncio.wait_for(watch.changed.wait(), 10)
    finally:
        watch.close()


async def test_file_watch_drops_what_happened_while_paused(tmp_path: Path) -> None:
    """Paused (the poller polls on its own clock), writes leave no stale wake-up behind."""
    db = tmp_path / "app.db"
    db.write_bytes(b"")
    watch = FileWatch([db])
    if not watch.start():
        pytest.skip("inotify is not available here")
    try:
        watch.pause()
        db.write_bytes(b"x")
        await asyncio.sleep(0.2)
        watch.resume()
        await asyncio.sleep(0.2)
        assert not watch.changed.is_set()
        db.write_bytes(b"xy")
        await asyncio.wait_for(watch.changed.wait(), 10)
    finally:
        watch.close()
