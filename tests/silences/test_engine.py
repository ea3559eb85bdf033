"""The engine under silences: a silenced alert is logged, counted and recorded but not sent;
a condition that outlives its silence is reported once; a configured maintenance window end to
end on the fake Bot API."""

from __future__ import annotations

import pytest
import structlog
from prometheus_client import CollectorRegistry

from khronos.alerts import SilenceStore
from khronos.clock import ManualClock
from khronos.config import AlertsConfig
from tests.alerts.fake_telegram import FakeTelegram
from tests.alerts.helpers import MakeEngine, wait_until


def silenced_total(registry: CollectorRegistry, level: str) -> float:
    return registry.get_sample_value("khronos_alerts_silenced_total", {"level": level}) or 0.0


@pytest.mark.asyncio
async def test_a_silenced_alert_is_logged_counted_recorded_not_sent(
    make_engine: MakeEngine,
    store: SilenceStore,
    telegram: FakeTelegram,
    registry: CollectorRegistry,
) -> None:
    """Under a silence: no message, one log line naming the silence, the counter, the ring."""
    engine = make_engine(silences=store)
    await engine.start()
    silence_id = store.add("nightly export", 3600, "known flaky", "test")
    with structlog.testing.capture_logs() as logs:
        assert engine.send_alert("The nightly export failed", "ERROR") is None
    assert engine.send_alert("disk almost full", "WARN") is not None
    await wait_until(lambda: len(telegram.texts()) == 1)
    assert await engine.drain(10)
    assert ["disk almost full" in t for t in telegram.texts()] == [True]
    (line,) = [e for e in logs if e["event"] == "alert silenced"]
    assert (line["silence"], line["level"]) == (silence_id, "ERROR")
    assert silenced_total(registry, "ERROR") == 1
    held = [a for a in engine.recent_alerts() if a["state"] == "silenced"]
    assert [a["message"] for a in held] == ["The nightly export failed"]
    assert silence_id in held[0]["detail"]
    assert "known flaky" in held[0]["detail"]
    assert store.remove(silence_id)
    assert engine.send_alert("The nightly export failed twice", "ERROR") is not None


@pytest.mark.asyncio
async def test_still_firing_after_the_silence_ended_is_sent_once(
    make_engine: MakeEngine, store: SilenceStore, telegram: FakeTelegram, clock: ManualClock
) -> None:
    """A condition fired under a silence is not sent; when the silence ends and it still fires,
    exactly one message says so; a condition resolved during the silence says nothing."""
    engine = make_engine(silences=store)
    await engine.start()
    store.add("backup.*", 1800, "moving the VPS", "test")
    assert engine.fire("backup.replica.app", "replica lag 5m", "ERROR") is None
    assert engine.fire("backup.replica.other", "replica lag 3m", "WARN") is None
    engine.resolve("backup.replica.other")  # its resolved notice is silenced too
    engine.tick()
    assert telegram.texts() == []
    clock.advance(1801)
    engine.tick()
    engine.tick()
    await wait_until(lambda: len(telegram.texts()) >= 1)
    assert await engine.drain(10)
    (text,) = telegram.texts()
    assert "Still firing after the silence ended: replica lag 5m" in text
    assert engine.fire("backup.replica.app", "replica lag 5m", "ERROR") is None  # no repeat yet
    engine.tick()
    assert await engine.drain(10)
    assert len(telegram.texts()) == 1


@pytest.mark.asyncio
async def test_removing_a_silence_reports_the_condition(
    make_engine: MakeEngine, store: SilenceStore, telegram: FakeTelegram
) -> None:
    """Unsilencing early is a silence ending too."""
    engine = make_engine(silences=store)
    await engine.start()
    silence_id = store.add("queue stuck", 3600, "", "test")
    engine.fire("api.queue", "queue stuck", "ERROR")
    engine.tick()
    assert store.remove(silence_id)
    engine.tick()
    await wait_until(lambda: len(telegram.texts()) == 1)
    assert "Still firing after the silence ended: queue stuck" in telegram.texts()[0]


@pytest.mark.asyncio
async def test_configured_maintenance_window_end_to_end(
    make_engine: MakeEngine, telegram: FakeTelegram, clock: ManualClock, tmp_path: object
) -> None:
    """A weekly window from khronos.yml holds the alerts back, then reports what still fires."""
    clock._now = 1_790_300_000.0
    config = AlertsConfig.model_validate(
        {
            "timezone": "America/Sao_Paulo",
            "silences": [
                {
                    "key": "check.*",
                    "reason": "nightly maintenance",
                    "weekly": {"days": ["thu"], "from": "22:00", "to": "23:30"},
                }
            ],
        }
    )
    store = SilenceStore.in_state_dir(
        str(tmp_path), config.silences, clock=clock, timezone=config.timezone
    )
    engine = make_engine(silences=store)
    await engine.start()
    (listed,) = store.list()
    assert listed["active"] is True
    assert listed["ends_at"] == "2026-09-24T23:30:00-03:00"
    assert engine.fire("check.http-gateway", "gateway: connection refused", "ERROR") is None
    assert engine.send_alert("api deploy done", "INFO") is not None  # not matched: sent
    clock.advance(57 * 60)  # 23:30:20 BRT: the window is over
    engine.tick()
    await wait_until(lambda: len(telegram.texts()) == 2)
    assert await engine.drain(10)
    texts = telegram.texts()
    assert "api deploy done" in texts[0]
    assert "Still firing after the silence ended: gateway: connection refused" in texts[1]


@pytest.mark.asyncio
async def test_a_storm_under_a_silence_is_one_log_line(
    make_engine: MakeEngine, store: SilenceStore, registry: CollectorRegistry
) -> None:
    """100 identical alerts under a silence: one logged and counted as silenced, 99 duplicates
    (the cooldown comes first: a storm must not become 100 log lines)."""
    engine = make_engine(silences=store, cooldown=300)
    store.add("flood", 3600, "", "test")
    with structlog.testing.capture_logs() as logs:
        for _ in range(100):
            assert engine.send_alert("flood of errors", "ERROR") is None
    assert len([e for e in logs if e["event"] == "alert silenced"]) == 1
    assert silenced_total(registry, "ERROR") == 1
    suppressed = registry.get_sample_value("khronos_alerts_suppressed_total", {"level": "ERROR"})
    assert suppressed == 99
