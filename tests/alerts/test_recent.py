"""The ring of recent alerts behind /api/status: each alert's delivery state, bounded."""

from __future__ import annotations

import pytest

from khronos.alerts import Level
from khronos.alerts._recent import RecentAlerts
from tests.alerts.fake_telegram import FakeTelegram
from tests.alerts.helpers import MakeEngine, wait_attempted, wait_until


def _states(engine_alerts: list[dict[str, object]]) -> list[object]:
    return [a["state"] for a in engine_alerts]


@pytest.mark.asyncio
async def test_a_delivered_alert_is_sent_and_a_duplicate_suppressed(
    make_engine: MakeEngine, telegram: FakeTelegram
) -> None:
    """An alert Telegram accepted shows as sent; its duplicate within the cooldown, suppressed."""
    engine = make_engine()
    await engine.start()
    engine.send_alert("disk almost full", "WARN")
    engine.send_alert("disk almost full", "WARN")
    await wait_until(lambda: _states(engine.recent_alerts()) == ["suppressed", "sent"])
    assert engine.recent_alerts()[1]["message"] == "disk almost full"


@pytest.mark.asyncio
async def test_an_alert_telegram_refuses_is_pending_with_the_error(
    make_engine: MakeEngine, telegram: FakeTelegram
) -> None:
    """While Telegram answers 500 the alert is pending, with its attempts and last error."""
    telegram.failing = lambda: 500
    engine = make_engine()
    alert_id = engine.send_alert("backup down", "ERROR")
    assert alert_id is not None
    await engine.start()
    await wait_attempted(engine, alert_id)
    (alert,) = engine.recent_alerts()
    assert alert["state"] == "pending"
    assert "attempt" in str(alert["detail"])


def test_a_rejected_alert_is_failed_and_the_ring_is_bounded() -> None:
    """An outcome "rejected" settles as failed; only the newest ``size`` alerts are kept."""
    ring = RecentAlerts(size=3)
    for i in range(5):
        ring.queued(f"id{i}", float(i), Level.INFO, f"alert {i}")
    outcomes = {"id4": "rejected: chat not found", "id3": "delivered"}
    got = ring.snapshot(
        lambda alert_id: (1, 2, "boom") if alert_id == "id2" else (0, 0, None), outcomes
    )
    assert [a["message"] for a in got] == ["alert 4", "alert 3", "alert 2"]
    assert _states(got) == ["failed", "sent", "pending"]
