"""``khronos run``: the daemon, next to your service."""

from __future__ import annotations

import asyncio
import signal

import click

from khronos import logs
from khronos.cli._app import AppState, cli, config_option, pass_state
from khronos.errors import KhronosError

__all__ = ["run"]


@cli.command("run")
@config_option
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@pass_state
def run(state: AppState, command: tuple[str, ...]) -> None:
    """Run Khronos next to your service until stopped (Ctrl-C or SIGTERM).

    With `-- COMMAND ARGS...` (or app.command) it also starts your app and supervises it:
    restarted when it exits (app.restart), its stdout/stderr in the logs with component=app,
    an alert when it crashes, stopped first on shutdown (app.stop_signal to its process group,
    app.stop_timeout, then SIGKILL).  SIGHUP restarts the app (deploys) without an alert.

    Everything khronos.yml turns on runs in this one process: continuous backup of the SQLite
    databases in backup: (Litestream, supervised and restarted), restore drills on
    backup.verify.interval, the health checks in checks:, alerts (Telegram and the log, through
    a durable outbox), and an HTTP server on http.listen with /metrics, /healthz and
    POST /api/alerts/test (when http.token is set).  Logs go where logging: says.

    On SIGTERM or Ctrl-C it stops gracefully: Litestream makes a final sync and pending alerts
    get service.shutdown_timeout to go out (the rest are delivered at the next start).

    \b
    Examples:
      khronos run                      uses ./khronos.yml (or $KHRONOS_CONFIG)
      khronos -c /etc/khronos.yml run
      khronos run -- node bot.js       supervises node bot.js (overrides app.command)
    Under systemd, see deploy/khronos.service.
    """
    from khronos.config import AppConfig  # noqa: PLC0415
    from khronos.daemon import Daemon, run_daemon  # noqa: PLC0415 - keep `khronos --help` fast

    config = state.load()
    if command:
        app = config.app if config.app is not None else AppConfig()
        config = config.model_copy(
            update={"app": app.model_copy(update={"command": list(command)})}
        )
    # beside a service in another process: nothing here records the app's own metrics
    daemon = Daemon(config, app_metrics=False)
    daemon.claim()  # one daemon per state_dir: say so before anything else
    logs.configure_from_config(config, handle_sigterm=False)
    log = logs.get_logger("khronos.daemon")
    try:
        asyncio.run(run_daemon(config, daemon=daemon))
    except KhronosError as exc:
        # a start failure (state_dir in use, busy port, no Litestream) goes to the log files
        # too, where the operator looks after the fact; the CLI prints it as well
        log.critical("khronos run failed", error=str(exc), hint=exc.hint)
        raise
    except Exception:
        log.critical("khronos run crashed", exc_info=True)
        raise
    finally:
        # from here on a late SIGTERM/Ctrl-C must not cut the last log lines short
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, signal.SIG_IGN)
        logs.shutdown()
        daemon.release()  # last: a new `khronos run` may take state_dir and the log folder
