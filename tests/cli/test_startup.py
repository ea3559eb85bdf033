"""A fast CLI: `khronos --help`/`--version` import no command module and nothing heavy.

Start-up times themselves are measured by `make bench`; these tests check by import, not by time.
"""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from khronos.cli import cli

HEAVY = (
    "uvicorn",
    "starlette",
    "httpx",
    "prometheus_client",
    "pydantic",
    "structlog",
    "rich",
    "yaml",
    "khronos.config",
    "khronos.logs",
    "khronos.backup",
    "khronos.alerts",
)
"""Packages `khronos --help` must not import (each costs tens of milliseconds or more)."""


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(f"{h}.") for h in HEAVY))


_SHOW_MODULES = """
import atexit, sys
atexit.register(lambda: print("\\n".join(sys.modules), file=sys.stderr))
"""


def _imported_by(*args: str, code: str = "from khronos.cli import main; main()") -> set[str]:
    """``sys.modules`` of a fresh interpreter that ran ``code`` as ``khronos ARGS``."""
    script = f"{_SHOW_MODULES}\nsys.argv = ['khronos', *{list(args)!r}]\n{code}\n"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    return set(done.stderr.split())


def test_import_khronos_cli_imports_nothing_heavy() -> None:
    """`import khronos.cli` loads no server, HTTP, metrics, config model or logging code."""
    modules = _imported_by(code="import khronos.cli")
    assert "khronos.cli" in modules
    assert _heavy(modules) == []


@pytest.mark.parametrize("option", ["--help", "--version"])
def test_help_and_version_import_nothing_heavy(option: str) -> None:
    """`khronos --help` and `--version` (a real process) import no command module."""
    modules = _imported_by(option)
    assert "khronos.cli._app" in modules
    assert _heavy(modules) == []
    commands = [m for m in modules if m.startswith("khronos.cli.") and m != "khronos.cli._app"]
    assert commands == []


def test_each_command_imports_its_module_only_when_run() -> None:
    """`khronos status --help` loads the status module, and not the daemon's side."""
    modules = _imported_by("status", "--help")
    assert "khronos.cli.status" in modules
    daemon_side = ["khronos.cli.run", "khronos.backup._service", "uvicorn", "prometheus_client"]
    assert [m for m in daemon_side if m in modules] == []


def test_every_summary_is_its_commands_own_first_help_line() -> None:
    """The summaries `--help` shows without importing are the commands' own (no drift)."""
    ctx = click.Context(cli)
    for name, (_module, summary) in cli.lazy.items():
        command = cli.get_command(ctx, name)
        assert command is not None, name
        assert (command.help or "").split("\n\n", 1)[0].strip() == summary, name


def test_every_command_module_is_listed() -> None:
    """A new command module is reachable: every module of khronos.cli registers a command."""
    from pathlib import Path

    import khronos.cli

    folder = Path(khronos.cli.__file__).parent
    modules = {p.stem for p in folder.glob("*.py") if not p.stem.startswith("_")}
    assert modules == {module.rsplit(".", 1)[1] for module, _ in cli.lazy.values()}


def test_env_config_name_matches_the_loader() -> None:
    """The variable named in `--help` is the one the loader reads."""
    from khronos.cli._app import ENV_CONFIG
    from khronos.config import ENV_CONFIG as LOADER_ENV_CONFIG

    assert ENV_CONFIG == LOADER_ENV_CONFIG
