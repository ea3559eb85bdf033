"""``khronos telegram``: check the Telegram bot setup."""

from __future__ import annotations

import asyncio

import click

from khronos.alerts import DeliveryError, TelegramNotifier, explain_telegram_error
from khronos.cli._app import AppState, cli, config_option, pass_state
from khronos.cli.status import command_logging
from khronos.config import TelegramConfig
from khronos.errors import KhronosError
from khronos.state import StateDir

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
    group, a group chat id without its minus sign.  Also reports whether another program
    receives the bot's updates (a webhook, or another getUpdates poller): then Khronos' commands
    cannot work with this token (alerts still can).
    """
    config = state.load()
    if config.alerts is None or config.alerts.telegram is None:
        raise KhronosError(
            "alerts.telegram is not configured",
            op="telegram check",
            hint="add alerts.telegram with bot_token and chat_id to khronos.yml (docs/alerts.md)",
        )
    with command_logging(config):
        daemon_running = StateDir(config.state_dir).daemon_file.exists()
        failures = asyncio.run(
            _check(
                config.alerts.telegram,
                config.service.name,
                send=not no_send,
                daemon_running=daemon_running,
            )
        )
    if failures:
        raise KhronosError(f"{failures} problem(s) found", op="telegram check")


def _explain(exc: DeliveryError, chat: str | None = None) -> str:
    if exc.reason == "chat_not_found":
        return explain_telegram_error(400, "chat not found", chat)
    return exc.hint or ""


async def _receivers(notifier: TelegramNotifier, config: TelegramConfig, daemon: bool) -> int:
    """Report a webhook and another poller; the problems (only with ``commands`` on)."""
    bad = 1 if config.commands else 0
    mark = "✗" if config.commands else "!"
    hint = "Khronos cannot receive commands with this token: give it a bot of its own"
    try:
        hook = await notifier.get_webhook_info()
    except DeliveryError as exc:
        click.echo(f"✗ getWebhookInfo: {exc.message}")
        return 1
    if hook.get("url"):
        click.echo(f"{mark} a webhook is set on this bot: {hint} (docs/telegram.md)")
        return bad
    if config.commands and daemon:
        click.echo("✓ commands: no webhook; khronos run is running (and polls this bot)")
        return 0
    try:
        await notifier.call("getUpdates", {"timeout": 0, "limit": 1})
    except DeliveryError as exc:
        if exc.reason != "conflict":
            click.echo(f"✗ getUpdates: {exc.message}")
            return 1
        click.echo(f"{mark} another program polls this bot (409 Conflict): {hint}")
        return bad
    click.echo("✓ no webhook and no other program polls this bot: commands can work")
    return 0


async def _check(
    config: TelegramConfig, service: str, *, send: bool, daemon_running: bool = False
) -> int:
    notifier = TelegramNotifier.from_config(config)
    failures = 0
    try:
        try:
            me = await notifier.get_me()
        except DeliveryError as exc:
            click.echo(f"✗ token: {exc.message}\n  {_explain(exc)}")
            return 1
        click.echo(f"✓ token works: the bot is @{me.get('username', '?')}")
        failures += await _receivers(notifier, config, daemon_running)
        if not send:
            return failures
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
