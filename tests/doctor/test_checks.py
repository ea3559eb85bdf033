"""Each doctor check on its own: what it finds, and the fix it gives."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from khronos.config import KhronosConfig, parse_config
from khronos.doctor import CHECKS, Finding, Status, run_doctor
from khronos.doctor._local import (
    check_databases,
    check_environment,
    check_http_port,
    check_permissions,
)
from khronos.doctor._remote import check_clock, check_telegram
from tests.alerts.fake_telegram import TOKEN, FakeTelegram
from tests.doctor.helpers import make_db


def _config(folder: Path, text: str = "", *, db: str = "app.db") -> KhronosConfig:
    body = (
        f"state_dir: state\nbackup:\n  dbs:\n    - path: {db}\n"
        f"      replica: {{url: 'file://{folder}/replica'}}\n{text}"
    )
    return parse_config(body, source=str(folder / "khronos.yml"), base_dir=folder)


def _statuses(findings: list[Finding]) -> list[str]:
    return [f.status.value for f in findings]


# --- databases --------------------------------------------------------------------------------


def test_wal_database_is_ok(tmp_path: Path) -> None:
    """A database in WAL mode is ok."""
    make_db(tmp_path / "app.db")
    assert _statuses(check_databases(_config(tmp_path))) == ["ok"]


def test_rollback_database_is_an_error_with_the_one_line_fix(tmp_path: Path) -> None:
    """A database in rollback-journal mode is an error; the fix is the sqlite3 one-liner."""
    make_db(tmp_path / "app.db", wal=False)
    [finding] = check_databases(_config(tmp_path))
    assert finding.status is Status.ERROR
    assert "delete journal mode" in finding.message
    assert finding.fix is not None
    assert f"sqlite3 {tmp_path / 'app.db'} 'PRAGMA journal_mode=WAL'" in finding.fix


def test_checking_the_mode_changes_nothing(tmp_path: Path) -> None:
    """The check reads the journal mode read-only: the database stays in rollback mode."""
    make_db(tmp_path / "app.db", wal=False)
    check_databases(_config(tmp_path))
    assert _statuses(check_databases(_config(tmp_path))) == ["error"]
    assert not (tmp_path / "app.db-wal").exists()


def test_missing_database_warns_missing_folder_is_an_error(tmp_path: Path) -> None:
    """No file yet (the app creates it) is a warning; no folder either is an error."""
    assert _statuses(check_databases(_config(tmp_path))) == ["warn"]
    assert _statuses(check_databases(_config(tmp_path, db="gone/app.db"))) == ["error"]


def test_a_file_that_is_not_sqlite_is_an_error(tmp_path: Path) -> None:
    """A text file where the database should be is named as such."""
    (tmp_path / "app.db").write_text("not a database, just text " * 100)
    [finding] = check_databases(_config(tmp_path))
    assert finding.status is Status.ERROR
    assert "cannot be read as SQLite" in finding.message


# --- http port --------------------------------------------------------------------------------


@contextmanager
def _held_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_free_port_is_ok(tmp_path: Path) -> None:
    """Port 0 (or a free one) is ok."""
    config = _config(tmp_path, "http: {listen: '127.0.0.1:0'}\n")
    assert _statuses(check_http_port(config)) == ["ok"]


def test_port_held_by_another_program_is_an_error(tmp_path: Path) -> None:
    """A port another program listens on is an error naming the address."""
    with _held_port() as port:
        [finding] = check_http_port(_config(tmp_path, f"http: {{listen: '127.0.0.1:{port}'}}\n"))
    assert finding.status is Status.ERROR
    assert f"127.0.0.1:{port} is in use" in finding.message


def test_port_held_by_the_running_daemon_is_ok(tmp_path: Path) -> None:
    """The port of this state_dir's running khronos run (daemon.json, a live pid) is ok."""
    (tmp_path / "state").mkdir()
    document = {"pid": os.getpid(), "url": "http://127.0.0.1"}
    (tmp_path / "state" / "daemon.json").write_text(json.dumps(document))
    with _held_port() as port:
        [finding] = check_http_port(_config(tmp_path, f"http: {{listen: '127.0.0.1:{port}'}}\n"))
    assert finding.status is Status.OK
    assert f"khronos run (pid {os.getpid()})" in finding.message


# --- permissions ------------------------------------------------------------------------------


def test_private_state_dir_and_config_are_ok(tmp_path: Path) -> None:
    """state_dir 0700 and litestream.yml 0600: ok."""
    (tmp_path / "state").mkdir(mode=0o700)
    (tmp_path / "state" / "litestream.yml").write_text("dbs: []\n")
    (tmp_path / "state" / "litestream.yml").chmod(0o600)
    assert _statuses(check_permissions(_config(tmp_path))) == ["ok", "ok"]


def test_loose_permissions_warn_with_the_chmod(tmp_path: Path) -> None:
    """state_dir 0755 and litestream.yml 0644 each warn, with the chmod that fixes it."""
    state = tmp_path / "state"
    state.mkdir()
    state.chmod(0o755)
    (state / "litestream.yml").write_text("dbs: []\n")
    (state / "litestream.yml").chmod(0o644)
    findings = check_permissions(_config(tmp_path))
    assert _statuses(findings) == ["warn", "warn"]
    assert [f.fix for f in findings] == [
        f"chmod 0700 {state}",
        f"chmod 0600 {state / 'litestream.yml'}",
    ]


# --- environment ------------------------------------------------------------------------------


def test_aws_ca_bundle_is_information_not_an_error(tmp_path: Path) -> None:
    """AWS_CA_BUNDLE is explained (Khronos drops it for Litestream), as info."""
    findings = check_environment(_config(tmp_path), {"AWS_CA_BUNDLE": "/etc/ssl/ca.pem"})
    [finding] = [f for f in findings if f.check == "AWS_CA_BUNDLE"]
    assert finding.status is Status.INFO
    assert "drops it from Litestream's environment" in finding.message


def test_missing_ssl_cert_file_is_an_error(tmp_path: Path) -> None:
    """SSL_CERT_FILE naming a missing file is an error (TLS would fail)."""
    findings = check_environment(_config(tmp_path), {"SSL_CERT_FILE": str(tmp_path / "no.pem")})
    assert [f.status for f in findings if f.check == "SSL_CERT_FILE"] == [Status.ERROR]


def test_proxy_password_is_masked(tmp_path: Path) -> None:
    """A proxy URL's password never reaches a finding."""
    env = {"HTTPS_PROXY": "http://user:proxy-pass-1234@127.0.0.1:3128"}
    checks = {"environment": CHECKS["environment"]}
    findings = asyncio.run(run_doctor(_config(tmp_path), environ=env, checks=checks))
    assert "proxy-pass-1234" not in json.dumps([f.to_json() for f in findings])
    assert any("127.0.0.1:3128" in f.message for f in findings)


# --- the runner -------------------------------------------------------------------------------


async def _raises(_c: KhronosConfig, _e: object, _t: float) -> list[Finding]:
    raise RuntimeError("boom")


async def _hangs(_c: KhronosConfig, _e: object, _t: float) -> list[Finding]:
    await asyncio.Event().wait()
    return []


async def _fine(_c: KhronosConfig, _e: object, _t: float) -> list[Finding]:
    return [Finding("fine", Status.OK, "fine")]


def test_a_failing_or_hanging_check_does_not_stop_the_others(tmp_path: Path) -> None:
    """A check that raises and one that never ends become errors; the next check still runs."""
    checks = {"raises": _raises, "hangs": _hangs, "fine": _fine}
    findings = asyncio.run(run_doctor(_config(tmp_path), checks=checks, timeout=0.2))
    assert [(f.check, f.status.value) for f in findings] == [
        ("raises", "error"),
        ("hangs", "error"),
        ("fine", "ok"),
    ]
    assert "RuntimeError: boom" in findings[0].message
    assert "did not finish" in findings[1].message


# --- telegram ---------------------------------------------------------------------------------


def _telegram_config(folder: Path, url: str, chat: str, token: str = TOKEN) -> KhronosConfig:
    text = f"alerts:\n  telegram: {{bot_token: '{token}', chat_id: '{chat}', api_url: '{url}'}}\n"
    return _config(folder, text)


def test_telegram_ok_names_the_bot_and_the_chat(tmp_path: Path, telegram: FakeTelegram) -> None:
    """getMe and getChat answer: ok for the token and for the chat."""
    findings = asyncio.run(check_telegram(_telegram_config(tmp_path, telegram.url, "-1001"), 10.0))
    assert _statuses(findings) == ["ok", "ok"]
    assert "@k_bot" in findings[0].message


def test_unknown_chat_is_an_error_with_the_hint(tmp_path: Path, telegram: FakeTelegram) -> None:
    """A chat the bot is not in: error, and the hint about adding the bot / the minus sign."""
    findings = asyncio.run(check_telegram(_telegram_config(tmp_path, telegram.url, "1001"), 10.0))
    assert _statuses(findings) == ["ok", "error"]
    assert findings[1].check == "telegram chat 1001"
    assert findings[1].fix is not None
    assert "minus sign" in findings[1].fix


def test_wrong_token_is_an_error(tmp_path: Path, telegram: FakeTelegram) -> None:
    """A token Telegram refuses: one error, with the BotFather hint."""
    wrong = "999999:WRONG-token_abcdefghijklmnopqrstuvwxy"
    config = _telegram_config(tmp_path, telegram.url, "-1001", wrong)
    findings = asyncio.run(check_telegram(config, 10.0))
    assert _statuses(findings) == ["error"]
    assert findings[0].fix is not None
    assert "BotFather" in findings[0].fix


# --- clock ------------------------------------------------------------------------------------


@contextmanager
def _store_with_clock_off(seconds: float) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 whose Date header is ``seconds`` off."""

    class Handler(BaseHTTPRequestHandler):
        def date_time_string(self, timestamp: float | None = None) -> str:  # noqa: ARG002
            import time

            return formatdate(time.time() + seconds, usegmt=True)

        def do_HEAD(self) -> None:
            self.send_response(403)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _s3_config(folder: Path, endpoint: str) -> KhronosConfig:
    replica = f"{{url: 's3://b/app', endpoint: '{endpoint}', region: us-east-1}}"
    body = f"backup:\n  dbs:\n    - path: app.db\n      replica: {replica}\n"
    return parse_config(body, base_dir=folder)


@pytest.mark.parametrize(("off", "status"), [(0, "ok"), (120, "warn"), (-1200, "error")])
def test_clock_skew_against_the_store(tmp_path: Path, off: float, status: str) -> None:
    """The store's Date header: in step is ok, 2 minutes off warns, 20 minutes is an error."""
    with _store_with_clock_off(off) as url:
        findings = asyncio.run(check_clock(_s3_config(tmp_path, url), 10.0))
    assert _statuses(findings) == [status]
    if status == "error":
        assert "ahead of" in findings[0].message


# --- disk and file replicas -------------------------------------------------------------------


@pytest.mark.integration
def test_nearly_full_disk_is_an_error(tmp_path: Path) -> None:
    """A database folder with less than 100 MB free (a 2 MB tmpfs) is an error."""
    from khronos.doctor._local import check_disk
    from tests.smallfs import small_filesystem

    with small_filesystem(tmp_path / "small") as fs:
        make_db(fs.root / "app.db")
        findings = check_disk(_config(fs.root))
    [finding] = [f for f in findings if "database app" in f.message]
    assert finding.status is Status.ERROR
    assert finding.check == f"disk {tmp_path / 'small'}"


def test_file_replica_on_the_database_disk_warns(tmp_path: Path) -> None:
    """A file:// replica on the database's own disk works, but does not survive losing it."""
    from khronos.doctor._remote import check_replicas

    make_db(tmp_path / "app.db")
    [finding] = asyncio.run(check_replicas(_config(tmp_path), 10.0))
    assert finding.status is Status.WARN
    assert "same disk" in finding.message


def test_a_silent_telegram_is_an_error_within_the_timeout(tmp_path: Path) -> None:
    """A Bot API that accepts connections and never answers: getMe's own timeout (a third of
    the check's) names it, before the runner's bound cuts the check off."""
    with _held_port() as port:
        config = _telegram_config(tmp_path, f"http://127.0.0.1:{port}", "-1001")
        checks = {"telegram": CHECKS["telegram"]}
        findings = asyncio.run(run_doctor(config, checks=checks, timeout=1.5))
    assert _statuses(findings) == ["error"]
    assert "did not answer within 0.5s" in findings[0].message
