"""The ``khronos`` command line: one module per command group, imported when its command runs.

Each module registers its command on :data:`cli` (``@cli.command``) when it is imported; the
table below tells the root group which module defines which command, and the command's summary
for ``khronos --help`` (a test keeps each summary equal to the command's own help).  So
``khronos --help`` and ``khronos --version`` import no command module, and ``khronos status``
imports only what ``status`` needs.
"""

from __future__ import annotations

from khronos.cli._app import cli

__all__ = ["cli", "main"]

_COMMANDS = {
    "alert": ("alert", "Send alerts through the configured channels (Telegram, the log)."),
    "backup": ("backup", "Backup actions."),
    "config": ("config", "Check and inspect khronos.yml."),
    "demo": (
        "demo",
        "Run Khronos live on a simulated chat bot, with the dashboard: open the URL it prints.",
    ),
    "doctor": (
        "doctor",
        "Check that everything khronos.yml names works here: Litestream, WAL, replica, Telegram.",
    ),
    "init": ("init", "Write a commented khronos.yml and deploy/ for a service."),
    "logs": (
        "logs",
        "Show the JSON logs as readable lines, filtered; rotated files first, oldest first.",
    ),
    "restore": (
        "restore",
        "Restore a database from its replica or a snapshot, safely (latest, or a point in time).",
    ),
    "run": ("run", "Run Khronos next to your service until stopped (Ctrl-C or SIGTERM)."),
    "silence": ("silence", "Silence alerts for a while (maintenance), list and remove silences."),
    "snapshot": ("snapshot", "Take encrypted snapshots now (the second copy, beside the replica)."),
    "snapshots": (
        "snapshots",
        "List the encrypted snapshots of each database (destination, time, size, verified).",
    ),
    "status": (
        "status",
        "Show each database's backup: replica, txids, lag, last sync, last restore drill.",
    ),
    "telegram": ("telegram", "Check the Telegram bot used for alerts."),
    "verify": (
        "verify",
        "Restore drill: restore each database's latest backup into a temp folder and check it.",
    ),
}
"""Command name -> (module in this package, the first line of its help)."""

for _name, (_module, _summary) in _COMMANDS.items():
    cli.add_lazy(_name, f"khronos.cli.{_module}", _summary)


def main() -> None:
    """Console-script entry point."""
    cli.main(prog_name="khronos")
