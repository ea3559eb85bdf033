"""``khronos demo``: try Khronos on a throw-away example, with nothing to set up."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape

from khronos.cli._app import cli
from khronos.config import load_config, render_reference

__all__ = ["DEMO_CONFIG", "demo"]

DEMO_CONFIG = """\
# khronos.yml written by `khronos demo`: every section Khronos knows, with its defaults.
service: demo-bot
environment: demo
state_dir: .khronos          # relative paths are taken from this file's folder
http:
  listen: 127.0.0.1:0        # port 0: any free port
  token: ${KHRONOS_DEMO_TOKEN:-demo-token-not-secret}
metrics:
  namespace: khronos
"""


@cli.command("demo")
@click.option(
    "--dir",
    "directory",
    default=".khronos-demo",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the demo's files (created if missing).",
)
def demo(directory: Path) -> None:
    """Run Khronos on an embedded example configuration and a sample SQLite database.

    Writes DIR/khronos.yml and DIR/app.db, validates the configuration and shows what each
    part of Khronos would do with it.  Safe to run again: it only touches DIR.
    """
    console = Console(highlight=False, soft_wrap=True)
    directory.mkdir(parents=True, exist_ok=True)
    config_file = directory / "khronos.yml"
    config_file.write_text(DEMO_CONFIG, encoding="utf-8")
    console.print(f"[bold]1.[/bold] wrote the example configuration to {escape(str(config_file))}")

    db = directory / "app.db"
    rows = _seed_database(db)
    console.print(f"[bold]2.[/bold] sample database {escape(str(db))}: {rows} messages")

    config = load_config(config_file)
    console.print(
        "[bold]3.[/bold] configuration is valid: "
        f"service [cyan]{escape(config.service.name)}[/cyan], "
        f"state in {escape(str(config.state_dir))}, "
        f"secrets masked: http.token = {config.http.token}"
    )
    keys = render_reference().count("\n") - 2
    console.print(
        f"[bold]4.[/bold] {keys} configuration keys documented (khronos config reference)"
    )
    console.print(
        "\nNext: [bold]khronos config show "
        f"{escape(str(config_file))}[/bold] prints the effective configuration."
    )


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
