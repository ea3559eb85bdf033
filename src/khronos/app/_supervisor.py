"""Running the app: start it, watch it, restart it, stop it with its whole process group.

- **Start**: its own session (``start_new_session``: a process group of its own, so a signal
  reaches the app *and* what it spawned), stdin closed, stdout and stderr piped into the logs
  (:mod:`khronos.app._lines`), and on Linux SIGTERM when Khronos dies
  (:func:`khronos.children.die_with_parent`).
- **Restart policy**: ``app.restart``, the same :class:`~khronos.children.RestartBudget` as
  Litestream's.  Each exit Khronos did not ask for fires the ERROR condition ``app.down`` (the
  exit code or signal, the last stderr lines); giving up escalates it to CRITICAL; a run that
  lasts ``min_uptime`` resolves it.
- **Stop** (and a planned restart, e.g. SIGHUP for a deploy): ``stop_signal`` to the process
  group, ``stop_timeout``, then SIGKILL to the group.  After any exit, whatever is left of the
  group gets the same treatment: no orphans.
- **Metrics** are read at scrape time (:class:`khronos.app.AppCollector`); ``last_exit_code``
  is the exit code, or minus the signal number when a signal ended the app (-9: SIGKILL).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
import time
from collections import deque
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, BinaryIO

import psutil
import structlog

from khronos.alerts import AlertEngine, Level
from khronos.app._env import app_env
from khronos.app._lines import forward_line, pump
from khronos.app._scrape import AppScraper
from khronos.catalog import Text
from khronos.children import RestartBudget, die_with_parent
from khronos.clock import Clock, SystemClock
from khronos.config import AppConfig, KhronosConfig
from khronos.errors import ConfigError
from khronos.health import get_health, spawn
from khronos.lifecycle import Lifecycle
from khronos.redact import get_redactor

__all__ = ["APP_ALERT", "AppSupervisor"]

APP_ALERT = "app.down"
"""The alert condition of an app that exited (ERROR) or that Khronos gave up on (CRITICAL)."""
PART = "app.supervisor"
_TAIL = 10
_TAIL_CHARS = 400
_READERS_GRACE = 2.0


def _exit_words(rc: int) -> tuple[str, dict[str, Any]]:
    """``exited with code 3`` / ``was killed by SIGKILL``, and the details' fields."""
    if rc < 0:
        try:
            name = signal.Signals(-rc).name
        except ValueError:
            name = f"signal {-rc}"
        return Text("app.killed", signal=name), {"signal": name, "exit_code": rc}
    return Text("app.exited", code=rc), {"exit_code": rc}


def _iso(wall: float | None) -> str | None:
    return None if wall is None else datetime.fromtimestamp(wall, UTC).isoformat()


class AppSupervisor(Lifecycle):
    """Keeps the app (``app.command``) running under ``app.restart``; see the module doc."""

    def __init__(
        self,
        config: AppConfig,
        *,
        env: Mapping[str, str],
        alerts: AlertEngine | None = None,
        clock: Clock | None = None,
    ) -> None:
        if not config.command:
            raise ValueError("app.command is empty")
        self.config = config
        self.argv = list(config.command)
        self.env = dict(env)
        self.alerts = alerts
        self.clock: Clock = clock or SystemClock()
        self.metrics_url = config.metrics_url
        policy = config.restart
        self.budget = RestartBudget(
            max_restarts=policy.max_restarts,
            min_uptime=policy.min_uptime.total_seconds(),
            delay=policy.delay.total_seconds(),
        )
        self.restarts = 0
        self.gave_up = False
        self.started_at: float | None = None
        """Wall time the running app started (None while it is down)."""
        self.last_exit: dict[str, Any] | None = None
        self.last_exit_code: int | None = None
        self.scrape_status: dict[str, Any] | None = None
        """``{ok, at, error}`` of the last scrape of ``app.metrics_url``."""
        self.scraper: AppScraper | None = None
        """The scraper of ``app.metrics_url`` (a :class:`~khronos.checks.MetricSource`)."""
        if config.metrics_url is not None:
            self.scraper = AppScraper(
                config.metrics_url,
                interval=config.scrape_interval.total_seconds(),
                clock=clock,
                on_result=self._scraped,
                app_up=lambda: self.up,
                settling=self._settling,
            )
        self._restart_task: asyncio.Task[None] | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._tail: deque[str] = deque(maxlen=_TAIL)
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._planned = False
        self._task: asyncio.Task[None] | None = None
        self._log = structlog.get_logger("khronos.app")
        # lazy (no bind() here): the daemon is built before ``khronos run`` configures logging
        self._app_log = structlog.get_logger("khronos.app", component="app")

    @classmethod
    def from_config(
        cls, config: KhronosConfig, *, alerts: AlertEngine | None = None
    ) -> AppSupervisor:
        """For ``app:`` (its command set), the environment built by
        :func:`~khronos.app.app_env` (the variables kept from it logged once, by name)."""
        if config.app is None or not config.app.command:
            raise ConfigError.single(
                "app.command",
                "no command to run",
                'set app.command (e.g. ["node", "bot.js"]) or run khronos run -- node bot.js',
                source=str(config.source) if config.source else None,
            )
        env, dropped = app_env(config)
        if dropped:
            structlog.get_logger("khronos.app").info(
                "kept Khronos' own secrets from the app's environment",
                variables=dropped,
                hint="list one in app.env to pass it on",
            )
        return cls(config.app, env=env, alerts=alerts)

    def _settling(self) -> bool:
        """Down, or up for less than ``min_uptime``."""
        started = self.started_at if self.up else None
        return started is None or self.clock.wall() - started < self.budget.min_uptime

    def _scraped(self, result: dict[str, Any]) -> None:
        self.scrape_status = result

    def __repr__(self) -> str:
        # never the environment: it may hold the app's secrets
        return f"AppSupervisor(command={self.command!r}, pid={self.pid}, restarts={self.restarts})"

    @property
    def command(self) -> str:
        """The command as one line, secrets masked."""
        return get_redactor().redact(shlex.join(self.argv))

    @property
    def pid(self) -> int | None:
        """The app's pid while it runs."""
        proc = self._proc
        return proc.pid if proc is not None and proc.returncode is None else None

    @property
    def up(self) -> bool:
        """Whether the app runs now."""
        return self.pid is not None

    @property
    def task(self) -> asyncio.Task[None] | None:
        """The supervision loop (the owner watches it)."""
        return self._task

    def readiness(self) -> list[str]:
        """``/ready``'s reasons: ``app down ...`` while the app does not run."""
        if self.up or self._stopping.is_set():
            return []
        if self.gave_up:
            return [f"app down: Khronos gave up restarting it ({self._exit_text()})"]
        if self.last_exit is not None:
            return [f"app down: it {self._exit_text()}; restarting"]
        return ["app down: not started yet"]

    def _exit_text(self) -> str:
        if self.last_exit_code is None:
            return "did not start"
        return _exit_words(self.last_exit_code)[0]

    def status(self) -> dict[str, object]:
        """JSON-ready state for ``/api/status``."""
        started = self.started_at if self.up else None
        return {
            "command": self.command,
            "pid": self.pid,
            "up": self.up,
            "started_at": _iso(started),
            "uptime_seconds": None
            if started is None
            else round(max(0.0, self.clock.wall() - started), 3),
            "restarts": self.restarts,
            "last_exit": dict(self.last_exit) if self.last_exit is not None else None,
            "gave_up": self.gave_up,
            "metrics_url": get_redactor().redact(self.metrics_url) if self.metrics_url else None,
            "last_scrape": dict(self.scrape_status) if self.scrape_status is not None else None,
        }

    async def start(self) -> None:
        """Start the app and its supervision (returns once the first start was tried)."""
        if self._task is not None:
            return
        self._stopping.clear()
        started = asyncio.Event()
        self._task = spawn(PART, lambda: self._loop(started))
        await started.wait()
        if self.scraper is not None:
            await self.scraper.start()

    async def stop(self) -> None:
        """``stop_signal`` to the app's group, ``stop_timeout``, then SIGKILL; end the loop."""
        get_health().unwatch(PART)
        if self.scraper is not None:
            await self.scraper.stop()
        self._stopping.set()
        self._wake.set()
        proc = self._proc
        if proc is not None and proc.returncode is None:
            self._log.info("stopping the app", app_pid=proc.pid, signal=self.config.stop_signal)
            await self._terminate(proc)
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, self.config.stop_timeout.total_seconds() + 5)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            self._task = None

    def restart(self, reason: str) -> None:
        """A planned restart (a deploy): stop the app as on shutdown and start it again at once,
        with no alert and no crash counted.  After giving up, it starts the app again."""
        if self._stopping.is_set():
            return
        proc = self._proc
        if proc is not None and proc.returncode is None:
            self._log.info("restarting the app", reason=reason, app_pid=proc.pid)
            self._planned = True
            self._restart_task = asyncio.get_running_loop().create_task(self._terminate(proc))
        else:
            self._log.info("starting the app again", reason=reason)
            self._planned = True
            self._wake.set()

    # ----------------------------------------------------------------------------- the loop

    async def _loop(self, started: asyncio.Event) -> None:
        try:
            while not self._stopping.is_set():
                began = self.clock.monotonic()
                rc = await self._run_once(started)
                started.set()
                if self._stopping.is_set():
                    return
                if self._planned:
                    self._planned = False
                    self.budget.reset()
                    self.restarts += 1
                    continue
                verdict = self.budget.exited(self.clock.monotonic() - began)
                self._alert_exit(rc, verdict.quick_crashes, give_up=verdict.give_up)
                if verdict.give_up:
                    self.gave_up = True
                    await self._wait_wake(None)  # until SIGHUP or the stop
                    if self._stopping.is_set():
                        return
                    self._planned = False
                    self.gave_up = False
                    self.budget.reset()
                else:
                    await self._wait_wake(verdict.delay)
                    if self._stopping.is_set():
                        return
                    self._planned = False
                self.restarts += 1
        finally:
            started.set()

    async def _wait_wake(self, seconds: float | None) -> None:
        """Sleep ``seconds`` (None: until woken), cut short by a restart request or the stop."""
        self._wake.clear()
        waiter = asyncio.ensure_future(self._wake.wait())
        tasks: set[asyncio.Future[Any]] = {waiter}
        if seconds is not None:
            tasks.add(asyncio.ensure_future(self.clock.sleep(seconds)))
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _run_once(self, started: asyncio.Event) -> int:
        self._tail.clear()
        config = self.config
        # our own pipes, not asyncio's: its Process.wait() waits for the pipes to close too,
        # which a grandchild holding them open would delay forever
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out_w,
                stderr=err_w,
                cwd=config.cwd,
                env=self.env,
                start_new_session=True,
                preexec_fn=die_with_parent(os.getpid()),
            )
        except OSError as exc:
            os.close(out_r)
            os.close(err_r)
            text = get_redactor().redact(f"cannot start {self.argv[0]}: {exc.strerror or exc}")
            self._log.error("cannot start the app", command=self.command, error=text)
            self._tail.append(text)
            self._record_exit(127)
            return 127
        finally:
            os.close(out_w)
            os.close(err_w)
        self._proc = proc
        self.started_at = self.clock.wall()
        self._log.info("app started", app_pid=proc.pid, command=self.command)
        started.set()
        pipes = [os.fdopen(out_r, "rb", buffering=0), os.fdopen(err_r, "rb", buffering=0)]
        readers = [
            asyncio.create_task(self._read(pipes[0], "stdout")),
            asyncio.create_task(self._read(pipes[1], "stderr")),
        ]
        waiter = asyncio.ensure_future(proc.wait())
        done, _ = await asyncio.wait({waiter}, timeout=self.budget.min_uptime)
        if not done:
            self._ran_long_enough()
        rc = await waiter
        self._record_exit(rc)
        await self._reap_group(proc.pid)
        _, pending = await asyncio.wait(readers, timeout=_READERS_GRACE)
        for reader in pending:  # a daemonised grandchild holding the pipe open
            reader.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for pipe in pipes:  # closed by its transport, unless its reader never ran
            pipe.close()
        return rc

    def _ran_long_enough(self) -> None:
        """The app has run ``min_uptime``: it is up again (resolves ``app.down`` if open)."""
        if self.alerts is not None:
            pid = self.pid
            self.alerts.resolve(APP_ALERT, Text("app.running_again", pid=pid))

    async def _read(self, pipe: BinaryIO, name: str) -> None:
        """Forward ``pipe`` into the logs until EOF (or cancellation); close it."""
        log, tail = self._app_log, self._tail

        def on_line(raw: bytes, truncated: bool) -> None:
            text = forward_line(log, raw, name, truncated=truncated)
            if name == "stderr" and text.strip():
                tail.append(text[:_TAIL_CHARS])

        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=2**20)
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), pipe
        )
        try:
            await pump(reader, on_line)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - reported; the app's exit is still seen
            get_health().record_error(PART, exc)
        finally:
            transport.close()

    def _record_exit(self, rc: int) -> None:
        self.started_at = None
        self.last_exit_code = rc
        words, fields = _exit_words(rc)
        self.last_exit = {
            "code": rc if rc >= 0 else None,
            "signal": fields.get("signal"),
            "at": _iso(self.clock.wall()),
        }
        level = "info" if self._planned or self._stopping.is_set() else "error"
        getattr(self._log, level)(f"app {words}", **fields)

    def _alert_exit(self, rc: int, quick_crashes: int, *, give_up: bool) -> None:
        words, fields = _exit_words(rc)
        redactor = get_redactor()
        details: dict[str, Any] = {
            **fields,
            "command": self.command,
            "restarts": self.restarts,
            "quick_crashes": quick_crashes,
            "stderr": [redactor.redact(line) for line in self._tail] or None,
        }
        if give_up:
            self._log.critical("the app keeps crashing; giving up", **fields)
            message = Text(
                "app.gave_up", how=words, count=quick_crashes, min_uptime=self.budget.min_uptime
            )
            details["hint"] = Text("app.gave_up.hint")
            level = Level.CRITICAL
        else:
            message = Text("app.restarting", how=words, delay=self.budget.delay)
            level = Level.ERROR
        if self.alerts is not None:
            self.alerts.fire(APP_ALERT, message, level, details)

    async def _terminate(self, proc: asyncio.subprocess.Process) -> None:
        """``stop_signal`` to the group, wait ``stop_timeout``, then SIGKILL the group."""
        timeout = self.config.stop_timeout.total_seconds()
        _killpg(proc.pid, self.config.signal_number)
        try:
            await asyncio.wait_for(asyncio.shield(proc.wait()), timeout)
        except TimeoutError:
            self._log.warning(
                "the app did not stop in time; killing its process group",
                app_pid=proc.pid,
                timeout_s=timeout,
            )
            _killpg(proc.pid, signal.SIGKILL)
            await proc.wait()

    async def _reap_group(self, pgid: int) -> None:
        """What the app left in its process group: ``stop_signal``, ``stop_timeout``, SIGKILL."""
        if not _group_alive(pgid):
            return
        _killpg(pgid, self.config.signal_number)
        deadline = time.monotonic() + self.config.stop_timeout.total_seconds()
        while _group_alive(pgid) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if _group_alive(pgid):
            self._log.warning("killing what the app left running", pgid=pgid)
            _killpg(pgid, signal.SIGKILL)


def _killpg(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    """Whether a process other than a zombie is left in the process group ``pgid``."""
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error, OSError):
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                return True
    return False
