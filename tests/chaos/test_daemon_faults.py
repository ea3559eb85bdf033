"""Chaos: faults around the daemon — Telegram down then rate-limiting while khronos is killed,
state_dir on a full filesystem, too few file descriptors, the database deleted and restored.
Every expected alert arrives once; every committed row restores; no 5xx."""

from __future__ import annotations

import os
import re
import signal
import socket
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.alerts.fake_telegram import FakeTelegram
from tests.chaos.harness import (
    Outcome,
    Writer,
    backup_up,
    chaos_config,
    duplicates,
    kill_daemon,
    litestream_child,
    restored_ids,
    start,
    stop,
    timed,
    wait_gone,
)
from tests.daemon.harness import HTTP_TOKEN, Running, khronos, poll
from tests.smallfs import small_filesystem
from tests.support import require_binary

pytestmark = pytest.mark.integration

_NUMBERED = re.compile(r"chaos alert (\d+)")


def _post(daemon: Running, message: str, level: str = "ERROR") -> httpx.Response:
    return httpx.post(
        f"{daemon.url}/api/alerts/test",
        json={"message": message, "level": level},
        headers={"Authorization": f"Bearer {HTTP_TOKEN}"},
        timeout=10,
    )


def _numbered(telegram: FakeTelegram) -> list[int]:
    """The numbers of the "chaos alert N" messages delivered, in delivery order."""
    return [int(m[1]) for t in telegram.texts() if (m := _NUMBERED.search(t))]


def test_telegram_outage_429_storm_and_kill9(
    tmp_path: Path, env: dict[str, str], telegram: FakeTelegram, chaos_results: Path
) -> None:
    """Telegram answers 500 while alerts are raised, khronos is killed with them pending and
    started again, then Telegram comes back answering a storm of 429s: every alert is
    delivered once, in order."""
    outcome = Outcome(
        "Telegram outage, 429 storm and kill -9",
        1,
        notes="the Bot API answers 500 while 10 alerts are raised, kill -9 of khronos with "
        "them pending, restart, then six 429 (retry_after 1s) before it accepts again.",
    )
    chaos_config(tmp_path, telegram, alerts_extra="  breaker: {failures: 3, reset_timeout: 2s}\n")
    telegram.failing = lambda: 500
    daemon = start(tmp_path, env)
    writer = Writer(tmp_path, pause=0.02)
    try:
        poll(lambda: backup_up(daemon), what="replicating")
        for i in range(5):
            assert _post(daemon, f"chaos alert {i}").status_code == 202
        poll(lambda: len(telegram.tried) >= 3, what="delivery attempts during the outage")
        kill_daemon(daemon)
        daemon = start(tmp_path, env, name="restarted")
        for i in range(5, 10):
            assert _post(daemon, f"chaos alert {i}").status_code == 202
        retry = {"ok": False, "error_code": 429, "description": "Too Many Requests"}
        telegram.script(*[(429, {**retry, "parameters": {"retry_after": 1}})] * 6)
        telegram.failing = None
        outcome.recover_seconds.append(
            timed(lambda: set(_numbered(telegram)) >= set(range(10)), timeout=180, what="all")
        )
        committed = writer.stop()
    finally:
        telegram.failing = None
        writer.stop()
        assert stop(daemon.proc) == 0, daemon.err.read_text()[-2000:]
    restored = restored_ids(tmp_path, env)
    numbers = _numbered(telegram)
    outcome.rows_committed, outcome.rows_restored = len(committed), len(set(restored))
    outcome.alerts_expected, outcome.alerts_delivered = 10, len(set(numbers))
    outcome.duplicates = sum(n - 1 for n in Counter(numbers).values())
    outcome.save(chaos_results)
    assert numbers == list(range(10))
    assert set(committed) <= set(restored)


def _full_folder(
    tmp_path: Path,
    env: dict[str, str],
    telegram: FakeTelegram,
    outcome: Outcome,
    *,
    folder: str,
    said: str,
) -> str:
    """``folder`` (state or logs) on a 4 MB tmpfs filled to ENOSPC under a write load, five
    alerts raised and Litestream killed meanwhile, then the space freed: replication goes on,
    every alert arrives once, ``said`` ("state_dir full", "log dir full") is alerted once and
    resolved, all without a restart.  The text of combined.log, read before the unmount."""
    with small_filesystem(tmp_path / folder, "4m") as small:
        chaos_config(tmp_path, telegram)
        daemon = start(tmp_path, env)
        writer = Writer(tmp_path, pause=0.02)
        try:
            poll(lambda: backup_up(daemon), what="replicating")
            small.fill()
            for i in range(5):
                assert _post(daemon, f"chaos alert {i}").status_code == 202
            child = litestream_child(daemon)
            assert child is not None
            os.kill(child.pid, signal.SIGKILL)
            wait_gone(child.pid)
            poll(lambda: set(_numbered(telegram)) >= set(range(5)), what="alerts while full")
            poll(lambda: any(said in t for t in telegram.texts()), what=f"{said} alert")
            poll(lambda: backup_up(daemon), what="replicating again while full")
            small.free()
            outcome.recover_seconds.append(
                timed(
                    lambda: any("Resolved" in t and said in t for t in telegram.texts()),
                    timeout=120,
                    what=f"{said} resolved",
                )
            )
            writer.wait_rows(20)
            committed = writer.stop()
            assert httpx.get(f"{daemon.url}/healthz", timeout=10).status_code == 200
        finally:
            writer.stop()
            assert stop(daemon.proc) == 0, daemon.err.read_text()[-2000:]
        logged = (tmp_path / "logs" / "combined.log").read_text(encoding="utf-8")
    restored = restored_ids(tmp_path, env)
    texts = telegram.texts()
    full = [t for t in texts if said in t and "Resolved" not in t]
    outcome.rows_committed, outcome.rows_restored = len(committed), len(set(restored))
    outcome.alerts_expected = 5 + 2 + 2  # the five, the restart's ERROR + resolved, full + resolved
    outcome.alerts_delivered = (
        len(set(_numbered(telegram)))
        + len([t for t in texts if "Backup replication is down" in t])
        + len(full)
        + len([t for t in texts if "Resolved" in t and said in t])
    )
    outcome.duplicates = duplicates(texts)
    assert set(committed) <= set(restored)
    assert len(full) == 1
    assert outcome.duplicates == 0
    assert outcome.alerts_delivered >= outcome.alerts_expected
    return logged


def test_state_dir_on_a_full_filesystem(
    tmp_path: Path, env: dict[str, str], telegram: FakeTelegram, chaos_results: Path
) -> None:
    """state_dir fills up under a write load: replication goes on, alerts raised meanwhile
    (and a Litestream restart's) are delivered once, "state_dir full" is said once and
    resolved when space returns, all without a restart."""
    outcome = Outcome(
        "state_dir on a full filesystem",
        1,
        notes="state_dir on a 4 MB tmpfs filled to ENOSPC while the writer commits; 5 alerts "
        "raised and Litestream killed once meanwhile; then the space freed.",
    )
    try:
        _full_folder(tmp_path, env, telegram, outcome, folder="state", said="state_dir full")
    finally:
        outcome.save(chaos_results)


def test_log_dir_on_a_full_filesystem(
    tmp_path: Path, env: dict[str, str], telegram: FakeTelegram, chaos_results: Path
) -> None:
    """The log folder fills up under a write load: replication goes on, alerts raised
    meanwhile (and a Litestream restart's) are delivered once, "log dir full" is alerted once
    (the log being no channel for it) and resolved when space returns; the lines that waited in
    memory reach the file; all without a restart."""
    outcome = Outcome(
        "log dir on a full filesystem",
        1,
        notes="logging.dir on a 4 MB tmpfs filled to ENOSPC while the writer commits; 5 alerts "
        "raised and Litestream killed once meanwhile; then the space freed.",
    )
    try:
        logged = _full_folder(tmp_path, env, telegram, outcome, folder="logs", said="log dir full")
    finally:
        outcome.save(chaos_results)
    # the lines logged while the disk was full waited in memory and are in the file now
    assert all(f"chaos alert {i}" in logged for i in range(5))


def _half_open(url: str, count: int) -> list[socket.socket]:
    """Connections that send half a request and then nothing (each a descriptor held)."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    held = []
    for _ in range(count):
        try:
            conn = socket.create_connection((host, int(port)), timeout=5)
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        except OSError:
            continue
        held.append(conn)
    return held


def test_descriptor_exhaustion(
    tmp_path: Path, env: dict[str, str], telegram: FakeTelegram, chaos_results: Path
) -> None:
    """khronos under `prlimit --nofile=256` with 300 half-open connections, a write load and a
    Litestream restart: /healthz answers (never a 5xx), alerts are delivered, nothing lost."""
    prlimit = require_binary("prlimit")
    outcome = Outcome(
        "descriptor exhaustion (prlimit --nofile=256)",
        1,
        notes="300 half-open HTTP connections against a daemon limited to 256 descriptors, "
        "Litestream killed once and an alert raised meanwhile.",
    )
    chaos_config(tmp_path, telegram)
    daemon = start(tmp_path, env, prefix=[prlimit, "--nofile=256"])
    writer = Writer(tmp_path, pause=0.02)
    statuses: list[int] = []
    held: list[socket.socket] = []
    try:
        poll(lambda: backup_up(daemon), what="replicating")
        held = _half_open(daemon.url, 300)
        child = litestream_child(daemon)
        assert child is not None
        os.kill(child.pid, signal.SIGKILL)
        wait_gone(child.pid)

        def healthy() -> bool:
            try:
                answer = httpx.get(f"{daemon.url}/healthz", timeout=5)
            except httpx.HTTPError:
                return False
            statuses.append(answer.status_code)
            return answer.status_code == 200 and backup_up(daemon)

        outcome.recover_seconds.append(timed(healthy, timeout=120, what="healthy again"))
        answer = _post(daemon, "chaos alert 0")
        statuses.append(answer.status_code)
        poll(lambda: 0 in _numbered(telegram), what="the alert")
        poll(lambda: any("Resolved: Backup replication" in t for t in telegram.texts()), what="ok")
        committed = writer.stop()
    finally:
        for conn in held:
            conn.close()
        writer.stop()
        assert stop(daemon.proc) == 0, daemon.err.read_text()[-2000:]
    restored = restored_ids(tmp_path, env)
    outcome.rows_committed, outcome.rows_restored = len(committed), len(set(restored))
    outcome.alerts_expected, outcome.alerts_delivered = (
        3,
        len(set(_numbered(telegram)))
        + len([t for t in telegram.texts() if "Backup replication is down" in t]),
    )
    outcome.duplicates = duplicates(telegram.texts())
    outcome.http_5xx = sum(1 for s in statuses if s >= 500)
    outcome.save(chaos_results)
    assert set(committed) <= set(restored)
    assert outcome.http_5xx == 0
    assert outcome.alerts_delivered >= outcome.alerts_expected


def test_database_deleted_and_restored(
    tmp_path: Path, env: dict[str, str], telegram: FakeTelegram, chaos_results: Path
) -> None:
    """The database deleted under a running daemon: CRITICAL at once; after the documented
    stop -> restore -> start, the condition is resolved and every row is back."""
    outcome = Outcome(
        "database deleted and restored",
        1,
        notes="app.db and its WAL deleted under a running daemon, then `khronos run` stopped, "
        "`khronos restore`, and `khronos run` started again.",
    )
    chaos_config(tmp_path, telegram)
    daemon = start(tmp_path, env)
    writer = Writer(tmp_path)
    try:
        poll(lambda: backup_up(daemon), what="replicating")
        writer.wait_rows(300)
        committed = writer.stop()
        synced = khronos("backup", "now", cwd=tmp_path, env=env)
        assert synced.returncode == 0, synced.stdout + synced.stderr
        for suffix in ("", "-wal", "-shm"):
            (tmp_path / f"app.db{suffix}").unlink(missing_ok=True)
        poll(lambda: any("Database down" in t for t in telegram.texts()), what="CRITICAL")
    finally:
        writer.stop()
        assert stop(daemon.proc) == 0, daemon.err.read_text()[-2000:]
    restore = khronos("restore", cwd=tmp_path, env=env)
    assert restore.returncode == 0, restore.stdout + restore.stderr
    began = time.monotonic()  # from the start command to the resolved notice
    daemon = start(tmp_path, env, name="restarted")
    try:
        poll(
            lambda: any("Resolved" in t and "Database down" in t for t in telegram.texts()),
            timeout=60,
            what="the resolved notice after the restart",
        )
        outcome.recover_seconds.append(time.monotonic() - began)
    finally:
        assert stop(daemon.proc) == 0, daemon.err.read_text()[-2000:]
    restored = restored_ids(tmp_path, env)
    texts = telegram.texts()
    outcome.rows_committed, outcome.rows_restored = len(committed), len(set(restored))
    outcome.alerts_expected = 2
    outcome.alerts_delivered = len([t for t in texts if "Database down" in t])
    outcome.duplicates = duplicates(texts)
    outcome.save(chaos_results)
    assert set(committed) <= set(restored)
    assert outcome.alerts_delivered == 2
    assert outcome.duplicates == 0
