"""The root ``khronos`` command group and the error handling every command shares.

Errors Khronos raises on purpose (:class:`~khronos.errors.KhronosError`) print as a few plain
lines and exit with their own code (2 for configuration errors).  Anything unexpected prints one
line and exits 1; ``--debug`` (or ``KHRONOS_DEBUG=1``) adds the traceback.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Collection
from pathlib import Path
from typing import Any

import click

from khronos._version import __version__
from khronos.config import (
    ENV_CONFIG,
    KhronosConfig,
    load_config,
    parse_duration,
    resolve_config_path,
)
from khronos.errors import KhronosError
from khronos.redact import Redactor, collect_secrets
from khronos.redact import redact as _redact

__all__ = ["AppState", "KhronosGroup", "cli", "config_option", "pass_state", "seconds"]


class AppState:
    """What the root options set, handed to every command."""

    def __init__(self, config_path: str | None, *, debug: bool) -> None:
        self.config_option = config_path
        self.debug = debug
        self.redactor = Redactor()
        """The loaded configuration's secrets: errors are printed through it (and the global
        redactor), even after a command's logging setup has forgotten them."""

    def config_path(self, explicit: str | Path | None = None) -> Path:
        """A command's PATH, else --config, else $KHRONOS_CONFIG, else ./khronos.yml."""
        return resolve_config_path(explicit or self.config_option)

    def load(
        self, explicit: str | Path | None = None, *, needs: Collection[str] | None = None
    ) -> KhronosConfig:
        """Load and validate the configuration (raises ConfigError).

        ``needs``: a reading command's top-level sections; ``${VAR}`` left unset elsewhere (and
        in secrets it may not read) are tolerated, with a note on stderr for each.
        """
        config = load_config(self.config_path(explicit), needs=needs)
        for secret in collect_secrets(config):
            self.redactor.add_secret(secret)
        for unset in config.unset_variables:
            click.echo(f"note: {unset.describe()}", err=True)
        return config

    def mask(self, text: str) -> str:
        """``text`` with the configuration's secrets and every known pattern masked."""
        return _redact(self.redactor.redact(text))


pass_state = click.make_pass_decorator(AppState)


def _set_config(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value:
        ctx.find_object(AppState).config_option = value  # type: ignore[union-attr]


config_option = click.option(
    "-c",
    "--config",
    "config_path",
    metavar="PATH",
    expose_value=False,
    callback=_set_config,
    help="Configuration file (same as khronos -c PATH).",
)
"""``-c/--config`` accepted after a subcommand too: ``khronos config show -c PATH``."""


def seconds(_ctx: click.Context, _param: click.Parameter, value: str) -> float:
    """Click callback: a duration option (``30s``, ``1m30s``) as seconds, or a usage error."""
    try:
        return parse_duration(value).total_seconds()
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


class KhronosGroup(click.Group):
    """A click group that turns exceptions into clear messages and exit codes."""

    def invoke(self, ctx: click.Context) -> Any:
        debug = bool(ctx.params.get("debug")) or os.environ.get("KHRONOS_DEBUG") == "1"

        def redact(text: str) -> str:
            state = ctx.find_object(AppState)  # set by the root callback, inside invoke()
            return state.mask(text) if state is not None else _redact(text)

        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KhronosError as exc:
            if debug:
                click.echo(redact(traceback.format_exc()), err=True)
            # an error may quote a tool's output (Litestream's stderr): mask any secret in it
            for line in exc.lines():
                click.echo(f"{click.style('error:', fg='red', bold=True)} {redact(line)}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)
        except Exception as exc:  # noqa: BLE001 - the CLI's last line of defence
            if debug:
                click.echo(redact(traceback.format_exc()), err=True)
            first = redact(str(exc).splitlines()[0]) if str(exc) else ""
            hint = "" if debug else " (run with --debug for the traceback)"
            click.echo(
                f"{click.style('error:', fg='red', bold=True)} unexpected "
                f"{type(exc).__name__}: {first}{hint}",
                err=True,
            )
            ctx.exit(1)


CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(cls=KhronosGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "-V", "--version", prog_name="khronos")
@click.option(
    "-c",
    "--config",
    "config_path",
    metavar="PATH",
    help=f"Configuration file. Default: ${ENV_CONFIG}, else ./khronos.yml.",
)
@click.option("--debug", is_flag=True, help="Show tracebacks for unexpected errors.")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, debug: bool) -> None:
    """Khronos keeps a small SQLite-backed service safe and visible.

    It backs up your SQLite databases continuously (Litestream), exposes Prometheus metrics,
    writes structured logs and sends Telegram alerts, all from one khronos.yml.

    \b
    Start here:
      khronos config check        validate ./khronos.yml (or -c PATH)
      khronos config show         print the effective configuration, secrets masked
      khronos demo                try it out on a throw-away example

    Exit codes: 0 success, 1 failure, 2 bad configuration or usage, 3 refused (restore: the
    database is in use, or -o names something that is not a database file).
    """
    ctx.obj = AppState(config_path, debug=debug)
