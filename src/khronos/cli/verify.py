"""``khronos verify``: the restore drill."""

from __future__ import annotations

import json
from datetime import timedelta

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from khronos.backup import VerifyReport, verify_all
from khronos.cli._app import AppState, cli, config_option, pass_state
from khronos.cli.status import command_logging, local_time
from khronos.config import format_duration, format_size
from khronos.snapshots import DrillResult

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
    the local database; records the result in state_dir/verify.json. A database with
    snapshots: also has the newest snapshot at each destination checked (fetched, decrypted
    and integrity-checked with its identity_file; its size and checksum without one), recorded
    in state_dir/snapshots.json. Exit 0 when every drill passes, 1 when any fails.
    """
    config = state.load()
    config.require_backup()
    with command_logging(config):
        reports = verify_all(config, names or None)
    if as_json:
        click.echo(json.dumps({"databases": [r.to_json() for r in reports]}, indent=2))
    else:
        _table(Console(soft_wrap=True), reports)
    ctx.exit(0 if all(r.ok and r.snapshots_ok for r in reports) else 1)


def _table(out: Console, reports: list[VerifyReport]) -> None:
    """One block per database, values whole (never cut on a narrow terminal)."""
    for r in reports:
        table = Table(show_header=False, box=None, padding=(0, 2), title_justify="left")
        result = "[green]ok[/]" if r.ok else "[red]FAILED[/]"
        table.title = f"[bold]{escape(r.db)}[/bold]  {result}"
        table.add_column(style="dim", no_wrap=True)
        table.add_column(overflow="fold")
        table.add_row("replica", escape(r.replica))
        table.add_row("newest txid", r.txid or "-")
        when = local_time(r.backup_time) if r.backup_time else "-"
        if r.backup_age_seconds is not None:
            when += f" ({format_duration_s(r.backup_age_seconds)} old)"
        table.add_row("backup time", when)
        if r.txid is not None:
            table.add_row("behind", _behind(r))
        if r.size_bytes is not None:
            table.add_row("restored", f"{format_size(r.size_bytes)}, integrity check {r.integrity}")
        if not r.ok:
            hint = f" ({escape(r.hint)})" if r.hint else ""
            table.add_row("[red]error[/]", f"{escape(r.error or 'failed')}{hint}")
        for drill in r.snapshots:
            table.add_row(f"snapshot {escape(drill.dest)}", _snapshot_drill(drill.result))
        out.print(table)


def _snapshot_drill(result: DrillResult) -> str:
    """``ok: restored: decrypted, ...``, ``FAILED: why`` or ``nothing to check: why``."""
    detail = escape(result.detail or "")
    if result.ok is None:
        return f"[dim]nothing to check[/]: {detail}"
    when = f" (taken {local_time(result.snapshot_at)})" if result.snapshot_at else ""
    return f"[green]ok[/]: {detail}{when}" if result.ok else f"[red]FAILED[/]: {detail}"


def _behind(r: VerifyReport) -> str:
    """``no``, or by how much: ``by 3 txids (the oldest change 2s old)``."""
    if r.replica_behind is None:
        return "unknown (no local Litestream state)"
    if not r.replica_behind:
        return "no"
    count = r.behind_txids or 0
    text = f"by {count} txid{'s' if count != 1 else ''}"
    if r.behind_seconds is not None:
        text += f" (the oldest change {format_duration_s(r.behind_seconds)} old)"
    return f"[yellow]{text}[/]"


def format_duration_s(seconds: float | None) -> str:
    """Seconds as a short duration, or ``-``."""
    if seconds is None:
        return "-"
    return format_duration(timedelta(seconds=round(max(seconds, 0))))
