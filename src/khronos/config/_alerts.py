"""The ``alerts:`` section of khronos.yml: dedupe timings, the outbox bound and Telegram."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, field_validator

from khronos.config._base import Section
from khronos.config._types import ConfigValueError, Duration, Secret, check_http_url, is_unset

__all__ = ["AlertsConfig", "BreakerConfig", "TelegramConfig", "parse_chat_id"]

_CHANNEL_RE = re.compile(r"@[A-Za-z][A-Za-z0-9_]{3,31}")
_CHAT_HINT = (
    "write the numeric id, keeping its sign: a private chat is positive (123456789), a group or "
    "channel is negative (-1001234567890, the '-100' is part of it); or a public @channelname"
)


def parse_chat_id(value: object) -> int | str:
    """A Telegram chat id: an integer (negative for groups and channels) or ``@channelname``."""
    if isinstance(value, bool):
        raise ConfigValueError("expected a chat id, got a boolean", _CHAT_HINT)
    if isinstance(value, int):
        chat = value
    elif isinstance(value, str):
        text = value.strip()
        if _CHANNEL_RE.fullmatch(text):
            return text
        if not re.fullmatch(r"-?\d{1,20}", text):
            raise ConfigValueError(f"not a Telegram chat id: {text!r}", _CHAT_HINT)
        chat = int(text)
    else:
        raise ConfigValueError("expected a chat id (a number or @channel)", _CHAT_HINT)
    if chat == 0:
        raise ConfigValueError("0 is not a Telegram chat id", _CHAT_HINT)
    return chat


class TelegramConfig(Section):
    """The Telegram bot that delivers alerts."""

    bot_token: Secret
    """Bot token from @BotFather (`123456:ABC...`); use `${TELEGRAM_BOT_TOKEN}`."""

    chat_id: int | str
    """Chat that receives alerts: a user id, a group id (negative, `-100...`) or `@channel`."""

    critical_chat_id: int | str | None = None
    """Chat for CRITICAL alerts (default: `chat_id`)."""

    api_url: str = "https://api.telegram.org"
    """Bot API base URL; override for a local Bot API server or tests."""

    message_thread_id: int | None = Field(default=None, ge=1)
    """Forum topic id in a group with topics (optional)."""

    timeout: Duration = timedelta(seconds=10)
    """Timeout of one request to the Bot API."""

    commands: bool = False
    """Answer commands (`/status`, `/alerts`, `/backup`, `/drill`...) sent to the bot: the daemon
    long-polls `getUpdates`. Use a bot of its own for Khronos (docs/telegram.md)."""

    allowed_chats: list[int | str] = Field(default_factory=list)
    """Chats whose commands are answered (default: `chat_id` and `critical_chat_id`)."""

    allowed_users: list[int] = Field(default_factory=list)
    """When set, only these Telegram user ids may give commands (default: anyone in an
    allowed chat)."""

    poll_timeout: Duration = timedelta(seconds=30)
    """How long one `getUpdates` long poll waits for a command before asking again."""

    @field_validator("chat_id", "critical_chat_id", mode="plain")
    @classmethod
    def _check_chat(cls, value: Any) -> int | str | None:
        return None if value is None else parse_chat_id(value)

    @field_validator("allowed_chats", mode="plain")
    @classmethod
    def _check_chats(cls, value: Any) -> list[int | str]:
        if not isinstance(value, list):
            raise ConfigValueError("expected a list of chat ids", _CHAT_HINT)
        return [parse_chat_id(item) for item in value]

    @field_validator("poll_timeout")
    @classmethod
    def _check_poll(cls, value: timedelta) -> timedelta:
        if not 1 <= value.total_seconds() <= 50:
            raise ConfigValueError(
                "must be between 1s and 50s", "30s is a good value (Telegram holds at most 50s)"
            )
        return value

    def command_chats(self) -> list[str]:
        """The chats whose commands are answered, as strings."""
        chats = self.allowed_chats or [
            c for c in (self.chat_id, self.critical_chat_id) if c is not None
        ]
        return [str(c) for c in chats]

    @field_validator("bot_token")
    @classmethod
    def _check_token(cls, value: Any) -> Any:
        if is_unset(value):
            return value
        if not re.fullmatch(r"\d+:[A-Za-z0-9_-]{20,}", value.get_secret_value().strip()):
            raise ConfigValueError(
                "does not look like a bot token",
                "copy it from @BotFather: digits, a colon, then 35 letters/digits/_/-",
            )
        return value

    @field_validator("api_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return check_http_url(value, "https://api.telegram.org").rstrip("/")


class BreakerConfig(Section):
    """Circuit breaker around the alert sender."""

    failures: int = Field(default=5, ge=1)
    """Consecutive failed sends that open the breaker (sending pauses)."""

    reset_timeout: Duration = timedelta(seconds=30)
    """How long the breaker stays open before one probe send is tried."""


class AlertsConfig(Section):
    """Alert delivery: dedupe, the durable outbox and Telegram."""

    cooldown: Duration = timedelta(minutes=5)
    """The same alert (same fingerprint) is sent at most once per cooldown."""

    repeat_interval: Duration = timedelta(hours=4)
    """A condition that is still firing is repeated this often."""

    send_resolved: bool = True
    """Send a ✅ resolved notice when a condition clears."""

    resolve_mode: Literal["edit", "reply", "both"] = "both"
    """When a condition clears: `edit` its alert's Telegram message (✅ and how long it lasted),
    send a notice as a `reply` to it, or `both`. Editing needs `telegram.commands: true`;
    a message too old to edit gets a new one."""

    max_pending: int = Field(default=10_000, ge=10)
    """Most alerts kept in the outbox; beyond it the oldest INFO/WARN are dropped first."""

    telegram: TelegramConfig | None = None
    """Telegram bot and chats (without it alerts only go to the log)."""

    breaker: BreakerConfig = Field(default_factory=BreakerConfig)
    """Circuit breaker around the Telegram sender."""
