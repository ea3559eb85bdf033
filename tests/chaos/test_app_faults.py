"""Chaos: kill -9 of the app `khronos run` supervises, while it commits rows: restarted each
time, one alert and one resolved notice each, every committed row restorable."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import psutil
import pytest

from tests.alerts.fake_telegram import FakeTelegram
from tests.app.helpers import start_run
from tests.backup.conftest import fault_repeat
from tests.chaos.harness import (
    WRITER,
    Outcome,
    backup_up,
    chaos_config,
    duplicates,
    restored_ids,
    stop,
    timed,
    wait_gone,
)
from tests.daemon.harness import poll

pytestmark = pytest.mark.integration


def app_child(daemon_pid: int) -> psutil.Process | None:
    """The supervised writer, if one runs."""
    try:
        children = psutil.Process(daemon_pid).children()
    except psutil.NoSuchProcess:
        return None
    found = [p for p in children if str(WRITER) in " ".join(p.cmdline())]
    return found[0] if found else None


RESOLVED = "Resolved: The app is running again"


def resolved_count(telegram: FakeTelegram) -> int:
    """Resolved notices of the app delivered so far."""
    return sum(RESOLVED in t for t in telegram.texts())


def committed(path: Path) -> list[int]:
    """Ids the writer listed after their commit."""
    if not path.exists():
        return []
    return [int(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_kill9_of_the_app(
    tmp_path: Path, env: dict[str, str], telegram: FakeTelegram, chaos_results: Path
) -> None:
    """SIGKILL of the supervised app mid-write, again and again: restarted, one ERROR and one
    resolved notice each, no duplicate, every row it committed in the replica."""
    repeats = fault_repeat(3)
    outcome = Outcome(
        "kill -9 of the supervised app",
        repeats,
        notes="SIGKILL of the app (the chaos writer under `khronos run --`); restart delay "
        "200ms, resolved after min_uptime 1s.",
    )
    chaos_config(tmp_path, telegram)
    with (tmp_path / "khronos.yml").open("a", encoding="utf-8") as file:
        file.write("app: {restart: {delay: 200ms, min_uptime: 1s, max_restarts: 1000}}\n")
    done = tmp_path / "committed.txt"
    writer = [sys.executable, str(WRITER), "app.db", str(done), str(tmp_path / "never")]
    daemon = start_run(tmp_path, env, writer)
    try:
        poll(lambda: backup_up(daemon), what="replicating")
        for n in range(1, repeats + 1):
            poll(lambda: len(committed(done)) >= 150 * n, what="rows")  # noqa: B023
            child = app_child(daemon.proc.pid)
            assert child is not None
            os.kill(child.pid, signal.SIGKILL)
            wait_gone(child.pid)
            outcome.recover_seconds.append(
                timed(
                    lambda old=child.pid: (  # type: ignore[misc]
                        (c := app_child(daemon.proc.pid)) is not None and c.pid != old
                    ),
                    timeout=60,
                    what="the app running again",
                )
            )
            poll(
                lambda want=n: resolved_count(telegram) >= want,  # type: ignore[misc]
                what="the resolved notice",
            )
    finally:
        code = stop(daemon.proc)
    assert code == 0, daemon.err.read_text()[-2000:]
    rows, restored = committed(done), restored_ids(tmp_path, env)
    down = [t for t in telegram.texts() if "was killed by SIGKILL" in t and "Resolved" not in t]
    resolved = [t for t in telegram.texts() if RESOLVED in t]
    outcome.rows_committed, outcome.rows_restored = len(rows), len(set(restored))
    outcome.alerts_expected = 2 * repeats
    outcome.alerts_delivered = len(down) + len(resolved)
    outcome.duplicates = duplicates(telegram.texts())
    outcome.save(chaos_results)
    assert set(rows) <= set(restored)
    assert outcome.alerts_delivered == outcome.alerts_expected
    assert outcome.duplicates == 0
