"""``khronos verify``: the restore drill."""

from __future__ import annotations

import json
from datetime import timedelta

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from khronos.backup._verify import VerifyReport, verify_all
from khronos.cli._app import AppState, cli, config_option, pass_state
from khronos.cli.status import command_logging
from khronos.config import format_duration, format_size
from khronos.errors import ConfigError

__all__ = ["verify"]


@cli.command("verify")
@config_option
@click.option(
    "--db", "names", multiple=True, metavar="NAME", help="Only this database (repeatable)."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
@click.pass_context
def verify(ctx: click.Context, state: AppState, names: tuple[str, ...], as_json: bool) -> None:
    """Restore drill: restore each database's latest backup into a temp folder and check it.

    Reports the newest txid and its time, the backup's age and whether the replica is behind
    the local database; records the result in state_dir/verify.json. Exit 0 when every drill
    passes, 1 when any fails.
    """
    config = state.load()
    if config.backup is None:
        raise ConfigError.single("backup", "no backup: section", "add one to verify")
    with command_logging(config):
        reports = verify_all(config, names or None)
    if as_json:
        click.echo(json.dumps({"databases": [r.to_json() for r in reports]}, indent=2))
    else:
        _table(Console(soft_wrap=True), reports)
    ctx.exit(0 if all(r.ok for r in reports) else 1)


def _table(out: Console, reports: list[VerifyReport]) -> None:
    table = Table("db", "result", "txid", "backup time", "age", "behind", "size")
    for r in reports:
        result = "[green]ok[/]" if r.ok else "[red]FAILED[/]"
        age = format_duration_s(r.backup_age_seconds)
        behind = {None: "?", True: "[yellow]yes[/]", False: "no"}[r.replica_behind]
        when = r.backup_time.isoformat() if r.backup_time else "-"
        size = format_size(r.size_bytes) if r.size_bytes is not None else "-"
        table.add_row(escape(r.db), result, r.txid or "-", when, age, behind, size)
    out.print(table)
    for r in reports:
        if not r.ok:
            hint = f" ({escape(r.hint)})" if r.hint else ""
            out.print(f"[red]{escape(r.db)}[/]: {escape(r.error or 'failed')}{hint}")


def format_duration_s(seconds: float | None) -> str:
    """Seconds as a short duration, or ``-``."""
    if seconds is None:
        return "-"
    return format_duration(timedelta(seconds=round(max(seconds, 0))))
