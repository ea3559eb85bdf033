"""`khronos run -- python app.py` as real processes: the app's rows replicated, its lines in the
logs, kill -9 and crash loops alerted at the fake Bot API, SIGHUP, a clean stop with no orphan."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.alerts.fake_telegram import FakeTelegram
from tests.app.helpers import (
    APP_SECRET,
    CRASHING_APP,
    WRITER_APP,
    alive,
    app_section,
    kill_leftovers,
    start_run,
)
from tests.daemon.harness import khronos, log_records, metric, stop, write_config
from tests.polling import poll

pytestmark = pytest.mark.integration

QUIET_CHECKS = "{memory: null, disk: null}"
ENV_PROBE = ("TELEGRAM_BOT_TOKEN", "KHRONOS_HTTP_TOKEN", "AWS_CA_BUNDLE", "APP_SECRET_TOKEN")


def setup_app(
    tmp_path: Path, telegram: FakeTelegram, env: dict[str, str], *, backup: bool, app: str = ""
) -> None:
    """khronos.yml with an app: section, the app scripts, and the app's secret in env."""
    write_config(tmp_path, telegram, backup=backup, checks=QUIET_CHECKS)
    with (tmp_path / "khronos.yml").open("a", encoding="utf-8") as file:
        file.write(app_section(app))
    (tmp_path / "app.py").write_text(WRITER_APP, encoding="utf-8")
    (tmp_path / "crash.py").write_text(CRASHING_APP, encoding="utf-8")
    env["APP_SECRET_TOKEN"] = APP_SECRET
    env.setdefault("AWS_CA_BUNDLE", str(tmp_path / "user-ca.pem"))


def read_pids(tmp_path: Path) -> dict[str, Any] | None:
    """What the running app wrote to pids.json (None before it did)."""
    try:
        data: dict[str, Any] = json.loads((tmp_path / "pids.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data


def next_pids(tmp_path: Path, previous: int) -> dict[str, Any]:
    """Wait for a new app (another pid than ``previous``) to write its pids."""

    def changed() -> dict[str, Any] | None:
        pids = read_pids(tmp_path)
        return pids if pids is not None and pids["app"] != previous else None

    return poll(changed, what="the restarted app")


def rows(db: Path) -> int:
    """Rows committed in ``db``."""
    with closing(sqlite3.connect(db, timeout=10)) as conn:
        return int(conn.execute("SELECT count(*) FROM rows").fetchone()[0])


def alert_with(telegram: FakeTelegram, *words: str) -> str:
    """Wait for a message at the fake Bot API holding every word."""
    return poll(
        lambda: next((t for t in telegram.texts() if all(w in t for w in words)), None),
        what=f"an alert with {words}",
    )


def test_run_supervises_the_app_end_to_end(
    tmp_path: Path, env: dict[str, str], telegram: FakeTelegram
) -> None:
    """Rows replicated, lines logged (JSON merged), kill -9 restarted and alerted, SIGTERM stops
    the app first with every row in the replica and no process left."""
    setup_app(tmp_path, telegram, env, backup=True)
    daemon = start_run(tmp_path, env, [sys.executable, "app.py", *ENV_PROBE])
    seen: list[int] = []
    try:
        first = poll(lambda: read_pids(tmp_path), what="the app's pids")
        seen += [first["app"], first["child"]]
        # Khronos' own secrets stay out of the app's environment; the user's CA bundle does not
        assert first["env"] == {
            "TELEGRAM_BOT_TOKEN": False,
            "KHRONOS_HTTP_TOKEN": False,
            "AWS_CA_BUNDLE": True,
            "APP_SECRET_TOKEN": True,
        }
        poll(lambda: rows(tmp_path / "app.db") >= 20, what="the app's rows")
        assert metric(daemon.url, "khronos_app_up") == 1.0

        os.kill(first["app"], signal.SIGKILL)
        second = next_pids(tmp_path, first["app"])
        seen += [second["app"], second["child"]]
        text = alert_with(telegram, "ERROR", "SIGKILL")
        assert "The app was killed by SIGKILL" in text
        assert not alive(first["child"])  # its group was killed before the restart
        assert metric(daemon.url, "khronos_app_restarts_total") == 1.0
        assert metric(daemon.url, "khronos_app_last_exit_code") == -9.0
    finally:
        code = stop(daemon.proc)
        kill_leftovers(seen)
    assert code == 0, daemon.err.read_text()[-2000:]
    assert not alive(second["app"])
    assert not alive(second["child"])  # ignored SIGTERM: SIGKILL of the group after stop_timeout

    records = log_records(tmp_path)
    messages = [r["message"] for r in records]
    app_lines = [r for r in records if r.get("component") == "app"]
    merged = next(r for r in app_lines if r["message"] == "json line")
    assert (merged["level"], merged["correlationId"]) == ("warning", "corr-42")
    assert (merged["chat_id"], merged["nested"], merged["stream"]) == (7, {"a": 1}, "stdout")
    levels = {r["message"]: r["level"] for r in app_lines}
    assert levels["plain stdout line"] == "info"
    assert levels["ERROR plain stderr line"] == "error"
    assert levels["secret **********"] == "warning"
    assert APP_SECRET not in (tmp_path / "logs" / "combined.log").read_text(encoding="utf-8")
    # the app stopped (and its last row was committed) before Litestream's final sync
    assert messages.index("app stopped cleanly") < messages.index("backup stopped")

    out = tmp_path / "restored.db"
    restored = khronos("restore", "-o", str(out), cwd=tmp_path, env=env)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert rows(out) == rows(tmp_path / "app.db")


def test_a_crash_loop_gives_up_with_a_critical_alert(
    tmp_path: Path, env: dict[str, str], telegram: FakeTelegram
) -> None:
    """An app that exits at once: restarted max_restarts times, then CRITICAL with its exit
    code and last stderr lines (escaped, secrets masked); /ready says the app is down."""
    setup_app(tmp_path, telegram, env, backup=False, app="  command: python3 crash.py\n")
    daemon = start_run(tmp_path, env)
    try:
        text = alert_with(telegram, "CRITICAL", "gave up")
        assert "exited with code 3" in text
        assert "loading config" in text
        assert "<b>boom</b> & the token is **********" in text  # shown as text, not markup
        assert APP_SECRET not in "".join(telegram.texts())
        ready = httpx.get(f"{daemon.url}/ready", timeout=10)
        assert ready.status_code == 503
        assert any(p.startswith("app down") for p in ready.json()["problems"])
        assert metric(daemon.url, "khronos_app_up") == 0.0
        assert metric(daemon.url, "khronos_app_last_exit_code") == 3.0
        assert metric(daemon.url, "khronos_app_restarts_total") == 2.0
    finally:
        code = stop(daemon.proc)
    assert code == 0, daemon.err.read_text()[-2000:]


def test_sighup_restarts_the_app_without_an_alert(
    tmp_path: Path, env: dict[str, str], telegram: FakeTelegram
) -> None:
    """SIGHUP: the app (and its group) stopped and started again, no alert; the next alert at
    the Bot API is the one for a later kill -9.  (`-- app.py` overrides app.command.)"""
    setup_app(tmp_path, telegram, env, backup=False, app="  command: python3 crash.py\n")
    daemon = start_run(tmp_path, env, [sys.executable, "app.py"])
    seen: list[int] = []
    try:
        first = poll(lambda: read_pids(tmp_path), what="the app's pids")
        seen += [first["app"], first["child"]]
        daemon.proc.send_signal(signal.SIGHUP)
        second = next_pids(tmp_path, first["app"])
        seen += [second["app"], second["child"]]
        assert not alive(first["app"])
        assert not alive(first["child"])
        assert metric(daemon.url, "khronos_app_restarts_total") == 1.0
        os.kill(second["app"], signal.SIGKILL)  # an exit that is alerted, to bound the wait
        alert_with(telegram, "SIGKILL")
        app_alerts = [t for t in telegram.texts() if "The app" in t]
        assert "SIGKILL" in app_alerts[0]
        assert not any("SIGTERM" in t for t in app_alerts)
    finally:
        code = stop(daemon.proc)
        kill_leftovers(seen)
    assert code == 0, daemon.err.read_text()[-2000:]


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ("app: {command: [python3, app.py], stop_signal: SIGNOPE}", "app.stop_signal"),
        ("app: {cwd: .}", "app.command"),
        ('app: {command: "python3 app.py", env: {"1BAD": x}}', "app.env"),
        ("app: {command: [python3, app.py], restart: {max_restarts: -1}}", "app.restart"),
    ],
)
def test_a_bad_app_section_exits_2_naming_the_key(
    tmp_path: Path, env: dict[str, str], section: str, key: str
) -> None:
    """A bad app: key: exit 2, the key path in the message, no traceback."""
    (tmp_path / "khronos.yml").write_text(
        f"state_dir: state\nhttp: {{listen: '127.0.0.1:0'}}\n{section}\n", encoding="utf-8"
    )
    result = khronos("run", cwd=tmp_path, env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert key in result.stderr
    assert "Traceback" not in result.stderr
