"""``khronos alert``: send test alerts."""

from __future__ import annotations

import asyncio

import click

from khronos.alerts import AlertEngine, DeliveryStatus, Level
from khronos.catalog import Text
from khronos.cli._app import AppState, cli, config_option, pass_state, seconds
from khronos.cli.status import command_logging
from khronos.config import KhronosConfig
from khronos.errors import KhronosError

__all__ = ["alert_group"]


@cli.group("alert")
def alert_group() -> None:
    """Send alerts through the configured channels (Telegram, the log)."""


@alert_group.command("test")
@config_option
@click.option(
    "--level",
    type=click.Choice([level.name for level in Level], case_sensitive=False),
    default="WARN",
    show_default=True,
    help="Alert level (CRITICAL goes to alerts.telegram.critical_chat_id when set).",
)
@click.option(
    "--message",
    help="Alert text.  [default: Test alert from `khronos alert test`, in alerts.language]",
)
@click.option(
    "--timeout",
    default="30s",
    show_default=True,
    callback=seconds,
    help="How long to wait for delivery.",
)
@pass_state
def test(state: AppState, level: str, message: str | None, timeout: float) -> None:
    """Queue a test alert and wait until it is delivered.

    Exit 0 when every channel accepted it; 1 when it is still queued (it stays in the outbox
    and is delivered later), with the reason.

    \b
    Examples:
      khronos alert test
      khronos alert test --level CRITICAL --message "paging test"
    """
    config = state.load()
    if config.alerts is None or config.alerts.telegram is None:
        click.echo("note: alerts.telegram is not configured; the alert goes to the log only")
    with command_logging(config):
        text = message or Text("test.cli")
        status = asyncio.run(_send(config, Level[level.upper()], text, timeout))
    if not status.delivered:
        raise KhronosError(
            f"alert {status.alert_id} was queued but not delivered: {status.detail}",
            op="alert test",
            hint="it stays in the outbox and is retried; `khronos telegram check` explains "
            "Telegram problems",
            recoverable=True,
        )
    click.echo(f"✓ alert {status.alert_id} delivered")


async def _send(
    config: KhronosConfig, level: Level, message: str, timeout: float
) -> DeliveryStatus:
    engine = AlertEngine.from_config(config)
    try:
        await engine.start()
        alert_id = engine.enqueue_test(message, level)
        return await engine.wait_delivered(alert_id, timeout)
    finally:
        await engine.stop()
        engine.outbox.close()
