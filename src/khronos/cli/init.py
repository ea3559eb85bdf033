"""``khronos init [DIR]``: write a commented khronos.yml and deploy/ for a service."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import click

from khronos.cli._app import cli
from khronos.errors import KhronosError
from khronos.scaffold import (
    InitOptions,
    check_rendered,
    default_service,
    existing_files,
    find_databases,
    render_files,
    write_files,
)

__all__ = ["init"]

_DEFAULT_DB = "app.db"


def _check_replica(value: str) -> str:
    scheme = urlsplit(value).scheme
    if not scheme:
        raise click.BadParameter(
            f"{value!r} is not a URL: use s3://bucket/path, b2://..., r2://... or file:///dir"
        )
    if scheme == "file" and not urlsplit(value).path.startswith("/"):
        raise click.BadParameter("a file:// replica needs an absolute path: file:///backups/app")
    return value


def _replica_callback(
    _ctx: click.Context, _param: click.Parameter, value: str | None
) -> str | None:
    return None if value is None else _check_replica(value)


@cli.command("init")
@click.argument(
    "directory",
    required=False,
    default=".",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="[DIR]",
)
@click.option("--service", help="Service name in logs, alerts and metrics. Default: DIR's name.")
@click.option(
    "--db",
    "dbs",
    multiple=True,
    metavar="PATH",
    help="A SQLite database to back up (repeat for several). Default: the *.db, *.sqlite "
    "files in DIR and DIR/data, else app.db.",
)
@click.option(
    "--replica",
    callback=_replica_callback,
    metavar="URL",
    help="Where backups go: s3://bucket/prefix, b2://, r2://, file:///dir; each database "
    "goes to URL/<its name>. Default: file://DIR/backups.",
)
@click.option("--endpoint", metavar="URL", help="S3-compatible endpoint (MinIO, Garage...).")
@click.option("--region", help="S3 region.")
@click.option(
    "--telegram/--no-telegram",
    default=True,
    show_default=True,
    help="Telegram alerts (the token and chat come from ${TELEGRAM_BOT_TOKEN}/${ALERT_CHAT_ID}).",
)
@click.option("--chat-id", metavar="ID", help="Alertmanager's Telegram chat id (a number).")
@click.option("--app", metavar="COMMAND", help='Your app\'s command line, e.g. "node bot.js".')
@click.option(
    "--app-metrics", metavar="HOST:PORT", help="Where your app serves /metrics, for Prometheus."
)
@click.option(
    "--listen", default="127.0.0.1:9321", show_default=True, help="Khronos' HTTP address."
)
@click.option("-i", "--interactive", is_flag=True, help="Ask for each answer (defaults shown).")
@click.option("-f", "--force", is_flag=True, help="Overwrite files that exist.")
def init(  # noqa: PLR0917 - click passes each option as an argument
    directory: Path,
    service: str | None,
    dbs: tuple[str, ...],
    replica: str | None,
    endpoint: str | None,
    region: str | None,
    telegram: bool,
    chat_id: str | None,
    app: str | None,
    app_metrics: str | None,
    listen: str,
    interactive: bool,
    force: bool,
) -> None:
    """Write a commented khronos.yml and deploy/ for a service.

    deploy/ gets a systemd unit for `khronos run` (-- your app), a docker-compose.yml with
    Prometheus, Alertmanager and Grafana (data source and dashboard provisioned), their
    configuration and alert rules, and the list of environment variables to set. No secret is
    written: khronos.yml reads each one from the environment (${NAME}).

    Existing files are never overwritten without --force: when one exists nothing is written
    and the command exits 1.

    \b
    Examples:
      khronos init
      khronos init /srv/my-bot --db state.db --replica s3://my-bucket/my-bot --app "node bot.js"
      khronos init --interactive
    """
    folder = directory.expanduser().resolve()
    if folder.exists() and not folder.is_dir():
        raise click.BadParameter(f"{folder} is not a folder", param_hint="DIR")
    found = find_databases(folder) if folder.is_dir() else []
    options = InitOptions(
        directory=folder,
        service=service or default_service(folder),
        dbs=list(dbs) or found or [_DEFAULT_DB],
        replica=replica or f"file://{folder}/backups",
        endpoint=endpoint,
        region=region,
        telegram=telegram,
        chat_id=_chat(chat_id),
        app=app,
        app_metrics=app_metrics,
        listen=listen,
    )
    if interactive:
        options = _ask(options)
    files = render_files(options)
    check_rendered(folder, files)
    existing = existing_files(folder, files)
    if existing and not force:
        names = ", ".join(str(p.relative_to(folder)) for p in existing)
        raise KhronosError(
            f"{len(existing)} file(s) exist in {folder}: {names}; nothing was written",
            op="init",
            hint="move them away, or run again with --force to overwrite them",
        )
    written = write_files(folder, files)
    for path in written:
        note = " (overwritten)" if path in existing else ""
        click.echo(f"wrote {path}{note}")
    click.echo(_next_steps(options))


def _chat(value: str | None) -> str | None:
    if value is None:
        return None
    text = value.strip()
    if not text.lstrip("-").isdigit() or int(text) == 0:
        raise click.BadParameter(
            "a Telegram chat id is a number (a group's is negative: -100...)",
            param_hint="--chat-id",
        )
    return text


def _ask(options: InitOptions) -> InitOptions:
    service = click.prompt("Service name", default=options.service)
    dbs = click.prompt("SQLite database(s), comma-separated", default=",".join(options.dbs))
    replica = click.prompt(
        "Replica URL (s3://bucket/prefix, b2://, r2://, file:///dir)",
        default=options.replica,
        value_proc=_check_replica,
    )
    endpoint = options.endpoint
    region = options.region
    if urlsplit(replica).scheme in {"s3", "b2", "r2"}:
        endpoint = click.prompt("S3-compatible endpoint (empty for AWS)", default="") or None
        region = click.prompt("Region (empty for the default)", default="") or None
    telegram = click.confirm("Telegram alerts?", default=options.telegram)
    chat = click.prompt(
        "Alertmanager's Telegram chat id, a number (empty: set it later)",
        default=options.chat_id or "",
        value_proc=lambda text: _chat(text) if text.strip() else "",
    )
    app = click.prompt("Your app's command (empty: none)", default=options.app or "") or None
    app_metrics = (
        click.prompt("Where your app serves /metrics, host:port (empty: none)", default="") or None
    )
    return InitOptions(
        directory=options.directory,
        service=service,
        dbs=[d.strip() for d in dbs.split(",") if d.strip()],
        replica=replica,
        endpoint=endpoint,
        region=region,
        telegram=telegram,
        chat_id=chat or None,
        app=app,
        app_metrics=app_metrics or options.app_metrics,
        listen=options.listen,
    )


def _next_steps(options: InitOptions) -> str:
    folder = options.directory
    run = f"khronos -c {folder}/khronos.yml run" + (f" -- {options.app}" if options.app else "")
    return f"""
Next steps:
  1. Fill in the variables of {folder}/deploy/khronos.env.example and export them
     (or install the file as /etc/khronos/env, mode 0600, for systemd).
  2. khronos -c {folder}/khronos.yml config check    # the file is valid
  3. khronos -c {folder}/khronos.yml doctor          # Litestream, WAL, replica, Telegram, disk...
  4. {run}
     or with systemd: deploy/khronos.service (its first lines say how)
  5. Prometheus, Alertmanager, Grafana (optional):
     docker-compose --env-file /etc/khronos/env -f {folder}/deploy/docker-compose.yml up -d"""
