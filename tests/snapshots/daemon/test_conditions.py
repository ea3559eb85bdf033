"""The snapshot alerts: a failure fires ERROR naming db, destination and cause, once; a stale
newest snapshot fires; a success resolves both; a restart neither re-sends nor forgets."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from khronos.backup import RecordingAlertSink
from khronos.clock import ManualClock
from khronos.snapshots import (
    DestinationState,
    SnapshotConditions,
    SnapshotFailure,
    SnapshotScheduler,
    update_snapshot_state,
)
from tests.alerts.fake_telegram import FakeTelegram
from tests.alerts.helpers import MakeEngine, wait_until
from tests.polling import wait_for
from tests.snapshots.daemon.helpers import FakeTake, snapshot_config

HOUR = 3600.0
KEY = "snapshot.app.offsite"


async def run_until(sched: SnapshotScheduler, done: object) -> None:
    await sched.start()
    try:
        await wait_for(done, what="the schedule to get there")  # type: ignore[arg-type]
    finally:
        await sched.stop()


def test_a_failed_snapshot_fires_error_naming_db_destination_and_cause(tmp_path: Path) -> None:
    """The engine's translated cause is in the message and its hint in the details; ERROR."""
    clock, take, sink = ManualClock(), FakeTake(), RecordingAlertSink()
    take.hint = "create the bucket"
    take.failing = lambda *_: "bucket 'backups' does not exist at http://127.0.0.1:9000"
    sched = SnapshotScheduler(snapshot_config(tmp_path), alerts=sink, take=take, clock=clock)
    asyncio.run(run_until(sched, lambda: len(take.calls) >= 1))
    event = sink.open[KEY]
    assert event.level == "ERROR"
    assert event.message == (
        "Snapshot of app to offsite failed: "
        "bucket 'backups' does not exist at http://127.0.0.1:9000"
    )
    assert event.extra["since"] == take.calls[0].now.timestamp()
    assert event.details["hint"].startswith("create the bucket; Khronos retries")


def test_a_success_resolves_the_failure(tmp_path: Path) -> None:
    """Two failures, then a success: the condition is resolved and nothing stays open."""
    clock, take, sink = ManualClock(), FakeTake(), RecordingAlertSink()
    take.failing = lambda *_: "timeout" if len(take.calls) < 2 else None
    sched = SnapshotScheduler(snapshot_config(tmp_path), alerts=sink, take=take, clock=clock)
    asyncio.run(run_until(sched, lambda: len(take.successes()) >= 1))
    assert sink.fired(KEY, "ERROR")
    assert sink.resolved(KEY)
    assert KEY not in sink.open


def test_a_hung_snapshot_fires_stale_after_twice_the_interval(tmp_path: Path) -> None:
    """The newest success is 1h50m old and the next snapshot hangs: once the newest is older
    than 2h the stale condition fires (ERROR), and the success resolves it."""
    clock, take, sink = ManualClock(), FakeTake(), RecordingAlertSink()
    config = snapshot_config(tmp_path)
    start = clock.wall()
    record_success(config.state_dir, start - 2 * HOUR + 600)
    take.gate = threading.Event()
    sched = SnapshotScheduler(config, alerts=sink, take=take, clock=clock, tick=0.01)

    async def main() -> None:
        await sched.start()
        await wait_for(lambda: take.active == 1, what="the snapshot to hang")
        assert f"{KEY}.stale" not in sink.open
        clock.advance(601)
        await wait_for(lambda: f"{KEY}.stale" in sink.open, what="stale")
        take.gate.set()  # type: ignore[union-attr]
        await wait_for(take.successes, what="the success")
        await wait_for(lambda: f"{KEY}.stale" not in sink.open, what="resolved")
        await sched.stop()

    asyncio.run(main())
    stale = next(e for e in sink.events if e.key == f"{KEY}.stale" and e.action == "fire")
    assert stale.level == "ERROR"
    assert stale.message.startswith("Newest snapshot of app at offsite is 2h")


def test_at_start_a_failure_left_open_is_fired_again_and_a_clear_one_resolved(
    tmp_path: Path,
) -> None:
    """recall(): a failing state fires again (the engine does not re-send a restored
    condition); a good one resolves whatever a previous run left open."""
    sink = RecordingAlertSink()
    config = snapshot_config(tmp_path, dests=("offsite", "nas"))
    now = datetime.now(UTC)
    failing = DestinationState("app", "offsite").failed(SnapshotFailure(now, "timeout"), None)
    conditions = SnapshotConditions(sink)
    dests = config.require_backup().dbs[0].snapshots
    conditions.recall(failing, dests[0])
    conditions.recall(DestinationState("app", "nas"), dests[1])
    assert sink.open[KEY].message == "Snapshot of app to offsite failed: timeout"
    assert sink.resolved("snapshot.app.nas")


@pytest.mark.asyncio
async def test_an_outage_sends_one_alert_and_one_resolved_notice_across_a_restart(
    make_engine: MakeEngine, telegram: FakeTelegram, tmp_path: Path
) -> None:
    """Through the real engine: a destination failing over many retries and a restart of the
    schedule and the engine sends one alert; the success after it one resolved notice."""
    clock, take = ManualClock(), FakeTake()
    outage = [True]
    take.failing = lambda *_: "timeout" if outage[0] else None
    config = snapshot_config(tmp_path)
    first = make_engine(path=tmp_path / "outbox.db")
    await first.start()
    sched = SnapshotScheduler(config, alerts=first, take=take, clock=clock)
    await run_until(sched, lambda: len(take.calls) >= 5)
    assert await first.drain(10)
    await first.stop()
    first.outbox.close()
    second = make_engine(path=tmp_path / "outbox.db")
    await second.start()
    sched = SnapshotScheduler(config, alerts=second, take=take, clock=clock)
    await sched.start()
    await wait_for(lambda: len(take.calls) >= 8, what="more failures after the restart")
    outage[0] = False
    await wait_for(take.successes, what="the success")
    await sched.stop()
    await wait_until(lambda: len(telegram.texts()) >= 2)
    assert await second.drain(10)
    texts = telegram.texts()
    assert len(texts) == 2
    assert "Snapshot of app to offsite failed: timeout" in texts[0]
    assert "Resolved" in texts[1]


def record_success(state_dir: str | Path, at: float) -> None:
    from khronos.snapshots import SnapshotSuccess

    success = SnapshotSuccess(datetime.fromtimestamp(at, UTC), "app/old", 10, 1.0)
    update_snapshot_state(state_dir, "app", "offsite", lambda s: s.succeeded(success, None))
