"""`khronos demo --duration 20s`: the dashboard answers during the run, it exits 0 after a final
sync, and the replica restores the bot's messages."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from khronos.daemon import read_daemon_file
from tests.polling import poll

pytestmark = pytest.mark.integration


def _count(db: Path) -> int:
    with closing(sqlite3.connect(db)) as conn:
        (count,) = conn.execute("SELECT count(*) FROM messages").fetchone()
    return int(count)


def test_demo_serves_the_dashboard_and_its_replica_restores(tmp_path: Path) -> None:
    """The demo's dashboard shows the bot's database; after exit 0 the replica restores it."""
    out = tmp_path / "demo.out"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("TELEGRAM_BOT_TOKEN", None)
    with out.open("wb") as stdout:
        proc = subprocess.Popen(
            [sys.executable, "-m", "khronos", "demo", "--dir", "demo", "--duration", "20s",
             "--port", "0"],
            cwd=tmp_path, env=env, stdout=stdout, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        info = poll(lambda: read_daemon_file(tmp_path / "demo" / ".khronos"), timeout=60)
        url = str(info["url"])
        status = poll(lambda: _status_with_traffic(url), timeout=60, what="the bot's traffic")
        assert status["databases"][0]["label"] == "app"
        assert httpx.get(f"{url}/", timeout=10).status_code == 200
        assert proc.wait(timeout=120) == 0, out.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    text = out.read_text()
    assert text.startswith(f"Khronos demo: open the dashboard at {url}/")
    assert "nothing is waiting to be backed up" in text
    restored = tmp_path / "restored.db"
    result = subprocess.run(
        [sys.executable, "-m", "khronos", "-c", "demo/khronos.yml", "restore", "app", "-o",
         str(restored)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert _count(restored) == _count(tmp_path / "demo" / "app.db") > 10


def _status_with_traffic(url: str) -> dict[str, object] | None:
    try:
        status = httpx.get(f"{url}/api/status", timeout=10).json()
    except httpx.HTTPError:
        return None
    alerts = status.get("alerts") or []
    return status if status.get("databases") and alerts else None
