"""Snapshots inside a real `khronos run` to an S3 destination (moto behind the cuttable proxy):
the outage sends one alert naming the destination, the return resolves it, and the S3 keys
appear in no state file, status, metric or log."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from tests.alerts.fake_telegram import FakeTelegram
from tests.backup.conftest import (  # noqa: F401 - pytest finds fixtures by their import here
    REGION,
    S3_KEY,
    S3_SECRET,
    fixture_bucket,
    fixture_s3_proxy,
    fixture_s3_server,
)
from tests.daemon.harness import daemon_env, khronos, start, stop
from tests.polling import poll
from tests.proxy import TcpProxy
from tests.snapshots.daemon.test_daemon_run import age_key, snapshot_entry

pytestmark = pytest.mark.integration

FAILED = "Snapshot of app to offsite failed"


def write_config(tmp_path: Path, bot: FakeTelegram, bucket: str, endpoint: str) -> None:
    with closing(sqlite3.connect(tmp_path / "app.db")) as conn, conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE rows (id INTEGER PRIMARY KEY, body TEXT)")
    recipient = age_key(tmp_path / "snapshots.key")
    (tmp_path / "khronos.yml").write_text(
        f"""\
service: {{name: test-bot, shutdown_timeout: 20s}}
state_dir: state
http: {{listen: "127.0.0.1:0", token: "${{KHRONOS_HTTP_TOKEN}}"}}
logging: {{dir: logs, console: json}}
alerts:
  cooldown: 1s
  telegram: {{bot_token: "${{TELEGRAM_BOT_TOKEN}}", chat_id: "111", api_url: "{bot.url}"}}
backup:
  verify: {{interval: null}}
  dbs:
    - path: app.db
      replica: {{url: "file://{tmp_path}/replica", sync-interval: 200ms}}
      snapshots:
        - {{url: "s3://{bucket}/snaps", name: offsite, endpoint: "{endpoint}",
            region: {REGION}, force-path-style: true, access-key-id: {S3_KEY},
            secret-access-key: {S3_SECRET}, interval: 2s,
            encrypt: {{recipients: [{recipient}]}}}}
""",
        encoding="utf-8",
    )


def test_an_s3_outage_alerts_once_resolves_and_leaks_no_key(
    tmp_path: Path, bot: FakeTelegram, bucket: str, s3_proxy: TcpProxy
) -> None:
    """Cut: retried failures, one alert; restored: a snapshot, resolved; no secret anywhere."""
    write_config(tmp_path, bot, bucket, s3_proxy.url)
    env = daemon_env()
    running = start(tmp_path, env)
    try:
        poll(lambda: snapshot_entry(tmp_path, env)["last_success_at"], what="a snapshot")
        s3_proxy.cut()
        poll(lambda: snapshot_entry(tmp_path, env)["consecutive_failures"] >= 2, what="retries")
        poll(lambda: any(FAILED in t for t in bot.texts()), what="the alert")
        before = snapshot_entry(tmp_path, env)["last_success_at"]
        s3_proxy.restore()
        poll(lambda: snapshot_entry(tmp_path, env)["last_success_at"] != before, what="back")
        poll(lambda: any("Resolved" in t and FAILED in t for t in bot.texts()), what="resolved")
        seen = [
            khronos("status", "--json", cwd=tmp_path, env=env).stdout,
            httpx.get(f"{running.url}/metrics", timeout=10).text,
            httpx.get(f"{running.url}/api/status", timeout=10).text,
        ]
    finally:
        assert stop(running.proc) == 0
    assert len([t for t in bot.texts() if FAILED in t and "Resolved" not in t]) == 1
    seen += [
        (tmp_path / "state" / "snapshots.json").read_text(),
        (tmp_path / "logs" / "combined.log").read_text(),
        *bot.texts(),
    ]
    assert all(S3_SECRET not in text for text in seen)
    assert json.loads(seen[0])["databases"][0]["snapshots"][0]["dest"] == "offsite"
