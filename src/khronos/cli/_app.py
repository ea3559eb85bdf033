"""The root ``khronos`` command group and the error handling every command shares.

Errors Khronos raises on purpose (:class:`~khronos.errors.KhronosError`) print as a few plain
lines and exit with their own code (2 for configuration errors).  Anything unexpected prints one
line and exits 1; ``--debug`` (or ``KHRONOS_DEBUG=1``) adds the traceback.

Commands are loaded lazily: the root group knows each command's module and one-line summary
(:meth:`KhronosGroup.add_lazy`) and imports the module only when the command runs, so
``khronos --version`` and ``khronos --help`` import click and little else, and each command
imports only what it uses.  This module itself imports no configuration, logging or server
code at import time for the same reason.
"""

from __future__ import annotations

import importlib
import os
import traceback
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from khronos._version import __version__
from khronos.errors import KhronosError

if TYPE_CHECKING:
    from khronos.config import KhronosConfig
    from khronos.redact import Redactor

__all__ = ["AppState", "KhronosGroup", "cli", "config_option", "pass_state", "seconds"]

ENV_CONFIG = "KHRONOS_CONFIG"
"""``khronos.config.ENV_CONFIG``, spelled here so ``--help`` need not import the config model
(a test keeps the two equal)."""


def _redact(text: str) -> str:
    """Every known secret pattern masked (the logging package's redactor, imported on use)."""
    from khronos.redact import redact  # noqa: PLC0415 - only when an error is printed

    return redact(text)


class AppState:
    """What the root options set, handed to every command."""

    def __init__(self, config_path: str | None, *, debug: bool) -> None:
        self.config_option = config_path
        self.debug = debug
        self._redactor: Redactor | None = None

    @property
    def redactor(self) -> Redactor:
        """The loaded configuration's secrets: errors are printed through it (and the global
        redactor), even after a command's logging setup has forgotten them."""
        if self._redactor is None:
            from khronos.redact import Redactor  # noqa: PLC0415 - keep `khronos --help` fast

            self._redactor = Redactor()
        return self._redactor

    def config_path(self, explicit: str | Path | None = None) -> Path:
        """A command's PATH, else --config, else $KHRONOS_CONFIG, else ./khronos.yml."""
        from khronos.config import resolve_config_path  # noqa: PLC0415 - see the docstring

        return resolve_config_path(explicit or self.config_option)

    def load(
        self, explicit: str | Path | None = None, *, needs: Collection[str] | None = None
    ) -> KhronosConfig:
        """Load and validate the configuration (raises ConfigError).

        ``needs``: a reading command's top-level sections; ``${VAR}`` left unset elsewhere (and
        in secrets it may not read) are tolerated, with a note on stderr for each.
        """
        from khronos.config import load_config  # noqa: PLC0415 - see the module docstring
        from khronos.redact import collect_secrets  # noqa: PLC0415

        config = load_config(self.config_path(explicit), needs=needs)
        for secret in collect_secrets(config):
            self.redactor.add_secret(secret)
        for unset in config.unset_variables:
            click.echo(f"note: {unset.describe()}", err=True)
        return config

    def mask(self, text: str) -> str:
        """``text`` with the configuration's secrets and every known pattern masked."""
        if self._redactor is None:  # no configuration loaded: no secret of its own to mask
            return _redact(text)
        return _redact(self._redactor.redact(text))


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
    from khronos.config import parse_duration  # noqa: PLC0415 - see the module docstring

    try:
        return parse_duration(value).total_seconds()
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


class KhronosGroup(click.Group):
    """A click group that turns exceptions into clear messages and exit codes, and loads its
    commands lazily (:meth:`add_lazy`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy: dict[str, tuple[str, str]] = {}
        """Command name -> (module that registers it, its one-line summary for ``--help``)."""

    def add_lazy(self, name: str, module: str, summary: str) -> None:
        """Register command ``name``, defined (with ``@cli.command``) by ``module`` when it is
        imported; ``summary`` is its help's first line, shown by ``khronos --help``."""
        self.lazy[name] = (module, summary)

    def list_commands(self, ctx: click.Context) -> list[str]:  # noqa: ARG002 - click's signature
        return sorted({*self.commands, *self.lazy})

    def get_command(
        self,
        ctx: click.Context,  # noqa: ARG002 - click's signature
        cmd_name: str,
    ) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            importlib.import_module(self.lazy[cmd_name][0])  # registers itself on `cli`
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list, from the summaries: ``--help`` imports no command module."""
        rows: list[tuple[str, click.Command]] = []
        for name in self.list_commands(ctx):
            command = self.commands.get(name)
            if command is None:
                command = click.Command(name, help=self.lazy[name][1])
            if not command.hidden:
                rows.append((name, command))
        if rows:
            limit = formatter.width - 6 - max(len(name) for name, _ in rows)
            with formatter.section("Commands"):
                formatter.write_dl([(name, cmd.get_short_help_str(limit)) for name, cmd in rows])

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
      khronos init                write a commented khronos.yml and deploy/ files
      khronos doctor              check that what khronos.yml names works on this machine
      khronos config check        validate ./khronos.yml (or -c PATH)
      khronos config show         print the effective configuration, secrets masked
      khronos demo                a live demo with the dashboard (Ctrl-C stops)

    Exit codes: 0 success, 1 failure, 2 bad configuration or usage, 3 refused (restore: the
    database is in use, or -o names something that is not a database file).
    """
    ctx.obj = AppState(config_path, debug=debug)
