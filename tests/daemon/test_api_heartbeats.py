"""`khronos run` as a real process: the alert API with the docs' shell and Node clients,
heartbeats in (late, back, failed, across a restart) and out (paused while unhealthy).

Fake Bot API and outside monitor on loopback; the daemon is stopped by PID.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import httpx
import psutil
import pytest

from tests.alerts.fake_telegram import FakeTelegram
from tests.daemon.harness import (
    HTTP_TOKEN,
    closed_port,
    khronos,
    log_records,
    metric,
    start,
    stop,
)
from tests.heartbeats.helpers import Receiver, doc_block, write_config
from tests.polling import poll
from tests.support import require_binary

pytestmark = pytest.mark.integration

AUTH = {"Authorization": f"Bearer {HTTP_TOKEN}"}


def shell_alert(tmp_path: Path, env: dict[str, str], url: str, *args: str) -> str:
    """Run the docs' shell client against the daemon; its output (the API's answer)."""
    require_binary("curl")
    script = tmp_path / "khronos-alert"
    script.write_text(doc_block("sh", "#!/bin/sh"), encoding="utf-8")
    script.chmod(0o755)
    client_env = {**env, "KHRONOS_URL": url, "KHRONOS_TOKEN": HTTP_TOKEN}
    done = subprocess.run(
        [str(script), *args],
        env=client_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_shell_client_fires_once_and_resolves_once(
    tmp_path: Path, env: dict[str, str], telegram: FakeTelegram
) -> None:
    """The docs' curl client: five identical fires → one message; resolve → one ✅ notice;
    a message with quotes and newlines arrives intact."""
    write_config(tmp_path, telegram)
    daemon = start(tmp_path, env)
    try:
        answers = [
            shell_alert(tmp_path, env, daemon.url, "ERROR", 'say "hi"\nto all', "queue", "fire")
            for _ in range(5)
        ]
        assert ['"status":"queued"' in a for a in answers] == [True] + [False] * 4
        poll(lambda: len(telegram.texts()) == 1, what="one alert")
        assert '"resolved"' in shell_alert(
            tmp_path, env, daemon.url, "INFO", "", "queue", "resolve"
        )
        poll(lambda: len(telegram.texts()) == 2, what="the resolved notice")
        unauthorised = httpx.post(f"{daemon.url}/api/alerts", json={}, timeout=10)
        assert unauthorised.status_code == 401
    finally:
        assert stop(daemon.proc) == 0
    texts = telegram.texts()
    assert len(texts) == 2
    assert 'say "hi" to all' in texts[0]
    assert "✅ Resolved" in texts[1]


def test_node_client_sends_and_pings(
    tmp_path: Path, env: dict[str, str], telegram: FakeTelegram
) -> None:
    """The docs' Node client (fetch): an alert reaches Telegram, a ping marks a heartbeat up."""
    node = require_binary("node")
    write_config(tmp_path, telegram, heartbeats="[{name: job, every: 1h}]")
    (tmp_path / "khronos.mjs").write_text(doc_block("js", "// khronos.mjs"), encoding="utf-8")
    (tmp_path / "app.mjs").write_text(
        'import { alert, ping } from "./khronos.mjs";\n'
        'console.log(JSON.stringify(await alert("WARN", "from node", { n: 1 })));\n'
        'console.log(JSON.stringify(await ping("job")));\n',
        encoding="utf-8",
    )
    daemon = start(tmp_path, env)
    try:
        client_env = {**env, "KHRONOS_URL": daemon.url, "KHRONOS_TOKEN": HTTP_TOKEN}
        done = subprocess.run(
            [node, "app.mjs"],
            cwd=tmp_path,
            env=client_env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert '"status":"queued"' in done.stdout
        assert '"state":"up"' in done.stdout
        poll(lambda: any("from node" in t for t in telegram.texts()), what="the node alert")
    finally:
        assert stop(daemon.proc) == 0


def test_heartbeat_late_back_failed_and_across_a_restart(
    tmp_path: Path, env: dict[str, str], telegram: FakeTelegram
) -> None:
    """Never pinged → late alert; ping → resolved; /fail → alert; unknown → 404; a restart
    keeps the failure (no second alert) and the next ping resolves it.

    ``job`` (every 1s) goes late; ``cron`` (every 1h) fails, so a slow machine cannot turn it
    late in between."""
    heartbeats = "[{name: job, every: 1s, grace: 1s}, {name: cron, every: 1h}]"
    write_config(tmp_path, telegram, heartbeats=heartbeats)
    daemon = start(tmp_path, env)
    try:
        poll(lambda: sent(telegram, "Job job has never pinged"), what="the late alert")
        assert metric(daemon.url, 'khronos_heartbeat_up{name="job"}') == 0.0
        back = httpx.post(f"{daemon.url}/api/heartbeats/job", headers=AUTH, timeout=10)
        assert back.json()["state"] == "up"
        poll(lambda: sent(telegram, "✅ Resolved: Job job has never pinged"), what="resolved")
        failed = httpx.post(
            f"{daemon.url}/api/heartbeats/cron/fail", content=b"exit 3", headers=AUTH, timeout=10
        )
        assert failed.json()["state"] == "failed"
        poll(lambda: sent(telegram, "Job cron reported a failure"), what="the failure alert")
        unknown = httpx.get(f"{daemon.url}/api/heartbeats/nope", headers=AUTH, timeout=10)
        assert unknown.status_code == 404
    finally:
        assert stop(daemon.proc) == 0
    daemon = start(tmp_path, env, "restarted")
    try:
        poll(lambda: metric(daemon.url, 'khronos_heartbeat_up{name="cron"}') == 0.0, what="up 0")
        httpx.get(f"{daemon.url}/api/heartbeats/cron", headers=AUTH, timeout=10)
        poll(lambda: sent(telegram, "✅ Resolved: Job cron reported a failure"), what="resolved")
    finally:
        assert stop(daemon.proc) == 0
    assert len(sent(telegram, "Job cron reported a failure")) == 2  # the alert and its ✅


def sent(telegram: FakeTelegram, text: str) -> list[str]:
    """The messages at the fake Bot API that contain ``text``."""
    return [t for t in telegram.texts() if text in t]


def test_heartbeat_out_pauses_while_unhealthy(
    tmp_path: Path, env: dict[str, str], telegram: FakeTelegram
) -> None:
    """The outside monitor is called while healthy; not while a CRITICAL condition fires
    (calls resume once it resolves) nor after Litestream was given up on; its URL's token
    appears in no log."""
    with Receiver() as receiver:
        secret = "0f1e2d3c-aaaa-bbbb-cccc-0123456789ab"
        write_config(
            tmp_path,
            telegram,
            backup=True,
            heartbeat=f'{{url: "{receiver.url}/ping/{secret}", every: 1s, timeout: 1s}}',
        )
        daemon = start(tmp_path, env)
        try:
            poll(lambda: receiver.count() >= 2, what="two heartbeat calls")
            assert receiver.calls()[0] == ("GET", f"/ping/{secret}")
            critical = {"action": "fire", "key": "db", "level": "CRITICAL", "message": "down"}
            httpx.post(f"{daemon.url}/api/alerts", json=critical, headers=AUTH, timeout=10)
            assert_paused(daemon.url, receiver)
            resolve = {"action": "resolve", "key": "db"}
            httpx.post(f"{daemon.url}/api/alerts", json=resolve, headers=AUTH, timeout=10)
            resumed_from = receiver.count()
            poll(lambda: receiver.count() > resumed_from, what="calls resumed")

            litestream = [
                p for p in psutil.Process(daemon.proc.pid).children() if "litestream" in p.name()
            ]
            os.kill(litestream[0].pid, signal.SIGKILL)
            poll(lambda: any("gave up" in t for t in telegram.texts()), what="the give-up alert")
            assert_paused(daemon.url, receiver)
        finally:
            assert stop(daemon.proc) == 0
    shown = khronos("config", "show", cwd=tmp_path, env=env)
    assert secret not in shown.stdout + shown.stderr
    logs = "".join(p.read_text(errors="replace") for p in (tmp_path / "logs").iterdir())
    assert secret not in logs + daemon.out.read_text() + daemon.err.read_text()
    assert any(r["message"].startswith("not calling the heartbeat") for r in log_records(tmp_path))


def assert_paused(url: str, receiver: Receiver) -> None:
    """The sender is paused and makes no call over two more of its rounds."""
    poll(lambda: metric(url, "khronos_heartbeat_out_paused") == 1.0, what="paused")
    calls = receiver.count()
    skipped = metric(url, "khronos_heartbeat_out_skipped_total") or 0.0
    poll(
        lambda: (metric(url, "khronos_heartbeat_out_skipped_total") or 0.0) >= skipped + 2,
        what="two skipped rounds",
    )
    assert receiver.count() == calls


def test_unreachable_monitor_is_counted_never_alerted(
    tmp_path: Path, env: dict[str, str], telegram: FakeTelegram
) -> None:
    """An outside monitor nobody listens on: failures counted and logged once, no alert, the
    daemon stays healthy."""
    url = f"http://127.0.0.1:{closed_port()}/ping/some-secret-token"
    write_config(tmp_path, telegram, heartbeat=f'{{url: "{url}", every: 1s, timeout: 1s}}')
    daemon = start(tmp_path, env)
    try:
        poll(
            lambda: (metric(daemon.url, "khronos_heartbeat_out_failures_total") or 0) >= 3,
            what="three failed calls",
        )
        assert httpx.get(f"{daemon.url}/healthz", timeout=10).status_code == 200
        assert httpx.get(f"{daemon.url}/ready", timeout=10).status_code == 200
    finally:
        assert stop(daemon.proc) == 0
    assert telegram.texts() == []
    records = log_records(tmp_path)
    warned = [r for r in records if r["message"] == "cannot reach the heartbeat monitor"]
    assert len(warned) == 1
    assert warned[0]["target"] == f"{url.split('/ping', maxsplit=1)[0]}/**********"
    assert "some-secret-token" not in (tmp_path / "logs" / "combined.log").read_text()
