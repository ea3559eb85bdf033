"""Buttons on ERROR/CRITICAL alerts, and the alert's message through its life: acknowledged,
silenced, resolved (edited and replied to per ``resolve_mode``), too old to edit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from khronos.alerts import AlertEngine, ConsoleActions, Outbox, TelegramConsole
from tests.alerts.fake_telegram import FakeTelegram, parse_telegram_html
from tests.alerts.helpers import notifier_for
from tests.console.helpers import FakeSilences, console_for
from tests.polling import wait_for


def actions(engine: AlertEngine, silences: FakeSilences | None = None) -> ConsoleActions:
    return ConsoleActions(conditions=lambda: engine.conditions, ack=engine.ack, silences=silences)


async def fire_and_deliver(fake: FakeTelegram, engine: AlertEngine, text: str) -> tuple[str, int]:
    """Fire an ERROR condition ``disk``; its alert id and Telegram message id."""
    alert_id = engine.fire("disk", text, "ERROR")
    assert alert_id is not None
    await wait_for(lambda: any(text in t for t in fake.texts()), what="the alert")
    index = next(i for i, t in enumerate(fake.texts()) if text in t)
    message_id = index + 1  # the fake numbers accepted messages from 1
    await wait_for(lambda: engine.links.messages.of_alert(alert_id), what="the message id")
    return alert_id, message_id


def body_of(fake: FakeTelegram, text: str) -> dict[str, Any]:
    return next(b for b in fake.replies() if text in parse_telegram_html(str(b["text"])))


@pytest.mark.asyncio
async def test_error_alerts_carry_buttons_info_does_not(
    telegram: FakeTelegram, engine: AlertEngine
) -> None:
    """ERROR/CRITICAL: Ack, Silence 1h, Silence 24h with short callback data; INFO: none."""
    engine.send_alert("payments down", "ERROR")
    engine.send_alert("deploy done", "INFO")
    await wait_for(lambda: len(telegram.texts()) == 2)
    keyboard = body_of(telegram, "payments down")["reply_markup"]["inline_keyboard"][0]
    assert [b["text"] for b in keyboard] == ["Ack", "Silence 1h", "Silence 24h"]
    assert all(len(b["callback_data"].encode()) < 64 for b in keyboard)
    assert "reply_markup" not in body_of(telegram, "deploy done")


@pytest.mark.asyncio
async def test_ack_button_edits_the_message_and_stops_repeats(
    telegram: FakeTelegram, engine: AlertEngine, tmp_path: Path, consoles: list[TelegramConsole]
) -> None:
    """Ack: answered, the message says who acknowledged it, the condition stops repeating."""
    console = console_for(telegram, engine, actions(engine), tmp_path)
    await console.start()
    consoles.append(console)
    alert_id, message_id = await fire_and_deliver(telegram, engine, "disk 91% used")
    telegram.push_callback(111, f"ack:{alert_id}", message_id=message_id)
    await wait_for(lambda: telegram.edits, what="the edit")
    edit = telegram.edits[0]
    assert edit["message_id"] == message_id
    visible = parse_telegram_html(edit["text"])
    assert "disk 91% used" in visible
    assert "Acknowledged by Ana at" in visible
    assert "reply_markup" not in edit  # the buttons are gone
    assert telegram.callback_answers[0]["text"] == "Acknowledged"
    assert engine.conditions["disk"].acked_by == "Ana"
    assert engine.fire("disk", "disk 92% used", "ERROR") is None  # repeat_interval 0


@pytest.mark.asyncio
async def test_silence_button_uses_the_silence_book(
    telegram: FakeTelegram, engine: AlertEngine, tmp_path: Path, consoles: list[TelegramConsole]
) -> None:
    """Silence 24h: the condition's key is silenced for 24h through the SilenceBook."""
    silences = FakeSilences()
    console = console_for(telegram, engine, actions(engine, silences), tmp_path)
    await console.start()
    consoles.append(console)
    alert_id, message_id = await fire_and_deliver(telegram, engine, "disk 91% used")
    telegram.push_callback(111, f"s24h:{alert_id}", message_id=message_id)
    await wait_for(lambda: telegram.callback_answers)
    assert telegram.callback_answers[0]["text"] == "Silenced for 24h"
    assert silences.list()[0]["match"] == "disk"
    assert silences.list()[0]["until"] == "+86400s"
    await wait_for(lambda: telegram.edits)
    assert "Silenced for 24h by Ana" in parse_telegram_html(telegram.edits[0]["text"])


@pytest.mark.asyncio
@pytest.mark.parametrize("mode", ["both", "edit", "reply"])
async def test_resolve_edits_and_replies_per_resolve_mode(
    telegram: FakeTelegram, tmp_path: Path, consoles: list[TelegramConsole], mode: str
) -> None:
    """Resolve: ``edit`` edits the alert (✅, how long), ``reply`` replies to it, ``both``."""
    engine = AlertEngine(
        Outbox(tmp_path / "outbox.db"),
        [notifier_for(telegram, rate_limited=False, buttons=True)],
        poll_interval=0.05,
        resolve_mode=mode,
    )
    await engine.start()
    console = console_for(telegram, engine, actions(engine), tmp_path)
    await console.start()
    consoles.append(console)
    try:
        _, message_id = await fire_and_deliver(telegram, engine, "disk 91% used")
        engine.resolve("disk")
        if mode != "reply":
            await wait_for(lambda: telegram.edits, what="the edit")
            visible = parse_telegram_html(telegram.edits[0]["text"])
            assert visible.startswith("✅ Resolved after")
            assert "disk 91% used" in visible
        if mode != "edit":
            await wait_for(lambda: any("Resolved:" in t for t in telegram.texts()))
            notice = body_of(telegram, "Resolved:")
            assert notice["reply_parameters"]["message_id"] == message_id
        else:
            assert await engine.drain(5.0)
            assert not any("Resolved:" in t for t in telegram.texts())
        assert mode != "reply" or telegram.edits == []
    finally:
        await console.stop()
        consoles.remove(console)
        await engine.stop(timeout=1.0)
        engine.outbox.close()


@pytest.mark.asyncio
async def test_a_message_too_old_to_edit_gets_a_new_one(
    telegram: FakeTelegram, tmp_path: Path, consoles: list[TelegramConsole]
) -> None:
    """resolve_mode edit and Telegram refuses the edit: the resolution is a new message."""
    engine = AlertEngine(
        Outbox(tmp_path / "outbox.db"),
        [notifier_for(telegram, rate_limited=False)],
        poll_interval=0.05,
        resolve_mode="edit",
    )
    await engine.start()
    console = console_for(telegram, engine, actions(engine), tmp_path)
    await console.start()
    consoles.append(console)
    try:
        await fire_and_deliver(telegram, engine, "disk 91% used")
        telegram.edit_error = "message can't be edited"
        engine.resolve("disk")
        await wait_for(lambda: any(t.startswith("✅ Resolved after") for t in telegram.texts()))
        assert telegram.edits == []
    finally:
        await console.stop()
        consoles.remove(console)
        await engine.stop(timeout=1.0)
        engine.outbox.close()


def test_message_ids_are_stored_in_the_outbox_file(tmp_path: Path) -> None:
    """The link alert → message survives a restart (it is in alerts-outbox.db)."""
    from khronos.alerts._messages import SentMessages

    SentMessages(tmp_path / "o.db").record("a1", "telegram", "111", 7, "<b>x</b>")
    again = SentMessages(tmp_path / "o.db")
    assert again.of_alert("a1") == [("telegram", "111", 7, "<b>x</b>")]
    assert again.message("111", 7) == ("a1", "<b>x</b>")
    assert json.dumps(again.message("111", 8)) == "null"


@pytest.mark.asyncio
async def test_ack_as_a_reply_to_the_alert(
    telegram: FakeTelegram, engine: AlertEngine, tmp_path: Path, consoles: list[TelegramConsole]
) -> None:
    """/ack sent as a reply to an alert's message acknowledges that alert's condition."""
    console = console_for(telegram, engine, actions(engine), tmp_path)
    await console.start()
    consoles.append(console)
    _, message_id = await fire_and_deliver(telegram, engine, "disk 91% used")
    telegram.push_message(111, "/ack", reply_to=message_id)
    await wait_for(lambda: engine.conditions["disk"].acked_by == "@ana", what="the ack")
