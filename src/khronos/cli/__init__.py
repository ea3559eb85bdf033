"""The ``khronos`` command line: one module per command group."""

from __future__ import annotations

from khronos.cli import config as _config  # noqa: F401 - registers the command group
from khronos.cli import demo as _demo  # noqa: F401 - registers the command
from khronos.cli._app import cli

__all__ = ["cli", "main"]


def main() -> None:
    """Console-script entry point."""
    cli.main(prog_name="khronos")
