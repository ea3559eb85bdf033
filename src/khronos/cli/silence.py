"""``khronos silence``: add, list and remove runtime silences.

One store, two doors.  With a running daemon (``state_dir/daemon.json`` names a live pid) and
``http.token`` set, the commands go through its HTTP API (``/api/silences``), so the daemon
writes the file itself (as its own user) and logs the change.  Otherwise they edit
``state_dir/silences.json`` directly through :class:`~khronos.alerts.SilenceStore`: a
read-modify-write under ``state_dir/silences.lock`` and an atomic rename, the same lock the
daemon's store takes for its own changes; a daemon that runs without a token picks the change
up on its next alert or maintenance round (it reloads the file when it changed).  Both doors are
safe together; nothing is lost when the daemon is down.
"""

from __future__ import annotations

import json
from typing import Any

import click

from khronos.alerts import Level, SilenceStore
from khronos.cli._app import AppState, cli, config_option, pass_state, seconds
from khronos.cli.status import command_logging
from khronos.config import KhronosConfig
from khronos.errors import KhronosError

__all__ = ["silence_group"]

_TIMEOUT_S = 10.0


@cli.group("silence")
def silence_group() -> None:
    """Silence alerts for a while (maintenance), list and remove silences."""


def _daemon_api(config: KhronosConfig) -> tuple[str, str] | None:
    """(base URL, token) of a running daemon that serves the API, else None."""
    import psutil  # noqa: PLC0415 - only when a command runs

    from khronos.daemon import read_daemon_file  # noqa: PLC0415 - heavy

    document = read_daemon_file(config.state_dir)
    token = config.http.token
    if not document or token is None or not document.get("url"):
        return None
    pid = document.get("pid")
    if not isinstance(pid, int) or not psutil.pid_exists(pid):
        return None
    return str(document["url"]).rstrip("/"), token.get_secret_value()


def _call(api: tuple[str, str], method: str, path: str, body: Any = None) -> Any:
    import httpx  # noqa: PLC0415 - only when a daemon answers

    url, token = api
    try:
        response = httpx.request(
            method,
            f"{url}{path}",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=_TIMEOUT_S,
        )
    except httpx.HTTPError as exc:
        raise KhronosError(
            f"the running daemon did not answer at {url}: {exc}",
            op="silence",
            hint="check `khronos status`; stop the daemon to edit silences offline",
        ) from None
    if response.status_code >= 400:
        try:
            reason = response.json().get("error", response.text)
        except ValueError:
            reason = response.text
        raise KhronosError(f"the daemon refused: {reason}", op="silence")
    return response.json() if response.content else None


def _store(config: KhronosConfig) -> SilenceStore:
    alerts = config.alerts
    return SilenceStore.in_state_dir(
        config.state_dir,
        alerts.silences if alerts else (),
        timezone=alerts.timezone if alerts else None,
    )


@silence_group.command("add")
@config_option
@click.option("--match", "match", required=True, help="Key glob or text to silence.")
@click.option("--for", "duration", required=True, callback=seconds, help="How long (2h, 1d).")
@click.option(
    "--level",
    type=click.Choice([level.name for level in Level], case_sensitive=False),
    default=None,
    help="Only alerts of this level (default any).",
)
@click.option("--reason", default="", help="Why (shown in lists and the log).")
@pass_state
def add(state: AppState, match: str, duration: float, level: str | None, reason: str) -> None:
    """Silence alerts whose key matches MATCH (a glob) or whose text contains it.

    \b
    Examples:
      khronos silence add --match backup --for 2h --reason "moving the VPS"
      khronos silence add --match 'check.http-*' --for 30m --level WARN
    """
    config = state.load()
    by = "cli"
    api = _daemon_api(config)
    if api is not None:
        body = {"match": match, "duration": f"{round(duration)}s", "reason": reason, "by": by}
        if level:
            body["level"] = level.upper()
        silence_id = str(_call(api, "POST", "/api/silences", body)["id"])
    else:
        try:
            with command_logging(config):
                silence_id = _store(config).add(match, duration, reason, by, level=level)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
    click.echo(f"✓ silence {silence_id} added")


@silence_group.command("list")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def list_(state: AppState, as_json: bool) -> None:
    """List silences (config and runtime) that are active or still to come."""
    config = state.load()
    api = _daemon_api(config)
    with command_logging(config):
        items = _call(api, "GET", "/api/silences")["silences"] if api else _store(config).list()
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    if not items:
        click.echo("no silences")
        return
    for item in items:
        state_word = "active" if item["active"] else "upcoming"
        level = item["level"] or "any level"
        line = f"{item['id']}  {state_word:8}  {item['match']}  ({level})"
        line += f"  {item['starts_at']} → {item['ends_at']}  [{item['source']}, {item['by']}]"
        if item["reason"]:
            line += f"  {item['reason']}"
        click.echo(line)


@silence_group.command("remove")
@config_option
@click.argument("silence_id")
@pass_state
def remove(state: AppState, silence_id: str) -> None:
    """End the runtime silence SILENCE_ID now (config silences live in khronos.yml)."""
    config = state.load()
    api = _daemon_api(config)
    with command_logging(config):
        removed = _store(config).remove(silence_id) if api is None else None
    if api is not None:
        _call(api, "DELETE", f"/api/silences/{silence_id}")
    elif not removed:
        raise KhronosError(
            f"no runtime silence {silence_id}",
            op="silence remove",
            hint="`khronos silence list` shows the ids; config silences are removed from "
            "khronos.yml",
        )
    click.echo(f"✓ silence {silence_id} removed")
