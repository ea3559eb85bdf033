"""``khronos telegram``: check the Telegram bot setup."""

from __future__ import annotations

import asyncio

import click

from khronos.alerts import DeliveryError, TelegramNotifier, explain_telegram_error
from khronos.cli._app import AppState, cli, config_option, pass_state
from khronos.cli.status import command_logging
from khronos.config import TelegramConfig
from khronos.errors import KhronosError

__all__ = ["telegram_group"]


@cli.group("telegram")
def telegram_group() -> None:
    """Check the Telegram bot used for alerts."""


@telegram_group.command("check")
@config_option
@click.option("--no-send", is_flag=True, help="Only check the token (getMe), send nothing.")
@pass_state
def check(state: AppState, no_send: bool) -> None:
    """Check the bot token (getMe) and send a test message to each configured chat.

    Common mistakes are explained in plain words: a wrong token, a bot that is not in the
    group, a group chat id without its minus sign.
    """
    config = state.load()
    if config.alerts is None or config.alerts.telegram is None:
        raise KhronosError(
            "alerts.telegram is not configured",
            op="telegram check",
            hint="add alerts.telegram with bot_token and chat_id to khronos.yml (docs/alerts.md)",
        )
    with command_logging(config):
        failures = asyncio.run(
            _check(config.alerts.telegram, config.service.name, send=not no_send)
        )
    if failures:
        raise KhronosError(f"{failures} problem(s) found", op="telegram check")


def _explain(exc: DeliveryError, chat: str | None = None) -> str:
    if exc.reason == "chat_not_found":
        return explain_telegram_error(400, "chat not found", chat)
    return exc.hint or ""


async def _check(config: TelegramConfig, service: str, *, send: bool) -> int:
    notifier = TelegramNotifier.from_config(config)
    failures = 0
    try:
        try:
            me = await notifier.get_me()
        except DeliveryError as exc:
            click.echo(f"✗ token: {exc.message}\n  {_explain(exc)}")
            return 1
        click.echo(f"✓ token works: the bot is @{me.get('username', '?')}")
        if not send:
            return 0
        chats = dict.fromkeys(c for c in (notifier.chat_id, notifier.critical_chat_id) if c)
        for chat in chats:
            text = f"✅ Khronos test message: alerts of {service} arrive here."
            try:
                await notifier.send_text(chat, text)
            except DeliveryError as exc:
                failures += 1
                click.echo(f"✗ chat {chat}: {exc.message}\n  {_explain(exc, chat)}")
            else:
                click.echo(f"✓ chat {chat}: test message sent")
    finally:
        await notifier.aclose()
    return failures
