"""The tracker without Litestream's answers (lag from file times) and sync-error counting.

The log records below are copied from Litestream 0.5.17's stderr during an S3 outage (the proxy
of tests/backup/conftest.py cut for two minutes): one ``monitor error`` when the upload gives up
after its retries, an unrelated ERROR from the retention loop, and the recovery line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from khronos.backup import BackupService
from khronos.backup._supervisor import parse_log_line
from khronos.backup._tracker import DbTracker
from khronos.config import parse_config

DB = "/srv/app/app.db"
MONITOR_ERROR = (
    '{"time":"2026-11-25T10:43:30.2Z","level":"ERROR","msg":"monitor error","system":"store",'
    '"db":"app.db","replica":"s3","error":"write ltx file: s3: put object app/0000/'
    "0000000000000003-0000000000000003.ltx: operation error S3: PutObject, exceeded maximum "
    'number of attempts, 10","consecutive_errors":1,"backoff":1000000000}'
)
RETENTION_ERROR = (
    '{"time":"2026-11-25T10:43:38.5Z","level":"ERROR","msg":"l0 retention enforcement failed",'
    f'"system":"store","db":"app.db","path":"{DB}","error":"close l1 iterator: EOF"}}'
)
RECOVERED = (
    '{"time":"2026-11-25T10:44:15.7Z","level":"INFO","msg":"replica sync recovered",'
    '"system":"store","db":"app.db","replica":"s3","previous_errors":1}'
)


def _record(line: str, **changes: Any) -> dict[str, Any]:
    record = parse_log_line(line)
    assert record is not None
    record.update(changes)
    return record


def _tracker() -> DbTracker:
    config = parse_config(f"backup: {{dbs: [{{path: {DB}, replica: {{url: 'file:///tmp/r'}}}}]}}")
    assert config.backup is not None
    return DbTracker(config.backup.dbs[0])


def test_file_change_while_litestream_is_silent_starts_the_lag() -> None:
    """A db/WAL newer than at the last answer counts from its modification time, and grows."""
    tracker = _tracker()
    tracker.observe(5, 5, now=100.0, mtime=99.0)
    tracker.observe_files(99.0)
    assert tracker.lag(150.0) == 0.0
    tracker.observe_files(120.0)
    tracker.observe_files(130.0)
    assert (tracker.lag(150.0), tracker.lag(200.0)) == (30.0, 80.0)


def test_silent_change_is_kept_when_litestream_answers_behind() -> None:
    """Litestream back but the replica behind: the lag keeps counting from the file change."""
    tracker = _tracker()
    tracker.observe(5, 5, now=100.0, mtime=99.0)
    tracker.observe_files(120.0)
    tracker.observe(7, 5, now=160.0, mtime=121.0)
    assert tracker.lag(170.0) == 50.0
    tracker.observe(7, 7, now=171.0, mtime=121.0)
    assert tracker.lag(172.0) == 0.0


def test_no_baseline_yet_counts_changes_from_the_first_look() -> None:
    """Litestream never answered: the first look is the baseline, later changes count."""
    tracker = _tracker()
    tracker.observe_files(50.0)
    assert tracker.lag(60.0) == 0.0
    tracker.observe_files(55.0)
    assert tracker.lag(60.0) == 5.0


def test_only_sync_failures_count_as_sync_errors() -> None:
    """A monitor error counts, an unrelated ERROR line does not, recovery adds nothing seen."""
    tracker = _tracker()
    assert tracker.record_log(_record(MONITOR_ERROR))
    assert not tracker.record_log(_record(RETENTION_ERROR))
    assert tracker.record_log(_record(RECOVERED))
    assert tracker.sync_errors == 1


def test_rate_limited_streak_is_counted_exactly() -> None:
    """Lines every 30 s carry consecutive_errors; recovery's previous_errors adds the rest."""
    tracker = _tracker()
    tracker.record_log(_record(MONITOR_ERROR, consecutive_errors=1))
    tracker.record_log(_record(MONITOR_ERROR, consecutive_errors=6))
    tracker.record_log(_record(RECOVERED, previous_errors=9))
    tracker.record_log(_record(MONITOR_ERROR, consecutive_errors=1))
    assert tracker.sync_errors == 10


def test_local_sync_error_streak_is_its_own() -> None:
    """The database loop's "sync error" streak does not mix with the replica's."""
    tracker = _tracker()
    local = json.loads(MONITOR_ERROR) | {"msg": "sync error", "consecutive_errors": 2}
    tracker.record_log(_record(MONITOR_ERROR, consecutive_errors=3))
    tracker.record_log(local)
    tracker.record_log(_record(RECOVERED, msg="sync recovered", previous_errors=4))
    assert tracker.sync_errors == 3 + 4


@pytest.fixture(name="two_apps")
def fixture_two_apps(tmp_path: Path) -> BackupService:
    """A service for two databases with the same file name in different folders."""
    text = (
        f"state_dir: {tmp_path}/state\nbackup:\n  dbs:\n"
        f"    - {{path: {tmp_path}/a/app.db, name: a, replica: {{url: 'file://{tmp_path}/ra'}}}}\n"
        f"    - {{path: {tmp_path}/b/app.db, name: b, replica: {{url: 'file://{tmp_path}/rb'}}}}\n"
    )
    return BackupService(parse_config(text))


def test_records_map_to_databases_by_full_path(two_apps: BackupService, tmp_path: Path) -> None:
    """A record's path (the db, or a file in its -litestream folder) picks the database."""
    ltx = f"{tmp_path}/b/.app.db-litestream/ltx/0/0000000000000001-0000000000000001.ltx"
    assert two_apps.label_for({"db": "app.db", "path": f"{tmp_path}/a/app.db"}) == "a"
    assert two_apps.label_for({"db": "app.db", "path": ltx}) == "b"
    assert two_apps.label_for({"db": "app.db"}) is None  # the base name alone is ambiguous


def test_ambiguous_record_counts_for_no_database(two_apps: BackupService) -> None:
    """A sync error naming only a shared base name is not charged to either database."""
    two_apps._on_record(_record(MONITOR_ERROR))
    assert [t.sync_errors for t in two_apps.trackers.values()] == [0, 0]
