"""``khronos doctor``: a table of findings about this machine's setup, each with its fix."""

from __future__ import annotations

import asyncio
import json

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from khronos.cli._app import AppState, cli, config_option, pass_state, seconds
from khronos.cli.status import command_logging
from khronos.doctor import DEFAULT_TIMEOUT, Finding, Status, run_doctor

__all__ = ["doctor"]

READS = ("service", "environment", "state_dir", "http", "backup", "metrics", "logging")
"""Sections whose unset ``${VAR}`` stop the doctor (exit 2); elsewhere (Telegram, checks) an
unset variable becomes a finding.  Unset secrets are findings everywhere."""
_STYLE = {
    Status.OK: "[green]✓ ok[/green]",
    Status.INFO: "[blue]i info[/blue]",
    Status.WARN: "[yellow]! warn[/yellow]",
    Status.ERROR: "[red]✗ error[/red]",
}


@cli.command("doctor")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@click.option(
    "--timeout",
    default=f"{DEFAULT_TIMEOUT:g}s",
    show_default=True,
    callback=seconds,
    help="How long each check may take.",
)
@pass_state
def doctor(state: AppState, as_json: bool, timeout: float) -> None:
    """Check that everything khronos.yml names works here: Litestream, WAL, replica, Telegram.

    Also disk space, the clock against the object store, the HTTP port, the permissions of
    state_dir and of the rendered Litestream config, and environment traps. Each finding is
    ok, info, warn or error, with its fix. Exit 1 when any is an error, else 0 (2 when
    khronos.yml itself is invalid). Secrets are never printed.

    \b
    JSON: {"ok": bool, "findings": [{"check", "status", "message", "fix"}]}
    """
    config = state.load(needs=READS)
    with command_logging(config):
        findings = asyncio.run(run_doctor(config, timeout=timeout))
    failed = any(f.status is Status.ERROR for f in findings)
    if as_json:
        document = {"ok": not failed, "findings": [f.to_json() for f in findings]}
        click.echo(state.mask(json.dumps(document, indent=2)))
    else:
        _print(state, findings)
    if failed:
        click.get_current_context().exit(1)


def _print(state: AppState, findings: list[Finding]) -> None:
    console = Console(highlight=False, soft_wrap=False)
    table = Table(title="khronos doctor", title_justify="left", show_lines=False)
    table.add_column("check", no_wrap=True)
    table.add_column("", no_wrap=True)
    table.add_column("finding", overflow="fold")
    table.add_column("fix", overflow="fold", style="dim")
    for f in findings:
        table.add_row(
            escape(f.check),
            _STYLE[f.status],
            escape(state.mask(f.message)),
            escape(state.mask(f.fix or "")),
        )
    console.print(table)
    errors = sum(f.status is Status.ERROR for f in findings)
    warnings = sum(f.status is Status.WARN for f in findings)
    if errors:
        console.print(f"[red]{errors} error(s)[/red], {warnings} warning(s): fix the errors first")
    else:
        console.print(f"[green]no errors[/green], {warnings} warning(s)")
