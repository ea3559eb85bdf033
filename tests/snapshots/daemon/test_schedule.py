"""The snapshot schedule: every interval, one at a time, backoff, no gap after an outage,
resumed from snapshots.json after a restart, temp folders cleaned, survives its collaborators."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from structlog.testing import capture_logs

from khronos.backup import RecordingAlertSink
from khronos.clock import ManualClock
from khronos.config import KhronosConfig
from khronos.health import Health, set_health
from khronos.snapshots import (
    DrillResult,
    SnapshotDrill,
    SnapshotFailure,
    SnapshotScheduler,
    SnapshotSuccess,
    read_snapshot_state,
    record_drills,
    update_snapshot_state,
)
from khronos.state import StateDir
from tests.polling import wait_for
from tests.snapshots.daemon.helpers import FakeTake, snapshot_config

HOUR = 3600.0


def scheduler(
    config: KhronosConfig, take: FakeTake, clock: ManualClock, **kwargs: object
) -> SnapshotScheduler:
    alerts = kwargs.pop("alerts", RecordingAlertSink())
    return SnapshotScheduler(config, alerts=alerts, take=take, clock=clock, **kwargs)  # type: ignore[arg-type]


async def run_until(sched: SnapshotScheduler, done: Callable[[], bool]) -> None:
    await sched.start()
    try:
        await wait_for(done, what="the schedule to get there")
    finally:
        await sched.stop()


def offsets(times: list[datetime], start: float) -> list[float]:
    return [t.timestamp() - start for t in times]


def test_first_snapshot_at_start_then_every_interval(tmp_path: Path) -> None:
    """No state yet: one at start, then one every interval exactly."""
    clock, take = ManualClock(), FakeTake()
    start = clock.wall()
    sched = scheduler(snapshot_config(tmp_path), take, clock)
    asyncio.run(run_until(sched, lambda: len(take.successes()) >= 4))
    assert offsets(take.successes()[:4], start) == [0, HOUR, 2 * HOUR, 3 * HOUR]


def test_one_snapshot_at_a_time_across_databases_and_destinations(tmp_path: Path) -> None:
    """Two databases to two destinations each, all due at once: all four are taken, never
    two at the same time."""
    clock, take = ManualClock(), FakeTake()
    take.hold = 0.05
    config = snapshot_config(tmp_path, dbs=("app", "jobs"), dests=("offsite", "nas"))
    sched = scheduler(config, take, clock)
    asyncio.run(run_until(sched, lambda: len(take.calls) >= 4))
    assert {(c.db, c.dest) for c in take.calls[:4]} == {
        ("app", "offsite"), ("app", "nas"), ("jobs", "offsite"), ("jobs", "nas")
    }  # fmt: skip
    assert take.max_active == 1


def test_failures_retry_with_a_doubling_backoff_capped_at_five_minutes(tmp_path: Path) -> None:
    """A destination that keeps failing is retried after 15s, 30s, 1m... at most 5m apart."""
    clock, take = ManualClock(), FakeTake()
    take.failing = lambda *_: "bucket 'x' does not exist"
    sched = scheduler(snapshot_config(tmp_path), take, clock)
    asyncio.run(run_until(sched, lambda: len(take.calls) >= 8))
    times = [c.now.timestamp() for c in take.calls[:8]]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps == [15, 30, 60, 120, 240, 300, 300]


def test_after_an_outage_the_next_snapshot_comes_when_it_is_back_then_every_interval(
    tmp_path: Path,
) -> None:
    """The destination is down from the second snapshot for 50 minutes: the first success
    after it is at most one backoff (5m) later, and the following ones an interval apart."""
    clock, take = ManualClock(), FakeTake()
    start = clock.wall()
    back = start + HOUR + 3000
    down = (start + HOUR, back)
    take.failing = lambda _db, _dest, now: (
        "timeout" if down[0] <= now.timestamp() < down[1] else None
    )
    sched = scheduler(snapshot_config(tmp_path), take, clock)
    asyncio.run(run_until(sched, lambda: len(take.successes()) >= 4))
    first, after, *rest = [t.timestamp() for t in take.successes()[:4]]
    assert first == start
    assert back <= after <= back + 300
    assert [t - after for t in rest] == [HOUR, 2 * HOUR]


def test_after_a_restart_a_recent_snapshot_is_not_taken_again(tmp_path: Path) -> None:
    """snapshots.json says the last success was 10 minutes ago: the next one is 50 minutes
    after the start, not at once."""
    clock, take = ManualClock(), FakeTake()
    start = clock.wall()
    config = snapshot_config(tmp_path)
    record_success(config, start - 600)
    asyncio.run(run_until(scheduler(config, take, clock), lambda: len(take.calls) >= 1))
    assert offsets(take.successes()[:1], start) == [HOUR - 600]


def test_after_a_restart_an_old_snapshot_is_followed_by_one_at_start(tmp_path: Path) -> None:
    """The last success is two hours old (interval 1h): one is taken at once."""
    clock, take = ManualClock(), FakeTake()
    start = clock.wall()
    config = snapshot_config(tmp_path)
    record_success(config, start - 2 * HOUR)
    asyncio.run(run_until(scheduler(config, take, clock), lambda: len(take.calls) >= 1))
    assert offsets(take.successes()[:1], start) == [0]


def test_after_a_restart_a_failing_destination_retries_after_its_backoff(tmp_path: Path) -> None:
    """Three failures in a row recorded 10s before the start: the next try is after the third
    backoff step (1m), counted from that failure."""
    clock, take = ManualClock(), FakeTake()
    start = clock.wall()
    config = snapshot_config(tmp_path)
    for _ in range(3):
        record_failure(config, start - 10)
    asyncio.run(run_until(scheduler(config, take, clock), lambda: len(take.calls) >= 1))
    assert offsets(take.successes()[:1], start) == [50]
    assert read_snapshot_state(config.state_dir)[("app", "offsite")].consecutive_failures == 0


def test_each_attempt_is_recorded_in_snapshots_json_0600(tmp_path: Path) -> None:
    """A failure then a success: the file keeps the last of each, the streak ended, 0600."""
    clock, take = ManualClock(), FakeTake()
    take.failing = lambda *_: "disk full" if len(take.calls) == 0 else None
    config = snapshot_config(tmp_path)
    asyncio.run(run_until(scheduler(config, take, clock), lambda: len(take.calls) >= 2))
    state = read_snapshot_state(config.state_dir)[("app", "offsite")]
    assert state.last_failure is not None
    assert state.last_failure.error == "disk full"
    assert state.last_success is not None
    assert state.last_success.size > 1000
    assert state.last_success.verified is True
    assert state.consecutive_failures == 0
    assert StateDir(config.state_dir).snapshots_file.stat().st_mode & 0o777 == 0o600


def test_temp_folders_are_removed_after_each_run_and_leftovers_at_start(tmp_path: Path) -> None:
    """A folder a killed daemon left is gone at start; each run's folder is gone after it."""
    clock, take = ManualClock(), FakeTake()
    config = snapshot_config(tmp_path)
    leftover = StateDir(config.state_dir).snapshots_tmp / "daemon-app-offsite-x1y2"
    leftover.mkdir(parents=True)
    (leftover / "copy.sqlite3.tmp").write_bytes(b"half a copy")
    asyncio.run(run_until(scheduler(config, take, clock), lambda: len(take.calls) >= 2))
    assert not leftover.exists()
    assert all(not call.tmp_dir.exists() for call in take.calls[:2])
    assert take.calls[0].tmp_dir.parent == StateDir(config.state_dir).snapshots_tmp


def test_an_engine_bug_is_a_failed_snapshot_counted_and_the_schedule_goes_on(
    tmp_path: Path,
) -> None:
    """The engine raises something other than SnapshotError: recorded as a failure (its type
    named), counted as an internal error of the part, and the next attempt runs."""
    clock, take = ManualClock(), FakeTake()
    health = Health()
    previous = set_health(health)

    def failing(*_: object) -> str | None:
        if len(take.calls) == 0:
            raise KeyError("boom")
        return None

    take.failing = failing
    config = snapshot_config(tmp_path)
    try:
        asyncio.run(run_until(scheduler(config, take, clock), lambda: len(take.successes()) >= 1))
    finally:
        set_health(previous)
    assert health.errors == {"snapshots": 1}
    state = read_snapshot_state(config.state_dir)[("app", "offsite")]
    assert state.last_failure is not None
    assert state.last_failure.error == "KeyError: 'boom'"


def test_a_state_file_that_cannot_be_written_does_not_stop_the_schedule(tmp_path: Path) -> None:
    """snapshots.json cannot be written (its name is taken by a folder): counted, logged, and
    the schedule keeps going from memory."""
    clock, take = ManualClock(), FakeTake()
    config = snapshot_config(tmp_path)
    StateDir(config.state_dir).snapshots_file.mkdir(parents=True)
    health = Health()
    previous = set_health(health)
    try:
        asyncio.run(run_until(scheduler(config, take, clock), lambda: len(take.calls) >= 3))
    finally:
        set_health(previous)
    assert health.errors["snapshots"] >= 2
    assert offsets(take.successes()[:3], take.calls[0].now.timestamp()) == [0, HOUR, 2 * HOUR]


def test_stop_waits_for_the_running_snapshot_and_records_it(tmp_path: Path) -> None:
    """Stopped while a snapshot runs: the stop waits for it, and its success is recorded."""
    clock, take = ManualClock(), FakeTake()
    take.gate = threading.Event()
    config = snapshot_config(tmp_path)
    sched = scheduler(config, take, clock, stop_timeout=60.0)

    async def main() -> None:
        await sched.start()
        await wait_for(lambda: take.active == 1, what="a snapshot running")
        stopping = asyncio.ensure_future(sched.stop())
        await asyncio.sleep(0.05)
        assert not stopping.done()
        take.gate.set()  # type: ignore[union-attr]
        await stopping

    asyncio.run(main())
    assert read_snapshot_state(config.state_dir)[("app", "offsite")].last_success is not None


def test_stop_gives_up_on_a_hung_snapshot_after_its_timeout(tmp_path: Path) -> None:
    """A snapshot that never ends: the stop returns after stop_timeout and says so."""
    clock, take = ManualClock(), FakeTake()
    take.gate = threading.Event()
    sched = scheduler(snapshot_config(tmp_path), take, clock, stop_timeout=0.2)

    async def main() -> None:
        await sched.start()
        await wait_for(lambda: take.active == 1, what="a snapshot running")
        with capture_logs() as logs:
            await sched.stop()
        assert any("abandoned" in e["event"] for e in logs)

    try:
        asyncio.run(main())
    finally:
        take.gate.set()  # type: ignore[union-attr]


def test_request_takes_one_now_and_keeps_the_schedule(tmp_path: Path) -> None:
    """request() while the next one is due in 50 minutes: one is taken now."""
    clock, take = ManualClock(), FakeTake()
    start = clock.wall()
    config = snapshot_config(tmp_path)
    record_success(config, start - 600)
    sched = scheduler(config, take, clock, tick=HOUR)

    async def main() -> None:
        real_sleep = clock.sleep

        async def slow(seconds: float) -> None:  # a wait that does not race to the due time
            await asyncio.sleep(0.01)
            await real_sleep(min(seconds, 1.0))

        clock.sleep = slow  # type: ignore[method-assign]
        await sched.start()
        assert sched.request("app") == [("app", "offsite")]
        await wait_for(lambda: len(take.calls) >= 1, what="the requested snapshot")
        await sched.stop()

    asyncio.run(main())
    assert take.calls[0].now.timestamp() - start < 600


def record_success(config: KhronosConfig, at: float) -> None:
    success = SnapshotSuccess(
        at=datetime.fromtimestamp(at, UTC), key="app/old", size=10, duration_seconds=1.0
    )
    update_snapshot_state(config.state_dir, "app", "offsite", lambda s: s.succeeded(success, None))


def record_failure(config: KhronosConfig, at: float) -> None:
    failure = SnapshotFailure(at=datetime.fromtimestamp(at, UTC), error="timeout")
    update_snapshot_state(config.state_dir, "app", "offsite", lambda s: s.failed(failure, None))


def test_a_very_long_failure_streak_keeps_the_capped_backoff(tmp_path: Path) -> None:
    """After thousands of failures (weeks of an outage) the retry is still every 5 minutes,
    and with a shorter interval never more than the interval (2 ** n once overflowed)."""
    sched = scheduler(snapshot_config(tmp_path), FakeTake(), ManualClock())
    assert sched._backoff(5000, HOUR) == 300
    assert sched._backoff(5000, 60.0) == 60
    assert sched._backoff(1, 5.0) == 5


def test_a_drill_recorded_by_another_process_shows_and_alerts(tmp_path: Path) -> None:
    """`khronos verify` beside the daemon records a failed drill in snapshots.json: the
    schedule's states show it and the drill condition fires."""
    config = snapshot_config(tmp_path)
    sink = RecordingAlertSink()
    sched = scheduler(config, FakeTake(), ManualClock(), alerts=sink)
    result = DrillResult(datetime.now(UTC), ok=False, key="k", detail="k is empty")

    async def main() -> None:
        await sched.start()
        record_drills(config.state_dir, [SnapshotDrill("app", "offsite", result)])
        (state,) = sched.states()
        assert state.last_drill == result
        await sched.stop()

    asyncio.run(main())
    assert sink.open["snapshot.app.offsite.drill"].message.endswith("k is empty")


def test_a_success_recorded_by_another_process_ends_the_streak_and_moves_the_schedule(
    tmp_path: Path,
) -> None:
    """Failing, then a snapshot taken by hand succeeds (recorded in snapshots.json): the
    failure resolves and the next one is an interval after it."""
    clock, take, sink = ManualClock(), FakeTake(), RecordingAlertSink()
    take.failing = lambda *_: "timeout"
    config = snapshot_config(tmp_path)
    sched = scheduler(config, take, clock, alerts=sink, tick=1.0)

    async def main() -> None:
        await sched.start()
        await wait_for(lambda: "snapshot.app.offsite" in sink.open, what="failing")
        await sched.stop()
        record_success(config, clock.wall())
        sched.refresh()
        assert "snapshot.app.offsite" not in sink.open
        (state,) = sched.states()
        assert state.consecutive_failures == 0
        assert state.next_due is not None
        assert state.next_due.timestamp() == clock.wall() + HOUR

    asyncio.run(main())
