"""Heartbeats in: late → alert, ping → resolved, /fail → alert, state across restarts, metrics.

A manual clock drives the deadlines (no sleeping); the alerts go through a real engine to the
fake Bot API.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from khronos.alerts import AlertEngine
from khronos.clock import ManualClock
from khronos.config import HeartbeatCheckConfig
from khronos.health import Health, set_health
from khronos.heartbeats import HeartbeatMonitor
from tests.alerts.fake_telegram import FakeTelegram
from tests.alerts.helpers import MakeEngine, wait_until
from tests.heartbeats.conftest import MakeMonitor
from tests.smallfs import small_filesystem


async def delivered(engine: AlertEngine, telegram: FakeTelegram, count: int) -> list[str]:
    """Start delivery (if not yet), wait for ``count`` messages; all of them."""
    if not engine.worker.running:
        await engine.start()
    await wait_until(lambda: len(telegram.texts()) >= count)
    assert await engine.drain(10)
    return telegram.texts()


@pytest.mark.asyncio
async def test_never_pinged_heartbeat_turns_late_and_alerts(
    make_monitor: MakeMonitor, clock: ManualClock, telegram: FakeTelegram
) -> None:
    """No ping within every + grace of being configured: late, one ERROR alert."""
    monitor = make_monitor()
    clock.advance(1.9)
    monitor.tick()
    assert monitor.status()[0]["state"] == "new"
    clock.advance(0.2)
    monitor.tick()
    monitor.tick()
    assert monitor.status()[0]["state"] == "late"
    texts = await delivered(monitor.engine, telegram, 1)
    assert len(texts) == 1
    assert "Job nightly has never pinged" in texts[0]


@pytest.mark.asyncio
async def test_ping_after_late_sends_a_resolved_notice(
    make_monitor: MakeMonitor, clock: ManualClock, telegram: FakeTelegram
) -> None:
    """A late job that pings again: up, and one ✅ resolved notice."""
    monitor = make_monitor()
    monitor.ping("nightly")
    clock.advance(2.5)
    monitor.tick()
    status = monitor.ping("nightly")
    assert status["state"] == "up"
    texts = await delivered(monitor.engine, telegram, 2)
    assert "is late: no ping since" in texts[0]
    assert "✅ Resolved" in texts[1]
    assert len(texts) == 2


@pytest.mark.asyncio
async def test_fail_alerts_with_the_output_and_next_ping_resolves(
    make_monitor: MakeMonitor, telegram: FakeTelegram
) -> None:
    """/fail: an alert at the configured level carrying the job's output; a ping resolves it."""
    monitor = make_monitor(level="CRITICAL")
    monitor.ping("nightly", "start")
    assert monitor.ping("nightly", "fail", "pg_dump: connection refused")["state"] == "failed"
    monitor.ping("nightly")
    texts = await delivered(monitor.engine, telegram, 2)
    assert "Job nightly reported a failure" in texts[0]
    assert "pg_dump: connection refused" in texts[0]
    assert "🚨" in texts[0]
    assert "✅ Resolved" in texts[1]


@pytest.mark.asyncio
async def test_a_started_job_that_does_not_finish_within_grace_is_late(
    make_monitor: MakeMonitor, clock: ManualClock, telegram: FakeTelegram
) -> None:
    """After /start, no success within ``grace``: late, saying it has not finished."""
    monitor = make_monitor(every="1h", grace="10m")
    monitor.ping("nightly", "start")
    assert monitor.status()[0]["state"] == "started"
    clock.advance(601)
    monitor.tick()
    texts = await delivered(monitor.engine, telegram, 1)
    assert "has not finished" in texts[0]


@pytest.mark.asyncio
async def test_late_job_stays_late_across_a_restart_without_a_second_alert(
    make_monitor: MakeMonitor, make_engine: MakeEngine, clock: ManualClock, telegram: FakeTelegram
) -> None:
    """Restarted while a job is late: still late, not alerted again; its ping resolves it."""
    first = make_monitor()
    clock.advance(2.5)
    first.tick()
    await delivered(first.engine, telegram, 1)
    await first.engine.stop()
    first.engine.outbox.close()
    second = make_monitor(engine=make_engine())
    second.tick()
    assert second.status()[0]["state"] == "late"
    second.ping("nightly")
    texts = await delivered(second.engine, telegram, 2)
    assert len(texts) == 2
    assert "✅ Resolved" in texts[1]


@pytest.mark.asyncio
async def test_restart_keeps_the_last_ping_and_its_deadline(
    make_monitor: MakeMonitor, clock: ManualClock
) -> None:
    """A job that pinged before a restart keeps its last ping and is late at the same time."""
    make_monitor(every="10s", grace="10s").ping("nightly")
    clock.advance(5)
    second = make_monitor(every="10s", grace="10s")
    status = second.status()[0]
    assert status["state"] == "up"
    assert status["last_ping_at"] == "2023-11-14T22:13:20.000+00:00"
    clock.advance(14.9)
    second.tick()
    assert second.status()[0]["state"] == "up"
    clock.advance(0.2)
    second.tick()
    assert second.status()[0]["state"] == "late"


@pytest.mark.asyncio
async def test_deadline_passed_while_down_waits_one_more_period(
    make_monitor: MakeMonitor, clock: ManualClock
) -> None:
    """A deadline that passed while Khronos was not running is not a false alert at start:
    the job gets one more every + grace."""
    make_monitor(every="10s", grace="5s").ping("nightly")
    clock.advance(60)
    second = make_monitor(every="10s", grace="5s")
    second.tick()
    assert second.status()[0]["state"] == "up"
    clock.advance(15)
    second.tick()
    assert second.status()[0]["state"] == "late"


@pytest.mark.asyncio
async def test_state_file_holds_the_pings(make_monitor: MakeMonitor, tmp_path: Path) -> None:
    """Every ping is in state_dir/heartbeats.json (mode 0600)."""
    monitor = make_monitor()
    monitor.ping("nightly", "fail")
    path = tmp_path / "state" / "heartbeats.json"
    data = json.loads(path.read_text())
    assert data["heartbeats"]["nightly"]["state"] == "failed"
    assert path.stat().st_mode & 0o777 == 0o600


@pytest.mark.asyncio
async def test_metrics_show_last_ping_and_up(make_monitor: MakeMonitor, clock: ManualClock) -> None:
    """last_ping_timestamp once pinged; up 1 on time, 0 when late."""
    registry = CollectorRegistry()
    monitor = make_monitor(registry=registry)
    labels = {"name": "nightly"}
    assert (
        registry.get_sample_value("khronos_heartbeat_last_ping_timestamp_seconds", labels) is None
    )
    monitor.ping("nightly")
    assert (
        registry.get_sample_value("khronos_heartbeat_last_ping_timestamp_seconds", labels)
        == clock.wall()
    )
    assert registry.get_sample_value("khronos_heartbeat_up", labels) == 1.0
    clock.advance(3)
    monitor.tick()
    assert registry.get_sample_value("khronos_heartbeat_up", labels) == 0.0


def test_status_is_json_ready(make_monitor: MakeMonitor) -> None:
    """status(): the documented keys, JSON-serialisable, times ISO 8601 with a zone."""
    monitor = make_monitor()
    monitor.ping("nightly", "start")
    status = json.loads(json.dumps(monitor.status()))[0]
    expected = {"name", "every_seconds", "grace_seconds", "last_ping_at", "last_start_at", "state"}
    assert expected | {"since"} <= set(status)
    assert status["state"] == "started"
    assert status["last_ping_at"] is None
    assert status["last_start_at"].endswith("+00:00")


@pytest.mark.asyncio
async def test_full_disk_keeps_pings_in_memory_and_writes_them_later(
    make_engine: MakeEngine, clock: ManualClock, tmp_path: Path
) -> None:
    """heartbeats.json on a full disk: the ping still counts, the error is recorded, and the
    file is written once there is room."""
    with small_filesystem(tmp_path / "small") as fs:
        monitor = HeartbeatMonitor(
            [HeartbeatCheckConfig.model_validate({"name": "job", "every": "1h"})],
            make_engine(),
            fs.root / "state",
            clock=clock,
        )
        fs.fill()
        health = Health()
        previous = set_health(health)
        try:
            assert monitor.ping("job")["state"] == "up"
        finally:
            set_health(previous)
        assert health.errors.get("heartbeats") == 1
        fs.free()
        clock.advance(2)
        monitor.tick()
        saved = json.loads((fs.root / "state" / "heartbeats.json").read_text())
        assert saved["heartbeats"]["job"]["last_ping_at"] is not None
