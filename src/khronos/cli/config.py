"""``khronos config``: check, show and document the configuration file."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
import yaml
from rich.console import Console
from rich.markup import escape
from rich.syntax import Syntax
from rich.table import Table

from khronos.cli._app import AppState, cli, config_option, pass_state
from khronos.config import (
    KhronosConfig,
    is_raw_litestream,
    lint_litestream,
    migrate_litestream,
    read_config_text,
    render_reference,
)
from khronos.errors import ConfigError
from khronos.redact import Redactor, collect_secrets

__all__ = ["config_group"]

PATH_ARGUMENT = click.argument("path", required=False, metavar="[PATH]")


@cli.group("config")
def config_group() -> None:
    """Check and inspect khronos.yml.

    PATH defaults to --config, else $KHRONOS_CONFIG, else ./khronos.yml.
    """


@config_group.command("check")
@PATH_ARGUMENT
@config_option
@click.option("-q", "--quiet", is_flag=True, help="Print nothing when the file is valid.")
@pass_state
def check(state: AppState, path: str | None, quiet: bool) -> None:
    """Validate a configuration file.

    Every problem is printed as FILE:LINE:COL: KEY.PATH: PROBLEM (HINT).
    Exit 0 when the file is valid, 2 when it is not.

    \b
    Examples:
      khronos config check
      khronos config check /etc/khronos/khronos.yml
    """
    if _check_raw_litestream(state, path, quiet=quiet):
        return
    config = state.load(path)
    if quiet:
        return
    console = Console(highlight=False, soft_wrap=True)
    console.print(f"[green]✓[/green] {escape(str(config.source))} is valid")
    table = Table(show_header=False, box=None, padding=(0, 2))
    for name, summary in _summary(config):
        table.add_row(name, summary)
    console.print(table)


def _check_raw_litestream(state: AppState, path: str | None, *, quiet: bool) -> bool:
    """Lint a raw Litestream config (top-level dbs:, no Khronos section); False if not one."""
    file = state.config_path(path)
    text = read_config_text(file)
    if not is_raw_litestream(text, source=str(file)):
        return False
    problems = lint_litestream(text, source=str(file))
    if problems:
        raise ConfigError(problems, source=str(file))
    if not quiet:
        click.echo(
            f"✓ {file} is a Litestream 0.5 config with no ignored or rejected keys "
            "(khronos config migrate turns it into a khronos.yml)"
        )
    return True


@config_group.command("migrate")
@click.argument("path", metavar="LITESTREAM_YML")
def migrate(path: str) -> None:
    """Print the khronos.yml equivalent of a Litestream config (0.3 or 0.5).

    ${VAR} references are kept; settings Khronos or Litestream 0.5 cannot use are listed as
    comments at the top.  Review, save as khronos.yml, then run khronos config check.

    \b
    Example:
      khronos config migrate /etc/litestream.yml > khronos.yml
    """
    file = Path(path).expanduser()
    text = read_config_text(file)
    if not is_raw_litestream(text, source=str(file)):
        raise ConfigError.single(
            "", "not a Litestream config (no top-level dbs:)", "give litestream.yml", source=path
        )
    click.echo(migrate_litestream(text, source=str(file)), nl=False)


@config_group.command("show")
@PATH_ARGUMENT
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of YAML.")
@pass_state
def show(state: AppState, path: str | None, as_json: bool) -> None:
    """Print the effective configuration: defaults filled in, ${VARS} expanded, paths resolved.

    Secrets (tokens, keys, passwords, and inside URLs a password or a token-like query value)
    are always printed as **********.
    """
    config = state.load(path)
    data = _masked(
        config.model_dump(mode="json", exclude_none=True), Redactor(collect_secrets(config))
    )
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    text = f"# effective configuration of {config.source} (secrets masked)\n" + yaml.safe_dump(
        data, sort_keys=False, allow_unicode=True
    )
    if sys.stdout.isatty():
        Console().print(Syntax(text, "yaml", background_color="default"))
    else:
        click.echo(text, nl=False)


def _masked(value: Any, redactor: Redactor) -> Any:
    """Every string with its secrets masked: a password or token inside a URL, a ${VAR} value."""
    if isinstance(value, str):
        return redactor.redact(value)
    if isinstance(value, dict):
        return {key: _masked(item, redactor) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item, redactor) for item in value]
    return value


@config_group.command("reference")
def reference() -> None:
    """Print the reference of every configuration key (Markdown)."""
    click.echo(render_reference(), nl=False)


def _summary(config: KhronosConfig) -> list[tuple[str, str]]:
    http = f"{config.http.listen}, token {'set' if config.http.token else 'not set'}"
    return [
        ("service", f"{config.service.name} ({config.environment})"),
        ("state_dir", str(config.state_dir)),
        ("http", http),
        ("backup", "configured" if config.backup else "not configured"),
        ("metrics", f"namespace {config.metrics.namespace}"),
        ("alerts", "configured" if config.alerts else "not configured"),
    ]
