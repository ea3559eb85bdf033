"""``khronos restore``: safe point-in-time restore, from the replica or from a snapshot."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from khronos.backup import RestoreResult, parse_timestamp, parse_txid_arg, restore_database
from khronos.cli._app import AppState, cli, config_option, pass_state
from khronos.cli.status import command_logging
from khronos.config import DatabaseConfig, KhronosConfig, format_size
from khronos.errors import RestoreError, SnapshotError

__all__ = ["restore"]


class _PlainProgress:
    """One line per step (no TTY)."""

    def __init__(self) -> None:
        self.last = ""

    def __call__(self, stage: str, _done: int | None = None, /) -> None:
        if stage != self.last:
            click.echo(f"... {stage}", err=True)
            self.last = stage


_T = TypeVar("_T")


def _usage(parse: Callable[[str], _T], value: str | None) -> _T | None:
    """An option parsed now, so a bad value is a usage error (exit 2) before anything runs."""
    if value is None:
        return None
    try:
        return parse(value)
    except RestoreError as exc:
        raise click.BadParameter(
            f"{exc.message} ({exc.hint})" if exc.hint else exc.message
        ) from None


@cli.command("restore")
@config_option
@click.argument("db_path", required=False, metavar="[DB_PATH]")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="Restore to this path instead."
)
@click.option(
    "--from",
    "origin",
    metavar="SOURCE",
    default="replica",
    show_default=True,
    callback=lambda _c, _p, v: _origin(v),
    help="replica (Litestream's), or snapshot[:DEST] (the encrypted snapshots; DEST: one "
    "destination's name, default the newest across them).",
)
@click.option(
    "--timestamp",
    "--at",
    "timestamp",
    metavar="RFC3339",
    callback=lambda _c, _p, v: _usage(parse_timestamp, v),
    help="Restore the state at this time (with a zone: 2025-01-31T12:00:00Z); from a "
    "snapshot: the newest snapshot at or before it.",
)
@click.option(
    "--txid",
    metavar="HEX",
    callback=lambda _c, _p, v: _usage(parse_txid_arg, v),
    help="Restore up to this transaction id (inclusive).",
)
@click.option(
    "--identity",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="With --from snapshot: the age identity file (age-keygen's output) or the passphrase "
    "file that decrypts the snapshots (default: the destination's identity_file).",
)
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing.")
@click.option("--force", is_flag=True, help="Restore even if the database is in use.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_state
def restore(  # noqa: PLR0917 - click passes each option as an argument
    state: AppState,
    db_path: str | None,
    output: str | None,
    origin: tuple[str, str | None],
    timestamp: datetime | None,
    txid: str | None,
    identity: Path | None,
    dry_run: bool,
    force: bool,
    as_json: bool,
    yes: bool,
) -> None:
    """Restore a database from its replica or a snapshot, safely (latest, or a point in time).

    DB_PATH picks a configured database by path or name (default: the only one). With --from
    snapshot[:DEST] the newest encrypted snapshot (at or before --at) is downloaded and
    decrypted with --identity instead of replaying the replica. The backup is restored beside
    the database and checked with PRAGMA integrity_check before it replaces the database
    atomically; the current database is kept (WAL included) as <db>.pre-restore-<time>.
    Refused (exit 3) while another process has the database open or Khronos replicates it,
    unless --force. -o must name a regular file (or one to create) in an existing folder: a
    device, a FIFO, a dangling symbolic link or a missing folder is refused.

    \b
    Exit codes: 0 restored (or planned, with --dry-run), 1 failed (the database is left as it
    was), 2 bad configuration or usage (e.g. a bad --timestamp), 3 refused (nothing changed).
    """
    if timestamp and txid:
        raise click.UsageError("give --timestamp or --txid, not both")
    kind, dest = origin
    if kind == "replica" and identity is not None:
        raise click.UsageError("--identity decrypts snapshots: add --from snapshot")
    if kind == "snapshot" and txid is not None:
        raise click.UsageError("snapshots have no txids: pick one by time with --at")
    config = state.load()
    db = config.require_backup().select(db_path)
    err = Console(stderr=True)
    where = db.replica.display
    restore_with: Callable[..., RestoreResult] = restore_database
    options: dict[str, Any] = {"output": output, "force": force, "dry_run": dry_run}
    if kind == "snapshot":
        where = _snapshot_check(db, dest, identity)
        restore_with = _snapshot_restore
        options.update(dest=dest, at=timestamp, identity=identity)
    else:
        options.update(timestamp=timestamp, txid=txid)
    if not (dry_run or yes or as_json) and sys.stdin.isatty():
        target = Path(output) if output else db.path
        click.confirm(f"Replace {target} with the backup from {where}?", abort=True)
    with command_logging(config):
        if as_json:
            result = restore_with(config, db, **options)
        elif err.is_terminal:
            result = _with_progress_bar(err, restore_with, config, db, options)
        else:
            result = restore_with(config, db, progress=_PlainProgress(), **options)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
        return
    _print(Console(soft_wrap=True), result)


def _origin(value: str) -> tuple[str, str | None]:
    """``--from``: (``replica`` | ``snapshot``, the destination's name or None)."""
    kind, _, dest = value.strip().partition(":")
    if kind not in {"replica", "snapshot"} or (kind == "replica" and dest):
        raise click.BadParameter(
            f"{value!r} is not a source: use replica, snapshot or snapshot:DEST"
        )
    return kind, (dest or None)


def _snapshot_check(db: DatabaseConfig, dest: str | None, identity: Path | None) -> str:
    """Usage errors of --from snapshot before anything runs; where the snapshots are."""
    from khronos.snapshots import snapshot_destinations  # noqa: PLC0415 - only when asked

    try:
        dests = snapshot_destinations(db, dest)
    except SnapshotError as exc:
        raise click.BadParameter(f"{exc.message} ({exc.hint})", param_hint="--from") from None
    if identity is None and any(d.identity_file is None for d in dests):
        raise click.UsageError(
            "restoring a snapshot needs the identity that decrypts it: give --identity FILE "
            "(the file age-keygen wrote, or the passphrase file), or set identity_file: on the "
            "destination"
        )
    return ", ".join(f"snapshot {d.label} ({d.display})" for d in dests)


def _snapshot_restore(config: KhronosConfig, db: DatabaseConfig, **options: Any) -> RestoreResult:
    from khronos.snapshots import restore_snapshot  # noqa: PLC0415 - only when asked

    return restore_snapshot(config, db, **options)


def _with_progress_bar(
    err: Console,
    restore_with: Callable[..., RestoreResult],
    config: KhronosConfig,
    db: DatabaseConfig,
    options: dict[str, Any],
) -> RestoreResult:
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("restore")

        def show(stage: str, done: int | None = None, /) -> None:
            extra = f" {format_size(done)}" if done else ""
            bar.update(task, description=f"{stage}{extra}")

        return restore_with(config, db, progress=show, **options)


def _print(out: Console, result: RestoreResult) -> None:
    plan = result.plan
    when = plan.backup_time.isoformat() if plan.backup_time else "unknown time"
    point = f"txid {plan.txid} (backup of {when})"
    if plan.snapshot:
        point = f"snapshot {plan.snapshot} (taken {when})"
    if result.dry_run:
        out.print("[bold]Restore plan[/] (dry run: nothing changed)")
        out.print(f"  database:    {escape(plan.db)} ({escape(str(plan.source))})")
        out.print(f"  {'source: ' if plan.snapshot else 'replica:'}    {escape(plan.replica)}")
        asked = plan.timestamp.isoformat() if plan.timestamp else plan.requested_txid or "latest"
        out.print(f"  point:       {escape(asked)} -> {point}")
        files = "the snapshot" if plan.snapshot else f"{plan.files} LTX files"
        out.print(f"  files:       {files}, {format_size(plan.bytes)}")
        out.print(f"  target:      {escape(str(plan.target))}")
        out.print(f"  safety copy: {escape(str(plan.safety_copy or 'none (no current file)'))}")
        for reason in result.in_use:
            out.print(f"  [yellow]would refuse[/]: {escape(reason)} (needs --force)")
        return
    out.print(
        f"[green]restored[/] {escape(str(plan.target))} to {point} from {escape(plan.replica)}"
    )
    if result.safety_copy:
        how = {
            "kept": "the old database file itself, its WAL included",
            "backup-api": "SQLite backup API, WAL included",
        }.get(result.safety_copy_method or "", "raw files: the database was unreadable")
        out.print(f"  safety copy: {escape(str(result.safety_copy))} ({how})")
    size = format_size(result.size_bytes or 0)
    out.print(f"  integrity check: {result.integrity}; {size} in {result.duration_seconds:.1f}s")
    for reason in result.in_use:
        out.print(f"  [yellow]forced[/]: {escape(reason)}")
