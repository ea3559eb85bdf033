"""The snapshot engine on folder destinations: a consistent copy while the app writes, the stored
object encrypted, fetch with the right and the wrong identity, the temp-space refusal."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from khronos.errors import SnapshotError
from khronos.snapshots import fetch_snapshot, list_snapshots, newest_snapshot, take_snapshot
from khronos.snapshots._copy import low_priority
from tests.backup.conftest import insert_rows
from tests.polling import poll
from tests.smallfs import small_filesystem
from tests.snapshots.helpers import (
    SENTINEL,
    AgeKey,
    file_dest,
    first,
    make_key,
    plant_sentinel,
    row_ids,
    snap_config,
    writing,
)
from tests.support import require_binary


def _setup(tmp_path: Path, key: AgeKey, **extra: str):  # type: ignore[no-untyped-def]
    config = snap_config(tmp_path, [file_dest(tmp_path / "dest", key, **extra)])
    db, (dest,) = first(config)
    return db, dest


def _fill(db: Path, count: int) -> None:
    """Rows 0..count-1 of 1 KB random bytes each, in one transaction."""
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ? - 1) "
            "INSERT INTO rows (id, body) SELECT i, randomblob(1000) FROM n",
            (count,),
        )


def _stored(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "dest").rglob("*.age"))


def test_a_snapshot_while_the_app_writes_has_every_row_committed_before_it(
    tmp_path: Path, age_key: AgeKey
) -> None:
    """Taken while a writer commits (20 MB: several copy steps): all rows committed before it,
    one consistent moment (a prefix of the ids), integrity ok."""
    db, dest = _setup(tmp_path, age_key)
    _fill(db.path, 20_000)
    with writing(db.path, start=20_000) as writer:
        poll(lambda: writer.wrote(200), what="the writer to commit")
        before = set(writer.committed)
        report = take_snapshot(db, dest, tmp_dir=tmp_path)
        poll(lambda: writer.wrote(len(before) + 200), what="more commits after the snapshot")
    out = fetch_snapshot(db, dest, report.info, identity=age_key.identity, out=tmp_path / "r.db")
    ids = row_ids(out)
    assert before <= set(ids)
    assert ids == list(range(len(ids)))  # one moment of the database: a prefix, no gap
    assert len(ids) < 20_000 + len(writer.committed)  # and not the rows committed after it


def test_the_stored_object_holds_no_plaintext(tmp_path: Path, age_key: AgeKey) -> None:
    """A sentinel planted in the database appears in no stored byte (object or manifest)."""
    db, dest = _setup(tmp_path, age_key)
    plant_sentinel(db.path)
    take_snapshot(db, dest, tmp_dir=tmp_path)
    stored = [p for p in (tmp_path / "dest").rglob("*") if p.is_file()]
    assert len(stored) == 2  # the snapshot and its manifest
    for path in stored:
        assert SENTINEL.encode() not in path.read_bytes()


@pytest.mark.integration
def test_the_reference_age_and_zstd_tools_read_the_object(tmp_path: Path, age_key: AgeKey) -> None:
    """``age -d -i KEY | zstd -d`` turns the stored object into the database."""
    age, zstd = require_binary("age"), require_binary("zstd")
    db, dest = _setup(tmp_path, age_key)
    insert_rows(db.path, 300)
    take_snapshot(db, dest, tmp_dir=tmp_path)
    (stored,) = _stored(tmp_path)
    plain = subprocess.run(
        [age, "-d", "-i", str(age_key.identity), str(stored)], check=True, capture_output=True
    ).stdout
    out = tmp_path / "by-hand.db"
    subprocess.run([zstd, "-d", "-q", "-o", str(out)], input=plain, check=True)
    assert row_ids(out) == list(range(300))


def test_a_wrong_identity_fails_clearly_and_leaves_nothing(tmp_path: Path, age_key: AgeKey) -> None:
    """Another key pair's identity: SnapshotError naming the file; no output, no leftovers."""
    db, dest = _setup(tmp_path, age_key)
    report = take_snapshot(db, dest, tmp_dir=tmp_path)
    other = make_key(tmp_path / "other" / "other.key")
    target = tmp_path / "out"
    target.mkdir()
    with pytest.raises(SnapshotError, match="cannot decrypt this snapshot") as caught:
        fetch_snapshot(db, dest, report.info, identity=other.identity, out=target / "r.db")
    assert str(other.identity) in caught.value.message
    assert list(target.iterdir()) == []


def test_a_public_key_is_not_an_identity(tmp_path: Path, age_key: AgeKey) -> None:
    """A file holding only the public key fails before any download, saying what to give."""
    db, dest = _setup(tmp_path, age_key)
    report = take_snapshot(db, dest, tmp_dir=tmp_path)
    public = tmp_path / "public.txt"
    public.write_text(age_key.recipient + "\n", encoding="utf-8")
    with pytest.raises(SnapshotError, match="not an age identity") as caught:
        fetch_snapshot(db, dest, report.info, identity=public, out=tmp_path / "r.db")
    assert age_key.recipient not in str(caught.value)


def test_a_passphrase_snapshot_round_trips_and_a_wrong_one_fails(tmp_path: Path) -> None:
    """encrypt: {passphrase_file}: the same file decrypts it; another passphrase does not."""
    phrase = tmp_path / "phrase.txt"
    phrase.write_text("correct horse battery staple\n", encoding="utf-8")
    folder = tmp_path / "dest"
    folder.mkdir()
    dest_yaml = f"{{url: 'file://{folder}', encrypt: {{passphrase_file: {phrase}}}}}"
    db, (dest,) = first(snap_config(tmp_path, [dest_yaml]))
    insert_rows(db.path, 50)
    report = take_snapshot(db, dest, tmp_dir=tmp_path)
    assert row_ids(fetch_snapshot(db, dest, report.info, identity=phrase, out=tmp_path / "a.db"))
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("another passphrase\n", encoding="utf-8")
    with pytest.raises(SnapshotError, match="cannot decrypt") as caught:
        fetch_snapshot(db, dest, report.info, identity=wrong, out=tmp_path / "b.db")
    assert "another passphrase" not in str(caught.value)
    assert not (tmp_path / "b.db").exists()


def test_listing_is_newest_first_with_the_manifest(tmp_path: Path, age_key: AgeKey) -> None:
    """Two snapshots an hour apart: newest first, verified, with SHA-256 and database size."""
    db, dest = _setup(tmp_path, age_key)
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    first_report = take_snapshot(db, dest, tmp_dir=tmp_path, now=an_hour_ago)
    insert_rows(db.path, 10)
    second = take_snapshot(db, dest, tmp_dir=tmp_path)
    infos = list_snapshots(db, dest)
    assert [i.key for i in infos] == [second.info.key, first_report.info.key]
    assert all(i.verified and i.sha256 and i.db_bytes for i in infos)
    assert newest_snapshot(db, dest) == second.info


@pytest.mark.integration
def test_a_database_larger_than_the_temp_space_is_refused(tmp_path: Path, age_key: AgeKey) -> None:
    """A 3 MB database and a 1 MB temp folder: refused before anything is written."""
    db, dest = _setup(tmp_path, age_key)
    insert_rows(db.path, 10)
    with open(db.path, "r+b") as handle:  # noqa: PTH123 - grow the file, SQLite ignores the tail
        handle.truncate(3 * 1024 * 1024)
    with small_filesystem(tmp_path / "small", size="1m") as small:
        with pytest.raises(SnapshotError, match="larger than the free space") as caught:
            take_snapshot(db, dest, tmp_dir=small.root)
        assert list(small.root.iterdir()) == []
    assert str(small.root) in caught.value.message
    assert "MB" in caught.value.message
    assert _stored(tmp_path) == []


def test_a_missing_destination_folder_is_not_created(tmp_path: Path, age_key: AgeKey) -> None:
    """A folder destination that is gone (an unmounted disk): a clear error, no folder made."""
    db, dest = _setup(tmp_path, age_key)
    (tmp_path / "dest").rmdir()
    with pytest.raises(SnapshotError, match="does not exist"):
        take_snapshot(db, dest, tmp_dir=tmp_path)
    assert not (tmp_path / "dest").exists()


def test_the_work_runs_at_low_priority_and_the_caller_keeps_its_own() -> None:
    """The snapshot's thread runs at niceness 19 and I/O best-effort 7; the caller is unchanged."""
    import psutil

    def priorities() -> tuple[int, int, int]:
        tid = threading.get_native_id()
        io = psutil.Process(tid).ionice()
        return os.getpriority(os.PRIO_PROCESS, tid), int(io.ioclass), io.value

    mine = priorities()
    assert low_priority(priorities) == (19, int(psutil.IOPRIO_CLASS_BE), 7)
    assert priorities() == mine


def test_temporary_files_are_removed(tmp_path: Path, age_key: AgeKey) -> None:
    """After a snapshot, and after a failed one, the temp folder holds nothing of it."""
    db, dest = _setup(tmp_path, age_key)
    work = tmp_path / "tmp"
    work.mkdir()
    take_snapshot(db, dest, tmp_dir=work)
    (tmp_path / "dest").rename(tmp_path / "gone")
    with pytest.raises(SnapshotError):
        take_snapshot(db, dest, tmp_dir=work)
    assert list(work.iterdir()) == []


def test_a_failed_listing_after_the_upload_prunes_nothing(
    tmp_path: Path, age_key: AgeKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The snapshot succeeds and says why it did not prune; every older snapshot stays."""
    from khronos.snapshots._store import FileStore

    db, dest = _setup(tmp_path, age_key, retention="{hourly: 1, daily: 0, weekly: 1}")
    old = take_snapshot(db, dest, tmp_dir=tmp_path, now=datetime.now(UTC) - timedelta(hours=3))

    def listing_fails(self: FileStore, prefix: str) -> list[object]:
        raise SnapshotError("list: the store is gone")

    monkeypatch.setattr(FileStore, "entries", listing_fails)
    report = take_snapshot(db, dest, tmp_dir=tmp_path)
    monkeypatch.undo()
    assert report.prune_error == "list: the store is gone"
    assert report.pruned == ()
    assert {i.key for i in list_snapshots(db, dest)} == {old.info.key, report.info.key}


def test_a_read_back_that_differs_deletes_the_object_and_fails(
    tmp_path: Path, age_key: AgeKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store returns other bytes: SnapshotError, the object deleted, older ones kept."""
    from khronos.snapshots._store import FileStore

    db, dest = _setup(tmp_path, age_key, retention="{hourly: 1, daily: 0, weekly: 1}")
    old = take_snapshot(db, dest, tmp_dir=tmp_path, now=datetime.now(UTC) - timedelta(hours=3))
    monkeypatch.setattr(FileStore, "digest", lambda *_: (1, "0" * 64))
    with pytest.raises(SnapshotError, match="another SHA-256"):
        take_snapshot(db, dest, tmp_dir=tmp_path)
    monkeypatch.undo()
    assert [i.key for i in list_snapshots(db, dest)] == [old.info.key]
    assert len(list((tmp_path / "dest").rglob("*.json"))) == 1


def test_a_clock_that_went_back_deletes_neither_snapshot(tmp_path: Path, age_key: AgeKey) -> None:
    """A snapshot stamped in the future (the clock was ahead) and the new one both stay."""
    db, dest = _setup(tmp_path, age_key, retention="{hourly: 1, daily: 0, weekly: 1}")
    now = datetime.now(UTC)
    ahead = take_snapshot(db, dest, tmp_dir=tmp_path, now=now + timedelta(hours=2))
    report = take_snapshot(db, dest, tmp_dir=tmp_path, now=now)
    assert report.pruned == ()
    assert {i.key for i in list_snapshots(db, dest)} == {ahead.info.key, report.info.key}


def test_a_rollback_journal_database_is_copied_while_the_app_writes(
    tmp_path: Path, age_key: AgeKey
) -> None:
    """Not in WAL mode: the copy (20 MB, several steps' worth) ends while a writer commits."""
    db, dest = _setup(tmp_path, age_key)
    with contextlib.closing(sqlite3.connect(db.path)) as conn:
        conn.execute("PRAGMA journal_mode=DELETE")
    _fill(db.path, 20_000)
    with writing(db.path, start=20_000) as writer:
        poll(lambda: writer.wrote(50), what="the writer to commit")
        before = set(writer.committed)
        report = take_snapshot(db, dest, tmp_dir=tmp_path)
    ids = row_ids(
        fetch_snapshot(db, dest, report.info, identity=age_key.identity, out=tmp_path / "r.db")
    )
    assert before <= set(ids)
    assert ids == list(range(len(ids)))


@pytest.mark.integration
def test_a_full_destination_disk_fails_clearly_and_leaves_no_partial_object(
    tmp_path: Path, age_key: AgeKey
) -> None:
    """A folder destination on a full 1 MB tmpfs: 'disk full', nothing half-written, the older
    snapshot kept."""
    with small_filesystem(tmp_path / "disk", size="1m") as disk:
        config = snap_config(tmp_path, [file_dest(disk.root, age_key)])
        db, (dest,) = first(config)
        old = take_snapshot(db, dest, tmp_dir=tmp_path, now=datetime.now(UTC) - timedelta(hours=2))
        _fill(db.path, 3000)  # 3 MB of random bytes: does not compress into 1 MB
        with pytest.raises(SnapshotError, match="disk full") as caught:
            take_snapshot(db, dest, tmp_dir=tmp_path)
        assert caught.value.recoverable
        left = sorted(p.name for p in (disk.root / "app").iterdir())
        assert left == [old.info.key.split("/")[1], old.info.key.split("/")[1] + ".json"]


def test_the_copy_waits_for_a_write_lock_longer_than_sqlites_busy_timeout(
    tmp_path: Path, age_key: AgeKey
) -> None:
    """The app holds its database locked (rollback journal, a long write) for longer than
    SQLite's default busy timeout of 5 s: the snapshot waits for the commit instead of failing
    with "database is locked", and holds the committed row."""
    db, dest = _setup(tmp_path, age_key)
    with contextlib.closing(sqlite3.connect(db.path)) as conn:
        conn.execute("PRAGMA journal_mode=DELETE")
    _fill(db.path, 100)
    app = sqlite3.connect(db.path, isolation_level=None, check_same_thread=False)
    try:
        app.execute("BEGIN EXCLUSIVE")
        app.execute("INSERT INTO rows (id, body) VALUES (100, x'00')")
        release = threading.Timer(6.0, lambda: app.execute("COMMIT"))  # the fault: a long write
        release.start()
        try:
            report = take_snapshot(db, dest, tmp_dir=tmp_path)
        finally:
            release.join()
    finally:
        app.close()
    restored = fetch_snapshot(db, dest, report.info, identity=age_key.identity, out=tmp_path / "r")
    assert row_ids(restored) == list(range(101))
