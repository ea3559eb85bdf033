"""Safe restore on real Litestream: every row back, point in time, failures change nothing."""

from __future__ import annotations

import os
import stat
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from khronos.backup._control import control_socket_path
from khronos.backup._restore import restore_database
from khronos.backup._sqlite import integrity_problems
from khronos.errors import NoBackupError, RestoreError, RestoreRefusedError
from tests.backup.conftest import MakeConfig, insert_rows
from tests.backup.test_restore_support import (
    backed_up,
    digests,
    ids,
    insert_wal_only,
    replicating,
    writer_holding,
)

pytestmark = pytest.mark.integration


def test_restore_brings_back_every_row(make_config: MakeConfig, tmp_path: Path) -> None:
    """Rows written after the backup are replaced by exactly the replicated rows."""
    config, db = backed_up(make_config, tmp_path)
    insert_wal_only(db, 100, 105)
    result = restore_database(config)
    assert not Path(f"{db}-wal").exists()  # the old WAL must never meet the new file
    assert ids(db) == list(range(50))
    assert result.plan.txid
    assert result.integrity == "ok"


def test_safety_copy_has_the_wal_rows(make_config: MakeConfig, tmp_path: Path) -> None:
    """The safety copy holds the pre-restore rows, those only in the WAL too, and passes checks."""
    config, db = backed_up(make_config, tmp_path)
    insert_wal_only(db, 100, 105)
    result = restore_database(config)
    assert result.safety_copy is not None
    assert result.safety_copy_method == "kept"
    assert integrity_problems(result.safety_copy) == []
    assert ids(result.safety_copy) == [*range(50), *range(100, 105)]


def test_safety_copy_is_the_old_file_made_self_contained(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    """No bytes copied: the safety copy is the old file (its inode), WAL folded in, mode 0600."""
    config, db = backed_up(make_config, tmp_path)
    insert_wal_only(db, 100, 105)
    inode = db.stat().st_ino
    result = restore_database(config)
    assert result.safety_copy is not None
    assert result.safety_copy.stat().st_ino == inode
    assert stat.S_IMODE(result.safety_copy.stat().st_mode) == 0o600
    assert not Path(f"{result.safety_copy}-wal").exists()
    copy = tmp_path / "moved-alone.db"
    result.safety_copy.rename(copy)  # one file is the whole database
    assert ids(copy) == [*range(50), *range(100, 105)]


def test_without_hard_links_the_safety_copy_is_copied(
    make_config: MakeConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file system without hard links: the backup API copies it, WAL rows included."""
    config, db = backed_up(make_config, tmp_path)
    insert_wal_only(db, 100, 105)

    def no_links(*_args: object, **_kwargs: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    result = restore_database(config)
    assert result.safety_copy is not None
    assert result.safety_copy_method == "backup-api"
    assert ids(result.safety_copy) == [*range(50), *range(100, 105)]
    assert ids(db) == list(range(50))


def _millis(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def _wait_past(moment: datetime) -> None:
    """Return once the wall clock is in a later millisecond than ``moment`` (LTX times are ms)."""
    deadline = time.monotonic() + 5
    while _millis(datetime.now(UTC)) <= _millis(moment):
        assert time.monotonic() < deadline, "the wall clock does not advance"


def test_point_in_time_by_timestamp(make_config: MakeConfig, tmp_path: Path) -> None:
    """A timestamp between two batches restores exactly the first batch."""
    config = make_config()
    db = config.backup.dbs[0].path
    with replicating(config, tmp_path) as rep:
        insert_rows(db, 10)
        rep.sync()
        moment = datetime.now(UTC)
        _wait_past(moment)
        insert_rows(db, 10, start=10)
        rep.sync()
    result = restore_database(config, output=tmp_path / "then.db", timestamp=moment.isoformat())
    assert ids(tmp_path / "then.db") == list(range(10))
    assert result.safety_copy is None


def test_point_in_time_by_txid(make_config: MakeConfig, tmp_path: Path) -> None:
    """A txid restores the transactions up to and including it."""
    config = make_config()
    db = config.backup.dbs[0].path
    with replicating(config, tmp_path) as rep:
        insert_rows(db, 10)
        first = rep.sync()["txid"]
        insert_rows(db, 10, start=10)
        rep.sync()
    restore_database(config, output=tmp_path / "then.db", txid=f"{first:x}")
    assert ids(tmp_path / "then.db") == list(range(10))


def test_timestamp_before_the_oldest_backup(make_config: MakeConfig, tmp_path: Path) -> None:
    """A point before every backup is a clear error naming the oldest backup."""
    config, db = backed_up(make_config, tmp_path, rows=3)
    before = digests(db)
    with pytest.raises(NoBackupError, match="no backup at or before") as info:
        restore_database(config, timestamp="2001-01-01T00:00:00Z")
    assert "oldest backup is from" in (info.value.hint or "")
    assert digests(db) == before


@pytest.mark.parametrize("value", ["yesterday", "2025-01-01T00:00:00"])
def test_invalid_timestamp(make_config: MakeConfig, value: str) -> None:
    """A timestamp that is not RFC 3339 with a zone is refused before anything runs."""
    config = make_config()
    with pytest.raises(RestoreError, match="timestamp"):
        restore_database(config, timestamp=value)


def test_restore_over_a_corrupted_db(make_config: MakeConfig, tmp_path: Path) -> None:
    """A corrupt current db is kept raw as the safety copy and replaced by the backup."""
    config, db = backed_up(make_config, tmp_path)
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    db.write_bytes(b"garbage" * 2000)
    result = restore_database(config)
    assert ids(db) == list(range(50))
    assert result.safety_copy_method == "raw-copy"
    assert result.safety_copy is not None
    assert result.safety_copy.read_bytes() == b"garbage" * 2000


def test_restore_over_a_missing_db(make_config: MakeConfig, tmp_path: Path) -> None:
    """A missing db is restored, with no safety copy."""
    config, db = backed_up(make_config, tmp_path)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    result = restore_database(config)
    assert ids(db) == list(range(50))
    assert result.safety_copy is None


def test_no_backup_at_all(make_config: MakeConfig) -> None:
    """An empty replica: a clear error, the db untouched byte for byte, no safety copy."""
    config = make_config()
    db = config.backup.dbs[0].path
    insert_rows(db, 5)
    insert_wal_only(db, 5, 8)
    before = digests(db)
    with pytest.raises(NoBackupError, match="no backups yet") as info:
        restore_database(config)
    assert "replicating" in (info.value.hint or "")
    assert digests(db) == before
    assert not list(db.parent.glob("*.pre-restore-*"))


def test_damaged_replica_leaves_db_untouched(make_config: MakeConfig, tmp_path: Path) -> None:
    """A replica that restores garbage fails; the db is as it was and the safety copy is valid."""
    config, db = backed_up(make_config, tmp_path)
    insert_wal_only(db, 100, 103)
    for ltx in (tmp_path / "replica").rglob("*.ltx"):
        data = bytearray(ltx.read_bytes())
        data[120:] = b"\xff" * (len(data) - 120)
        ltx.write_bytes(bytes(data))
    before = digests(db)
    with pytest.raises(RestoreError) as info:
        restore_database(config)
    assert digests(db) == before
    assert info.value.safety_copy is not None
    assert ids(Path(info.value.safety_copy)) == [*range(50), *range(100, 103)]


def test_failed_swap_leaves_the_db_byte_identical(make_config: MakeConfig, tmp_path: Path) -> None:
    """The final rename fails: the db and its WAL are byte for byte what they were."""
    config, db = backed_up(make_config, tmp_path)
    insert_wal_only(db, 100, 105)
    before = digests(db)

    def sabotage(stage: str, _done: int | None = None, /) -> None:
        if stage == "swapping":  # the restored copy vanishes just before the rename
            for restored in db.parent.glob(f".{db.name}.khronos-restore-*/{db.name}"):
                restored.unlink()

    with pytest.raises(RestoreError, match="cannot move the restored database into place"):
        restore_database(config, progress=sabotage)
    assert digests(db) == before
    assert ids(db) == [*range(50), *range(100, 105)]
    assert not list(db.parent.glob(f".{db.name}.khronos-restore-*"))


def test_safety_copies_are_never_overwritten(make_config: MakeConfig, tmp_path: Path) -> None:
    """Names taken (a restore in the same second): the safety copy gets a new one."""
    config, db = backed_up(make_config, tmp_path)
    start = datetime.now(UTC)
    taken = [
        Path(f"{db}.pre-restore-{(start + timedelta(seconds=n)):%Y%m%dT%H%M%SZ}")
        for n in range(120)
    ]
    for path in taken:
        path.write_bytes(b"an earlier safety copy")
    result = restore_database(config)
    assert result.safety_copy is not None
    assert result.safety_copy not in taken
    assert all(path.read_bytes() == b"an earlier safety copy" for path in taken)
    assert ids(result.safety_copy) == list(range(50))


def test_refuses_while_a_writer_holds_the_db(make_config: MakeConfig, tmp_path: Path) -> None:
    """An open write transaction in another process: refused (exit code 3), nothing changed."""
    config, db = backed_up(make_config, tmp_path)
    with writer_holding(db) as writer:
        before = digests(db)
        with pytest.raises(RestoreRefusedError, match=f"pid {writer.pid}") as info:
            restore_database(config)
        assert digests(db) == before
    assert info.value.exit_code == 3
    assert not list(db.parent.glob("*.pre-restore-*"))


def test_force_overrides_a_writer(make_config: MakeConfig, tmp_path: Path) -> None:
    """--force restores while a writer holds the db, and says what it overrode."""
    config, db = backed_up(make_config, tmp_path)
    with writer_holding(db) as writer:
        result = restore_database(config, force=True)
    assert any(f"pid {writer.pid}" in r for r in result.in_use)
    assert result.safety_copy_method == "backup-api"  # copied first: the writer holds the file
    assert ids(db) == list(range(50))


def test_refuses_while_litestream_replicates(make_config: MakeConfig, tmp_path: Path) -> None:
    """A running litestream replicate on the db is a refusal; --force overrides it."""
    config = make_config()
    db = config.backup.dbs[0].path
    insert_rows(db, 5)
    with replicating(config, tmp_path) as rep:
        rep.sync()
        with pytest.raises(RestoreRefusedError, match="Litestream is replicating"):
            restore_database(config)
        result = restore_database(config, output=tmp_path / "copy.db")
    assert ids(tmp_path / "copy.db") == list(range(5))
    assert result.in_use == []


def test_dry_run_changes_nothing(make_config: MakeConfig, tmp_path: Path) -> None:
    """--dry-run reports the plan and writes nothing next to the db."""
    config, db = backed_up(make_config, tmp_path)
    before = (sorted(p.name for p in db.parent.iterdir()), digests(db))
    result = restore_database(config, dry_run=True)
    assert result.dry_run
    assert result.plan.txid
    assert result.plan.safety_copy is not None
    assert (sorted(p.name for p in db.parent.iterdir()), digests(db)) == before


def test_output_exists_needs_force(make_config: MakeConfig, tmp_path: Path) -> None:
    """-o to an existing file is refused without force; with force the old file is kept aside."""
    config, _db = backed_up(make_config, tmp_path, rows=4)
    out = tmp_path / "other.db"
    out.write_bytes(b"keep me")
    with pytest.raises(RestoreRefusedError, match="already exists"):
        restore_database(config, output=out)
    result = restore_database(config, output=out, force=True)
    assert ids(out) == list(range(4))
    assert result.safety_copy is not None
    assert result.safety_copy.read_bytes() == b"keep me"


def test_output_in_a_missing_folder_is_refused(make_config: MakeConfig, tmp_path: Path) -> None:
    """-o into a folder that does not exist: refused with the mkdir hint, nothing created."""
    config, _db = backed_up(make_config, tmp_path, rows=2)
    folder = tmp_path / "typo"
    with pytest.raises(RestoreRefusedError, match="does not exist") as info:
        restore_database(config, output=folder / "copy.db")
    assert f"mkdir -p {folder}" in (info.value.hint or "")
    assert not folder.exists()


def test_output_on_a_character_device_is_refused_even_with_force(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    """A device node given to -o is never replaced, not even with --force."""
    config, _db = backed_up(make_config, tmp_path, rows=2)
    device = tmp_path / "null"
    try:
        os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("mknod needs root")
    with pytest.raises(RestoreRefusedError, match="is a character device"):
        restore_database(config, output=device, force=True)
    assert stat.S_ISCHR(device.stat().st_mode)


def test_output_through_a_dangling_symlink_is_refused(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    """-o naming a link to a missing file: refused; no folder or file at the link's target."""
    config, _db = backed_up(make_config, tmp_path, rows=2)
    link = tmp_path / "copy.db"
    link.symlink_to(tmp_path / "elsewhere" / "copy.db")
    with pytest.raises(RestoreRefusedError, match="symbolic link"):
        restore_database(config, output=link, force=True)
    assert not (tmp_path / "elsewhere").exists()
    assert link.is_symlink()


def test_output_through_a_link_to_a_file_restores_into_the_file(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    """A link to an existing file is followed: the file is restored, the link stays."""
    config, _db = backed_up(make_config, tmp_path, rows=3)
    real = tmp_path / "real.db"
    real.write_bytes(b"old")
    link = tmp_path / "link.db"
    link.symlink_to(real)
    restore_database(config, output=link, force=True)
    assert link.is_symlink()
    assert ids(real) == [0, 1, 2]


def test_refusal_names_the_control_socket_and_the_whole_command_line(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    """The refusal names the socket (not state_dir) and quotes Litestream's command line whole."""
    config = make_config()
    insert_rows(config.backup.dbs[0].path, 2)
    sock = control_socket_path(config.state_dir)
    sock.parent.mkdir(parents=True, exist_ok=True)
    deep = tmp_path / ("a-rather-long-folder-name-" * 3)
    deep.mkdir()
    with replicating(config, deep, sock) as rep:
        rep.sync()
        with pytest.raises(RestoreRefusedError) as info:
            restore_database(config)
    assert f"its Litestream answers on {sock})" in info.value.message
    assert f"-config {rep.config})" in info.value.message
