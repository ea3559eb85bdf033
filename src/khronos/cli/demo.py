"""``khronos demo``: the real daemon and its dashboard, watching a simulated chat bot, live.

The workload goes through the Khronos library as a real bot's would: messages from users land
in a queue (``set_queue_size``), two workers answer each with a call to a flaky AI provider
behind a :class:`~khronos.alerts.CircuitBreaker` (``record_ai_latency``, ``record_api_call``),
and write the exchange to a SQLite database in WAL mode (``record_message_processed`` /
``record_message_failed``) that Litestream replicates to a file replica.  Now and then the
provider has an outage: the breaker opens (an alert), the error ratio climbs (the error-rate
check may fire) and everything recovers by itself - all of it visible on the dashboard.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import signal
import socket
import sqlite3
import sys
import time
from collections.abc import Coroutine
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.markup import escape

from khronos import logs
from khronos.catalog import Text
from khronos.cli._app import cli, seconds
from khronos.config import KhronosConfig, load_config

if TYPE_CHECKING:
    from khronos.alerts import CircuitBreaker
    from khronos.daemon import Daemon

__all__ = ["DEMO_CONFIG", "demo"]

DEMO_PORT = 9321
DEMO_CONFIG = """\
# khronos.yml written by `khronos demo`.  Copy it next to your service and change the paths.
service: {{name: demo-bot, shutdown_timeout: 10s}}
environment: demo
state_dir: .khronos          # relative paths are taken from this file's folder
http:
  listen: 127.0.0.1:{port}     # the dashboard and /metrics (0: any free port)
  token: ${{KHRONOS_DEMO_TOKEN:-demo-token-not-secret}}  # needed beyond loopback
metrics:
  namespace: khronos
logging:
  dir: logs
  console: "off"             # the demo prints its own summary; `khronos logs --dir` reads these
backup:
  dbs:
    - path: app.db
      replica:                # in production: url: s3://bucket/path (or b2://, gs://, ...)
        type: file
        path: replica         # a folder beside this file
        sync-interval: 1s
  verify: {{interval: 1h}}     # restore drills (the demo runs one itself at the start)
  lag_alert_after: 60s
checks:
  error_rate: {{threshold: 0.25, window: 1m, min_events: 20, every: 5s}}
  queue_backlog: {{max: 60, every: 5s}}
alerts:
  cooldown: 1m
{telegram}"""

_TELEGRAM = """\
  telegram: {bot_token: "${TELEGRAM_BOT_TOKEN}", chat_id: "${ALERT_CHAT_ID}"}
"""
_NO_TELEGRAM = """\
  # telegram: {bot_token: "${TELEGRAM_BOT_TOKEN}", chat_id: "${ALERT_CHAT_ID}"}
  # (set both variables and run the demo again to get its alerts on Telegram)
"""

_USERS = ("ana", "ben", "chloé", "dmitri", "eve", "farid", "grace", "hiro", "ines", "jon")
_TEXTS = ("hi", "what's the weather?", "translate this", "tell me a joke", "summarize", "help")
_SUMMARY_EVERY_S = 10.0
_OUTAGE_FIRST_S = 30.0
_OUTAGE_EVERY_S = 120.0
_OUTAGE_S = 12.0
_BURST_EVERY_S = 45.0


@cli.command("demo")
@click.option(
    "--dir",
    "directory",
    default=".khronos-demo",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the demo's files (created if missing).",
)
@click.option(
    "--duration",
    default=None,
    callback=lambda ctx, param, value: None if value is None else seconds(ctx, param, value),
    help="Stop after this long (20s, 5m). Default: run until Ctrl-C.",
)
@click.option(
    "--port",
    default=DEMO_PORT,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Dashboard port on 127.0.0.1 (0: any free port; a busy one falls back to 0).",
)
def demo(directory: Path, duration: float | None, port: int) -> None:
    """Run Khronos live on a simulated chat bot, with the dashboard: open the URL it prints.

    Writes DIR/khronos.yml and DIR/app.db (SQLite in WAL mode), starts the real daemon (what
    `khronos run` runs: Litestream replicating to DIR/replica, checks, alerts, /metrics and the
    dashboard) and simulates a bot: users' messages through a queue, AI calls to a flaky
    provider behind a circuit breaker, occasional failures and an occasional alert. Runs until
    Ctrl-C (or --duration), then stops cleanly with Litestream's final sync. With
    TELEGRAM_BOT_TOKEN and ALERT_CHAT_ID set, the alerts also go to Telegram.
    """
    console = Console(highlight=False, soft_wrap=True)
    directory.mkdir(parents=True, exist_ok=True)
    config_file = directory / "khronos.yml"
    telegram = bool(os.environ.get("TELEGRAM_BOT_TOKEN") and os.environ.get("ALERT_CHAT_ID"))
    text = DEMO_CONFIG.format(port=_free(port), telegram=_TELEGRAM if telegram else _NO_TELEGRAM)
    config_file.write_text(text, encoding="utf-8")
    _seed_database(directory / "app.db")
    config = load_config(config_file)
    logs.configure_from_config(config, handle_sigterm=False, exception_hooks=False)
    try:
        asyncio.run(_run(config, directory, duration, console))
    finally:
        logs.shutdown()


def _free(port: int) -> int:
    """``port`` when it is free on 127.0.0.1, else 0 (any free port)."""
    if port == 0:
        return 0
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return 0
    return port


def _command_name() -> str:
    """How the user can call this program again: ``khronos`` when that is on PATH, else the
    path it was started from (``.venv/bin/khronos`` after `make demo`)."""
    started = Path(sys.argv[0])
    if started.name != "khronos" or not started.exists():
        return "khronos"  # python -m khronos, or an unusual launcher
    found = shutil.which("khronos")
    if found is not None and Path(found).resolve() == started.resolve():
        return "khronos"
    relative = os.path.relpath(started)
    return str(started.absolute()) if relative.startswith("..") else relative


@dataclass
class _Counts:
    processed: int = 0
    failed: int = 0
    started: float = field(default_factory=time.monotonic)


async def _run(
    config: KhronosConfig, directory: Path, duration: float | None, console: Console
) -> None:
    from khronos.alerts import (  # noqa: PLC0415 - keep `khronos --help` fast
        CircuitBreaker,
        breaker_alert_listener,
        breaker_metrics_listener,
    )
    from khronos.backup import format_txid, verify_all  # noqa: PLC0415
    from khronos.daemon import Daemon  # noqa: PLC0415

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    me = escape(_command_name())
    cfg = escape(str(directory / "khronos.yml"))
    async with Daemon(config) as daemon:
        assert daemon.backup is not None  # noqa: S101 - the embedded config has one
        console.print(f"[bold]Khronos demo: open the dashboard at {daemon.url}/[/bold]")
        console.print(
            f"  demo-bot is simulated; its database {escape(str(directory / 'app.db'))} is "
            f"replicated by Litestream to {escape(str(directory / 'replica'))}.\n"
            "  Try, in another terminal:\n"
            f"    backup status   {me} -c {cfg} status\n"
            f"    restore drill   {me} -c {cfg} verify\n"
            f"    live logs       {me} logs -f --dir {escape(str(directory / 'logs'))}\n"
            f"    restore plan    {me} -c {cfg} restore app --dry-run\n"
            + ("  Press Ctrl-C to stop." if duration is None else f"  Runs {duration:g}s.")
        )
        alert_id = daemon.engine.send_alert(Text("demo.started"), "INFO", {"dashboard": daemon.url})
        breaker = CircuitBreaker("ai-provider", failure_threshold=4, reset_timeout=8)
        breaker.add_listener(breaker_metrics_listener(daemon.metrics))
        breaker.add_listener(breaker_alert_listener(daemon.engine))
        counts = _Counts()
        bot = _Bot(daemon, breaker, directory / "app.db", counts)
        tasks: list[asyncio.Task[None]] = [asyncio.create_task(t) for t in bot.coroutines()]
        tasks.append(asyncio.create_task(_summaries(daemon, breaker, counts, console)))
        try:
            status = await daemon.engine.wait_delivered(alert_id or "", timeout=10)
            channels = ", ".join(n.name for n in daemon.engine.notifiers)
            console.print(f"  demo alert {status.state} through: {channels}")
            (report,) = await asyncio.to_thread(verify_all, config)
            verdict = "[green]passed[/green]" if report.ok else f"[red]FAILED[/red]: {report.error}"
            console.print(
                f"  restore drill {verdict}: txid {report.txid} restored into a temp dir and "
                f"checked in {report.duration_seconds:.2f}s"
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=duration)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            bot.close()
        console.print(
            f"  stopping: demo-bot answered {counts.processed} messages, {counts.failed} failed"
        )
        started = time.monotonic()
        (synced,) = await daemon.backup.sync_now()
        console.print(
            f"  backup now: replica at txid {format_txid(synced.replicated_txid)} "
            f"(local {format_txid(synced.txid)}) in {time.monotonic() - started:.2f}s — "
            "[green]nothing is waiting to be backed up[/green]"
        )
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.remove_signal_handler(signum)
    console.print(
        "Daemon stopped (Litestream made its final sync). The files stay in "
        f"{escape(str(directory))}; run it again any time, or the daemon alone:\n"
        f"  {me} -c {cfg} run"
    )


class _Bot:
    """The simulated bot: a producer of user messages, two workers, a flaky AI provider."""

    def __init__(self, daemon: Daemon, breaker: CircuitBreaker, db: Path, counts: _Counts) -> None:
        self.metrics = daemon.metrics
        self.breaker = breaker
        self.counts = counts
        self.queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self.conn = sqlite3.connect(db, timeout=10)
        self.random = random.Random()  # noqa: S311 - a simulation, not cryptography
        self.began = time.monotonic()

    def coroutines(self) -> list[Coroutine[Any, Any, None]]:
        """The bot's tasks."""
        return [self._produce(), self._work("w1"), self._work("w2")]

    def close(self) -> None:
        """Close the database connection."""
        self.conn.close()

    def _outage(self) -> bool:
        """The provider is down for ``_OUTAGE_S`` at ``_OUTAGE_FIRST_S``, then periodically."""
        age = time.monotonic() - self.began - _OUTAGE_FIRST_S
        return age >= 0 and age % _OUTAGE_EVERY_S < _OUTAGE_S

    async def _produce(self) -> None:
        last_burst = time.monotonic()
        while True:
            burst = time.monotonic() - last_burst > _BURST_EVERY_S
            for _ in range(40 if burst else 1):
                user = self.random.choice(_USERS)
                self.queue.put_nowait((user, self.random.choice(_TEXTS)))
            if burst:
                last_burst = time.monotonic()
            self.metrics.set_queue_size(self.queue.qsize())
            self.metrics.set_active_users(len(_USERS))
            await asyncio.sleep(self.random.uniform(0.05, 0.25))

    async def _work(self, name: str) -> None:
        while True:
            user, text = await self.queue.get()
            self.metrics.set_queue_size(self.queue.qsize())
            try:
                reply = await self._ask_ai(text)
            except Exception as exc:  # noqa: BLE001 - a failed answer is counted, not fatal
                reason = "ai_unavailable" if self.breaker.state == "open" else type(exc).__name__
                self.metrics.record_message_failed("telegram", reason)
                self.counts.failed += 1
                self._store(user, text, None, name)
                continue
            self.metrics.record_message_processed("telegram", "ok")
            self.counts.processed += 1
            self._store(user, text, reply, name)

    async def _ask_ai(self, text: str) -> str:
        if not self.breaker.allow():
            raise ConnectionError("the AI provider's circuit breaker is open")
        with self.metrics.record_ai_latency("demo-ai"):
            await asyncio.sleep(self.random.lognormvariate(-2.3, 0.6))
            failed = self._outage() or self.random.random() < 0.04
        if failed:
            self.breaker.record_failure("timeout")
            self.metrics.record_api_call("demo-ai", 504)
            raise TimeoutError("the AI provider timed out")
        self.breaker.record_success()
        self.metrics.record_api_call("demo-ai", 200)
        return f"an answer to {text!r}"

    def _store(self, user: str, text: str, reply: str | None, worker: str) -> None:
        with self.conn:
            self.conn.execute(
                "INSERT INTO messages (chat, body, user, reply, worker) VALUES (?, ?, ?, ?, ?)",
                (user, text, user, reply, worker),
            )


async def _summaries(
    daemon: Daemon, breaker: CircuitBreaker, counts: _Counts, console: Console
) -> None:
    """A line every ``_SUMMARY_EVERY_S``: traffic, the breaker, the backup, the state."""
    while True:
        await asyncio.sleep(_SUMMARY_EVERY_S)
        status = daemon.status.snapshot()
        db = status["databases"][0] if status["databases"] else {}
        lag = db.get("lag_seconds")
        state = status["overall"]["state"]
        colour = {"OK": "green", "WARN": "yellow"}.get(state, "red")
        console.print(
            f"  [{time.monotonic() - counts.started:4.0f}s] {counts.processed} answered, "
            f"{counts.failed} failed · AI breaker {breaker.state} · replica txid "
            f"{db.get('replica_txid') or '—'}, lag {'—' if lag is None else f'{lag:.1f}s'} · "
            f"[{colour}]{state}[/{colour}]",
            style="dim" if state == "OK" else None,
        )


def _seed_database(path: Path) -> None:
    """The bot's tables (once) and ten messages, in WAL mode."""
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY, chat TEXT NOT NULL, "
            "body TEXT NOT NULL, user TEXT, reply TEXT, worker TEXT, "
            "at TEXT NOT NULL DEFAULT (datetime('now')))"
        )
        columns = {row[1] for row in conn.execute("PRAGMA table_info(messages)")}
        for column in ("user", "reply", "worker"):  # a database from an older demo
            if column not in columns:
                conn.execute(f"ALTER TABLE messages ADD COLUMN {column} TEXT")
        (count,) = conn.execute("SELECT count(*) FROM messages").fetchone()
        if count == 0:
            conn.executemany(
                "INSERT INTO messages (chat, body, user) VALUES (?, ?, ?)",
                [("demo", f"hello #{i}", "ana") for i in range(10)],
            )
