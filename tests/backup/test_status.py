"""Status: the lag tracker, verify.json, and `khronos status` / `khronos backup now`."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from khronos.backup import BackupService, DbStatus, RecordingAlertSink, VerifyResult
from khronos.backup._control import parse_time
from khronos.backup._status import read_verify_file
from khronos.backup._tracker import DbTracker
from khronos.cli import cli
from khronos.config import KhronosConfig, parse_config
from khronos.state import write_json_atomic
from tests.backup.conftest import (
    S3_SECRET,
    MakeConfig,
    S3Server,
    assert_zoned_times,
    insert_rows,
    s3_replica_yaml,
    wait_for,
)


def _tracker() -> DbTracker:
    config = parse_config(
        "backup: {dbs: [{path: /tmp/x/app.db, replica: {url: 'file:///tmp/x/r'}}]}"
    )
    assert config.backup is not None
    return DbTracker(config.backup.dbs[0])


def test_lag_is_age_of_oldest_unreplicated_txid() -> None:
    """Lag counts from when the oldest local txid not in the replica was first seen."""
    tracker = _tracker()
    tracker.observe(5, 5, now=100.0)
    tracker.observe(6, 5, now=101.0)
    tracker.observe(9, 5, now=104.0)
    assert tracker.lag(110.0) == 9.0


def test_lag_drops_to_zero_when_replica_catches_up() -> None:
    """When the replica reaches the local txid the lag is 0."""
    tracker = _tracker()
    tracker.observe(6, 5, now=101.0)
    tracker.observe(7, 6, now=103.0)
    assert tracker.lag(104.0) == 1.0
    tracker.observe(7, 7, now=105.0)
    assert tracker.lag(200.0) == 0.0


def test_unknown_replica_position_keeps_the_last_known() -> None:
    """replicated_txid 0 (Litestream reset it after an error) keeps the last known value."""
    tracker = _tracker()
    tracker.observe(5, 5, now=100.0)
    tracker.observe(6, 0, now=101.0)
    assert (tracker.replica_txid, tracker.lag(103.0)) == (5, 2.0)


def test_verify_file_is_read_by_label(tmp_path: Path) -> None:
    """verify.json entries become VerifyResult per database label; junk is skipped."""
    write_json_atomic(
        tmp_path / "verify.json",
        {
            "app": {"ok": True, "at": "2025-01-02T03:04:05+00:00", "txid": "a1", "error": None},
            "bad": "not a mapping",
        },
    )
    results = read_verify_file(tmp_path)
    at = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert results == {"app": VerifyResult(True, at, "a1", None, last_success_at=at)}


def test_state_files_are_private(tmp_path: Path) -> None:
    """status.json/verify.json are written 0600, in a state_dir created 0700 (umask 022)."""
    old = os.umask(0o022)
    try:
        write_json_atomic(tmp_path / "state" / "verify.json", {"app": {"ok": True}})
    finally:
        os.umask(old)
    assert oct((tmp_path / "state").stat().st_mode & 0o777) == "0o700"
    assert oct((tmp_path / "state" / "verify.json").stat().st_mode & 0o777) == "0o600"


def test_status_json_round_trips() -> None:
    """DbStatus survives to_json/from_json (txids as 16 hex digits)."""
    status = DbStatus("app", Path("/x/app.db"), "file:///r", 10, 9, 1.5, replicating=True)
    data = status.to_json()
    assert (data["local_txid"], data["replica_txid"]) == ("000000000000000a", "0000000000000009")
    assert DbStatus.from_json(data) == status


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-02T01:10:39.929108123Z", datetime(2026, 12, 2, 1, 10, 39, 929108, UTC)),
        ("2026-12-02T01:10:39.929108123+00:00", datetime(2026, 12, 2, 1, 10, 39, 929108, UTC)),
        ("2026-12-02T10:10:39.5+09:00", datetime(2026, 12, 2, 1, 10, 39, 500000, UTC)),
        ("2026-12-02T01:10:39Z", datetime(2026, 12, 2, 1, 10, 39, tzinfo=UTC)),
        ("2026-12-02T01:10:39.929108", datetime(2026, 12, 2, 1, 10, 39, 929108, UTC)),
    ],
)
def test_parse_time_keeps_the_zone(text: str, expected: datetime) -> None:
    """Go's nanosecond times keep their zone (a time without one is UTC): always aware."""
    parsed = parse_time(text)
    assert parsed is not None
    assert parsed.tzinfo is not None
    assert parsed == expected


_ZONES = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


@given(
    moment=st.datetimes(
        min_value=datetime(1970, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
        max_value=datetime(9999, 1, 1),  # noqa: DTZ001
        timezones=_ZONES,
    ),
    digits=st.integers(min_value=0, max_value=9),
)
def test_parse_time_reads_every_go_rendering(moment: datetime, digits: int) -> None:
    """Any zone and 0-9 fraction digits: the same instant (to the microsecond), aware."""
    frac = f"{moment.microsecond:06d}000"[:digits]
    offset = moment.strftime("%z")
    zone = "Z" if offset == "+0000" else f"{offset[:3]}:{offset[3:]}"
    text = moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if digits else "") + zone
    parsed = parse_time(text)
    assert parsed is not None
    assert parsed.utcoffset() == moment.utcoffset()
    assert parsed == moment.replace(microsecond=int(frac.ljust(6, "0")[:6]))


def _cli(config: KhronosConfig, *args: str, stdout_only: bool = False) -> tuple[int, str]:
    """Exit code and what was printed (stdout only: logs on stderr left out)."""
    result = CliRunner().invoke(cli, ["-c", str(config.source), *args])
    return result.exit_code, result.stdout if stdout_only else result.output


async def _run_cli(
    config: KhronosConfig, *args: str, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """A real ``python -m khronos`` run (``env`` added to the environment): code, stdout, stderr."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "khronos",
        "-c",
        str(config.source),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return int(proc.returncode or 0), out.decode(), err.decode()


@pytest.mark.integration
@pytest.mark.asyncio
async def test_status_json_from_the_running_daemon(make_config: MakeConfig, tmp_path: Path) -> None:
    """With khronos run up, status --json reports replicating and the replica's txid."""
    config = make_config()
    service = BackupService(config, alerts=RecordingAlertSink())
    await service.start()
    try:
        insert_rows(tmp_path / "app.db", 5)
        await service.sync_now(timeout=30)
        await wait_for(lambda: service.status()[0].lag_seconds == 0.0, what="caught up")
        code, out, err = await _run_cli(config, "status", "--json")
    finally:
        await service.stop()
    assert code == 0, err
    document = json.loads(out)
    (db,) = document["databases"]
    assert (document["source"], db["replicating"], db["lag_seconds"]) == ("daemon", True, 0.0)
    assert db["replica_txid"] == db["local_txid"] is not None
    assert parse_time(db["last_sync_at"]).tzinfo is not None
    assert db["last_sync_at"].endswith("+00:00")


@pytest.mark.integration
@pytest.mark.asyncio
async def test_status_table_from_a_daemon_that_synced(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    """The human status beside a daemon that has synced shows the last sync, in any TZ."""
    config = make_config()
    service = BackupService(config, alerts=RecordingAlertSink())
    await service.start()
    try:
        insert_rows(tmp_path / "app.db", 5)
        await service.sync_now(timeout=30)
        await wait_for(lambda: service.status()[0].last_sync_at is not None, what="a sync")
        code, out, err = await _run_cli(config, "status", env={"TZ": "Asia/Tokyo"})
        json_code, json_out, _ = await _run_cli(config, "status", "--json")
        await wait_for(lambda: "+00:00" in _status_file(config), what="status.json")
        assert assert_zoned_times(json.loads(_status_file(config))) >= 2
    finally:
        await service.stop()
    assert code == 0, err
    assert re.search(r"last sync\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d JST \(\d+s ago\)", out), out
    assert json_code == 0
    (db,) = json.loads(json_out)["databases"]
    assert parse_time(db["last_sync_at"]).tzinfo is not None


def _status_file(config: KhronosConfig) -> str:
    try:
        return (config.state_dir / "status.json").read_text(encoding="utf-8")
    except OSError:
        return ""


@pytest.mark.integration
def test_status_json_without_daemon_reads_the_replica(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    """Without a daemon status reads the replica: replicating false, txids and lag 0."""
    config = make_config()
    insert_rows(tmp_path / "app.db", 5)
    assert _cli(config, "backup", "now")[0] == 0
    write_json_atomic(config.state_dir / "verify.json", {"app": {"ok": False, "error": "boom"}})
    code, out = _cli(config, "status", "--json", stdout_only=True)
    assert code == 0, out
    (db,) = json.loads(out)["databases"]
    keys = {"path", "replica", "local_txid", "replica_txid", "lag_seconds", "last_sync_at"}
    assert keys | {"replicating", "last_verify"} <= db.keys()
    assert (db["replicating"], db["lag_seconds"], db["last_verify"]["error"]) == (
        False,
        0.0,
        "boom",
    )
    assert db["replica_txid"] == db["local_txid"] is not None


@pytest.mark.integration
def test_status_table_for_humans(make_config: MakeConfig, tmp_path: Path) -> None:
    """The human output is a table naming the database and the replica."""
    config = make_config()
    insert_rows(tmp_path / "app.db", 1)
    _cli(config, "backup", "now")
    code, out = _cli(config, "status")
    assert code == 0, out
    assert re.search(r"replicating\s+no", out)
    assert "no daemon" in out


@pytest.mark.integration
@pytest.mark.asyncio
async def test_backup_now_through_the_daemon(make_config: MakeConfig, tmp_path: Path) -> None:
    """backup now with khronos run up syncs through it and exits 0."""
    config = make_config()
    service = BackupService(config, alerts=RecordingAlertSink())
    await service.start()
    try:
        insert_rows(tmp_path / "app.db", 5)
        code, out, err = await _run_cli(config, "backup", "now", "--timeout", "30s")
    finally:
        await service.stop()
    assert code == 0, err
    assert "via khronos run" in out


@pytest.mark.integration
def test_backup_now_without_daemon_uses_replicate_once(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    """backup now without a daemon runs litestream replicate -once and checks the replica."""
    config = make_config()
    insert_rows(tmp_path / "app.db", 5)
    code, out = _cli(config, "backup", "now", "--db", "app")
    assert code == 0, out
    assert "replicate -once" in out


def test_backup_now_unknown_db_fails(make_config: MakeConfig) -> None:
    """An unknown --db is a usage error (exit 2) naming the known databases."""
    code, out = _cli(make_config(), "backup", "now", "--db", "nope")
    assert code == 2
    assert "known: app" in out


@pytest.mark.integration
def test_backup_now_fails_when_the_replica_is_unreachable(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    """A replica that cannot be written makes backup now exit 1 with the reason."""
    replica = (
        "{url: 's3://b/app', endpoint: 'http://127.0.0.1:9', region: us-east-1, "
        "access-key-id: x, secret-access-key: y}"
    )
    config = make_config(replica)
    code, out = _cli(config, "backup", "now", "--timeout", "5s")
    assert code == 1
    assert "backup now: litestream replicate -once took longer than 5s" in out


_UNSET = (
    "http: {token: '${KHRONOS_TEST_HTTP_TOKEN}'}\n"
    "alerts: {telegram: {bot_token: '${KHRONOS_TEST_TG_TOKEN}', chat_id: '${KHRONOS_TEST_CHAT}'}}\n"
    "checks: {http: [{name: bot, url: 'http://127.0.0.1:1/h?token=${KHRONOS_TEST_HTTP_TOKEN}'}]}\n"
    "logging: {dir: logs}\n"
)


@pytest.mark.integration
def test_status_and_logs_run_without_the_secrets_they_do_not_use(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    """Unset HTTP/Telegram variables: status and logs work and say what is unavailable."""
    config = make_config()
    path = Path(str(config.source))
    path.write_text(path.read_text(encoding="utf-8") + _UNSET, encoding="utf-8")
    (tmp_path / "logs").mkdir()
    status = CliRunner().invoke(cli, ["-c", str(path), "status", "--json"])
    logs = CliRunner().invoke(cli, ["-c", str(path), "logs"])
    verify = CliRunner().invoke(cli, ["-c", str(path), "verify"])
    assert status.exit_code == 0, status.output
    assert json.loads(status.stdout)["source"] == "replica"
    assert "${KHRONOS_TEST_CHAT} is not set: alerts.telegram is left out" in status.stderr
    assert "http.token is unavailable" in status.stderr
    assert logs.exit_code == 0, logs.output
    assert verify.exit_code == 2  # the drill is not a reading command: every variable counts
    assert "KHRONOS_TEST_HTTP_TOKEN is not set" in verify.output


def _s3_key_from_env(make_config: MakeConfig, s3_server: S3Server, bucket: str) -> KhronosConfig:
    """A config whose S3 secret is ${KHRONOS_TEST_S3_SECRET} (parsed with it set)."""
    replica = s3_replica_yaml(bucket, s3_server.endpoint).replace(
        f"secret-access-key: {S3_SECRET}", "secret-access-key: '${KHRONOS_TEST_S3_SECRET}'"
    )
    os.environ["KHRONOS_TEST_S3_SECRET"] = S3_SECRET
    try:
        return make_config(replica)
    finally:
        del os.environ["KHRONOS_TEST_S3_SECRET"]


@pytest.mark.integration
def test_status_without_a_daemon_names_the_replica_key_it_needs(
    make_config: MakeConfig, s3_server: S3Server, bucket: str
) -> None:
    """No daemon: reading the replica needs its key; the error names the key and the variable."""
    config = _s3_key_from_env(make_config, s3_server, bucket)
    code, out = _cli(config, "status")
    assert code == 2, out
    assert (
        "backup.dbs[0].replica.secret-access-key: environment variable KHRONOS_TEST_S3_SECRET "
        "is not set" in out
    )


@pytest.mark.integration
@pytest.mark.asyncio
async def test_status_beside_a_daemon_needs_no_replica_key(
    make_config: MakeConfig, s3_server: S3Server, bucket: str
) -> None:
    """The daemon has the S3 key; a shell without it still gets the status from the daemon."""
    config = _s3_key_from_env(make_config, s3_server, bucket)
    service = BackupService(config, alerts=RecordingAlertSink())
    await service.start()
    try:
        code, out, err = await _run_cli(config, "status", "--json")
    finally:
        await service.stop()
    assert code == 0, err
    assert json.loads(out)["source"] == "daemon"
    assert "secret-access-key is unavailable to this command" in err
