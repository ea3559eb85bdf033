"""The Telegram console on the fake Bot API and a real alert engine: commands, who is answered,
the offset across a restart, /ack, and never fighting another receiver (409, a webhook)."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from khronos.alerts import CONFLICT_KEY, AlertEngine, ConsoleActions, TelegramConsole
from tests.alerts.fake_telegram import FakeTelegram
from tests.console.helpers import FakeSilences, console_for, reply_texts
from tests.polling import wait_for


def status_document() -> dict[str, Any]:
    """A status document like the dashboard's, timed from now."""
    return {
        "service": {"name": "shop<bot>"},
        "overall": {"state": "WARN", "reasons": ["check disk: 91% <full>"]},
        "databases": [
            {
                "label": "app.db",
                "lag_seconds": 1.5,
                "last_sync_at": time.time() - 3,
                "replicating": True,
                "replica_down": False,
                "last_drill": {"ok": True, "at": time.time() - 3600},
                "snapshots": [
                    {"dest": "offsite", "last_success_at": time.time() - 180},
                    {"dest": "nas<1>", "last_success_at": None, "last_error": "bucket <gone>"},
                ],
            }
        ],
        "app": {"command": "python bot.py", "up": True, "restarts": 2},
        "checks": [{"name": "disk", "ok": False, "message": "91% used"}],
    }


def actions_for(engine: AlertEngine, **kwargs: Any) -> ConsoleActions:
    """The actions a daemon gives, with a fixed status document."""

    async def backup() -> Sequence[str]:
        return ["✅ app.db: replica at txid 00000000000000a1"]

    async def drill() -> Sequence[str]:
        return ["✅ app.db: restored and checked in 0.4s"]

    defaults: dict[str, Any] = {
        "status": status_document,
        "conditions": lambda: engine.conditions,
        "backup": backup,
        "drill": drill,
        "ack": engine.ack,
        "silences": FakeSilences(),
    }
    return ConsoleActions(**{**defaults, **kwargs})


async def started(consoles: list[TelegramConsole], console: TelegramConsole) -> TelegramConsole:
    await console.start()
    consoles.append(console)
    return console


async def ask(fake: FakeTelegram, text: str, chat: str = "111", **kwargs: Any) -> str:
    """Send ``text`` as a message and wait for the reply's visible text."""
    before = len(reply_texts(fake, chat))
    fake.push_message(int(chat), text, **kwargs)
    await wait_for(lambda: len(reply_texts(fake, chat)) > before, what=f"a reply to {text!r}")
    return reply_texts(fake, chat)[before]


@pytest.mark.asyncio
async def test_each_command_answers_from_an_allowed_chat(
    telegram: FakeTelegram, engine: AlertEngine, tmp_path: Path, consoles: list[TelegramConsole]
) -> None:
    """/status, /alerts, /ack, /backup, /drill, /silence, /silences, /unsilence, /help answer."""
    silences = FakeSilences()
    actions = actions_for(engine, silences=silences)
    await started(consoles, console_for(telegram, engine, actions, tmp_path))
    await wait_for(lambda: telegram.my_commands, what="setMyCommands")
    assert {c["command"] for c in telegram.my_commands} >= {"status", "alerts", "ack", "help"}

    status = await ask(telegram, "/status")
    assert "shop<bot>: WARN" in status
    assert "check disk: 91% <full>" in status
    times = (
        r"app\.db: lag 2s, last sync \d\d:\d\d UTC \(3s ago\), drill ok \d\d:\d\d UTC \(1h ago\)"
    )
    assert re.search(times, status), status
    assert re.search(r"✅ snapshot offsite: \d\d:\d\d UTC \(3m ago\)", status), status
    assert "❌ snapshot nas<1>: never — bucket <gone>" in status
    assert "App: ✅ up (python bot.py, restarts 2)" in status
    assert "❌ disk: 91% used" in status

    assert await ask(telegram, "/alerts") == "✅ Nothing is firing."
    engine.fire("backup.lag.app", "lag of app.db is 5m <high>", "ERROR")
    alerts = await ask(telegram, "/alerts@k_bot")
    assert "backup.lag.app" in alerts
    assert "lag of app.db is 5m <high>" in alerts

    assert "acknowledged by @ana" in await ask(telegram, "/ack backup.lag.app")
    assert "not firing" in await ask(telegram, "/ack nothing.here")

    assert "started" in await ask(telegram, "/backup")
    await wait_for(lambda: any("txid 00000000000000a1" in t for t in reply_texts(telegram)))
    assert "started" in await ask(telegram, "/drill")
    await wait_for(lambda: any("restored and checked" in t for t in reply_texts(telegram)))

    answer = await ask(telegram, "/silence backup 1h deploy of v2")
    assert "Silenced backup for 1h" in answer
    assert silences.items["s1"]["reason"] == "deploy of v2"
    assert silences.items["s1"]["by"] == "@ana"
    assert "s1" in await ask(telegram, "/silences")
    assert "ended" in await ask(telegram, "/unsilence s1")
    assert "No silence s1" in await ask(telegram, "/unsilence s1")
    assert "Not a duration" in await ask(telegram, "/silence backup soon")

    help_text = await ask(telegram, "/help")
    assert "/status" in help_text
    assert "/silence" in help_text
    assert "Unknown command /nope" in await ask(telegram, "/nope")


@pytest.mark.asyncio
async def test_silence_commands_without_a_silence_book(
    telegram: FakeTelegram, engine: AlertEngine, tmp_path: Path, consoles: list[TelegramConsole]
) -> None:
    """Without the silences part, /silence, /unsilence and /silences say so."""
    actions = actions_for(engine, silences=None)
    await started(consoles, console_for(telegram, engine, actions, tmp_path))
    for text in ("/silence backup 1h", "/unsilence s1", "/silences"):
        assert await ask(telegram, text) == "silences are not available in this Khronos"


@pytest.mark.asyncio
async def test_other_chats_and_users_get_nothing(
    telegram: FakeTelegram, engine: AlertEngine, tmp_path: Path, consoles: list[TelegramConsole]
) -> None:
    """A command from a chat or a user not allowed is not answered, only counted."""
    console = console_for(
        telegram, engine, actions_for(engine), tmp_path, allowed_chats=("111", "-1001"),
        allowed_users=(42,),
    )  # fmt: skip
    await started(consoles, console)
    telegram.push_message(-1002, "/status")  # another chat
    telegram.push_message(111, "/status", user=7)  # another user in an allowed chat
    telegram.push_callback(-1002, "ack:1")  # a button from another chat
    last = telegram.push_message(-1001, "/help")  # allowed: answered, and after the others
    await wait_for(lambda: telegram.replies("-1001"), what="the allowed reply")
    await wait_for(lambda: console.ignored._value.get() == 3)
    assert telegram.replies("-1002") == []
    assert telegram.replies("111") == []
    assert last in telegram.pushed_at
    # a button press is always answered, so the phone stops spinning; acted on only if allowed
    await wait_for(lambda: telegram.callback_answers)
    assert telegram.callback_answers[0]["text"] == "Not allowed here"


@pytest.mark.asyncio
async def test_ack_stops_the_repeats_until_it_gets_worse(
    telegram: FakeTelegram, engine: AlertEngine, tmp_path: Path, consoles: list[TelegramConsole]
) -> None:
    """After /ack (as a reply to the alert) a firing condition is not repeated; worse, it is."""
    await started(consoles, console_for(telegram, engine, actions_for(engine), tmp_path))
    assert engine.fire("disk", "disk 91% used", "ERROR")
    await wait_for(lambda: any("disk 91% used" in t for t in telegram.texts()))
    assert engine.fire("disk", "disk 92% used", "ERROR")  # repeat_interval 0: repeats
    answer = await ask(telegram, "/ack", reply_to=1)
    # the reply quotes no key: the fake's reply_to_message has no text, so /ack KEY is asked
    assert "Reply /ack to an alert" in answer
    assert "acknowledged by @ana" in await ask(telegram, "/ack disk")
    assert engine.fire("disk", "disk 93% used", "ERROR") is None
    assert engine.conditions["disk"].acked_by == "@ana"
    assert engine.fire("disk", "disk 99% used", "CRITICAL") is not None  # worse: told again
    assert engine.conditions["disk"].acked_by == ""


@pytest.mark.asyncio
async def test_ack_survives_a_restart(tmp_path: Path, telegram: FakeTelegram) -> None:
    """An acknowledgement is stored with the condition: the next engine does not repeat it."""
    from khronos.alerts import Outbox
    from tests.alerts.helpers import notifier_for

    def make() -> AlertEngine:
        return AlertEngine(Outbox(tmp_path / "o.db"), [notifier_for(telegram)], repeat_interval=0.0)

    first = make()
    first.fire("disk", "disk full", "ERROR")
    assert first.ack("disk", "@ana")
    first.outbox.close()
    second = make()
    assert second.conditions["disk"].acked_by == "@ana"
    assert second.fire("disk", "disk full", "ERROR") is None
    second.outbox.close()


@pytest.mark.asyncio
async def test_offset_is_kept_across_a_restart(
    telegram: FakeTelegram, engine: AlertEngine, tmp_path: Path
) -> None:
    """An update handled before a restart is not handled again after it."""
    first = console_for(telegram, engine, actions_for(engine), tmp_path)
    await first.start()
    try:
        await ask(telegram, "/help")
    finally:
        await first.stop()
    assert (tmp_path / "telegram-offset.json").exists()
    # Telegram has not seen the new offset yet (no getUpdates since): it would resend the update
    handled = telegram.next_update_id - 1
    telegram.updates.insert(0, {"update_id": handled, "message": {
        "message_id": 1, "chat": {"id": 111}, "from": {"id": 42}, "text": "/status"}})  # fmt: skip
    second = console_for(telegram, engine, actions_for(engine), tmp_path)
    await second.start()
    try:
        assert "Khronos commands" in await ask(telegram, "/help")
        assert telegram.offsets[-1] is not None
    finally:
        await second.stop()
    texts = reply_texts(telegram)
    assert sum("Khronos commands" in t for t in texts) == 2
    assert not any("WARN" in t for t in texts)  # the resent /status was not answered


@pytest.mark.asyncio
async def test_conflict_stops_polling_but_not_alerts(
    telegram: FakeTelegram, engine: AlertEngine, tmp_path: Path, consoles: list[TelegramConsole]
) -> None:
    """409 from getUpdates: polling stops, one WARN alert; alerts are still delivered."""
    telegram.conflict = True
    console = await started(consoles, console_for(telegram, engine, actions_for(engine), tmp_path))
    await wait_for(lambda: console.conflict is not None, what="the conflict")
    polls = telegram.polls
    assert engine.is_firing(CONFLICT_KEY)
    await wait_for(lambda: any("separate" in t or "of its own" in t for t in telegram.texts()))
    engine.send_alert("after the conflict", "ERROR")
    await wait_for(lambda: any("after the conflict" in t for t in telegram.texts()))
    assert telegram.polls == polls  # no more getUpdates
    assert console.task is not None
    assert not console.task.done()


@pytest.mark.asyncio
async def test_webhook_means_no_polling(
    telegram: FakeTelegram, engine: AlertEngine, tmp_path: Path, consoles: list[TelegramConsole]
) -> None:
    """A webhook set on the token: no getUpdates at all, one WARN alert."""
    telegram.webhook_url = "https://example.invalid/hook"
    console = await started(consoles, console_for(telegram, engine, actions_for(engine), tmp_path))
    await wait_for(lambda: console.conflict is not None)
    assert "webhook" in (console.conflict or "")
    assert telegram.polls == 0
    assert engine.conditions[CONFLICT_KEY].level.name == "WARN"


@pytest.mark.asyncio
async def test_bad_updates_do_not_end_the_console(
    telegram: FakeTelegram, engine: AlertEngine, tmp_path: Path, consoles: list[TelegramConsole]
) -> None:
    """Updates of odd shapes are skipped; the next command is answered."""
    await started(consoles, console_for(telegram, engine, actions_for(engine), tmp_path))
    telegram.push_raw({"message": "not a dict"})
    telegram.push_raw({"message": {"chat": None, "text": "/status"}})
    telegram.push_raw({"callback_query": {"id": None}})
    telegram.push_raw({"edited_message": {}})
    telegram.push_callback(111, "zzz")
    telegram.push_callback(111, "ack:" + "<x>" * 500)
    telegram.push_raw({"callback_query": {"id": "q", "from": {"id": 42}, "data": "s1h:1"}})
    telegram.push_message(111, "/status", user=42)
    telegram.updates[-1]["message"]["text"] = None
    assert "Khronos commands" in await ask(telegram, "/help")
    # every press is answered; one without a message has no chat, so is not allowed
    answers = [a["text"] for a in telegram.callback_answers]
    assert answers == ["Not allowed here", "Unknown button", "Acknowledged", "Not allowed here"]


@pytest.mark.asyncio
async def test_one_slow_command_of_a_kind_at_a_time(
    telegram: FakeTelegram, engine: AlertEngine, tmp_path: Path, consoles: list[TelegramConsole]
) -> None:
    """A second /backup while one runs is told so; other commands are answered meanwhile."""
    release = asyncio.Event()
    runs: list[int] = []

    async def backup() -> Sequence[str]:
        runs.append(1)
        await release.wait()
        return ["✅ app.db: replica at txid 00000000000000a2"]

    actions = actions_for(engine, backup=backup)
    await started(consoles, console_for(telegram, engine, actions, tmp_path))
    assert "started" in await ask(telegram, "/backup")
    assert "already running" in await ask(telegram, "/backup")
    assert "Khronos commands" in await ask(telegram, "/help")
    release.set()
    await wait_for(lambda: any("00000000000000a2" in t for t in reply_texts(telegram)))
    assert runs == [1]
    assert "started" in await ask(telegram, "/backup")  # free again


@pytest.mark.asyncio
async def test_a_working_poll_resolves_an_earlier_conflict(
    telegram: FakeTelegram, engine: AlertEngine, tmp_path: Path, consoles: list[TelegramConsole]
) -> None:
    """The conflict condition (from a run with another poller) resolves once polling works."""
    engine.fire(CONFLICT_KEY, "Telegram commands are off", "WARN")
    await started(consoles, console_for(telegram, engine, actions_for(engine), tmp_path))
    await wait_for(lambda: not engine.is_firing(CONFLICT_KEY), what="the resolve")
