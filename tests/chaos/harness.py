"""The chaos suite's parts: a write load, a daemon to break, and the figures each fault reports.

Every fault test runs `khronos run` as a real process next to a real writer process (one row
per transaction, SQLite's default autocheckpoint), injects its fault for real, lets the daemon
recover by itself, and then proves the outcome: every committed row restorable, every expected
alert delivered once, no 5xx.  Each test adds one row to the reliability table
(:class:`Outcome`), which the suite writes at the end (see ``conftest.py``).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
import psutil

from tests.alerts.fake_telegram import FakeTelegram
from tests.daemon.harness import Running, khronos, poll, start, stop

WRITER = Path(__file__).with_name("writer.py")
RESULTS_ENV = "KHRONOS_CHAOS_RESULTS"


@dataclass
class Outcome:
    """One row of docs/RELIABILITY.md."""

    fault: str
    repetitions: int
    rows_committed: int = 0
    rows_restored: int = 0
    alerts_expected: int = 0
    alerts_delivered: int = 0
    duplicates: int = 0
    http_5xx: int = 0
    recover_seconds: list[float] = field(default_factory=list)
    notes: str = ""

    def save(self, results: Path) -> None:
        """Append to the suite's results file (JSON lines)."""
        results.parent.mkdir(parents=True, exist_ok=True)
        with results.open("a", encoding="utf-8") as out:
            out.write(json.dumps(asdict(self)) + "\n")


def chaos_config(
    tmp_path: Path,
    telegram: FakeTelegram,
    *,
    replica: str | None = None,
    extra_backup: str = "",
    alerts_extra: str = "",
    state_dir: str = "state",
    log_dir: str = "logs",
) -> Path:
    """A khronos.yml for a chaos run: backup of app.db, Telegram, the HTTP API."""
    replica = replica or f'{{url: "file://{tmp_path}/replica"}}'
    text = f"""\
service: {{name: chaos-bot, shutdown_timeout: 30s}}
state_dir: {state_dir}
http: {{listen: "127.0.0.1:0", token: "${{KHRONOS_HTTP_TOKEN}}"}}
logging: {{dir: {log_dir}, console: json}}
alerts:
  cooldown: 1s
{alerts_extra}  telegram:
    bot_token: "${{TELEGRAM_BOT_TOKEN}}"
    chat_id: "111"
    api_url: "{telegram.url}"
backup:
  restart: {{delay: 1s, min_uptime: 1s, max_restarts: 1000}}
  verify: {{interval: null}}
{extra_backup}  dbs:
    - path: app.db
      replica: {replica}
"""
    with closing(sqlite3.connect(tmp_path / "app.db")) as conn, conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, body TEXT)")
    path = tmp_path / "khronos.yml"
    path.write_text(text, encoding="utf-8")
    return path


class Writer:
    """The application: a process committing rows until stopped."""

    def __init__(self, tmp_path: Path, pause: float = 0.005) -> None:
        self.db = tmp_path / "app.db"
        self.committed_file = tmp_path / "committed.txt"
        self.stop_file = tmp_path / "writer.stop"
        self.stop_file.unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            [sys.executable, str(WRITER), str(self.db), str(self.committed_file),
             str(self.stop_file), str(pause)],
        )  # fmt: skip

    def committed(self) -> list[int]:
        """Ids the writer saw committed so far."""
        try:
            text = self.committed_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        return [int(line) for line in text.splitlines() if line.strip()]

    def wait_rows(self, more: int, timeout: float = 60.0) -> None:
        """Wait until ``more`` rows beyond now are committed."""
        target = len(self.committed()) + more
        poll(lambda: len(self.committed()) >= target, timeout=timeout, what=f"{more} more rows")

    def stop(self) -> list[int]:
        """Stop the writer (it finishes its transaction); every committed id."""
        self.stop_file.touch()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return self.committed()


def litestream_child(daemon: Running) -> psutil.Process | None:
    """The daemon's Litestream process, if one runs."""
    try:
        children = psutil.Process(daemon.proc.pid).children()
    except psutil.NoSuchProcess:
        return None
    found = [p for p in children if "litestream" in p.name()]
    return found[0] if found else None


def backup_up(daemon: Running) -> bool:
    """Whether the daemon reports the backup replicating (``khronos_backup_up 1``)."""
    try:
        text = httpx.get(f"{daemon.url}/metrics", timeout=5).text
    except httpx.HTTPError:
        return False
    return 'khronos_backup_up{db="app"} 1.0' in text


def timed(check: Callable[[], object], *, timeout: float, what: str) -> float:
    """Poll ``check`` and return how long it took to become true (seconds)."""
    began = time.monotonic()
    poll(check, timeout=timeout, what=what)
    return time.monotonic() - began


def restored_ids(tmp_path: Path, env: dict[str, str]) -> list[int]:
    """Restore the replica with `khronos restore -o` and list its rows (integrity checked)."""
    out = tmp_path / "restored.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{out}{suffix}").unlink(missing_ok=True)
    result = khronos("restore", "-o", str(out), cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    with closing(sqlite3.connect(out)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return [r[0] for r in conn.execute("SELECT id FROM rows ORDER BY id")]


def duplicates(texts: list[str]) -> int:
    """Messages delivered more than once (each carries its time to the second: a repeat of
    the very same text is the same alert sent twice)."""
    return sum(count - 1 for count in Counter(texts).values() if count > 1)


def kill_daemon(daemon: Running) -> None:
    """kill -9 the daemon by PID (its Litestream follows: parent-death signal)."""
    os.kill(daemon.proc.pid, signal.SIGKILL)
    daemon.proc.wait(timeout=30)


def wait_gone(pid: int, timeout: float = 30.0) -> None:
    """Wait until process ``pid`` no longer exists."""
    poll(lambda: not psutil.pid_exists(pid), timeout=timeout, what=f"pid {pid} gone")


__all__ = [
    "Outcome",
    "Writer",
    "backup_up",
    "chaos_config",
    "duplicates",
    "kill_daemon",
    "litestream_child",
    "restored_ids",
    "start",
    "stop",
    "timed",
    "wait_gone",
]
