"""`khronos doctor` end to end: the real command, a real S3 API (moto), the fake Bot API and
the real Litestream."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.alerts.fake_telegram import FakeTelegram
from tests.backup.conftest import S3Server
from tests.doctor.helpers import SECRETS, environment, make_db, s3_replica, write_setup

pytestmark = pytest.mark.integration


def _doctor(folder: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    drop = ("KHRONOS_", "TELEGRAM_", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    full = {k: v for k, v in os.environ.items() if not k.startswith(drop)} | env
    full["COLUMNS"] = "250"
    return subprocess.run(
        [sys.executable, "-m", "khronos", "doctor", *args],
        cwd=folder,
        env=full,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _healthy(tmp_path: Path, s3_server: S3Server, bucket: str, telegram: FakeTelegram) -> Path:
    make_db(tmp_path / "app.db")
    replica = s3_replica(s3_server.endpoint, bucket, "app")
    return write_setup(tmp_path, dbs={"app.db": replica}, telegram_url=telegram.url)


def test_doctor_on_a_healthy_setup_exits_0(
    tmp_path: Path, s3_server: S3Server, bucket: str, telegram: FakeTelegram
) -> None:
    """WAL database, reachable bucket, working bot and chat: exit 0, every check ok."""
    _healthy(tmp_path, s3_server, bucket, telegram)
    result = _doctor(tmp_path, environment(), "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    findings = {f["check"]: f for f in json.loads(result.stdout)["findings"]}
    for check in ("litestream", "database app", "replica app", "telegram", "telegram chat -1001"):
        assert findings[check]["status"] == "ok", findings[check]
    assert findings["clock"]["status"] == "ok", findings["clock"]


def test_doctor_names_each_problem_and_exits_1(
    tmp_path: Path, s3_server: S3Server, bucket: str, telegram: FakeTelegram
) -> None:
    """A wrong bucket, a non-WAL database and a bad bot token: each named, exit 1."""
    make_db(tmp_path / "app.db")
    make_db(tmp_path / "rollback.db", wal=False)
    dbs = {
        "app.db": s3_replica(s3_server.endpoint, f"{bucket}-missing", "app"),
        "rollback.db": s3_replica(s3_server.endpoint, bucket, "rollback"),
    }
    write_setup(tmp_path, dbs=dbs, telegram_url=telegram.url)
    env = environment(bot_token="654321:WRONG-token_abcdefghijklmnopqrstuvwxy")
    result = _doctor(tmp_path, env, "--json")
    assert result.returncode == 1, result.stdout + result.stderr
    findings = {f["check"]: f for f in json.loads(result.stdout)["findings"]}
    assert findings["replica app"]["status"] == "error"
    assert f"{bucket}-missing" in findings["replica app"]["message"]
    assert findings["database rollback"]["status"] == "error"
    assert "PRAGMA journal_mode=WAL" in findings["database rollback"]["fix"]
    assert findings["telegram"]["status"] == "error"
    assert "token" in findings["telegram"]["fix"]
    assert findings["replica rollback"]["status"] == "ok"


def test_doctor_table_names_the_problems_and_their_fixes(
    tmp_path: Path, s3_server: S3Server, bucket: str, telegram: FakeTelegram
) -> None:
    """Without --json: a table with each finding and its fix, and a closing count."""
    make_db(tmp_path / "app.db", wal=False)
    write_setup(
        tmp_path,
        dbs={"app.db": s3_replica(s3_server.endpoint, bucket, "app")},
        telegram_url=telegram.url,
    )
    result = _doctor(tmp_path, environment())
    assert result.returncode == 1
    assert "database app" in result.stdout
    assert "Litestream needs WAL" in result.stdout
    assert "PRAGMA journal_mode=WAL" in result.stdout
    assert "1 error(s)" in result.stdout


def test_doctor_prints_no_secret(
    tmp_path: Path, s3_server: S3Server, bucket: str, telegram: FakeTelegram
) -> None:
    """Neither the table nor the JSON holds a token or a key, even when checks fail."""
    _healthy(tmp_path, s3_server, bucket, telegram)
    telegram.token = "000000:OTHER-token_abcdefghijklmnopqrstuvwx"  # the bot token is refused
    for args in ((), ("--json",)):
        result = _doctor(tmp_path, environment(), *args)
        output = result.stdout + result.stderr
        assert result.returncode == 1, output
        for secret in SECRETS:
            assert secret not in output


def test_doctor_reports_unset_variables(
    tmp_path: Path, s3_server: S3Server, bucket: str, telegram: FakeTelegram
) -> None:
    """An unset ${TELEGRAM_BOT_TOKEN} is an error finding naming it (not a crash): exit 1."""
    _healthy(tmp_path, s3_server, bucket, telegram)
    env = environment()
    del env["TELEGRAM_BOT_TOKEN"]
    result = _doctor(tmp_path, env, "--json")
    assert result.returncode == 1, result.stdout + result.stderr
    findings = json.loads(result.stdout)["findings"]
    unset = [f for f in findings if f["check"] == "environment" and f["status"] == "error"]
    assert ["TELEGRAM_BOT_TOKEN" in f["message"] for f in unset] == [True]
    assert "Traceback" not in result.stderr


def test_doctor_beside_a_running_daemon(tmp_path: Path, telegram: FakeTelegram) -> None:
    """With `khronos run` up: its port is ok (held by it), state_dir 0700 and the rendered
    Litestream config 0600 are ok."""
    from tests.daemon.harness import closed_port, start, stop

    make_db(tmp_path / "app.db")
    config = write_setup(
        tmp_path,
        dbs={"app.db": f"{{url: 'file://{tmp_path}/replica'}}"},
        telegram_url=telegram.url,
    )
    port = closed_port()
    config.write_text(config.read_text().replace("127.0.0.1:0", f"127.0.0.1:{port}"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("KHRONOS_")} | environment()
    daemon = start(tmp_path, env)
    try:
        result = _doctor(tmp_path, environment(), "--json")
    finally:
        stop(daemon.proc)
    findings = {f["check"]: f for f in json.loads(result.stdout)["findings"]}
    assert findings["http port"]["status"] == "ok", findings["http port"]
    assert f"pid {daemon.proc.pid}" in findings["http port"]["message"]
    assert findings["state_dir"]["status"] == "ok", findings["state_dir"]
    assert findings["litestream config"]["status"] == "ok", findings["litestream config"]


def test_doctor_names_rejected_credentials(
    tmp_path: Path, auth_s3: str, telegram: FakeTelegram
) -> None:
    """An S3 API that refuses the keys: the replica finding says the credentials were
    rejected and points at the key settings."""
    make_db(tmp_path / "app.db")
    dbs = {"app.db": s3_replica(auth_s3, "some-bucket", "app")}
    write_setup(tmp_path, dbs=dbs, telegram_url=telegram.url)
    result = _doctor(tmp_path, environment(), "--json")
    assert result.returncode == 1, result.stdout + result.stderr
    findings = {f["check"]: f for f in json.loads(result.stdout)["findings"]}
    assert findings["replica app"]["status"] == "error"
    assert "rejected the credentials" in findings["replica app"]["message"]
    assert "secret-access-key" in findings["replica app"]["fix"]


def test_doctor_bounds_an_unreachable_replica(tmp_path: Path, telegram: FakeTelegram) -> None:
    """An endpoint nobody listens on (Litestream would retry for minutes): the replica check
    ends at --timeout with an error naming the endpoint; the other checks still report."""
    from tests.daemon.harness import closed_port

    make_db(tmp_path / "app.db")
    endpoint = f"http://127.0.0.1:{closed_port()}"
    write_setup(
        tmp_path,
        dbs={"app.db": s3_replica(endpoint, "bucket", "app")},
        telegram_url=telegram.url,
    )
    result = _doctor(tmp_path, environment(), "--json", "--timeout", "3s")
    assert result.returncode == 1, result.stdout + result.stderr
    findings = {f["check"]: f for f in json.loads(result.stdout)["findings"]}
    assert findings["replica app"]["status"] == "error"
    assert endpoint in findings["replica app"]["message"]
    assert findings["database app"]["status"] == "ok"
    assert findings["telegram"]["status"] == "ok"


def test_each_unreachable_replica_is_named(tmp_path: Path, telegram: FakeTelegram) -> None:
    """Two databases behind unreachable endpoints: each gets its own error within --timeout
    (they are checked side by side, not one after the other's time is up)."""
    from tests.daemon.harness import closed_port

    dbs = {}
    for name in ("one", "two"):
        make_db(tmp_path / f"{name}.db")
        endpoint = f"http://127.0.0.1:{closed_port()}"
        dbs[f"{name}.db"] = s3_replica(endpoint, "bucket", name)
    write_setup(tmp_path, dbs=dbs, telegram_url=telegram.url)
    result = _doctor(tmp_path, environment(), "--json", "--timeout", "3s")
    findings = {f["check"]: f for f in json.loads(result.stdout)["findings"]}
    for name in ("one", "two"):
        assert findings[f"replica {name}"]["status"] == "error"
        assert "did not finish" not in findings[f"replica {name}"]["message"]
