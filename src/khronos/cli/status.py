"""``khronos status``: backup status per database (and the logging the backup commands share)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from khronos.backup import DbStatus, format_txid, query_status
from khronos.cli._app import AppState, cli, config_option, pass_state
from khronos.config import KhronosConfig

__all__ = ["command_logging", "local_time", "status"]


@contextlib.contextmanager
def command_logging(config: KhronosConfig) -> Iterator[None]:
    """Logs of a one-shot backup command on stderr (never stdout: ``--json`` stays parseable).

    The level and console format come from ``logging:``; no log files (a running daemon owns
    the log folder); the configuration's secrets are masked.  Undone when the command ends.
    """
    from khronos import logs  # noqa: PLC0415 - keep `khronos --help` fast

    logs.configure_from_config(config, log_dir=None, handle_sigterm=False, exception_hooks=False)
    try:
        yield
    finally:
        logs.reset()


READS = ("state_dir", "backup", "logging", "service", "environment")
"""What ``khronos status`` reads: other sections may name unset variables (a Telegram token,
the HTTP token); a replica key it needs without a daemon fails when it is read."""


@cli.command("status")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def status(state: AppState, as_json: bool) -> None:
    """Show each database's backup: replica, txids, lag, last sync, last restore drill.

    Asks the running `khronos run` (its Litestream's control socket) when there is one;
    otherwise reads the replica directly, and `replicating` is false. Works without the
    secrets it does not use (Telegram, the HTTP token; the replica's keys while a daemon runs).

    Each snapshot destination (backup.dbs[].snapshots) shows its newest snapshot (time, size,
    verified), when the next one is due, the last error and the last drill.

    \b
    JSON: {"source": "daemon"|"replica", "databases": [{"name", "path", "replica",
    "local_txid", "replica_txid", "lag_seconds", "last_sync_at", "replicating",
    "sync_errors", "db_size_bytes", "wal_size_bytes", "last_verify", "snapshots": [{"dest",
    "url", "interval_seconds", "last_success_at", "age_seconds", "size_bytes", "verified",
    "key", "stale", "next_due_at", "consecutive_failures", "last_error", "last_drill"...}]}]}
    """
    config = state.load(needs=READS)
    with command_logging(config):
        source, statuses = asyncio.run(query_status(config))
    snapshots = _snapshots(config)
    if as_json:
        document = {
            "source": source,
            "databases": [
                {**s.to_json(), "snapshots": snapshots.get(s.name, [])} for s in statuses
            ],
        }
        click.echo(json.dumps(document, indent=2))
        return
    console = Console(highlight=False, soft_wrap=True)
    note = "from the running khronos" if source == "daemon" else "read from the replica (no daemon)"
    console.print(f"[bold]Backup status[/bold] ({note})")
    for s in statuses:
        table = Table(show_header=False, box=None, padding=(0, 2), title_justify="left")
        table.title = f"[bold]{escape(s.name)}[/bold]  {escape(str(s.path))}"
        table.add_column(style="dim")
        table.add_column(overflow="fold")
        table.add_row("replica", escape(s.replica))
        table.add_row("replicating", _state(s))
        table.add_row("txid", f"local {_txid(s.local_txid)}, replica {_txid(s.replica_txid)}")
        table.add_row("lag", _lag(s))
        table.add_row("last sync", _ago(s.last_sync_at))
        table.add_row("sync errors", str(s.sync_errors))
        table.add_row("size", _sizes(s))
        table.add_row("last verify", _verify(s))
        for entry in snapshots.get(s.name, []):
            table.add_row(f"snapshot {escape(entry['dest'])}", _snapshot(entry))
        console.print(table)


def _snapshots(config: KhronosConfig) -> dict[str, list[dict[str, Any]]]:
    """Each database's snapshot destinations from ``state_dir/snapshots.json``."""
    if not any(db.snapshots for db in (config.backup.dbs if config.backup else [])):
        return {}
    from khronos.snapshots import read_snapshot_state, snapshot_status  # noqa: PLC0415

    states = read_snapshot_state(config.state_dir).values()
    return snapshot_status(config, states, now=time.time(), times="iso")


def _snapshot(entry: dict[str, Any]) -> str:
    """``2026-12-05 06:15 UTC (3m ago), 1.2 MiB, verified; next ...; drill ok``."""
    parts = []
    if entry["last_success_at"] is None:
        parts.append("[yellow]none yet[/yellow]")
    else:
        taken = datetime.fromisoformat(entry["last_success_at"])
        text = f"{local_time(taken, '%Y-%m-%d %H:%M')} ({entry['age_seconds']:.0f}s ago)"
        text += f", {_human(entry['size_bytes'] or 0)}"
        text += ", verified" if entry["verified"] else ", not verified"
        parts.append(f"[yellow]{text} (stale)[/yellow]" if entry["stale"] else text)
    if entry["next_due_at"]:
        parts.append(f"next {local_time(datetime.fromisoformat(entry['next_due_at']), '%H:%M')}")
    if entry["last_error"]:
        failures = entry["consecutive_failures"]
        parts.append(f"[red]failing ({failures}x): {escape(entry['last_error'])}[/red]")
    drill = entry["last_drill"]
    if drill is not None and drill["ok"] is not None:
        detail = escape(drill["detail"] or "")
        parts.append(
            "drill [green]ok[/green]" if drill["ok"] else f"drill [red]FAILED[/red]: {detail}"
        )
    return "; ".join(parts)


def _txid(txid: int | None) -> str:
    return format_txid(txid) or "—"


def _sizes(s: DbStatus) -> str:
    if s.db_size_bytes is None:
        return "—"
    return f"{_human(s.db_size_bytes)} (WAL {_human(s.wal_size_bytes or 0)})"


def _human(size: int) -> str:
    """``812 B``, ``249.5 KiB``, ``1.2 GiB``: for people, not the config syntax."""
    value, unit = float(size), "B"
    for bigger in ("KiB", "MiB", "GiB", "TiB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"


def _lag(s: DbStatus) -> str:
    if s.lag_seconds is None:
        return "unknown"
    text = f"{s.lag_seconds:.1f}s"
    return f"[green]{text}[/green]" if s.lag_seconds == 0 else f"[yellow]{text}[/yellow]"


def _ago(when: datetime | None) -> str:
    if when is None:
        return "never"
    seconds = (datetime.now(UTC) - when).total_seconds()
    return f"{local_time(when)} ({seconds:.0f}s ago)"


def local_time(when: datetime, spec: str = "%Y-%m-%d %H:%M:%S") -> str:
    """A time for people: in the local zone, with the zone's name (``2025-01-31 21:00:00 JST``)."""
    return f"{when.astimezone():{spec} %Z}"


def _state(s: DbStatus) -> str:
    if not s.db_exists:
        return "[red]db missing[/red]"
    return "[green]yes[/green]" if s.replicating else "[yellow]no[/yellow]"


def _verify(s: DbStatus) -> str:
    v = s.last_verify
    if v is None:
        return "never"
    when = f" {local_time(v.at, '%Y-%m-%d %H:%M')}" if v.at else ""
    return (
        f"[green]ok[/green]{when}" if v.ok else f"[red]failed[/red]{when}: {escape(v.error or '')}"
    )
