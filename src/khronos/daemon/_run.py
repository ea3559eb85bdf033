"""Running the daemon in the foreground (signals) and reading what a running one wrote."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

import structlog

from khronos import logs
from khronos.config import KhronosConfig
from khronos.daemon._daemon import Daemon
from khronos.state import StateDir

__all__ = ["read_daemon_file", "run_daemon"]

_log = structlog.get_logger("khronos.daemon")


def read_daemon_file(state_dir: str | Path) -> dict[str, Any] | None:
    """What the running daemon wrote to ``state_dir/daemon.json``, or None."""
    try:
        data = json.loads(StateDir(state_dir).daemon_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


async def run_daemon(
    config: KhronosConfig, *, daemon: Daemon | None = None, ready: asyncio.Event | None = None
) -> int:
    """Run ``daemon`` (default: a new one for ``config``) until SIGTERM or SIGINT, then stop
    gracefully; the exit code (0).  SIGHUP restarts the supervised app."""
    loop = asyncio.get_running_loop()
    logs.install_asyncio_handler(loop)
    stopping = asyncio.Event()
    signals: list[int] = []

    def on_signal(signum: int) -> None:
        if stopping.is_set():
            _log.warning("already stopping: waiting for the final sync and pending alerts")
            return
        signals.append(signum)
        stopping.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    daemon = daemon if daemon is not None else Daemon(config)
    if daemon.app is not None:  # SIGHUP restarts the app (a deploy), without an alert
        loop.add_signal_handler(signal.SIGHUP, daemon.app.restart, "SIGHUP")
    try:
        await daemon.start()
        if ready is not None:
            ready.set()
        await stopping.wait()
        name = signal.Signals(signals[0]).name if signals else "request"
        _log.info("stopping", signal=name)
        await daemon.stop()
    finally:
        await daemon.stop()
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(signum)
    return 0
