"""The ``khronos`` command line: one module per command group, registered by importing it."""

from __future__ import annotations

from khronos.cli import (  # noqa: F401 - each import registers its commands on `cli`
    alert,
    backup,
    config,
    demo,
    logs,
    restore,
    run,
    status,
    telegram,
    verify,
)
from khronos.cli._app import cli

__all__ = ["cli", "main"]


def main() -> None:
    """Console-script entry point."""
    cli.main(prog_name="khronos")
