"""Conditions: durations from the first failed observation, the worst value, and restarts."""

from __future__ import annotations

import sqlite3

import pytest

from khronos.alerts import Level
from khronos.clock import ManualClock
from tests.alerts.fake_telegram import FakeTelegram
from tests.alerts.helpers import MakeEngine, wait_until


@pytest.mark.asyncio
async def test_resolved_notice_counts_from_since_and_quotes_the_worst_value(
    make_engine: MakeEngine, telegram: FakeTelegram, clock: ManualClock
) -> None:
    """A problem first seen 30 s before it fired, resolved 102 s later: "lasted 2m12s", the
    worst lag reported (not the last one), and the message that was actually sent."""
    engine = make_engine()
    first_seen = clock.wall() - 30
    engine.fire(
        "s3", "S3 unreachable: 61s behind", since=first_seen, worst="lag 1m1s", worst_value=61
    )
    clock.advance(60)
    engine.fire("s3", "S3 unreachable: 121s behind", worst="lag 2m12s", worst_value=132)
    clock.advance(42)
    engine.fire("s3", "S3 unreachable: 97s behind", worst="lag 1m37s", worst_value=97)
    engine.resolve("s3")
    await engine.start()
    assert await engine.drain(10)
    fired, resolved = telegram.texts()
    assert "first seen 30s ago" in fired
    assert "✅ Resolved: S3 unreachable: 61s behind" in resolved
    assert "lasted 2m12s; worst: lag 2m12s" in resolved
    assert "97s" not in resolved


@pytest.mark.asyncio
async def test_a_condition_survives_a_restart_and_resolves_with_the_true_duration(
    make_engine: MakeEngine, telegram: FakeTelegram, clock: ManualClock
) -> None:
    """Fired, engine stopped, a new engine on the same state_dir: firing again sends nothing
    new; resolve() sends one notice timed from the first start (then resolve() of the key is
    a no-op that does not even write to the file)."""
    first = make_engine()
    await first.start()
    first.fire("backup.db_down.app", "Database down: app.db is missing", "CRITICAL")
    assert await first.drain(10)
    clock.advance(100)
    await first.stop()
    first.outbox.close()
    clock.advance(50)
    second = make_engine()
    assert second.conditions["backup.db_down.app"].level is Level.CRITICAL
    assert second.fire("backup.db_down.app", "Database down: app.db is missing", "CRITICAL") is None
    assert second.resolve("backup.db_down.app") is not None
    with sqlite3.connect(second.outbox.path) as db:
        version = db.execute("PRAGMA data_version").fetchone()
        assert second.resolve("backup.db_down.app") is None
        assert db.execute("PRAGMA data_version").fetchone() == version
    await second.start()
    assert await second.drain(10)
    fired, resolved = telegram.texts()
    assert "Database down: app.db is missing" in fired
    assert "✅ Resolved: Database down: app.db is missing" in resolved
    assert "lasted 2m30s" in resolved


@pytest.mark.asyncio
async def test_a_restored_condition_repeats_on_its_old_schedule(
    make_engine: MakeEngine, telegram: FakeTelegram, clock: ManualClock
) -> None:
    """repeat_interval counts from the last notice before the restart."""
    first = make_engine(repeat_interval=3600)
    first.fire("disk", "Disk almost full", "WARN")
    clock.advance(3000)
    first.outbox.close()
    second = make_engine(repeat_interval=3600)
    assert second.fire("disk", "Disk almost full", "WARN") is None
    clock.advance(600)
    assert second.fire("disk", "Disk almost full", "WARN") is not None
    await second.start()
    assert await second.drain(10)
    assert "still firing after 1h" in telegram.texts()[-1]


@pytest.mark.asyncio
async def test_a_restored_condition_nobody_checks_is_closed_after_the_grace_period(
    make_engine: MakeEngine, telegram: FakeTelegram, clock: ManualClock
) -> None:
    """A condition whose check is gone after the restart does not stay open forever."""
    first = make_engine()
    first.fire("check:http:old", "Service old is unhealthy", "ERROR")
    first.outbox.close()
    second = make_engine(restored_grace=600)
    await second.start()
    clock.advance(601)
    await wait_until(lambda: "check:http:old" not in second.conditions)
    assert await second.drain(10)
    closed = telegram.texts()[-1]
    assert "Closed, no longer checked: Service old is unhealthy" in closed
    assert make_engine().conditions == {}  # forgotten on disk too
