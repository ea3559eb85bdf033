"""Delivery through the outbox to the fake Bot API: outages, 429s, bad HTML, timeouts, secrets."""

from __future__ import annotations

import itertools

import pytest
import structlog
from prometheus_client import CollectorRegistry

from khronos.alerts import AlertEngine, LogNotifier
from khronos.clock import ManualClock, SystemClock
from tests.alerts.fake_telegram import TOKEN, FakeTelegram
from tests.alerts.helpers import MakeEngine, wait_attempted, wait_until
from tests.support import fault_repeat

CHAT_NOT_FOUND = (
    400,
    {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"},
)


@pytest.mark.asyncio
@pytest.mark.parametrize("round_", range(fault_repeat()))
async def test_outage_of_five_minutes_delivers_everything_in_order_once(
    make_engine: MakeEngine,
    telegram: FakeTelegram,
    clock: ManualClock,
    registry: CollectorRegistry,
    round_: int,
) -> None:
    """Telegram answers 500 for 5 minutes: afterwards every alert arrives, in order, once."""
    back_at = clock.monotonic() + 300
    telegram.failing = lambda: 500 if clock.monotonic() < back_at else None
    engine = make_engine(breaker_failures=3, breaker_reset=30)
    await engine.start()
    for i in range(30):
        engine.send_alert(f"alert number {i}", "ERROR")
    assert await engine.drain(30)
    alerts = [t for t in telegram.texts() if "alert number" in t]
    assert [int(t.split("alert number ")[1].split()[0]) for t in alerts] == list(range(30))
    assert clock.monotonic() >= back_at
    sent = {"level": "ERROR", "channel": "telegram"}
    assert registry.get_sample_value("khronos_alerts_sent_total", sent) == 30
    summary = {"level": "INFO", "channel": "telegram"}
    assert registry.get_sample_value("khronos_alerts_sent_total", summary) == 1


@pytest.mark.asyncio
async def test_breaker_closing_sends_one_summary(
    make_engine: MakeEngine, telegram: FakeTelegram, clock: ManualClock
) -> None:
    """After the outage, one message says how long Telegram was unreachable and what was delayed."""
    back_at = clock.monotonic() + 300
    telegram.failing = lambda: 500 if clock.monotonic() < back_at else None
    engine = make_engine(breaker_failures=3, breaker_reset=30)
    for i in range(5):
        engine.send_alert(f"alert number {i}", "ERROR")
    await engine.start()
    assert await engine.drain(30)
    summaries = [t for t in telegram.texts() if "reachable again" in t]
    assert len(summaries) == 1
    assert "5 alert(s) were delayed" in summaries[0]


@pytest.mark.asyncio
async def test_timeouts_are_retried(make_engine: MakeEngine, telegram: FakeTelegram) -> None:
    """A request that hangs past the timeout is retried and delivered."""
    telegram.script("hang")
    engine = make_engine(notifier={"timeout": 0.2})
    engine.send_alert("after a timeout", "ERROR")
    await engine.start()
    assert await engine.drain(30)
    assert ["after a timeout" in t for t in telegram.texts()] == [True]


@pytest.mark.asyncio
async def test_429_storm_is_honoured_and_limits_never_exceeded(
    make_engine: MakeEngine, telegram: FakeTelegram, clock: ManualClock
) -> None:
    """With 429s scripted and limits enforced, the sender waits as told; no message is early."""
    telegram.enforce_limits = True
    retry = {"ok": False, "error_code": 429, "description": "Too Many Requests"}
    telegram.script(*[(429, {**retry, "parameters": {"retry_after": 7}})] * 5)
    engine = make_engine(notifier={"chat": "-1001"})
    started = clock.monotonic()
    for i in range(45):
        engine.send_alert(f"storm {i}", "WARN")
    await engine.start()
    assert await engine.drain(60)
    times = [s.at for s in telegram.sent]
    assert len(times) == 45
    assert telegram.violations == 0
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(times))
    assert all(times[i + 20] - times[i] >= 60.0 for i in range(len(times) - 20))
    assert times[0] - started >= 5 * 7  # five retry_after waits honoured


@pytest.mark.asyncio
async def test_malformed_html_falls_back_to_plain_text(
    make_engine: MakeEngine, telegram: FakeTelegram
) -> None:
    """A "can't parse entities" 400 resends the same alert as plain text instead of losing it."""
    bad = {"ok": False, "error_code": 400, "description": "Bad Request: can't parse entities"}
    telegram.script((400, bad))
    engine = make_engine()
    engine.send_alert("a <tag> & more", "ERROR")
    await engine.start()
    assert await engine.drain(10)
    assert telegram.sent[0].parse_mode is None
    assert "a <tag> & more" in telegram.sent[0].text


@pytest.mark.asyncio
async def test_unknown_chat_is_reported_with_the_sign_hint(
    make_engine: MakeEngine, telegram: FakeTelegram
) -> None:
    """chat not found keeps the alert queued and the error explains the chat id sign."""
    engine = make_engine(notifier={"chat": "1001"})
    alert_id = engine.send_alert("nobody hears this", "ERROR")
    assert alert_id is not None
    await engine.start()
    await wait_attempted(engine, alert_id)
    status = await engine.wait_delivered(alert_id, 0)
    assert status.state == "pending"
    assert "chat not found" in status.detail
    assert "add the bot to the group" in status.detail


@pytest.mark.asyncio
async def test_token_never_reaches_logs_or_metrics(
    make_engine: MakeEngine, telegram: FakeTelegram, registry: CollectorRegistry
) -> None:
    """Failures are logged and counted without the bot token anywhere."""
    from prometheus_client import generate_latest

    telegram.token = "999:other-token-the-bot-does-not-have"
    engine = make_engine()
    with structlog.testing.capture_logs() as logs:
        alert_id = engine.send_alert("x", "ERROR")
        assert alert_id is not None
        await engine.start()
        await wait_attempted(engine, alert_id)
        status = await engine.wait_delivered(alert_id, 0)
    assert status.state == "pending"
    assert "unauthorized" in str(logs)
    assert TOKEN not in str(logs) + status.detail + repr(engine.notifiers[0])
    assert TOKEN not in generate_latest(registry).decode()
    assert registry.get_sample_value(
        "khronos_alerts_failed_total", {"channel": "telegram", "reason": "unauthorized"}
    )


@pytest.mark.asyncio
async def test_network_error_is_masked(make_engine: MakeEngine, telegram: FakeTelegram) -> None:
    """A connection error's message names the server, never the token."""
    engine = make_engine()
    notifier = engine.notifiers[0]
    notifier.api_url = "http://127.0.0.1:1"  # type: ignore[attr-defined]
    alert_id = engine.send_alert("x", "ERROR")
    assert alert_id is not None
    await engine.start()
    await wait_attempted(engine, alert_id)
    status = await engine.wait_delivered(alert_id, 0)
    assert "cannot reach http://127.0.0.1:1" in status.detail
    assert TOKEN not in status.detail


@pytest.mark.asyncio
async def test_pending_gauge_is_read_at_scrape_time(
    make_engine: MakeEngine, registry: CollectorRegistry
) -> None:
    """khronos_alerts_pending is the outbox size when scraped."""
    engine = make_engine()
    engine.send_alert("one", "ERROR")
    engine.send_alert("two", "ERROR")
    assert registry.get_sample_value("khronos_alerts_pending") == 2


@pytest.mark.asyncio
async def test_a_refused_critical_chat_does_not_hold_up_the_alert_chat(
    make_engine: MakeEngine, telegram: FakeTelegram, registry: CollectorRegistry
) -> None:
    """A wrong critical_chat_id ("chat not found" forever) delays no alert for chat_id."""
    engine = make_engine(notifier={"chat": "111", "critical": "-1009"})
    critical = engine.send_alert("database gone", "CRITICAL")
    warn = engine.send_alert("disk filling up", "WARN")
    assert critical is not None
    assert warn is not None
    await engine.start()
    assert (await engine.wait_delivered(warn, 30)).delivered
    await wait_attempted(engine, critical)
    status = await engine.wait_delivered(critical, 0)
    assert status.state == "pending"
    assert "chat not found" in status.detail
    assert [s.chat_id for s in telegram.sent] == [111]
    labels = {"channel": "telegram", "reason": "chat_not_found"}
    assert (registry.get_sample_value("khronos_alerts_failed_total", labels) or 0) >= 1


@pytest.mark.asyncio
async def test_a_rate_limited_chat_does_not_hold_up_another_chat(
    make_engine: MakeEngine, telegram: FakeTelegram
) -> None:
    """A chat told to wait an hour (429 retry_after, real clock) leaves the other chat's alerts."""
    retry = {"ok": False, "error_code": 429, "description": "Too Many Requests"}
    telegram.chat_answers["-1001"] = (429, {**retry, "parameters": {"retry_after": 3600}})
    engine = make_engine(clock=SystemClock(), notifier={"chat": "111", "critical": "-1001"})
    critical = engine.send_alert("database gone", "CRITICAL")
    warns = [engine.send_alert(f"warning {i}", "WARN") for i in range(2)]
    assert critical is not None
    await engine.start()
    for warn in warns:
        assert warn is not None
        assert (await engine.wait_delivered(warn, 30)).delivered
    await wait_attempted(engine, critical)
    assert "rate limit" in (await engine.wait_delivered(critical, 0)).detail
    assert len(telegram.attempts("-1001")) == 1  # retry_after honoured: not asked again
    assert ["warning 0" in t for t in telegram.texts()] == [True, False]


@pytest.mark.asyncio
async def test_a_refused_chat_is_retried_with_bounded_backoff_and_counted(
    make_engine: MakeEngine, telegram: FakeTelegram, registry: CollectorRegistry
) -> None:
    """ "chat not found" is retried ever more slowly, never more than backoff_max apart, counted."""
    engine = make_engine(notifier={"chat": "-1009"}, backoff_initial=1.0, backoff_max=300.0)
    alert_id = engine.send_alert("nobody hears this", "ERROR")
    assert alert_id is not None
    await engine.start()
    await wait_until(lambda: len(telegram.attempts("-1009")) >= 14)
    await engine.stop()
    times = telegram.attempts("-1009")
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(gap >= 0.5 * min(300.0, 2.0**i) for i, gap in enumerate(gaps))
    assert all(gap <= 300.0 for gap in gaps)
    assert gaps[-1] >= 150.0
    assert engine.outbox.pending(alert_id).rows == 1  # kept, not dropped
    labels = {"channel": "telegram", "reason": "chat_not_found"}
    failed = registry.get_sample_value("khronos_alerts_failed_total", labels) or 0
    assert failed >= len(times) - 1  # the last request may have been cut by stop()


@pytest.mark.asyncio
async def test_alerts_queued_for_a_chat_no_longer_configured_go_to_the_new_one(
    make_engine: MakeEngine, telegram: FakeTelegram
) -> None:
    """chat_id corrected between two runs: what the first run queued for the old chat is
    re-addressed at start and delivered to the new chat, in order, instead of being retried
    against the old chat forever."""
    old = make_engine(notifier={"chat": "-1001"})
    assert old.send_alert("first, queued for the old chat", "ERROR")
    assert old.send_alert("second, queued for the old chat", "WARN")
    assert old.outbox.count() == 2  # never delivered: that run never started its worker

    new = make_engine(notifier={"chat": "111"})
    await new.start()
    assert await new.drain(30)
    assert [(s.chat_id, s.visible.splitlines()[1]) for s in telegram.sent] == [
        (111, "first, queued for the old chat"),
        (111, "second, queued for the old chat"),
    ]


@pytest.mark.asyncio
async def test_alerts_queued_for_a_removed_channel_are_dropped_and_counted(
    make_engine: MakeEngine, registry: CollectorRegistry
) -> None:
    """Telegram removed from the config: its queued rows cannot be delivered any more; they
    are dropped (the log channel had its own copy) and counted, so the outbox drains."""
    old = make_engine()
    assert old.send_alert("queued for telegram", "ERROR")
    assert old.outbox.count("telegram") == 1

    logged_only = AlertEngine(old.outbox, [LogNotifier()], metrics=old.metrics)
    await logged_only.start()
    try:
        assert await logged_only.drain(30)
    finally:
        await logged_only.stop()
    assert old.outbox.count("telegram") == 0
    labels = {"channel": "telegram", "reason": "channel_removed"}
    assert registry.get_sample_value("khronos_alerts_failed_total", labels) == 1.0


@pytest.mark.asyncio
async def test_an_engine_that_starts_while_another_delivers_takes_over_when_it_stops(
    make_engine: MakeEngine, telegram: FakeTelegram
) -> None:
    """Two engines on one outbox (a daemon starting while `khronos alert test` holds the
    delivery lock): the second keeps trying, and delivers once the first has stopped."""
    first = make_engine()
    await first.start()
    second = make_engine()
    await second.start()
    assert not second.worker.running  # the first one delivers for now
    await first.stop()
    assert second.send_alert("raised after the first engine stopped", "ERROR")
    assert await second.drain(30)
    assert any("raised after the first engine stopped" in t for t in telegram.texts())
    assert second.worker.running
