"""A full state_dir (a real tmpfs) or no file descriptors left: raising an alert never fails,
nothing is lost or sent twice.

The outbox file sits on a 2 MB tmpfs whose free space a filler file uses up; the fake Bot API
keeps working, as Telegram does while the local disk is full.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import structlog
from starlette.applications import Starlette

from khronos.alerts import Level, Outbox, OutboxError, alert_routes
from khronos.alerts._outbox import OutboxRow
from khronos.clock import ManualClock
from tests.alerts.fake_telegram import TOKEN, FakeTelegram
from tests.alerts.helpers import MakeEngine, advance_until, wait_until
from tests.smallfs import SmallFilesystem

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration


def row(text: str, level: Level = Level.ERROR, chat: str = "111") -> OutboxRow:
    return OutboxRow("telegram", chat, level, text, text)


def numbered(telegram: FakeTelegram, prefix: str) -> list[int]:
    """The numbers of the delivered alerts whose text has ``prefix N``, in delivery order."""
    return [int(t.split(prefix)[1].split()[0]) for t in telegram.texts() if prefix in t]


def duplicates(telegram: FakeTelegram) -> list[str]:
    """Texts delivered more than once."""
    return [t for t, n in collections.Counter(telegram.texts()).items() if n > 1]


def test_outbox_add_on_a_full_disk_keeps_the_row_and_says_why(small_fs: SmallFilesystem) -> None:
    """SQLITE_FULL no longer escapes as "cannot rollback": the row waits in memory, the
    problem names the path and the OS reason, and the row reaches the file with the space."""
    outbox = Outbox(small_fs.root / "alerts-outbox.db")
    small_fs.fill()
    assert outbox.add("a", [row("raised while full")], 0) == []
    problem = outbox.write_problem
    assert problem is not None
    assert problem.message == (
        f"state_dir full: cannot write {outbox.path} (No space left on device)"
    )
    assert (outbox.count(), outbox.in_memory) == (1, 1)
    small_fs.free()
    outbox.flush()
    assert (outbox.write_problem, outbox.in_memory) == (None, 0)
    outbox.close()
    reopened = Outbox(small_fs.root / "alerts-outbox.db")
    assert reopened.head("telegram").html == "raised while full"  # type: ignore[union-attr]
    reopened.close()


def test_a_row_being_sent_is_not_moved_to_the_file(small_fs: SmallFilesystem) -> None:
    """A memory row claimed by the worker keeps its chat in memory until the send is over."""
    outbox = Outbox(small_fs.root / "alerts-outbox.db")
    small_fs.fill()
    outbox.add("a", [row("a0"), row("c0", chat="-1002")], 0)
    outbox.add("b", [row("a1")], 0)
    sending = outbox.head("telegram", "111")
    assert sending is not None
    assert outbox.claim(sending.id)
    small_fs.free()
    outbox.flush()
    assert outbox.in_memory == 2  # a0 (being sent) and a1 behind it; c0 went to the file
    outbox.delete(sending.id)
    outbox.release(sending.id)
    outbox.flush()
    assert outbox.in_memory == 0
    assert [outbox.head("telegram", c).html for c in ("111", "-1002")] == ["a1", "c0"]  # type: ignore[union-attr]
    outbox.close()


def test_memory_is_bounded_like_the_outbox(small_fs: SmallFilesystem) -> None:
    """While full, at most max_pending rows wait in memory; the oldest INFO/WARN go first."""
    outbox = Outbox(small_fs.root / "alerts-outbox.db", max_pending=5)
    small_fs.fill()
    outbox.add("e", [row("e0", Level.ERROR)], 0)
    dropped = [lvl for i in range(6) for lvl in outbox.add(f"w{i}", [row(f"w{i}", Level.WARN)], 0)]
    assert dropped == [Level.WARN, Level.WARN]
    assert outbox.count() == 5
    assert outbox.head("telegram").html == "e0"  # type: ignore[union-attr]
    outbox.close()


@pytest.mark.asyncio
async def test_alerts_raised_while_full_are_delivered_once_in_order(
    small_fs: SmallFilesystem, make_engine: MakeEngine, telegram: FakeTelegram, clock: ManualClock
) -> None:
    """Rows queued before the disk filled, then alerts, a condition and a test alert raised
    while it is full: all delivered once, in order; "state_dir full" sent once, then resolved."""
    engine = make_engine(path=small_fs.root / "alerts-outbox.db")
    for i in range(2):
        engine.send_alert(f"alert number {i}", "ERROR")
    small_fs.fill()
    for i in range(2, 5):
        assert engine.send_alert(f"alert number {i}", "ERROR") is not None
    assert engine.fire("backup.lag.app", "alert number 5 (a condition)", "WARN") is not None
    assert engine.enqueue_test("alert number 6 (a test)")
    await engine.start()
    await wait_until(lambda: len(numbered(telegram, "alert number ")) >= 7)
    small_fs.free()
    await advance_until(
        clock, lambda: any("Resolved: state_dir full" in t for t in telegram.texts())
    )
    assert await engine.drain(30)
    assert numbered(telegram, "alert number ") == list(range(7))
    state_dir = [t for t in telegram.texts() if t.splitlines()[1].startswith("state_dir full")]
    assert len(state_dir) == 1
    assert f"cannot write {engine.outbox.path} (No space left on device)" in state_dir[0]
    assert duplicates(telegram) == []
    assert (engine.outbox.write_problem, engine.outbox.in_memory) == (None, 0)
    assert "khronos.state_dir" not in engine.conditions


@pytest.mark.asyncio
async def test_a_failed_delete_never_sends_an_alert_twice(
    small_fs: SmallFilesystem, make_engine: MakeEngine, telegram: FakeTelegram
) -> None:
    """Delivered rows that cannot be deleted on a full disk are not sent again, neither while
    it is full nor after a restart once the space is back."""
    path = small_fs.root / "alerts-outbox.db"
    engine = make_engine(path=path)
    for i in range(3):
        engine.send_alert(f"queued before the disk filled {i}", "ERROR")
    small_fs.fill()
    await engine.start()
    await wait_until(lambda: engine.outbox.count() == 0 or bool(duplicates(telegram)))
    assert duplicates(telegram) == []
    assert engine.outbox.unsaved_deliveries == 3
    small_fs.free()
    await wait_until(lambda: engine.outbox.unsaved_deliveries == 0)
    await engine.stop()
    engine.outbox.close()
    restarted = make_engine(path=path)
    await restarted.start()
    restarted.send_alert("after the restart", "ERROR")
    await wait_until(lambda: any("after the restart" in t for t in telegram.texts()))
    assert numbered(telegram, "queued before the disk filled ") == [0, 1, 2]
    assert duplicates(telegram) == []


def test_alerts_raised_without_file_descriptors_are_delivered(
    tmp_path: Path, telegram: FakeTelegram
) -> None:
    """Out of descriptors (every one of 256 in use), raising alerts does not fail (the first
    render used to import a codec module and raise EMFILE); they are delivered once, in order,
    when descriptors are free again."""
    script = Path(__file__).with_name("alert_without_fds.py")
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    args = [str(tmp_path / "outbox.db"), telegram.url, TOKEN]
    done = subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": path},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["raised"] == 6
    assert report["held"] > 200
    assert report["drained"]
    assert numbered(telegram, "without descriptors ") == [0, 1, 2, 3, 3, 5]  # 3 and resolved 3
    assert "✅ Resolved: without descriptors 3" in telegram.texts()[4]
    assert duplicates(telegram) == []


@pytest.mark.asyncio
async def test_stopping_while_full_writes_the_undelivered_alerts_to_the_log(
    small_fs: SmallFilesystem, make_engine: MakeEngine
) -> None:
    """An engine stopped while the disk is full and nothing was delivered: each alert that
    only existed in memory is written to the log, with the reason."""
    engine = make_engine(path=small_fs.root / "alerts-outbox.db")
    small_fs.fill()
    engine.send_alert("never delivered, never saved", "CRITICAL")
    with structlog.testing.capture_logs() as logs:
        await engine.stop()
    (summary,) = [e for e in logs if e["event"].startswith("stopping while the alert outbox")]
    assert summary["reason"] == "No space left on device"
    lost = [e["text"] for e in logs if e["event"].startswith("alert lost")]
    assert any("never delivered, never saved" in text for text in lost)


@pytest.mark.asyncio
async def test_the_alert_api_answers_202_while_the_disk_is_full(
    small_fs: SmallFilesystem, make_engine: MakeEngine
) -> None:
    """POST /api/alerts/test used to answer 500 on a full state_dir; the alert now waits."""
    engine = make_engine(path=small_fs.root / "alerts-outbox.db")
    small_fs.fill()
    app = Starlette(routes=alert_routes(engine, "t0ken"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.post("/api/alerts/test", json={}, headers={"Authorization": "Bearer t0ken"})
    assert r.status_code == 202
    assert engine.outbox.pending(r.json()["id"]).rows == 1


def test_opening_the_outbox_on_a_full_disk_names_the_path(small_fs: SmallFilesystem) -> None:
    """Start-up on a full disk: an OutboxError with the path and the OS reason, not a bare
    "disk I/O error"."""
    Outbox(small_fs.root / "alerts-outbox.db").close()
    small_fs.fill()
    with pytest.raises(OutboxError) as caught:
        Outbox(small_fs.root / "alerts-outbox.db")
    path = small_fs.root / "alerts-outbox.db"
    assert f"state_dir full: cannot write {path} (No space left on device)" in str(caught.value)
