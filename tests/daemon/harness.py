"""Start, drive and stop `python -m khronos run` as a real process, for the daemon tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from khronos.daemon import read_daemon_file
from tests.alerts.fake_telegram import TOKEN as TELEGRAM_TOKEN
from tests.alerts.fake_telegram import FakeTelegram
from tests.polling import poll

HTTP_TOKEN = "http-token-for-the-daemon-test-0123456789"


@dataclass
class Running:
    """A started daemon: its process, URL and output files."""

    proc: subprocess.Popen[bytes]
    url: str
    out: Path
    err: Path


def khronos(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a khronos CLI command to completion."""
    return subprocess.run(
        [sys.executable, "-m", "khronos", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def write_config(
    tmp_path: Path,
    telegram: FakeTelegram,
    *,
    backup: bool = True,
    alerts_extra: str = "",
    http_extra: str = "",
    checks: str | None = None,
) -> Path:
    """A khronos.yml with every section the daemon ties together.

    ``http_extra`` is added inside the ``http`` mapping (``", request_timeout: 2s"``);
    ``checks`` replaces the ``checks`` mapping (default: a failing http check, every second).
    """
    with closing(sqlite3.connect(tmp_path / "app.db")) as conn, conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, body TEXT)")
    gateway = f"http://127.0.0.1:{closed_port()}/health"
    if checks is None:
        checks = (
            f'{{http: [{{name: gateway, url: "{gateway}", timeout: 1s, every: 1s, failures: 1}}]}}'
        )
    text = f"""\
service: {{name: test-bot, shutdown_timeout: 20s}}
state_dir: state
http: {{listen: "127.0.0.1:0", token: "${{KHRONOS_HTTP_TOKEN}}"{http_extra}}}
logging: {{dir: logs, console: json}}
alerts:
  cooldown: 1s
{alerts_extra}  telegram:
    bot_token: "${{TELEGRAM_BOT_TOKEN}}"
    chat_id: "111"
    api_url: "{telegram.url}"
checks: {checks}
"""
    if backup:
        text += f"""\
backup:
  restart: {{delay: 200ms, min_uptime: 1s, max_restarts: 5}}
  verify: {{interval: 3s}}
  dbs:
    - path: app.db
      replica: {{url: "file://{tmp_path}/replica", sync-interval: 200ms}}
"""
    path = tmp_path / "khronos.yml"
    path.write_text(text, encoding="utf-8")
    return path


def daemon_env() -> dict[str, str]:
    """A `khronos run` environment: the secrets come from variables, as in production."""
    env = dict(os.environ)
    env.update({"TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN, "KHRONOS_HTTP_TOKEN": HTTP_TOKEN})
    env.pop("LOG_LEVEL", None)
    return env


def closed_port() -> int:
    """A loopback port nobody listens on (bound by the OS, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(
    tmp_path: Path,
    env: dict[str, str],
    name: str = "daemon",
    *,
    prefix: Sequence[str] = (),
    args: Sequence[str] = (),
) -> Running:
    """Start `khronos run [args]` in tmp_path; return once daemon.json names this process.

    ``prefix`` runs it under another command that execs it (``prlimit --nofile=256``)."""
    out, err = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(
            [*prefix, sys.executable, "-m", "khronos", "run", *args],
            cwd=tmp_path,
            env=env,
            stdout=stdout,
            stderr=stderr,
        )

    def ready() -> str | None:
        if proc.poll() is not None:
            pytest.fail(f"khronos run exited {proc.returncode}: {err.read_text()[-2000:]}")
        info = read_daemon_file(tmp_path / "state")
        return str(info["url"]) if info is not None and info.get("pid") == proc.pid else None

    try:
        url = str(poll(ready, timeout=60, what="daemon.json"))
    except BaseException:
        stop(proc)
        raise
    return Running(proc, url, out, err)


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> int:
    """Signal the daemon by PID and wait for it; kill it (and its children) if it hangs."""
    if proc.poll() is None:
        children = psutil.Process(proc.pid).children(recursive=True)
        proc.send_signal(sig)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
            for child in children:
                if child.is_running():
                    child.kill()
            pytest.fail("khronos run did not stop within 60s of the signal")
    return int(proc.returncode)


def metric(url: str, line_prefix: str) -> float | None:
    """The value of the first /metrics sample whose line starts with ``line_prefix``."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith(line_prefix):
            return float(line.rsplit(" ", 1)[1])
    return None


def insert(db: Path, ids: range) -> None:
    """Commit one row per id, one transaction each."""
    with closing(sqlite3.connect(db, timeout=10)) as conn:
        for i in ids:
            with conn:
                conn.execute("INSERT INTO rows (id, body) VALUES (?, ?)", (i, f"row {i}"))


def log_records(tmp_path: Path) -> list[dict[str, Any]]:
    """Every record of the daemon's logs/combined.log (each line must be JSON)."""
    path = tmp_path / "logs" / "combined.log"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
