"""``khronos demo``: run the real daemon on an embedded example, with nothing to set up."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

import click
import httpx
from rich.console import Console
from rich.markup import escape

from khronos import logs
from khronos.cli._app import cli, seconds
from khronos.config import KhronosConfig, load_config

if TYPE_CHECKING:
    from khronos.daemon import Daemon

__all__ = ["DEMO_CONFIG", "demo"]

DEMO_CONFIG = """\
# khronos.yml written by `khronos demo`.  Copy it next to your service and change the paths.
service: {name: demo-bot, shutdown_timeout: 10s}
environment: demo
state_dir: .khronos          # relative paths are taken from this file's folder
http:
  listen: 127.0.0.1:0        # port 0: any free port (use a fixed one, e.g. :9321, in production)
  token: ${KHRONOS_DEMO_TOKEN:-demo-token-not-secret}
metrics:
  namespace: khronos
logging:
  dir: logs
  console: "off"             # the demo prints its own summary; `khronos logs --dir` reads these
backup:
  dbs:
    - path: app.db
      replica:                # in production: url: s3://bucket/path (or b2://, gs://, ...)
        type: file
        path: replica         # a folder beside this file
        sync-interval: 1s
  verify: {interval: null}   # the demo runs one restore drill itself
  lag_alert_after: 60s
# alerts:                    # uncomment to get the demo's alert on Telegram
#   telegram: {bot_token: ${TELEGRAM_BOT_TOKEN}, chat_id: ${ALERT_CHAT_ID}}
"""

_SHOWN_METRICS = (
    "khronos_backup_up",
    "khronos_backup_lag_seconds",
    "khronos_db_size_bytes",
    "khronos_backup_verify_success",
    "khronos_alerts_sent_total",
    "khronos_messages_processed_total",
)


@cli.command("demo")
@click.option(
    "--dir",
    "directory",
    default=".khronos-demo",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the demo's files (created if missing).",
)
@click.option(
    "--traffic",
    default="3s",
    show_default=True,
    callback=seconds,
    help="How long the simulated service writes messages.",
)
def demo(directory: Path, traffic: float) -> None:
    """Run Khronos on an embedded example: a sample SQLite app, backed up, measured, alerted.

    Writes DIR/khronos.yml and DIR/app.db, starts the real daemon (what `khronos run` runs:
    Litestream replicating to DIR/replica, /metrics, checks, the alert engine), simulates a
    service writing messages, then proves the backup: a forced sync, a restore drill, a test
    alert and a look at the metrics.  It stops by itself and only touches DIR; run it again
    any time.
    """
    console = Console(highlight=False, soft_wrap=True)
    directory.mkdir(parents=True, exist_ok=True)
    config_file = directory / "khronos.yml"
    config_file.write_text(DEMO_CONFIG, encoding="utf-8")
    console.print(f"[bold]1.[/bold] wrote the example configuration to {escape(str(config_file))}")
    db = directory / "app.db"
    rows = _seed_database(db)
    console.print(f"[bold]2.[/bold] sample app database {escape(str(db))}: {rows} messages")
    config = load_config(config_file)
    logs.configure_from_config(config, handle_sigterm=False, exception_hooks=False)
    try:
        asyncio.run(_run(config, db, traffic, console))
    finally:
        logs.shutdown()
    me = _command_name()
    console.print(
        "\n[bold]Next[/bold] (the demo's files stay in "
        f"{escape(str(directory))}):\n"
        f"  {me} -c {escape(str(config_file))} run       the daemon, until Ctrl-C\n"
        f"  {me} -c {escape(str(config_file))} status    backup status, with or without it\n"
        f"  {me} logs --dir {escape(str(directory / 'logs'))}   what it logged"
    )


def _command_name() -> str:
    """How the user can call this program again: ``khronos`` when that is on PATH, else the
    path it was started from (``.venv/bin/khronos`` after `make demo`)."""
    started = Path(sys.argv[0])
    if started.name != "khronos" or not started.exists():
        return "khronos"  # python -m khronos, or an unusual launcher
    found = shutil.which("khronos")
    if found is not None and Path(found).resolve() == started.resolve():
        return "khronos"
    relative = os.path.relpath(started)
    return escape(str(started.absolute()) if relative.startswith("..") else relative)


async def _run(config: KhronosConfig, db: Path, traffic: float, console: Console) -> None:
    from khronos.backup import format_txid, verify_all  # noqa: PLC0415 - keep --help fast
    from khronos.daemon import Daemon  # noqa: PLC0415

    assert config.backup is not None  # noqa: S101 - the embedded config has one
    async with Daemon(config) as daemon:
        assert daemon.backup is not None  # noqa: S101
        console.print(
            f"[bold]3.[/bold] daemon started: metrics on {daemon.url}{config.metrics.path}, "
            f"Litestream replicating to {escape(config.backup.dbs[0].replica.display)}"
        )
        written = await _simulate_service(db, daemon, traffic)
        console.print(f"[bold]4.[/bold] the app wrote {written} messages in {traffic:g}s")
        started = time.monotonic()
        (synced,) = await daemon.backup.sync_now()
        console.print(
            f"[bold]5.[/bold] backup now: replica at txid {format_txid(synced.replicated_txid)} "
            f"(local {format_txid(synced.txid)}) in {time.monotonic() - started:.2f}s — "
            "[green]nothing is waiting to be backed up[/green]"
        )
        (report,) = await asyncio.to_thread(verify_all, config)
        verdict = "[green]passed[/green]" if report.ok else f"[red]FAILED[/red]: {report.error}"
        console.print(
            f"[bold]6.[/bold] restore drill {verdict}: restored txid {report.txid} into a temp "
            f"dir, integrity {report.integrity} ok, in {report.duration_seconds:.2f}s"
        )
        alert_id = daemon.engine.send_alert(
            "Demo alert: Khronos is watching demo-bot", "INFO", {"messages": written}
        )
        status = await daemon.engine.wait_delivered(alert_id or "", timeout=10)
        channels = ", ".join(n.name for n in daemon.engine.notifiers)
        console.print(f"[bold]7.[/bold] test alert {status.state} through: {channels}")
        async with httpx.AsyncClient() as client:
            text = (await client.get(f"{daemon.url}{config.metrics.path}")).text
        console.print("[bold]8.[/bold] a few of the metrics Prometheus would scrape:")
        for line in text.splitlines():
            if line.startswith(_SHOWN_METRICS):
                console.print(f"   {escape(line)}", style="dim")
    console.print("[bold]9.[/bold] daemon stopped (Litestream made its final sync)")


async def _simulate_service(db: Path, daemon: Daemon, seconds: float) -> int:
    """Write a message every 50 ms for ``seconds``, counting them in the service metrics."""
    count = 0
    deadline = time.monotonic() + seconds
    with closing(sqlite3.connect(db, timeout=10)) as conn:
        while time.monotonic() < deadline:
            with conn:
                conn.execute(
                    "INSERT INTO messages (chat, body) VALUES (?, ?)", ("demo", f"msg {count}")
                )
            daemon.metrics.record_message_processed("demo", "ok")
            count += 1
            await asyncio.sleep(0.05)
    return count


def _seed_database(path: Path) -> int:
    """Create the sample table with ten messages (once), return the row count."""
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS messages "
            "(id INTEGER PRIMARY KEY, chat TEXT NOT NULL, body TEXT NOT NULL)"
        )
        (count,) = conn.execute("SELECT count(*) FROM messages").fetchone()
        if count == 0:
            conn.executemany(
                "INSERT INTO messages (chat, body) VALUES (?, ?)",
                [("demo", f"hello #{i}") for i in range(10)],
            )
            count = 10
    return int(count)
