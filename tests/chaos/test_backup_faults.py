"""Chaos: faults under the backup — kill -9 of Litestream and of khronos, an object-store
outage, the database deleted and restored.  Every committed row must restore."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.alerts.fake_telegram import FakeTelegram
from tests.backup.conftest import fault_repeat, s3_replica_yaml
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
from tests.daemon.harness import khronos, poll
from tests.proxy import TcpProxy

pytestmark = pytest.mark.integration


def _texts_with(telegram: FakeTelegram, *needles: str) -> list[str]:
    return [t for t in telegram.texts() if all(n in t for n in needles)]


def test_kill9_of_litestream(
    tmp_path: Path, env: dict[str, str], telegram: FakeTelegram, chaos_results: Path
) -> None:
    """kill -9 of the supervised Litestream under a write load, again and again: restarted each
    time, one alert and one resolved notice each, every committed row restorable."""
    repeats = fault_repeat(3)
    outcome = Outcome(
        "kill -9 of Litestream",
        repeats,
        notes="SIGKILL of the supervised Litestream while the writer commits; restart delay 1s.",
    )
    chaos_config(tmp_path, telegram)
    daemon = start(tmp_path, env)
    writer = Writer(tmp_path)
    try:
        poll(lambda: backup_up(daemon), what="replicating")
        for _ in range(repeats):
            writer.wait_rows(150)
            child = litestream_child(daemon)
            assert child is not None
            os.kill(child.pid, signal.SIGKILL)
            wait_gone(child.pid)
            outcome.recover_seconds.append(
                timed(
                    lambda old=child.pid: (  # type: ignore[misc]
                        (c := litestream_child(daemon)) is not None
                        and c.pid != old
                        and backup_up(daemon)
                    ),
                    timeout=60,
                    what="Litestream replicating again",
                )
            )
        committed = writer.stop()
        resolved = "Resolved: Backup replication is down"
        poll(lambda: len(_texts_with(telegram, resolved)) >= repeats, what="resolved notices")
    finally:
        writer.stop()
        assert stop(daemon.proc) == 0, daemon.err.read_text()[-2000:]
    restored = restored_ids(tmp_path, env)
    down = [t for t in _texts_with(telegram, "Backup replication is down") if "Resolved" not in t]
    outcome.rows_committed, outcome.rows_restored = len(committed), len(set(restored))
    outcome.alerts_expected = 2 * repeats
    outcome.alerts_delivered = len(down) + len(_texts_with(telegram, resolved))
    outcome.duplicates = duplicates(telegram.texts())
    outcome.save(chaos_results)
    assert set(committed) <= set(restored)
    assert outcome.alerts_delivered == outcome.alerts_expected
    assert outcome.duplicates == 0


def test_kill9_of_khronos(
    tmp_path: Path, env: dict[str, str], telegram: FakeTelegram, chaos_results: Path
) -> None:
    """kill -9 of khronos itself under a write load (its Litestream dies with it), restarted
    after the application has written and checkpointed alone: every committed row restorable."""
    repeats = fault_repeat(2)
    outcome = Outcome(
        "kill -9 of khronos",
        repeats,
        notes="SIGKILL of `khronos run`; the writer goes on alone (autocheckpoints included) "
        "until it is started again.",
    )
    chaos_config(tmp_path, telegram)
    daemon = start(tmp_path, env)
    writer = Writer(tmp_path)
    try:
        for _ in range(repeats):
            poll(lambda: backup_up(daemon), what="replicating")  # noqa: B023 - polled at once
            writer.wait_rows(100)
            child = litestream_child(daemon)
            kill_daemon(daemon)
            if child is not None:
                wait_gone(child.pid)
            writer.wait_rows(600)  # alone: past SQLite's 1000-page autocheckpoint
            began = time.monotonic()  # from the start command to replicating
            daemon = start(tmp_path, env, name=f"daemon-{len(outcome.recover_seconds)}")
            poll(lambda: backup_up(daemon), timeout=60, what="replicating again")  # noqa: B023
            outcome.recover_seconds.append(time.monotonic() - began)
        committed = writer.stop()
    finally:
        writer.stop()
        assert stop(daemon.proc) == 0, daemon.err.read_text()[-2000:]
    restored = restored_ids(tmp_path, env)
    outcome.rows_committed, outcome.rows_restored = len(committed), len(set(restored))
    outcome.duplicates = duplicates(telegram.texts())
    outcome.save(chaos_results)
    assert set(committed) <= set(restored)


def test_object_store_outage(  # noqa: PLR0917 - pytest passes fixtures positionally
    tmp_path: Path,
    env: dict[str, str],
    telegram: FakeTelegram,
    bucket: str,
    s3_proxy: TcpProxy,
    chaos_results: Path,
) -> None:
    """The S3 endpoint cut for a while under a write load: lag WARN, replica-down ERROR, both
    resolved once it is back; nothing lost, the daemon recovers by itself."""
    seconds = float(os.environ.get("KHRONOS_CHAOS_OUTAGE", "30"))
    outcome = Outcome(
        "object-store outage",
        1,
        notes=f"the TCP proxy in front of moto's S3 cut for {seconds:g}s while the writer "
        "commits (lag_alert_after 5s, down_alert_after 15s).",
    )
    chaos_config(
        tmp_path,
        telegram,
        replica=s3_replica_yaml(bucket, s3_proxy.url),
        extra_backup="  lag_alert_after: 5s\n  down_alert_after: 15s\n",
    )
    daemon = start(tmp_path, env)
    writer = Writer(tmp_path, pause=0.02)
    try:
        poll(lambda: backup_up(daemon), what="replicating")
        s3_proxy.cut()
        cut_at = time.monotonic()
        poll(lambda: _texts_with(telegram, "Backup of app is down"), timeout=120, what="ERROR")
        poll(lambda: not backup_up(daemon), what="khronos_backup_up 0")
        time.sleep(max(0.0, seconds - (time.monotonic() - cut_at)))  # the outage's length
        s3_proxy.restore()
        outcome.recover_seconds.append(
            timed(
                lambda: len(_texts_with(telegram, "Resolved", "Backup of app")) >= 2,
                timeout=300,
                what="both resolved notices",
            )
        )
        committed = writer.stop()
        sync = khronos("backup", "now", cwd=tmp_path, env=env)
        assert sync.returncode == 0, sync.stdout + sync.stderr
    finally:
        s3_proxy.restore()
        writer.stop()
        assert stop(daemon.proc) == 0, daemon.err.read_text()[-2000:]
    restored = restored_ids(tmp_path, env)
    outcome.rows_committed, outcome.rows_restored = len(committed), len(set(restored))
    warn = [t for t in _texts_with(telegram, "Backup of app is") if "Resolved" not in t]
    outcome.alerts_expected = 4
    outcome.alerts_delivered = len(warn) + len(_texts_with(telegram, "Resolved", "Backup of app"))
    outcome.duplicates = duplicates(telegram.texts())
    outcome.save(chaos_results)
    assert set(committed) <= set(restored)
    assert any("behind" in t for t in warn)
    assert any("is down" in t for t in warn)
    assert outcome.duplicates == 0
