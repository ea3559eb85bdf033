"""``khronos snapshots list``: the encrypted snapshots of each database."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from khronos.cli._app import AppState, cli, config_option, pass_state
from khronos.cli.snapshot import human_size, select_pairs
from khronos.cli.status import command_logging
from khronos.errors import SnapshotError

__all__ = ["snapshots_group"]


@cli.group("snapshots")
def snapshots_group() -> None:
    """List the encrypted snapshots of each database (destination, time, size, verified)."""


@snapshots_group.command("list")
@config_option
@click.option("--db", "db_name", metavar="NAME", help="Only this database (its name or path).")
@click.option("--dest", "dest_name", metavar="NAME", help="Only this destination (its name).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def list_command(
    state: AppState, db_name: str | None, dest_name: str | None, as_json: bool
) -> None:
    """List the snapshots at each destination, newest first.

    Times are shown in the local time zone with its UTC offset. "verified" means the snapshot
    was read back after upload and matched (size and SHA-256).

    \b
    Exit codes: 0 listed, 1 a destination could not be listed (the others are), 2 bad
    configuration or usage.
    JSON: {"snapshots": [{"db", "dest", "key", "taken_at", "size", "sha256", "db_bytes",
    "encrypted", "verified"}], "errors": [{"db", "dest", "error"}]}
    """
    from khronos.snapshots import list_snapshots  # noqa: PLC0415 - the command's own

    config = state.load()
    pairs = select_pairs(config, db_name, dest_name)
    rows = []
    errors = []
    with command_logging(config):
        for db, dest in pairs:
            try:
                rows.extend(list_snapshots(db, dest))
            except SnapshotError as exc:
                errors.append({"db": db.label, "dest": dest.label, "error": state.mask(str(exc))})
    if as_json:
        document = {"snapshots": [info.to_json() for info in rows], "errors": errors}
        click.echo(json.dumps(document, indent=2))
    else:
        console = Console(highlight=False, soft_wrap=True)
        for name in dict.fromkeys(info.db for info in rows):  # one table per database
            table = Table(box=None, padding=(0, 2), header_style="bold", pad_edge=False)
            table.title = f"[bold]{escape(name)}[/bold]"
            table.title_justify = "left"
            for column in ("destination", "time", "size", "encrypted", "verified"):
                table.add_column(column, no_wrap=column == "time")
            for info in (info for info in rows if info.db == name):
                table.add_row(
                    escape(info.dest),
                    f"{info.taken_at.astimezone():%Y-%m-%d %H:%M:%S %z}",
                    human_size(info.size),
                    "yes" if info.encrypted else "no",
                    {True: "yes", False: "no", None: "unknown"}[info.verified],
                )
            console.print(table)
        if not rows:
            console.print("no snapshots yet (take one with: khronos snapshot now)")
        for error in errors:
            click.echo(f"{error['db']} -> {error['dest']}: {error['error']}", err=True)
    if errors:
        raise SystemExit(1)
