"""`khronos run` as a real process: backup, metrics, alerts, checks and drills in one daemon.

Each test starts `python -m khronos run` with a real Litestream, a fake Telegram Bot API on
loopback and a file replica, drives it over HTTP and the CLI, and stops it with a signal by PID.
"""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import httpx
import psutil
import pytest

from tests.alerts.fake_telegram import TOKEN, FakeTelegram
from tests.daemon.harness import (
    HTTP_TOKEN,
    Running,
    insert,
    khronos,
    metric,
    poll,
    start,
    stop,
    write_config,
)
from tests.metrics.helpers import PROVIDED_BY_OTHER_COMPONENTS

pytestmark = pytest.mark.integration


def assert_one_clean_log_pipeline(tmp_path: Path, daemon: Running) -> None:
    """Everything logged through one pipeline: the daemon, uvicorn, Litestream; no secrets."""
    combined = (tmp_path / "logs" / "combined.log").read_text(encoding="utf-8")
    records = [json.loads(line) for line in combined.splitlines()]
    messages = {r["message"] for r in records}
    assert {"khronos started", "khronos stopped"} <= messages
    assert any(r.get("component") == "litestream" for r in records)
    assert any(r.get("logger") == "uvicorn.error" for r in records)
    assert all(r["service"] == "test-bot" for r in records)
    outputs = [p.read_text(errors="replace") for p in (tmp_path / "logs").iterdir()]
    outputs += [daemon.out.read_text(errors="replace"), daemon.err.read_text(errors="replace")]
    for text in outputs:
        assert TOKEN not in text
        assert TOKEN.split(":")[1] not in text
        assert HTTP_TOKEN not in text


def test_run_ties_backup_metrics_alerts_checks_and_drills_together(
    tmp_path: Path, env: dict[str, str], telegram: FakeTelegram
) -> None:
    """One daemon replicates, serves metrics and the alert API, runs checks and drills, and
    stops with a final sync that loses no committed row."""
    config = write_config(tmp_path, telegram)
    daemon = start(tmp_path, env)
    try:
        assert httpx.get(f"{daemon.url}/healthz", timeout=10).json()["status"] == "ok"
        poll(
            lambda: metric(daemon.url, 'khronos_backup_up{db="app"}') == 1.0,
            what="khronos_backup_up 1",
        )
        assert metric(daemon.url, "process_resident_memory_bytes") is not None
        assert metric(daemon.url, "khronos_alerts_pending") is not None

        # a second daemon on the same state_dir is refused, naming the first one
        second = khronos("run", cwd=tmp_path, env=env)
        assert second.returncode == 1, second.stderr
        assert f"another khronos run (pid {daemon.proc.pid})" in second.stderr
        assert "Traceback" not in second.stderr

        # the alert API queues into the engine, which delivers to Telegram
        answer = httpx.post(
            f"{daemon.url}/api/alerts/test",
            json={"message": "hello from the API", "level": "ERROR"},
            headers={"Authorization": f"Bearer {HTTP_TOKEN}"},
            timeout=10,
        )
        assert answer.status_code == 202, answer.text
        poll(lambda: any("hello from the API" in t for t in telegram.texts()), what="API alert")

        # the failing http check fires its condition and reports check_up 0
        poll(lambda: any("gateway" in t for t in telegram.texts()), what="gateway check alert")
        assert metric(daemon.url, 'khronos_check_up{check="http:gateway"}') == 0.0

        # writes reach the replica: `backup now` asks the daemon's Litestream
        insert(tmp_path / "app.db", range(200))
        now = khronos("backup", "now", cwd=tmp_path, env=env)
        assert now.returncode == 0, now.stdout + now.stderr
        status = json.loads(khronos("status", "--json", cwd=tmp_path, env=env).stdout)
        assert status["source"] == "daemon"
        (db,) = status["databases"]
        assert db["replicating"] is True
        assert db["local_txid"] == db["replica_txid"]

        # the scheduled restore drill runs (interval 3s) and is reported as a metric
        poll(
            lambda: metric(daemon.url, 'khronos_backup_verify_success{db="app"}') == 1.0,
            what="a passing restore drill",
        )

        # every metric the Grafana dashboard reads from the daemon is on its live /metrics
        text = httpx.get(f"{daemon.url}/metrics", timeout=10).text
        exported = {
            line.split("{")[0].split(" ")[0] for line in text.splitlines() if line[:1] != "#"
        }
        assert exported >= PROVIDED_BY_OTHER_COMPONENTS
        assert metric(daemon.url, 'khronos_alerts_sent_total{channel="telegram",level="ERROR"}')

        insert(tmp_path / "app.db", range(200, 250))  # committed just before the stop
    finally:
        code = stop(daemon.proc)
    assert code == 0, daemon.err.read_text()[-2000:]
    assert not (tmp_path / "state" / "daemon.json").exists()

    # the final sync on SIGTERM put every committed row in the replica
    out = tmp_path / "restored.db"
    restored = khronos("restore", "-o", str(out), cwd=tmp_path, env=env)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    with closing(sqlite3.connect(out)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert [r[0] for r in conn.execute("SELECT id FROM rows ORDER BY id")] == list(range(250))

    assert_one_clean_log_pipeline(tmp_path, daemon)
    assert config.exists()


def test_litestream_killed_under_the_daemon_alerts_and_resolves(
    tmp_path: Path, env: dict[str, str], telegram: FakeTelegram
) -> None:
    """kill -9 of the supervised Litestream: an ERROR alert reaches Telegram, the daemon
    restarts it, and a resolved notice follows."""
    write_config(tmp_path, telegram)
    daemon = start(tmp_path, env)
    try:
        poll(
            lambda: metric(daemon.url, 'khronos_backup_up{db="app"}') == 1.0,
            what="khronos_backup_up 1",
        )
        (child,) = [
            p for p in psutil.Process(daemon.proc.pid).children() if "litestream" in p.name()
        ]
        child.send_signal(signal.SIGKILL)
        poll(
            lambda: any("Backup replication is down" in t for t in telegram.texts()),
            what="the replication-down alert",
        )
        poll(
            lambda: any("Resolved" in t and "Backup replication" in t for t in telegram.texts()),
            what="the resolved notice",
        )
        restarts = metric(daemon.url, "khronos_backup_process_restarts_total")
        assert restarts is not None
        assert restarts >= 1
        fresh = [p for p in psutil.Process(daemon.proc.pid).children() if "litestream" in p.name()]
        assert len(fresh) == 1
        assert fresh[0].pid != child.pid
    finally:
        assert stop(daemon.proc) == 0, daemon.err.read_text()[-2000:]


def test_telegram_outage_opens_the_breaker_then_recovers_with_a_summary(
    tmp_path: Path, env: dict[str, str], telegram: FakeTelegram
) -> None:
    """Telegram answering 500: the daemon's breaker opens (metrics say so), the alert waits in
    the outbox; when Telegram is back it is delivered, the breaker closes, and one summary
    message says how long Telegram was unreachable."""
    write_config(
        tmp_path,
        telegram,
        backup=False,
        alerts_extra="  breaker: {failures: 2, reset_timeout: 1s}\n",
    )
    telegram.failing = lambda: 500
    daemon = start(tmp_path, env)
    state = 'khronos_circuit_breaker_state{breaker="alerts.telegram"}'
    try:
        answer = httpx.post(
            f"{daemon.url}/api/alerts/test",
            json={"message": "sent during the outage", "level": "ERROR"},
            headers={"Authorization": f"Bearer {HTTP_TOKEN}"},
            timeout=10,
        )
        assert answer.status_code == 202, answer.text
        poll(lambda: metric(daemon.url, state) == 2.0, what="the breaker to open")
        assert metric(daemon.url, "khronos_alerts_pending") >= 1  # type: ignore[operator]
        opened = (
            'khronos_circuit_breaker_state_changes_total{breaker="alerts.telegram",state="open"}'
        )
        assert metric(daemon.url, opened) >= 1  # type: ignore[operator]
        assert not any("sent during the outage" in t for t in telegram.texts())

        telegram.failing = None
        poll(
            lambda: any("sent during the outage" in t for t in telegram.texts()),
            what="the delayed alert",
        )
        poll(lambda: metric(daemon.url, state) == 0.0, what="the breaker to close")
        poll(
            lambda: any("reachable again" in t for t in telegram.texts()),
            what="the recovery summary",
        )
        assert sum("sent during the outage" in t for t in telegram.texts()) == 1
    finally:
        assert stop(daemon.proc) == 0, daemon.err.read_text()[-2000:]


def test_run_without_backup_warns_and_stops_on_sigint(
    tmp_path: Path, env: dict[str, str], telegram: FakeTelegram
) -> None:
    """Without a backup: section the daemon says nothing is backed up, still serves metrics
    and delivers `khronos alert test`, and Ctrl-C (SIGINT) stops it cleanly."""
    write_config(tmp_path, telegram, backup=False)
    daemon = start(tmp_path, env)
    try:
        assert metric(daemon.url, "process_cpu_seconds_total") is not None
        assert metric(daemon.url, "khronos_backup_up") is None
        # `khronos alert test` beside a running daemon: queued in the shared outbox, delivered
        # by the daemon (which holds the delivery lock), and the command sees it delivered
        sent = khronos("alert", "test", "--message", "ping from the CLI", cwd=tmp_path, env=env)
        assert sent.returncode == 0, sent.stdout + sent.stderr
        assert sum("ping from the CLI" in t for t in telegram.texts()) == 1
    finally:
        code = stop(daemon.proc, signal.SIGINT)
    assert code == 0, daemon.err.read_text()[-2000:]
    records = [
        json.loads(line) for line in (tmp_path / "logs" / "combined.log").read_text().splitlines()
    ]
    warning = [r for r in records if "no database is being backed up" in r["message"]]
    assert warning
    assert warning[0]["level"] == "warning"
    assert "Traceback" not in daemon.err.read_text()


def test_systemd_unit_runs_a_command_the_cli_accepts(tmp_path: Path) -> None:
    """deploy/khronos.service starts `khronos --config PATH run`, which the CLI accepts."""
    unit = (Path(__file__).parents[2] / "deploy" / "khronos.service").read_text()
    (exec_start,) = [line for line in unit.splitlines() if line.startswith("ExecStart=")]
    argv = exec_start.removeprefix("ExecStart=").split()
    assert argv[0].endswith("/khronos")
    assert argv[-1] == "run"
    assert "RestartPreventExitStatus=2" in unit  # a config error must not restart-loop
    result = subprocess.run(
        [sys.executable, "-m", "khronos", *argv[1:], "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "Run Khronos next to your service" in result.stdout


def test_a_start_failure_is_printed_and_logged(
    tmp_path: Path, env: dict[str, str], telegram: FakeTelegram
) -> None:
    """A busy http.listen port: `khronos run` exits 1 with a one-line reason (no traceback),
    and the same reason is in the log files, where an operator looks afterwards."""
    config = write_config(tmp_path, telegram, backup=False)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        text = config.read_text().replace('listen: "127.0.0.1:0"', f'listen: "127.0.0.1:{port}"')
        config.write_text(text)
        result = khronos("run", cwd=tmp_path, env=env)
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
    records = [
        json.loads(line) for line in (tmp_path / "logs" / "combined.log").read_text().splitlines()
    ]
    (failure,) = [r for r in records if r["message"] == "khronos run failed"]
    assert failure["level"] == "critical"
    assert f"127.0.0.1:{port}" in failure["error"]
    assert not (tmp_path / "state" / "daemon.json").exists()
