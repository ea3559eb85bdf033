"""Running ``litestream replicate`` as a supervised child process.

- **Restart policy** (``backup.restart``, the PM2 one, :class:`khronos.children.RestartBudget`,
  which the app's supervisor shares): when the child exits it is started again
  after ``delay``; a run shorter than ``min_uptime`` is a *quick crash*, and after
  ``max_restarts`` quick crashes in a row Khronos gives up on it with a CRITICAL alert and goes
  on serving everything else.  Each exit raises the ERROR alert ``backup.replication``; it is
  resolved when the service sees the new child answer on its control socket.  The service also
  reports a child that runs but does not answer (or does not replicate) for a while
  (:meth:`Supervisor.mark_unresponsive`: the same ERROR alert), and re-fires whatever alert is
  open on each poll (:meth:`Supervisor.refresh_alert`) so the engine can repeat it.
- **Logs**: each stderr line is forwarded into structlog with ``component="litestream"``
  (:func:`~khronos.backup._process.forward_log_line`).
- **Stop**: SIGTERM (Litestream then makes a final sync, bounded by its shutdown-sync-timeout),
  wait ``shutdown_timeout``, then SIGKILL.
- **No orphans**: see :mod:`khronos.backup._process`.

The process runner and the clock are injectable (:class:`ProcessRunner`, :class:`Clock`) so the
policy can be tested without real processes or real time.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from khronos.backup._alerts import AlertSink, NullAlertSink
from khronos.backup._process import (
    AsyncioProcessRunner,
    ProcessHandle,
    ProcessRunner,
    forward_log_line,
    parse_log_line,
)
from khronos.catalog import Text
from khronos.children import RestartBudget
from khronos.clock import Clock, SystemClock
from khronos.config import RestartPolicy
from khronos.health import get_health, spawn

__all__ = [
    "REPLICATION_ALERT",
    "AsyncioProcessRunner",
    "ProcessHandle",
    "ProcessRunner",
    "Supervisor",
    "forward_log_line",
    "parse_log_line",
]

REPLICATION_ALERT = "backup.replication"

LineCallback = Callable[[dict[str, Any]], None]


@dataclass(frozen=True, slots=True)
class _OpenAlert:
    level: str
    message: str
    details: dict[str, Any]
    since: float | None = None
    """Wall time the problem began (the first exit, or the first stalled poll)."""


class Supervisor:
    """Keeps one ``litestream replicate`` running according to a :class:`RestartPolicy`."""

    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        policy: RestartPolicy,
        alerts: AlertSink | None = None,
        shutdown_timeout: float = 30.0,
        runner: ProcessRunner | None = None,
        clock: Clock | None = None,
        on_record: LineCallback | None = None,
        on_exit: Callable[[int], None] | None = None,
        before_start: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.argv = list(argv)
        self.env = dict(env)
        self.policy = policy
        self.alerts = alerts or NullAlertSink()
        self.shutdown_timeout = shutdown_timeout
        self.runner: ProcessRunner = runner or AsyncioProcessRunner()
        self.clock: Clock = clock or SystemClock()
        self.on_record = on_record
        self.on_exit = on_exit
        """Called at once (synchronously) when the child exits, with its return code."""
        self.before_start = before_start
        """Awaited before each start of the child (the first included)."""
        self.restarts = 0
        """Restarts since start (the metric ``backup_process_restarts_total``)."""
        self.budget = RestartBudget(
            max_restarts=policy.max_restarts,
            min_uptime=policy.min_uptime.total_seconds(),
            delay=policy.delay.total_seconds(),
        )
        self.gave_up = False
        self.last_exit: int | None = None
        self._proc: ProcessHandle | None = None
        self._running = False
        self._alert: _OpenAlert | None = None
        self._maybe_open = True
        self._planned = False
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._log = structlog.get_logger("khronos.backup")
        self._ls_log = self._log.bind(component="litestream")

    @property
    def running(self) -> bool:
        """Whether a child is alive right now."""
        return self._running

    @property
    def pid(self) -> int | None:
        """The child's pid while it runs."""
        return self._proc.pid if self._running and self._proc else None

    async def start(self) -> None:
        """Start the child and the supervision loop (returns once the first child is spawned).

        The loop runs through :func:`khronos.health.spawn`: an exception from a collaborator
        (the alert sink, a hook) is counted and logged, and supervision goes on.
        """
        if self._task is not None:
            return
        started = asyncio.Event()
        self._task = spawn("backup.supervisor", lambda: self._loop(started))
        await started.wait()

    def __repr__(self) -> str:
        # never the environment: it holds the replica's secrets
        return f"Supervisor(argv={self.argv!r}, pid={self.pid}, restarts={self.restarts})"

    @property
    def alert_level(self) -> str | None:
        """The level of the open ``backup.replication`` alert, None when none is open."""
        return self._alert.level if self._alert else None

    def mark_healthy(self) -> None:
        """Called when the child answers: resolve the replication alert if it is open (or may
        be: the first answer also resolves one a previous run of Khronos left firing)."""
        if not self._running:
            return
        if self._alert is not None:
            self._alert = None
            self._maybe_open = False
            self.alerts.resolve(REPLICATION_ALERT)
            self._log.info("litestream is replicating again", restarts=self.restarts)
        elif self._maybe_open:
            self._maybe_open = False
            self.alerts.resolve(REPLICATION_ALERT)

    def mark_unresponsive(self, problem: str, seconds: float) -> bool:
        """The child runs but ``problem`` (no answer, not replicating) for ``seconds``: ERROR.

        Ignored when no child runs or after giving up (those have their own alert).  True when
        the alert was fired.
        """
        if not self._running or self.gave_up or self._proc is None:
            return False
        pid = self._proc.pid
        if self._alert is None or "stalled_s" not in self._alert.details:
            self._log.error(
                "litestream runs but is not replicating",
                pid=pid,
                problem=problem,
                stalled_s=seconds,
            )
        self._fire(
            "ERROR",
            Text("backup.unresponsive", pid=pid, problem=problem, seconds=seconds),
            {
                "pid": pid,
                "problem": problem,
                "stalled_s": round(seconds, 1),
                "hint": Text("backup.unresponsive.hint"),
            },
            since=self.clock.wall() - seconds,
        )
        return True

    def refresh_alert(self) -> None:
        """Fire the open replication alert again (the engine repeats it when it is due)."""
        if self._alert is not None:
            alert = self._alert
            self.alerts.fire(
                REPLICATION_ALERT, alert.message, alert.level, alert.details, since=alert.since
            )

    def _fire(
        self, level: str, message: str, details: dict[str, Any], since: float | None = None
    ) -> None:
        if self._alert is not None and since is None:
            since = self._alert.since
        self._alert = _OpenAlert(level, message, details, since)
        self.alerts.fire(REPLICATION_ALERT, message, level, details, since=since)

    def restart(self, reason: str) -> None:
        """A planned restart: SIGTERM the child (its final sync runs) and start it again at
        once, with no alert and no crash counted."""
        if self._proc is None or not self._running or self._stopping.is_set():
            return
        self._log.info("restarting litestream", reason=reason, pid=self._proc.pid)
        self._planned = True
        self._proc.send_signal(signal.SIGTERM)

    async def stop(self) -> None:
        """SIGTERM the child, wait up to ``shutdown_timeout``, then SIGKILL; end the loop."""
        get_health().unwatch("backup.supervisor")
        self._stopping.set()
        proc = self._proc
        if proc is not None and self._running:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), self.shutdown_timeout)
            except TimeoutError:
                self._log.warning(
                    "litestream did not stop in time; killing it",
                    pid=proc.pid,
                    timeout_s=self.shutdown_timeout,
                )
                proc.send_signal(signal.SIGKILL)
                await proc.wait()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, 5)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            self._task = None

    async def _loop(self, started: asyncio.Event) -> None:
        try:
            if self._proc is not None and self._running:
                # this loop was restarted after an error while a child ran: supervise that one
                rc = await self._proc.wait()
                self._exited(rc)
                if self._stopping.is_set():
                    return
                if not self._after_exit(rc, 0.0):
                    await self._stopping.wait()  # gave up: the CRITICAL alert says so
                    return
            while not self._stopping.is_set():
                began = self.clock.monotonic()
                rc = await self._run_once(started)
                started.set()
                if self._stopping.is_set():
                    return
                uptime = self.clock.monotonic() - began
                if self._planned:
                    self._planned = False
                    self.restarts += 1
                    continue
                if not self._after_exit(rc, uptime):
                    await self._stopping.wait()  # gave up: the CRITICAL alert says so
                    return
                await self._sleep(self.policy.delay.total_seconds())
                if self._stopping.is_set():
                    return
                self.restarts += 1
        finally:
            self._running = False
            started.set()

    async def _run_once(self, started: asyncio.Event) -> int:
        if self.before_start is not None:
            try:
                await self.before_start()
            except Exception as exc:  # noqa: BLE001 - a failed preparation must not stop backup
                get_health().record_error("backup.supervisor", exc)
        if self._stopping.is_set():
            return 0
        try:
            proc = await self.runner.spawn(self.argv, self.env)
        except OSError as exc:
            self._log.error("cannot start litestream", argv0=self.argv[0], error=str(exc))
            return 127
        self._proc = proc
        self._running = True
        self._log.info("litestream started", pid=proc.pid)
        started.set()
        reader = asyncio.create_task(self._forward(proc))
        rc = await proc.wait()
        self._exited(rc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(reader), 2)
        reader.cancel()
        self.last_exit = rc
        return rc

    def _exited(self, rc: int) -> None:
        """The child is gone: tell ``on_exit`` first thing (the WAL guard must not wait)."""
        self._running = False
        if self.on_exit is not None:
            try:
                self.on_exit(rc)
            except Exception as exc:  # noqa: BLE001 - reported, and supervision goes on
                get_health().record_error("backup.supervisor", exc)

    async def _forward(self, proc: ProcessHandle) -> None:
        async for raw in proc.stderr_lines():
            record = forward_log_line(self._ls_log, raw.decode("utf-8", "replace"))
            if record is not None and self.on_record is not None:
                self.on_record(record)

    def _after_exit(self, rc: int, uptime: float) -> bool:
        """Apply the policy after an exit; False when giving up."""
        verdict = self.budget.exited(uptime)
        details = {
            "exit_code": rc,
            "uptime_s": round(uptime, 3),
            "quick_crashes": self.quick_crashes,
            "max_restarts": self.policy.max_restarts,
        }
        if verdict.give_up:
            self.gave_up = True
            self._log.critical("litestream keeps crashing; giving up", **details)
            self._fire(
                "CRITICAL",
                Text(
                    "backup.gave_up",
                    count=self.quick_crashes,
                    min_uptime=self.policy.min_uptime.total_seconds(),
                ),
                {**details, "hint": Text("backup.gave_up.hint")},
            )
            return False
        delay = verdict.delay
        self._log.error("litestream exited; restarting", restart_in_s=delay, **details)
        self._fire(
            "ERROR",
            Text("backup.exited", code=rc, delay=delay),
            details,
            since=self.clock.wall(),
        )
        return True

    @property
    def quick_crashes(self) -> int:
        """Quick crashes in a row (see :class:`~khronos.children.RestartBudget`)."""
        return self.budget.quick_crashes

    async def _sleep(self, seconds: float) -> None:
        sleeper = asyncio.ensure_future(self.clock.sleep(seconds))
        stopper = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, stopper):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
