"""A real ``khronos run`` for the benchmarks: one database on a file replica, default checks.

Shared by the footprint, CLI start-up and write-overhead benchmarks.  The daemon is a
subprocess started from this checkout's ``.venv``; it is stopped by its pid (SIGTERM, a graceful
stop with Litestream's final sync).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

QUICK = os.environ.get("QUICK", "") not in {"", "0"}
"""``make bench QUICK=1``: shorter windows and fewer rounds (the whole bench under 2 minutes)."""

KHRONOS = Path(sys.executable).with_name("khronos")

CONFIG = """\
service: {name: bench}
state_dir: state
http: {listen: "127.0.0.1:0"}
logging: {dir: logs, console: "off"}
backup:
  dbs:
    - path: app.db
      replica: {type: file, path: replica}
  verify: {interval: null}
"""
"""One database on a file replica; ``checks:`` left at its default (memory and disk)."""


@dataclass(frozen=True)
class Running:
    """A started daemon: its folder, config, pid and its Litestream child's pid."""

    root: Path
    config: Path
    pid: int
    litestream_pid: int

    @property
    def db(self) -> Path:
        """The replicated database."""
        return self.root / "app.db"


def make_db(path: Path) -> None:
    """An application database in WAL mode, one small table."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, body TEXT)")
        conn.commit()


@contextlib.contextmanager
def khronos_run(root: Path, extra_config: str = "") -> Iterator[Running]:
    """Start ``khronos run`` in ``root`` (created with its database); yield once it replicates.
    ``extra_config``: more top-level YAML (an ``alerts:`` section)."""
    root.mkdir(parents=True, exist_ok=True)
    if not (root / "app.db").exists():
        make_db(root / "app.db")
    config = root / "khronos.yml"
    config.write_text(CONFIG + extra_config, encoding="utf-8")
    proc = subprocess.Popen(
        [str(KHRONOS), "-c", str(config), "run"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        status = root / "state" / "status.json"
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError, ValueError):
                data = json.loads(status.read_text(encoding="utf-8"))
                dbs = data.get("databases") or [{}]
                if data.get("running") and data.get("litestream_pid") and dbs[0].get("replicating"):
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"khronos run did not start replicating (see {root}/logs)")
            time.sleep(0.1)
        yield Running(root, config, proc.pid, int(data["litestream_pid"]))
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def cpu_ns(pid: int) -> int:
    """CPU time of every thread of ``pid`` so far, in ns (``/proc/<pid>/task/*/schedstat``:
    the scheduler's exact count, where ``cpu_times`` counts 10 ms ticks)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, ValueError, IndexError):
            total += int((task / "schedstat").read_text().split()[0])
    return total
