"""The command parser and every reply under random input: never a crash, always valid Telegram
HTML under 4096 characters with every value escaped."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from khronos.alerts import COMMANDS, Condition, ConsoleActions, Level, parse_command
from khronos.alerts._commands import Command, Speech, answer_command
from khronos.alerts._silences import zone
from tests.alerts.fake_telegram import parse_telegram_html, utf16_len
from tests.console.helpers import FakeSilences

NASTY = st.one_of(
    st.text(max_size=50),
    st.text(alphabet="<>&\"'/@ \n\t_abc😀\u202e", max_size=30),
    st.sampled_from(["<b>", "</i>", "&amp;", "&#0;", "<a href='x'>", "\x00", "💥" * 3000]),
    st.text(min_size=5000, max_size=6000).map(lambda t: t * 2),
)
COMMAND_TEXT = st.builds(
    lambda name, args: "/" + name + " " + " ".join(args),
    st.sampled_from([*COMMANDS, "start", "x", "STATUS", "status@k_bot", "status@other_bot"]),
    st.lists(NASTY, max_size=12),
)


def wild_actions(value: str) -> ConsoleActions:
    """Actions whose every piece of data is ``value`` (markup, huge, empty)."""

    def status() -> dict[str, Any]:
        return {
            "service": {"name": value},
            "overall": {"state": value, "reasons": [value] * 3},
            "databases": [
                {"label": value, "lag_seconds": 1e9, "last_sync_at": None, "last_error": value}
            ]
            * 40,
            "app": {"command": value, "up": False, "restarts": value},
            "checks": [{"name": value, "ok": None, "message": value}] * 40,
        }

    def conditions() -> dict[str, Condition]:
        return {
            f"{value}{i}": Condition(f"{value}{i}", value, Level.CRITICAL, 0.0, 0.0, value)
            for i in range(30)
        }

    async def lines() -> Sequence[str]:
        return [value] * 50

    silences = FakeSilences()
    silences.add(value, 60.0, value, value)
    return ConsoleActions(
        status=status,
        conditions=conditions,
        backup=lines,
        drill=lines,
        ack=lambda key, _by: bool(key),
        silences=silences,
    )


def check_reply(html: str) -> None:
    visible = parse_telegram_html(html)  # raises for anything Telegram would refuse
    assert visible.strip()
    assert utf16_len(visible) <= 4096


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.one_of(st.text(max_size=300), COMMAND_TEXT),
    value=NASTY,
    language=st.sampled_from(["en", "pt-BR"]),
)
def test_any_message_gets_a_valid_reply_or_none(text: str, value: str, language: str) -> None:
    """Random text, huge arguments and markup, in either language: parsed or ignored, and
    answered validly."""
    parsed = parse_command(text, "k_bot")
    if parsed is None:
        return
    name, args = parsed
    assert len(args) <= 8
    assert all(len(a) <= 200 for a in args)
    reply_to = value if len(value) < 100 else ""
    command = Command(name, args, by=value[:64] or "?", reply_to_text=reply_to)
    speech = Speech(language, zone("America/Sao_Paulo") if language == "pt-BR" else None)
    check_reply(asyncio.run(answer_command(command, wild_actions(value), speech)))


def test_addressed_to_another_bot_is_not_a_command() -> None:
    """``/status@other_bot`` in a group is for another bot."""
    assert parse_command("/status@other_bot", "k_bot") is None
    assert parse_command("/Status@K_Bot now", "k_bot") == ("status", ("now",))
    assert parse_command("hello /status", "k_bot") is None
