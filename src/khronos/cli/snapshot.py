"""``khronos snapshot now``: take an encrypted snapshot of each database now."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import click

from khronos.cli._app import AppState, cli, config_option, pass_state
from khronos.cli.status import command_logging
from khronos.config import DatabaseConfig, KhronosConfig, SnapshotDestination
from khronos.errors import KhronosError, SnapshotError

if TYPE_CHECKING:
    from khronos.snapshots import SnapshotReport

__all__ = ["human_size", "select_pairs", "snapshot_group"]


def human_size(size: int) -> str:
    """``812 B``, ``249.5 KiB``, ``1.2 GiB``."""
    value, unit = float(size), "B"
    for bigger in ("KiB", "MiB", "GiB", "TiB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"


def select_pairs(
    config: KhronosConfig, db_name: str | None, dest_name: str | None
) -> list[tuple[DatabaseConfig, SnapshotDestination]]:
    """(database, destination) pairs that ``--db``/``--dest`` select; usage errors (exit 2)
    when none has snapshots or a name matches nothing."""
    from khronos.snapshots import snapshot_destinations  # noqa: PLC0415 - the command's own

    backup = config.require_backup()
    dbs = [backup.select(db_name)] if db_name else list(backup.dbs)
    with_snapshots = [db for db in dbs if db.snapshots]
    if not with_snapshots:
        which = f"the database {dbs[0].label} has" if db_name else "no database has"
        raise click.UsageError(
            f"{which} no snapshot destinations: add backup.dbs[].snapshots (see docs/snapshots.md)"
        )
    pairs: list[tuple[DatabaseConfig, SnapshotDestination]] = []
    for db in with_snapshots:
        try:
            dests = snapshot_destinations(db, dest_name)
        except SnapshotError as exc:
            if db_name or len(with_snapshots) == 1:
                raise click.BadParameter(
                    f"{exc.message} ({exc.hint})", param_hint="--dest"
                ) from None
            continue
        pairs.extend((db, dest) for dest in dests)
    if not pairs:
        raise click.BadParameter(
            f"no database has a destination named {dest_name!r}", param_hint="--dest"
        )
    return pairs


@cli.group("snapshot")
def snapshot_group() -> None:
    """Take encrypted snapshots now (the second copy, beside the replica)."""


@snapshot_group.command("now")
@config_option
@click.option("--db", "db_name", metavar="NAME", help="Only this database (its name or path).")
@click.option("--dest", "dest_name", metavar="NAME", help="Only this destination (its name).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def now(state: AppState, db_name: str | None, dest_name: str | None, as_json: bool) -> None:
    """Snapshot each database to each of its snapshot destinations, now.

    Each snapshot is a consistent copy (SQLite's backup API, while the app writes), checked,
    compressed (zstd), encrypted (age), uploaded, read back and checked, then old snapshots are
    pruned (grandfather-father-son: the newest of each hour, day and week is kept, so a second
    snapshot within the same hour replaces the first). Runs here, at low priority, one at a
    time; the copy is made in the temp folder (TMPDIR), which needs room for the database. Each
    snapshot made is recorded in state_dir/snapshots.json, so `khronos status` and a running
    `khronos run` (its status, metrics and alerts) see it. See docs/snapshots.md for keys,
    destinations and restoring.

    \b
    Exit codes: 0 every snapshot made, 1 one or more failed (the others are made), 2 bad
    configuration or usage.
    JSON: [{"db", "dest", "key", "taken_at", "size", "sha256", "db_bytes", "encrypted",
    "verified", "duration", "steps": {"copy", "check", "compress", "encrypt", "upload",
    "verify", "prune"}, "pruned", "prune_error"} or {"db", "dest", "error"}]
    """
    from khronos.snapshots import take_snapshot  # noqa: PLC0415 - the command's own

    config = state.load()
    pairs = select_pairs(config, db_name, dest_name)
    tmp_dir = Path(tempfile.gettempdir())
    documents: list[dict[str, object]] = []
    failed = False
    with command_logging(config):
        for db, dest in pairs:
            try:
                report = take_snapshot(db, dest, tmp_dir=tmp_dir)
            except SnapshotError as exc:
                failed = True
                message = state.mask(str(exc))
                documents.append({"db": db.label, "dest": dest.label, "error": message})
                if not as_json:
                    click.echo(f"{db.label} -> {dest.label}: failed: {message}", err=True)
                continue
            documents.append(report.to_json())
            _record(config, dest, report)
            if not as_json:
                info = report.info
                ratio = f"{info.db_bytes / info.size:.1f}x" if info.db_bytes and info.size else "?"
                original = human_size(info.db_bytes or 0)
                click.echo(
                    f"{db.label} -> {dest.label}: {info.key} ({dest.display}), "
                    f"{human_size(info.size)} ({ratio} smaller than {original}), "
                    f"{report.duration:.1f}s, {'verified' if info.verified else 'NOT verified'}"
                )
                if report.pruned:
                    click.echo(f"  pruned {len(report.pruned)} old snapshot(s)")
                if report.prune_error:
                    click.echo(f"  not pruned: {state.mask(report.prune_error)}", err=True)
    if as_json:
        click.echo(json.dumps(documents, indent=2))
    if failed:
        raise SystemExit(1)


def _record(config: KhronosConfig, dest: SnapshotDestination, report: SnapshotReport) -> None:
    """The snapshot in state_dir/snapshots.json (the daemon takes it in: status, metrics, the
    stale alert); a state_dir that cannot be written is said, the snapshot itself stands."""
    from khronos.snapshots import SnapshotSuccess, update_snapshot_state  # noqa: PLC0415

    info = report.info
    success = SnapshotSuccess.of(report)
    next_due = info.taken_at + dest.interval
    try:
        update_snapshot_state(
            config.state_dir, info.db, info.dest, lambda entry: entry.succeeded(success, next_due)
        )
    except (OSError, KhronosError) as exc:
        click.echo(f"  not recorded in state_dir/snapshots.json: {exc}", err=True)
