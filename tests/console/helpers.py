"""Helpers of the console tests: a console on the fake Bot API with a real alert engine."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from khronos.alerts import AlertEngine, ConsoleActions, TelegramConsole, TelegramNotifier
from tests.alerts.fake_telegram import TOKEN, FakeTelegram

__all__ = ["FakeSilences", "MakeConsole", "console_for", "reply_texts"]

MakeConsole = Callable[..., TelegramConsole]
"""The ``make_console`` fixture: a started-later console, stopped after the test."""


class FakeSilences:
    """An in-memory :class:`~khronos.alerts.SilenceBook` (the real one is another package's)."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def add(self, match: str, duration_s: float, reason: str, by: str) -> str:
        silence_id = f"s{len(self.items) + 1}"
        self.items[silence_id] = {
            "id": silence_id,
            "match": match,
            "until": f"+{duration_s:g}s",
            "reason": reason,
            "by": by,
        }
        return silence_id

    def remove(self, id: str) -> bool:  # noqa: A002 - the protocol's name
        return self.items.pop(id, None) is not None

    def list(self) -> list[dict[str, Any]]:
        return list(self.items.values())


def console_for(
    fake: FakeTelegram,
    engine: AlertEngine,
    actions: ConsoleActions,
    state_dir: Any,
    *,
    allowed_chats: tuple[str, ...] = ("111",),
    allowed_users: tuple[int, ...] = (),
) -> TelegramConsole:
    """A console polling the fake server (1 s long polls)."""
    notifier = TelegramNotifier(bot_token=TOKEN, chat_id="111", api_url=fake.url, timeout=5.0)
    return TelegramConsole(
        notifier,
        engine,
        actions,
        state_dir=state_dir,
        allowed_chats=list(allowed_chats),
        allowed_users=list(allowed_users),
        poll_timeout=1.0,
    )


def reply_texts(fake: FakeTelegram, chat: str = "111") -> list[str]:
    """The visible text of the command replies sent to ``chat`` (HTML parsed like Telegram
    does); alerts sent to the same chat are left out."""
    from tests.alerts.fake_telegram import parse_telegram_html

    return [
        parse_telegram_html(str(b["text"])) if b.get("parse_mode") == "HTML" else str(b["text"])
        for b in fake.replies(chat)
        if "reply_parameters" in b
    ]
