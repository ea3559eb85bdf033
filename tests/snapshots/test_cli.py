"""``khronos snapshot now``, ``khronos snapshots list`` and ``khronos restore --from snapshot``:
the CLI (CliRunner) and, end to end, a database brought back after its replica is gone."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from khronos.cli import cli
from khronos.config import KhronosConfig
from khronos.snapshots import take_snapshot
from tests.backup.conftest import S3_KEY, S3_SECRET, S3Server, insert_rows
from tests.backup.test_restore_support import digests, replicating, writer_holding
from tests.proxy import TcpProxy
from tests.snapshots.helpers import AgeKey, file_dest, make_key, row_ids, s3_dest, snap_config

HOUR = timedelta(hours=1)


def _cli(config: KhronosConfig, *args: str) -> tuple[int, str]:
    """Exit code and stdout (JSON) when ``--json`` is given, else everything printed."""
    result = CliRunner().invoke(cli, ["-c", str(config.source), *args])
    return result.exit_code, result.stdout if "--json" in args else result.output


def _config(tmp_path: Path, key: AgeKey) -> KhronosConfig:
    return snap_config(tmp_path, [file_dest(tmp_path / "dest", key, name="local")])


def test_snapshot_now_then_list_as_json(tmp_path: Path, age_key: AgeKey) -> None:
    """snapshot now --json reports the snapshot; snapshots list --json lists it, verified."""
    config = _config(tmp_path, age_key)
    code, out = _cli(config, "snapshot", "now", "--json")
    assert code == 0, out
    (made,) = json.loads(out)
    assert made["dest"] == "local"
    assert made["verified"] is True
    assert set(made["steps"]) == {
        "copy",
        "check",
        "compress",
        "encrypt",
        "upload",
        "verify",
        "prune",
    }
    code, out = _cli(config, "snapshots", "list", "--json")
    assert code == 0, out
    listed = json.loads(out)
    assert [s["key"] for s in listed["snapshots"]] == [made["key"]]
    assert listed["snapshots"][0]["verified"] is True
    assert listed["errors"] == []


def test_snapshot_now_prints_what_it_made(tmp_path: Path, age_key: AgeKey) -> None:
    """The line names the destination, the key, the size, the ratio, the time, verified."""
    config = _config(tmp_path, age_key)
    code, out = _cli(config, "snapshot", "now")
    assert code == 0, out
    assert "app -> local: app/" in out
    assert "smaller than" in out
    assert "verified" in out


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["restore", "--from", "snapshot", "-y"], "needs the identity"),
        (["restore", "--from", "tape", "-y"], "is not a source"),
        (["restore", "--from", "snapshot:nope", "--identity", "KEY", "-y"], "named 'nope'"),
        (["restore", "--identity", "KEY", "-y"], "add --from snapshot"),
        (["restore", "--from", "snapshot", "--txid", "1", "--identity", "KEY"], "no txids"),
        (["snapshot", "now", "--dest", "nope"], "named 'nope'"),
        (["snapshots", "list", "--db", "nope"], "no database named 'nope'"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else v,
)
def test_bad_usage_exits_2_without_a_traceback(
    tmp_path: Path, age_key: AgeKey, args: list[str], says: str
) -> None:
    """Each mistake: exit 2, the reason, no traceback, nothing restored."""
    config = _config(tmp_path, age_key)
    args = [str(age_key.identity) if a == "KEY" else a for a in args]
    code, out = _cli(config, *args)
    assert code == 2, out
    assert says in out
    assert "Traceback" not in out


def test_no_snapshot_destinations_is_a_usage_error(tmp_path: Path) -> None:
    """A configuration without snapshots: exit 2 pointing at the docs."""
    config = snap_config(tmp_path, [])
    code, out = _cli(config, "snapshot", "now")
    assert code == 2
    assert "docs/snapshots.md" in out


def test_restore_from_a_snapshot_with_the_wrong_identity_changes_nothing(
    tmp_path: Path, age_key: AgeKey
) -> None:
    """Exit 1 with a clear reason; the database's bytes as they were; no leftovers beside it."""
    config = _config(tmp_path, age_key)
    assert config.backup is not None
    db = config.backup.dbs[0].path
    insert_rows(db, 20)
    assert _cli(config, "snapshot", "now")[0] == 0
    insert_rows(db, 5, start=20)
    before = digests(db)
    other = make_key(tmp_path / "other" / "other.key")
    code, out = _cli(config, "restore", "--from", "snapshot", "--identity", str(other.identity))
    assert code == 1, out
    assert "cannot decrypt this snapshot" in out
    assert digests(db) == before
    assert (
        sorted(p.name for p in db.parent.iterdir() if p.name.startswith(("app.db", ".app")))
        == [
            "app.db",
            "app.db-shm",
            "app.db-wal",
        ]
        or digests(db) == before
    )


def test_restore_at_picks_the_newest_snapshot_at_or_before(tmp_path: Path, age_key: AgeKey) -> None:
    """Snapshots an hour apart; --at between them restores the older one's rows only."""
    config = _config(tmp_path, age_key)
    assert config.backup is not None
    db = config.backup.dbs[0]
    insert_rows(db.path, 10)
    older = take_snapshot(db, db.snapshots[0], tmp_dir=tmp_path, now=datetime.now(UTC) - HOUR)
    insert_rows(db.path, 10, start=10)
    assert _cli(config, "snapshot", "now")[0] == 0
    target = tmp_path / "then.db"
    between = (older.info.taken_at + HOUR / 2).isoformat()
    code, out = _cli(
        config, "restore", "--from", "snapshot:local", "--at", between,
        "--identity", str(age_key.identity), "-o", str(target), "--json",
    )  # fmt: skip
    assert code == 0, out
    assert row_ids(target) == list(range(10))
    assert json.loads(out)["snapshot"] == older.info.key


@pytest.mark.integration
def test_with_the_replica_gone_a_snapshot_brings_the_database_back(
    tmp_path: Path, s3_server: S3Server, bucket: str
) -> None:
    """Replica and database deleted: khronos restore --from snapshot (a subprocess) restores
    every row from S3 with only the identity file; no key or secret in its output."""
    key = make_key(tmp_path / "offline" / "snapshots.key")
    config = snap_config(tmp_path, [s3_dest(bucket, s3_server.endpoint, key, name="offsite")])
    assert config.backup is not None
    db = config.backup.dbs[0].path
    insert_rows(db, 300)
    with replicating(config, tmp_path) as rep:
        rep.sync()
    assert _cli(config, "snapshot", "now")[0] == 0
    shutil.rmtree(tmp_path / "replica")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KHRONOS_")}
    base = [sys.executable, "-m", "khronos", "-c", str(config.source), "restore", "-y"]
    gone = subprocess.run(base, check=False, capture_output=True, text=True, env=env, timeout=120)
    assert gone.returncode != 0  # the replica is really gone
    back = subprocess.run(
        [*base, "--from", "snapshot", "--identity", str(key.identity)],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert back.returncode == 0, back.stderr
    assert row_ids(db) == list(range(300))
    secret_key_line = key.identity.read_text(encoding="utf-8").splitlines()[-1]
    for text in (back.stdout, back.stderr):
        assert S3_SECRET not in text
        assert S3_KEY not in text
        assert secret_key_line not in text


@pytest.mark.integration
def test_secrets_appear_in_no_output_or_log_line(
    tmp_path: Path, age_key: AgeKey, s3_proxy: TcpProxy, bucket: str
) -> None:
    """S3 keys and the passphrase: in no line of snapshot now (ok and failing), list, restore."""
    phrase = tmp_path / "phrase.txt"
    phrase.write_text("hunter2-passphrase-do-not-print\n", encoding="utf-8")
    folder = tmp_path / "dest"
    folder.mkdir()
    config = snap_config(
        tmp_path,
        [
            s3_dest(bucket, s3_proxy.url, age_key, name="offsite"),
            f"{{url: 'file://{folder}', name: local, encrypt: {{passphrase_file: {phrase}}}}}",
        ],
    )
    outputs = [_cli(config, "snapshot", "now")[1], _cli(config, "snapshots", "list")[1]]
    assert "snapshot taken" in outputs[0]  # the log lines are part of what is checked
    s3_proxy.cut()
    try:
        code, out = _cli(config, "snapshot", "now")
    finally:
        s3_proxy.restore()
    assert code == 1
    assert "offsite: failed: upload: cannot reach" in out
    assert "app -> local: app/" in out  # the other destination's snapshot is made all the same
    outputs.append(out)
    target = str(tmp_path / "back.db")
    restore = ["restore", "--from", "snapshot:local", "--identity", str(phrase), "-o", target]
    code, out = _cli(config, *restore)
    assert code == 0, out
    outputs.append(out)
    for text in outputs:
        assert S3_KEY not in text
        assert S3_SECRET not in text
        assert "hunter2" not in text


@pytest.mark.integration
def test_restore_from_a_snapshot_is_refused_while_the_app_has_the_database_open(
    tmp_path: Path, age_key: AgeKey
) -> None:
    """The same safety as the replica's restore: exit 3 while in use, the database untouched."""
    config = _config(tmp_path, age_key)
    assert config.backup is not None
    db = config.backup.dbs[0].path
    insert_rows(db, 20)
    with writer_holding(db):
        assert _cli(config, "snapshot", "now")[0] == 0  # a snapshot does not wait for the app
        before = digests(db)
        code, out = _cli(
            config, "restore", "--from", "snapshot", "--identity", str(age_key.identity)
        )
        assert code == 3, out
        assert "refusing to restore" in out
        assert digests(db) == before


def test_a_dry_run_names_the_snapshot_and_changes_nothing(tmp_path: Path, age_key: AgeKey) -> None:
    """--dry-run: the plan names the snapshot and the safety copy; nothing is downloaded."""
    config = _config(tmp_path, age_key)
    assert config.backup is not None
    db = config.backup.dbs[0].path
    assert _cli(config, "snapshot", "now")[0] == 0
    before = digests(db)
    args = ["restore", "--from", "snapshot", "--identity", str(age_key.identity), "--dry-run"]
    code, out = _cli(config, *args)
    assert code == 0, out
    assert "snapshot app/" in out
    assert "the snapshot," in out
    assert digests(db) == before
    assert [*db.parent.glob("*.pre-restore-*")] == []


def test_the_list_shows_local_time_with_its_offset(
    tmp_path: Path, age_key: AgeKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TZ=Asia/Tokyo: the snapshot's time is printed in +0900."""
    import time

    config = _config(tmp_path, age_key)
    assert config.backup is not None
    db = config.backup.dbs[0]
    when = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    take_snapshot(db, db.snapshots[0], tmp_dir=tmp_path, now=when)
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        code, out = _cli(config, "snapshots", "list")
    finally:
        monkeypatch.undo()
        time.tzset()
    assert code == 0, out
    assert "2026-03-01 21:30:00 +0900" in out


def test_the_destinations_identity_file_is_the_default_identity(
    tmp_path: Path, age_key: AgeKey
) -> None:
    """identity_file: on the destination: restore --from snapshot needs no --identity."""
    folder = tmp_path / "dest"
    config = snap_config(
        tmp_path, [file_dest(folder, age_key, name="local", identity_file=str(age_key.identity))]
    )
    assert config.backup is not None
    db = config.backup.dbs[0].path
    insert_rows(db, 30)
    assert _cli(config, "snapshot", "now")[0] == 0
    target = tmp_path / "copy.db"
    code, out = _cli(config, "restore", "--from", "snapshot", "-o", str(target))
    assert code == 0, out
    assert row_ids(target) == list(range(30))


def test_a_snapshot_taken_by_hand_is_recorded_for_status(tmp_path: Path, age_key: AgeKey) -> None:
    """snapshot now records its success in snapshots.json: khronos status shows it."""
    config = _config(tmp_path, age_key)
    code, out = _cli(config, "snapshot", "now", "--json")
    assert code == 0, out
    (made,) = json.loads(out)
    code, out = _cli(config, "status", "--json")
    (db,) = json.loads(out)["databases"]
    (dest,) = db["snapshots"]
    assert dest["dest"] == "local"
    assert dest["key"] == made["key"], dest
    assert dest["last_success_at"] is not None, dest
