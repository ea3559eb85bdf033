"""Snapshots inside a real `khronos run` (subprocess), on the real engine, to a folder: they
appear on schedule and `khronos status --json` shows them; the drill restores the newest; a
destination outage sends one alert, resolved when it is back, and the schedule goes on."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.alerts.fake_telegram import FakeTelegram
from tests.daemon.harness import daemon_env, khronos, metric, start, stop
from tests.polling import poll

pytestmark = pytest.mark.integration

FAILED = "Snapshot of app to local failed"


def age_key(path: Path) -> str:
    """An age key pair written as age-keygen writes it; the recipient."""
    import pyrage

    identity = pyrage.x25519.Identity.generate()
    path.write_text(f"# public key: {identity.to_public()}\n{identity}\n", encoding="utf-8")
    path.chmod(0o600)
    return str(identity.to_public())


def write_config(tmp_path: Path, bot: FakeTelegram) -> Path:
    """A daemon with one database snapshotting every 2s to tmp_path/snaps (a drill every 3s)."""
    with closing(sqlite3.connect(tmp_path / "app.db")) as conn, conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE rows (id INTEGER PRIMARY KEY, body TEXT)")
        conn.execute("INSERT INTO rows (body) VALUES ('first')")
    recipient = age_key(tmp_path / "snapshots.key")
    (tmp_path / "snaps").mkdir()
    text = f"""\
service: {{name: test-bot, shutdown_timeout: 20s}}
state_dir: state
http: {{listen: "127.0.0.1:0", token: "${{KHRONOS_HTTP_TOKEN}}"}}
logging: {{dir: logs, console: json}}
alerts:
  cooldown: 1s
  telegram:
    bot_token: "${{TELEGRAM_BOT_TOKEN}}"
    chat_id: "111"
    api_url: "{bot.url}"
backup:
  verify: {{interval: 3s}}
  dbs:
    - path: app.db
      replica: {{url: "file://{tmp_path}/replica", sync-interval: 200ms}}
      snapshots:
        - {{url: "file://{tmp_path}/snaps", name: local, interval: 2s,
            encrypt: {{recipients: [{recipient}]}}, identity_file: {tmp_path}/snapshots.key}}
"""
    path = tmp_path / "khronos.yml"
    path.write_text(text, encoding="utf-8")
    return path


def snapshot_entry(tmp_path: Path, env: dict[str, str]) -> dict[str, Any]:
    """The destination's entry in `khronos status --json`."""
    done = khronos("status", "--json", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    (db,) = json.loads(done.stdout)["databases"]
    (entry,) = db["snapshots"]
    return dict(entry)


def stored(tmp_path: Path) -> list[Path]:
    return sorted(p for p in (tmp_path / "snaps").rglob("*.age"))


def test_snapshots_on_schedule_shown_by_status_metrics_and_drilled(
    tmp_path: Path, bot: FakeTelegram
) -> None:
    """Two snapshots appear (the second one interval later), status shows the newest with its
    size and next due time, the metric has its time, and the drill decrypts the newest."""
    write_config(tmp_path, bot)
    env = daemon_env()
    running = start(tmp_path, env)
    try:
        first = poll(lambda: snapshot_entry(tmp_path, env)["last_success_at"], what="a snapshot")
        poll(
            lambda: snapshot_entry(tmp_path, env)["last_success_at"] != first,
            what="the next snapshot on schedule",
        )
        entry = snapshot_entry(tmp_path, env)
        assert entry["size_bytes"] > 0
        assert entry["verified"] is True
        assert entry["next_due_at"] > entry["last_success_at"]
        assert stored(tmp_path)
        line = 'khronos_snapshot_last_success_timestamp_seconds{db="app",dest="local"}'
        assert metric(running.url, line) is not None
        drill = poll(
            lambda: (snapshot_entry(tmp_path, env)["last_drill"] or {}).get("ok"),
            what="a passing snapshot drill",
        )
        assert drill is True
        assert snapshot_entry(tmp_path, env)["last_drill"]["decrypted"] is True
        verify = khronos("verify", "--json", cwd=tmp_path, env=env)
        assert verify.returncode == 0, verify.stdout + verify.stderr
        (drill,) = json.loads(verify.stdout)["databases"][0]["snapshots"]
        assert (drill["dest"], drill["ok"], drill["decrypted"]) == ("local", True, True)
        text = khronos("status", cwd=tmp_path, env=env).stdout
        assert "snapshot local" in text
        assert "verified" in text
    finally:
        assert stop(running.proc) == 0
    assert not list((tmp_path / "state" / "snapshots-tmp").glob("daemon-*"))


def test_a_destination_outage_alerts_once_and_resolves_when_it_is_back(
    tmp_path: Path, bot: FakeTelegram
) -> None:
    """The folder replaced by a file: failures retried, one alert naming the cause; the folder
    back: a snapshot at once, the alert resolved, and snapshots go on."""
    write_config(tmp_path, bot)
    env = daemon_env()
    running = start(tmp_path, env)
    snaps = tmp_path / "snaps"
    try:
        poll(lambda: snapshot_entry(tmp_path, env)["last_success_at"], what="a snapshot")
        shutil.move(snaps, tmp_path / "snaps-away")
        snaps.write_text("not a folder")
        poll(lambda: snapshot_entry(tmp_path, env)["consecutive_failures"] >= 3, what="retries")
        poll(lambda: any(FAILED in t for t in bot.texts()), what="the alert")
        before = snapshot_entry(tmp_path, env)["last_success_at"]
        snaps.unlink()
        shutil.move(tmp_path / "snaps-away", snaps)
        poll(
            lambda: snapshot_entry(tmp_path, env)["last_success_at"] != before,
            what="a snapshot once the folder is back",
        )
        poll(lambda: any("Resolved" in t and FAILED in t for t in bot.texts()), what="resolved")
        after = snapshot_entry(tmp_path, env)["last_success_at"]
        poll(
            lambda: snapshot_entry(tmp_path, env)["last_success_at"] != after,
            what="the schedule going on",
        )
    finally:
        assert stop(running.proc) == 0
    assert len([t for t in bot.texts() if FAILED in t and "Resolved" not in t]) == 1
    assert snapshot_entry(tmp_path, env)["consecutive_failures"] == 0


def test_kill_9_mid_snapshot_leaves_nothing_partial_and_the_next_start_cleans_up(
    tmp_path: Path, bot: FakeTelegram
) -> None:
    """`khronos run` killed -9 while a snapshot is being prepared: its temp folder is removed at
    the next start, the destination lists only whole snapshots, and the next one is taken."""
    write_config(tmp_path, bot)
    fill(tmp_path / "app.db", megabytes=48)
    env = daemon_env()
    tmp = tmp_path / "state" / "snapshots-tmp"
    running = start(tmp_path, env)
    try:
        poll(lambda: list(tmp.glob("daemon-*")), what="a snapshot being prepared", every=0.005)
    finally:
        children = psutil.Process(running.proc.pid).children(recursive=True)
        running.proc.kill()
        running.proc.wait(timeout=30)
        psutil.wait_procs(children, timeout=10)  # Litestream dies with its parent
        for child in children:
            if child.is_running():
                child.kill()
    leftovers = list(tmp.glob("daemon-*"))
    assert leftovers
    running = start(tmp_path, env, name="again")
    try:
        poll(lambda: not any(p.exists() for p in leftovers), what="the leftover removed")
        poll(lambda: snapshot_entry(tmp_path, env)["last_success_at"], what="a snapshot")
        listed = khronos("snapshots", "list", "--json", cwd=tmp_path, env=env)
        assert listed.returncode == 0, listed.stderr
        names = {p.name for p in stored(tmp_path)}
        for snap in json.loads(listed.stdout)["snapshots"]:
            assert Path(snap["key"]).name in names
    finally:
        assert stop(running.proc) == 0


def fill(db: Path, *, megabytes: int) -> None:
    """Grow the database with incompressible rows (so a snapshot takes a moment)."""
    with closing(sqlite3.connect(db)) as conn, conn:
        for _ in range(megabytes):
            conn.execute("INSERT INTO rows (body) VALUES (?)", (os.urandom(1 << 19).hex(),))
