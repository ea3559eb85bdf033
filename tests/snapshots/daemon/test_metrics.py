"""The snapshot metrics: last success time, size, duration, failures, drill; no secrets."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

from khronos.backup import RecordingAlertSink
from khronos.clock import ManualClock
from khronos.snapshots import (
    DrillResult,
    SnapshotCollector,
    SnapshotSample,
    SnapshotScheduler,
)
from tests.polling import wait_for
from tests.snapshots.daemon.helpers import KEY_ID, SECRET, FakeTake, s3_config, snapshot_config

LABELS = {"db": "app", "dest": "offsite"}


def collect(sched: SnapshotScheduler) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(
        SnapshotCollector(
            lambda: SnapshotSample(sched.states(), sched.failures_total(), sched.intervals())
        )
    )
    return registry


def test_values_after_two_failures_and_a_success(tmp_path: Path) -> None:
    """failures_total counts the failed attempts; the gauges describe the success."""
    clock, take = ManualClock(), FakeTake()
    take.failing = lambda *_: "timeout" if len(take.calls) < 2 else None
    sched = SnapshotScheduler(
        snapshot_config(tmp_path), alerts=RecordingAlertSink(), take=take, clock=clock
    )

    async def main() -> None:
        await sched.start()
        await wait_for(take.successes, what="a success")
        await sched.stop()

    asyncio.run(main())
    registry = collect(sched)
    value = registry.get_sample_value
    assert value("khronos_snapshot_failures_total", LABELS) == 2
    index = max(i for i, call in enumerate(take.calls) if call.error is None)
    success = take.calls[index].now.timestamp()
    assert value("khronos_snapshot_last_success_timestamp_seconds", LABELS) == success
    assert value("khronos_snapshot_bytes", LABELS) == 1000 + index + 1
    assert value("khronos_snapshot_duration_seconds", LABELS) == 0.25


def test_before_any_snapshot_only_the_failure_counter_is_there(tmp_path: Path) -> None:
    """No success yet: no timestamp (absent, not 0, so `time() - x` alerts cannot misfire),
    failures 0, and the interval (for the stale rule)."""
    sched = SnapshotScheduler(snapshot_config(tmp_path), alerts=RecordingAlertSink())
    value = collect(sched).get_sample_value
    assert value("khronos_snapshot_failures_total", LABELS) == 0
    assert value("khronos_snapshot_last_success_timestamp_seconds", LABELS) is None
    assert value("khronos_snapshot_interval_seconds", LABELS) == 3600


def test_the_drill_result_is_a_gauge(tmp_path: Path) -> None:
    """A failed drill handed to the schedule: drill_success 0."""
    sched = SnapshotScheduler(snapshot_config(tmp_path), alerts=RecordingAlertSink())
    sched.drilled("app", "offsite", DrillResult(datetime.now(UTC), ok=False, detail="bad"))
    assert collect(sched).get_sample_value("khronos_snapshot_drill_success", LABELS) == 0


def test_no_secret_in_the_metrics(tmp_path: Path) -> None:
    """An S3 destination with keys: neither key appears in the exposition."""
    sched = SnapshotScheduler(s3_config(tmp_path), alerts=RecordingAlertSink())
    sched.drilled("app", "offsite", DrillResult(datetime.now(UTC), ok=True, detail="ok"))
    text = generate_latest(collect(sched)).decode()
    assert 'dest="offsite"' in text
    assert SECRET not in text
    assert KEY_ID not in text
