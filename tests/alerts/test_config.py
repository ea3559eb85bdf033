"""The alerts: section: chat ids, tokens and defaults."""

from __future__ import annotations

import pytest

from khronos.config import parse_config
from khronos.errors import ConfigError
from tests.alerts.fake_telegram import TOKEN


def telegram(chat: str) -> str:
    return f"alerts:\n  telegram: {{bot_token: '{TOKEN}', chat_id: {chat}}}\n"


@pytest.mark.parametrize(
    ("raw", "parsed"), [("'-1001234'", -1001234), ("42", 42), ("'@my_chan'", "@my_chan")]
)
def test_chat_ids_parse(raw: str, parsed: object) -> None:
    """Numbers (as strings from ${VARS} too) and @channel names are accepted."""
    config = parse_config(telegram(raw))
    assert config.alerts is not None
    assert config.alerts.telegram is not None
    assert config.alerts.telegram.chat_id == parsed


@pytest.mark.parametrize("raw", ["'12ab'", "0", "'@x'", "true"])
def test_bad_chat_id_explains_the_sign(raw: str) -> None:
    """A bad chat id's hint explains that group ids are negative."""
    with pytest.raises(ConfigError) as info:
        parse_config(telegram(raw))
    assert "negative" in str(info.value)


def test_bad_token_is_refused_without_echoing_it() -> None:
    """A malformed token is an error that does not show the value."""
    with pytest.raises(ConfigError) as info:
        parse_config("alerts:\n  telegram: {bot_token: 'not-a-token-secret', chat_id: 1}\n")
    assert "not-a-token-secret" not in str(info.value)
    assert "BotFather" in str(info.value)


def test_defaults_are_sensible() -> None:
    """An empty alerts: section has the documented defaults."""
    config = parse_config("alerts: {}")
    assert config.alerts is not None
    assert config.alerts.cooldown.total_seconds() == 300
    assert config.alerts.repeat_interval.total_seconds() == 4 * 3600
    assert config.checks.memory is not None
