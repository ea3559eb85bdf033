"""The durable outbox: bounded, ordered, and surviving a kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from khronos.alerts import Level, Outbox
from khronos.alerts._outbox import OutboxRow
from tests.alerts.fake_telegram import TOKEN, FakeTelegram
from tests.alerts.helpers import MakeEngine
from tests.support import fault_repeat

ROOT = Path(__file__).resolve().parents[2]


def row(level: Level, text: str = "x") -> OutboxRow:
    return OutboxRow("telegram", "111", level, text, text)


def test_a_new_state_dir_and_the_outbox_are_private(tmp_path: Path) -> None:
    """With umask 022 the outbox creates state_dir 0700 and its file (and WAL) 0600."""
    old = os.umask(0o022)
    try:
        outbox = Outbox.in_state_dir(tmp_path / "state")
        outbox.add("a1", [row(Level.ERROR, "alert text")], created_at=1.0)
    finally:
        os.umask(old)
    try:
        files = [outbox.path, Path(f"{outbox.path}-wal")]
        modes = [oct(p.stat().st_mode & 0o777) for p in files]
    finally:
        outbox.close()
    assert oct((tmp_path / "state").stat().st_mode & 0o777) == "0o700"
    assert modes == ["0o600", "0o600"]


def test_full_outbox_drops_oldest_info_warn_first(tmp_path: Path) -> None:
    """At the bound the oldest INFO/WARN goes; ERROR and CRITICAL stay."""
    outbox = Outbox(tmp_path / "o.db", max_pending=10)
    outbox.add("a", [row(Level.ERROR, "e0")], 0)
    outbox.add("b", [row(Level.WARN, f"w{i}") for i in range(9)], 0)
    dropped = outbox.add("c", [row(Level.CRITICAL, "c0")], 0)
    assert dropped == [Level.WARN]
    assert outbox.count() == 10
    assert outbox.head("telegram").html == "e0"  # type: ignore[union-attr]
    outbox.close()


def test_full_of_errors_drops_the_oldest(tmp_path: Path) -> None:
    """Without INFO/WARN to drop, the oldest alert of any level goes."""
    outbox = Outbox(tmp_path / "o.db", max_pending=10)
    outbox.add("a", [row(Level.ERROR, f"e{i}") for i in range(11)], 0)
    assert outbox.head("telegram").html == "e1"  # type: ignore[union-attr]
    outbox.close()


def test_each_chat_has_its_own_head(tmp_path: Path) -> None:
    """Order is per chat: a chat's head is its own oldest row, whatever other chats hold."""
    outbox = Outbox(tmp_path / "o.db")
    outbox.add("a", [OutboxRow("telegram", "-1009", Level.CRITICAL, "c0", "c0")], 0)
    outbox.add("b", [row(Level.WARN, "w0"), row(Level.WARN, "w1")], 0)
    assert sorted(outbox.chats("telegram")) == ["-1009", "111"]
    assert outbox.head("telegram", "111").html == "w0"  # type: ignore[union-attr]
    assert outbox.head("telegram", "-1009").html == "c0"  # type: ignore[union-attr]
    assert outbox.head("telegram").html == "c0"  # type: ignore[union-attr]
    assert outbox.head("telegram", "222") is None
    outbox.close()


def test_only_one_process_delivers(tmp_path: Path) -> None:
    """The delivery lock is exclusive."""
    first, second = Outbox(tmp_path / "o.db"), Outbox(tmp_path / "o.db")
    assert first.acquire_delivery()
    assert not second.acquire_delivery()
    first.release_delivery()
    assert second.acquire_delivery()
    first.close()
    second.close()


@pytest.mark.asyncio
async def test_dropped_alerts_are_counted(
    make_engine: MakeEngine, registry: CollectorRegistry
) -> None:
    """Alerts dropped to stay bounded show in khronos_alerts_failed_total{reason="dropped"}."""
    engine = make_engine(max_pending=10, cooldown=0)
    for i in range(15):
        engine.send_alert(f"a{i}", "WARN")
    labels = {"channel": "outbox", "reason": "dropped"}
    assert registry.get_sample_value("khronos_alerts_failed_total", labels) == 5


@pytest.mark.integration
@pytest.mark.asyncio
@pytest.mark.parametrize("round_", range(fault_repeat()))
async def test_kill_9_with_pending_alerts_then_restart_delivers_all(
    tmp_path: Path, telegram: FakeTelegram, make_engine: MakeEngine, round_: int
) -> None:
    """A process killed with SIGKILL after queueing loses nothing: the next worker sends all."""
    script = Path(__file__).with_name("enqueue_and_hang.py")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [str(tmp_path / "outbox.db"), "http://127.0.0.1:1", TOKEN, "20"]
    proc = subprocess.Popen(
        [sys.executable, str(script), *args], stdout=subprocess.PIPE, env=env, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "queued"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    engine = make_engine()
    await engine.start()
    assert await engine.drain(30)
    numbers = [int(t.split("before the crash ")[1].split()[0]) for t in telegram.texts()]
    assert numbers == list(range(20))
