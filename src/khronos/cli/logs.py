"""``khronos logs``: query the JSON log files."""

from __future__ import annotations

import signal
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from khronos.cli._app import AppState, cli, config_option, pass_state
from khronos.config import ConfigValueError, parse_duration
from khronos.errors import KhronosError
from khronos.logs import (
    CORRELATION_ID,
    EXCEPTION,
    LEVEL,
    LEVEL_ORDER,
    MESSAGE,
    TIMESTAMP,
    USER_ID,
    LogQuery,
    LogReader,
)

__all__ = ["logs_command"]

_COLOURS = {
    "debug": "dim",
    "info": "green",
    "warning": "yellow",
    "error": "red",
    "critical": "bold red",
}
_HIDDEN = {
    TIMESTAMP,
    LEVEL,
    MESSAGE,
    CORRELATION_ID,
    USER_ID,
    EXCEPTION,
    "service",
    "environment",
    "pid",
    "version",
}


def _since(_ctx: click.Context, _param: click.Parameter, value: str | None) -> timedelta | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ConfigValueError as exc:
        raise click.BadParameter(f"{exc.problem} ({exc.hint})") from None


@cli.command("logs")
@click.option(
    "--dir",
    "log_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Log folder. Default: logging.dir of the config, else ./logs.",
)
@click.option(
    "--level",
    type=click.Choice(list(LEVEL_ORDER), case_sensitive=False),
    help="Only this level and above.",
)
@click.option("--user", metavar="ID", help="Only records of this userId.")
@click.option("--correlation", metavar="ID", help="Only records of this correlationId.")
@click.option(
    "--since", metavar="DURATION", callback=_since, help="Only the last DURATION (10m, 2h, 1d)."
)
@click.option("--grep", metavar="TEXT", help="Only lines containing TEXT (case-insensitive).")
@click.option(
    "-f", "--follow", "following", is_flag=True, help="Keep printing new records (Ctrl-C stops)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the raw JSON lines.")
@click.option(
    "--file",
    "file_name",
    default="combined",
    show_default=True,
    type=click.Choice(["combined", "errors", "critical", "exceptions"]),
    help="Which log file to read.",
)
@click.option(
    "--follow-timeout",
    type=float,
    hidden=True,
    help="Stop following after this many seconds (tests).",
)
@config_option
@pass_state
def logs_command(  # noqa: PLR0917 - click passes each option as an argument
    state: AppState,
    log_dir: Path | None,
    level: str | None,
    user: str | None,
    correlation: str | None,
    since: timedelta | None,
    grep: str | None,
    following: bool,
    as_json: bool,
    file_name: str,
    follow_timeout: float | None,
) -> None:
    """Show the JSON logs as readable lines, filtered; rotated files first, oldest first.

    Malformed lines are skipped and counted at the end (on stderr).

    \b
    Examples:
      khronos logs --level error --since 1h
      khronos logs --correlation 3f2a... --json | jq .
      khronos logs -f --user 42
    """
    directory = log_dir or _default_dir(state)
    if not directory.is_dir():
        raise KhronosError(
            f"no log folder at {directory}",
            op="logs",
            hint="pass --dir, or check logging.dir in khronos.yml",
        )
    query = LogQuery(level=level, user=user, correlation=correlation, since=since, grep=grep)
    console = Console(highlight=False, soft_wrap=True)
    reader = LogReader(directory, f"{file_name}.log", query)

    def show(line: str, record: dict[str, Any]) -> None:
        if as_json:
            click.echo(line)
        else:
            console.print(_pretty(record))

    try:
        for line, record in reader.history(leave_partial=following):
            show(line, record)
        if following:
            _stop_on_ctrl_c()
            deadline = None if follow_timeout is None else time.monotonic() + follow_timeout
            stop = (lambda: False) if deadline is None else (lambda: time.monotonic() >= deadline)
            # Goes on in the very file (and at the offset) the history ended in, even if it
            # has been rotated since: nothing written in between is skipped.
            for line, record in reader.follow(stop=stop, poll_interval=0.1):
                show(line, record)
                sys.stdout.flush()
    except KeyboardInterrupt:
        pass
    finally:
        reader.close()
        if reader.malformed:
            click.echo(f"skipped {reader.malformed} malformed line(s)", err=True)


def _stop_on_ctrl_c() -> None:
    """Ctrl-C (SIGINT) ends ``-f`` even when the shell started us with SIGINT ignored (a
    command run with ``&`` from a script), where Python would not raise KeyboardInterrupt."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _default_dir(state: AppState) -> Path:
    path = state.config_path()
    if not path.exists():
        return Path("logs")
    config = state.load(needs=("logging",))  # no secret is needed to read the log files
    if config.logging.dir is None:
        raise KhronosError(
            "logging.dir is null: this configuration writes no log files",
            op="logs",
            hint="pass --dir DIR",
        )
    return config.logging.dir


def _pretty(record: dict[str, Any]) -> str:
    level = str(record.get(LEVEL, "?")).lower()
    colour = _COLOURS.get(level, "white")
    stamp = str(record.get(TIMESTAMP, ""))
    stamp = stamp.replace("T", " ").rstrip("Z")
    parts = [
        f"[dim]{escape(stamp)}[/dim]",
        f"[{colour}]{level.upper():<8}[/{colour}]",
        escape(str(record.get(MESSAGE, ""))),
    ]
    extras = [
        f"[cyan]{escape(str(k))}[/cyan]={escape(_short(v))}"
        for k, v in record.items()
        if k not in _HIDDEN
    ]
    parts.extend(extras)
    user = record.get(USER_ID)
    if user not in (None, "SYSTEM"):
        parts.append(f"[magenta]user={escape(str(user))}[/magenta]")
    cid = record.get(CORRELATION_ID)
    if cid:
        parts.append(f"[dim]cid={escape(str(cid))}[/dim]")
    text = " ".join(parts)
    if record.get(EXCEPTION):
        text += "\n" + escape(str(record[EXCEPTION]))
    return text


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 200 else text[:199] + "…"
