"""``khronos backup``: backup actions (backup now)."""

from __future__ import annotations

import asyncio

import click

from khronos.backup import backup_now, format_txid
from khronos.cli._app import AppState, cli, config_option, pass_state
from khronos.cli.status import command_logging
from khronos.config import ConfigValueError, parse_duration
from khronos.errors import ConfigError

__all__ = ["backup_group"]


@cli.group("backup")
def backup_group() -> None:
    """Backup actions."""


@backup_group.command("now")
@config_option
@click.option("--db", "db", metavar="NAME", help="Only this database (its name or path).")
@click.option(
    "--timeout", default="60s", show_default=True, help="How long to wait for the replica."
)
@pass_state
def now(state: AppState, db: str | None, timeout: str) -> None:
    """Force a sync now and wait until the replica has every committed transaction.

    Uses the running `khronos run` when there is one, else runs `litestream replicate -once`.
    Exit 0 when the replica has the database's latest txid, 1 (with the reason) when not.
    """
    try:
        seconds = parse_duration(timeout).total_seconds()
    except ConfigValueError as exc:
        raise ConfigError.single("--timeout", exc.problem, exc.hint) from None
    config = state.load()
    with command_logging(config):
        outcomes = asyncio.run(backup_now(config, db, timeout=seconds))
    for outcome in outcomes:
        click.echo(
            f"{outcome.name}: replica has txid {format_txid(outcome.replica_txid)} "
            f"(database {format_txid(outcome.local_txid)}), via "
            f"{'khronos run' if outcome.via == 'daemon' else 'litestream replicate -once'}"
        )
