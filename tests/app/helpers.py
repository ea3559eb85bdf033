"""Start `khronos run -- python app.py` as a real process; the apps the tests supervise."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import psutil

from tests.daemon.harness import Running, start

APP_SECRET = "app-secret-value-0123456789abcdef"
"""Given to the app through app.env (APP_SECRET_TOKEN: ${APP_SECRET_TOKEN}); printed by it."""

WRITER_APP = """\
import json, os, signal, sqlite3, subprocess, sys, time
from pathlib import Path

# a grandchild that ignores SIGTERM: only the SIGKILL of the whole process group ends it
child = subprocess.Popen([sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(3600)"])
env = {name: name in os.environ for name in sys.argv[1:]}
Path("pids.tmp").write_text(json.dumps({"app": os.getpid(), "child": child.pid, "env": env}))
os.replace("pids.tmp", "pids.json")
print(json.dumps({"level": "warn", "msg": "json line", "correlationId": "corr-42",
                  "chat_id": 7, "nested": {"a": 1}}), flush=True)
print("plain stdout line", flush=True)
print("ERROR plain stderr line", file=sys.stderr, flush=True)
print("secret " + os.environ.get("APP_SECRET_TOKEN", "unset"), file=sys.stderr, flush=True)
stopping = []
signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
db = sqlite3.connect("app.db", timeout=10)
while not stopping:
    with db:
        db.execute("INSERT INTO rows (body) VALUES ('from the app')")
    time.sleep(0.02)
db.close()
print("app stopped cleanly", flush=True)
"""

CRASHING_APP = """\
import os, sys
print("loading config", file=sys.stderr)
print("<b>boom</b> & the token is " + os.environ.get("APP_SECRET_TOKEN", "unset"), file=sys.stderr)
sys.exit(3)
"""


def app_section(extra: str = "") -> str:
    """The ``app:`` section the tests use (short restart delays){extra keys}."""
    return f"""\
app:
  stop_timeout: 2s
  restart: {{delay: 200ms, min_uptime: 1s, max_restarts: 2}}
  env: {{APP_SECRET_TOKEN: "${{APP_SECRET_TOKEN}}"}}
{extra}"""


def start_run(tmp_path: Path, env: dict[str, str], command: Sequence[str] = ()) -> Running:
    """`khronos run [-- command]` in tmp_path; return once daemon.json names this process."""
    return start(tmp_path, env, args=["--", *command] if command else ())


def alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (not a zombie)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def kill_leftovers(pids: Sequence[int]) -> None:
    """After a failed test: SIGKILL what is left of the pids the test saw, by PID."""
    for pid in pids:
        if alive(pid):
            os.kill(pid, 9)
