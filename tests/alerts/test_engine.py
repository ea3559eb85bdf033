"""The engine: cooldown and suppression counts, conditions, resolved notices, routing."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from khronos.alerts import (
    LEVEL_EMOJI,
    Level,
    alert_backup_lag,
    alert_backup_process_down,
    alert_circuit_breaker_opened,
    alert_database_down,
    alert_high_error_rate,
    alert_high_memory,
    alert_queue_backlog,
    alert_restore_drill_failed,
    alert_service_unhealthy,
)
from khronos.clock import ManualClock
from tests.alerts.fake_telegram import FakeTelegram
from tests.alerts.helpers import MakeEngine


@pytest.mark.asyncio
async def test_same_alert_is_sent_once_per_cooldown(
    make_engine: MakeEngine, telegram: FakeTelegram, clock: ManualClock
) -> None:
    """Three identical alerts within the cooldown send one message."""
    engine = make_engine(cooldown=300)
    ids = [engine.send_alert("db slow", "ERROR") for _ in range(3)]
    assert ids[0] is not None
    assert ids[1:] == [None, None]
    await engine.start()
    assert await engine.drain(10)
    assert len(telegram.texts()) == 1


@pytest.mark.asyncio
async def test_next_alert_after_cooldown_counts_the_suppressed(
    make_engine: MakeEngine, telegram: FakeTelegram, clock: ManualClock, registry: CollectorRegistry
) -> None:
    """After the cooldown the alert says how many were suppressed meanwhile."""
    engine = make_engine(cooldown=300)
    for _ in range(5):
        engine.send_alert("db slow", "ERROR")
    clock.advance(301)
    engine.send_alert("db slow", "ERROR")
    await engine.start()
    assert await engine.drain(10)
    assert "4 more like this suppressed in the last 5m" in telegram.texts()[-1]
    assert registry.get_sample_value("khronos_alerts_suppressed_total", {"level": "ERROR"}) == 4


@pytest.mark.asyncio
async def test_condition_fires_once_repeats_and_resolves_with_duration(
    make_engine: MakeEngine, telegram: FakeTelegram, clock: ManualClock
) -> None:
    """fire() notifies once, again after repeat_interval, and resolve() says how long it lasted."""
    engine = make_engine(repeat_interval=3600)
    assert engine.fire("disk", "Disk almost full", "WARN") is not None
    assert engine.fire("disk", "Disk almost full", "WARN") is None
    clock.advance(3600)
    assert engine.fire("disk", "Disk almost full", "WARN") is not None
    clock.advance(600)
    engine.resolve("disk")
    await engine.start()
    assert await engine.drain(10)
    texts = telegram.texts()
    assert "still firing after 1h" in texts[1]
    assert "✅ Resolved: Disk almost full" in texts[2]
    assert "lasted 1h10m" in texts[2]


@pytest.mark.asyncio
async def test_condition_escalation_is_sent_at_once(make_engine: MakeEngine) -> None:
    """A firing WARN condition that becomes ERROR notifies without waiting for the repeat."""
    engine = make_engine()
    engine.fire("mem", "Memory high", "WARN")
    assert engine.fire("mem", "Memory high", "ERROR") is not None
    assert engine.conditions["mem"].level is Level.ERROR


@pytest.mark.asyncio
async def test_resolved_notices_can_be_turned_off(make_engine: MakeEngine) -> None:
    """send_resolved=False clears the condition silently."""
    engine = make_engine(send_resolved=False)
    engine.fire("x", "X down")
    assert engine.resolve("x") is None
    assert engine.conditions == {}


@pytest.mark.asyncio
async def test_critical_goes_to_the_critical_chat(
    make_engine: MakeEngine, telegram: FakeTelegram
) -> None:
    """CRITICAL alerts go to critical_chat_id, others to chat_id."""
    engine = make_engine(notifier={"chat": "111", "critical": "-1002"})
    alert_database_down(engine, "main")
    alert_high_memory(engine, 950, 1000)
    await engine.start()
    assert await engine.drain(10)
    chats = {s.chat_id: s.visible for s in telegram.sent}
    assert "Database main is down" in chats[-1002]
    assert "High memory usage" in chats[111]


@pytest.mark.asyncio
async def test_semantic_alerts_have_their_levels(
    make_engine: MakeEngine, telegram: FakeTelegram
) -> None:
    """Every semantic helper sends at its documented level; CRITICAL ones to critical_chat_id."""
    engine = make_engine(notifier={"chat": "111", "critical": "-1002"})
    expected = {
        "Circuit breaker openai opened": Level.ERROR,
        "Database main is down": Level.CRITICAL,
        "High error rate": Level.ERROR,
        "High memory usage": Level.WARN,
        "Queue backlog": Level.WARN,
        "Service gateway is unhealthy": Level.ERROR,
        "Backup of main is lagging": Level.WARN,
        "Backup process (Litestream) is down": Level.CRITICAL,
        "Restore drill of main failed": Level.CRITICAL,
    }
    calls = [
        alert_circuit_breaker_opened(engine, "openai", "timeouts"),
        alert_database_down(engine, "main", "disk I/O error"),
        alert_high_error_rate(engine, 0.2, 0.05),
        alert_high_memory(engine, 950, 1000),
        alert_queue_backlog(engine, 5000, 1000),
        alert_service_unhealthy(engine, "gateway", "connection refused"),
        alert_backup_lag(engine, "main", 120),
        alert_backup_process_down(engine, "exit 1"),
        alert_restore_drill_failed(engine, "main", "integrity check failed"),
    ]
    assert all(calls)
    await engine.start()
    assert await engine.drain(30)
    assert len(telegram.sent) == len(expected)
    for text, level in expected.items():
        (sent,) = [s for s in telegram.sent if text in s.visible]
        assert sent.visible.startswith(f"{LEVEL_EMOJI[level]} {level.name} ·"), text
        assert sent.chat_id == (-1002 if level is Level.CRITICAL else 111), text


def test_unknown_level_is_refused() -> None:
    """A typo in the level is a ValueError naming the valid ones."""
    from khronos.alerts import parse_level

    with pytest.raises(ValueError, match="INFO, WARN, ERROR or CRITICAL"):
        parse_level("FATAL")
