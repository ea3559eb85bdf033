"""The ``alerts:`` section of khronos.yml: dedupe timings, the outbox bound, Telegram, silences."""

from __future__ import annotations

import re
import zoneinfo
from datetime import datetime, time, timedelta
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from khronos.config._base import Section
from khronos.config._types import ConfigValueError, Duration, Secret, check_http_url, is_unset

__all__ = [
    "WEEKDAYS",
    "AlertsConfig",
    "BreakerConfig",
    "SilenceConfig",
    "TelegramConfig",
    "WeeklyWindow",
    "check_timezone",
    "parse_chat_id",
]

_Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[_Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Day names of a weekly window, Monday first (``datetime.weekday()`` order)."""
_LEVELS = ("INFO", "WARN", "ERROR", "CRITICAL")

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


def check_timezone(value: str) -> str:
    """An IANA time zone name (``America/Sao_Paulo``, ``UTC``) that this system knows."""
    name = value.strip()
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigValueError(
            f"unknown time zone {name!r}",
            "write an IANA name such as America/Sao_Paulo, Europe/Lisbon or UTC",
        ) from None
    return name


def _clock_time(value: Any) -> time:
    if isinstance(value, int) and not isinstance(value, bool):  # YAML 1.1 reads 02:00 as 120
        value = f"{value // 60:02d}:{value % 60:02d}"
    if not isinstance(value, str) or not re.fullmatch(r"\d{1,2}:\d{2}", value.strip()):
        raise ConfigValueError("expected a time of day", 'write it as "HH:MM", e.g. "02:30"')
    hours, minutes = (int(part) for part in value.strip().split(":"))
    if hours > 24 or minutes > 59 or (hours == 24 and minutes):
        raise ConfigValueError(f"not a time of day: {value!r}", 'use "00:00" to "24:00"')
    return time.max if hours == 24 else time(hours, minutes)


class WeeklyWindow(Section):
    """A maintenance window that repeats every week, in a time zone."""

    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True)

    days: tuple[_Day, ...] = WEEKDAYS
    """Days the window starts on (`[sun]`, `[mon, wed]`; default every day)."""

    start: str = Field(alias="from")
    """Start time of day, `"HH:MM"` (quote it in YAML)."""

    to: str
    """End time of day; earlier than `from` means the next day (`from: "23:00"`, `to: "01:00"`)."""

    timezone: str | None = None
    """IANA time zone of `from`/`to` (default `alerts.timezone`, else the system's)."""

    @field_validator("days", mode="before")
    @classmethod
    def _check_days(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list | tuple):
            value = [str(day).strip().lower()[:3] for day in value]
            if not value:
                raise ConfigValueError("no days", "list at least one of " + ", ".join(WEEKDAYS))
        return value

    @field_validator("start", "to", mode="before")
    @classmethod
    def _check_time(cls, value: Any) -> str:
        at = value if isinstance(value, time) else _clock_time(value)
        return "24:00" if at == time.max else f"{at:%H:%M}"

    @property
    def start_time(self) -> time:
        """``from`` as a time of day (``24:00``: the last instant of the day)."""
        return _clock_time(self.start)

    @property
    def end_time(self) -> time:
        """``to`` as a time of day."""
        return _clock_time(self.to)

    @field_validator("timezone")
    @classmethod
    def _check_zone(cls, value: str | None) -> str | None:
        return None if value is None else check_timezone(value)

    @model_validator(mode="after")
    def _check_length(self) -> WeeklyWindow:
        if self.start == self.to:
            raise ConfigValueError(
                "the window is empty (from equals to)", "set `to` to when it ends", path="to"
            )
        return self


class SilenceConfig(Section):
    """A configured silence: matching alerts are logged and counted but not sent, either between
    `start` and `end` or during a `weekly` window.  Every matcher given must match."""

    key: str | None = None
    """Glob on the alert's key (`backup.*`, `check.http-*`; a plain alert's key is its text)."""

    level: Literal["INFO", "WARN", "ERROR", "CRITICAL"] | None = None
    """Only alerts of this level (default any level)."""

    text: str | None = None
    """Substring of the alert text, case-insensitive."""

    start: datetime | None = None
    """Start, ISO 8601 with a zone offset (`2026-12-24T00:00:00-03:00`)."""

    end: datetime | None = None
    """End, ISO 8601 with a zone offset."""

    weekly: WeeklyWindow | None = None
    """A window that repeats every week (instead of `start`/`end`)."""

    reason: str | None = None
    """Why (shown in `khronos silence list`, the dashboard and the log)."""

    @field_validator("level", mode="before")
    @classmethod
    def _check_level(cls, value: Any) -> Any:
        if isinstance(value, str):
            name = value.strip().upper()
            value = {"WARNING": "WARN", "ERR": "ERROR", "CRIT": "CRITICAL"}.get(name, name)
            if value not in _LEVELS:
                raise ConfigValueError(f"unknown level {value!r}", "use " + ", ".join(_LEVELS))
        return value

    @field_validator("start", "end")
    @classmethod
    def _check_zone(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ConfigValueError(
                "the time has no zone", "add an offset: 2026-12-24T00:00:00-03:00 (or Z for UTC)"
            )
        return value

    @model_validator(mode="after")
    def _check_shape(self) -> SilenceConfig:
        if not (self.key or self.level or self.text):
            raise ConfigValueError(
                "a silence without a matcher would silence every alert",
                "set at least one of key (a glob), level or text",
                path="key",
            )
        timed = self.start is not None or self.end is not None
        if timed == (self.weekly is not None):
            raise ConfigValueError(
                "a silence needs either start and end, or weekly",
                "write start/end (ISO 8601 with an offset) or a weekly window",
                path="weekly",
            )
        if timed and (self.start is None or self.end is None or self.end <= self.start):
            raise ConfigValueError(
                "start and end are both needed, end after start",
                "write both, e.g. start: 2026-12-24T00:00:00Z, end: 2026-12-26T00:00:00Z",
                path="end",
            )
        return self


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

    silences: tuple[SilenceConfig, ...] = ()
    """Silences and maintenance windows (see docs/silences.md); runtime ones come from
    `khronos silence add`, `POST /api/silences` and Telegram."""

    language: Literal["en", "pt-BR"] = "en"
    """Language of every text Khronos itself sends to Telegram: `en` or `pt-BR` (alerts and their
    hints, resolved notices, the console's replies, buttons and command list)."""

    timezone: str | None = None
    """IANA time zone of every time shown in Telegram and of silences (default the system's)."""

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str | None) -> str | None:
        return None if value is None else check_timezone(value)
