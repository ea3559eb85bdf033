"""The :class:`Daemon`: the parts ``khronos run`` starts, in order, and their stop in reverse
(the package docstring, :mod:`khronos.daemon`, tells the whole story)."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from prometheus_client import CollectorRegistry
from starlette.routing import Route

from khronos import logs
from khronos._version import __version__
from khronos.alerts import (
    AlertEngine,
    Level,
    SilenceBook,
    TelegramConsole,
    alert_routes,
    breaker_metrics_listener,
    silence_routes,
)
from khronos.app import AppCollector, AppSupervisor
from khronos.backup import BackupService, VerifyReport, VerifyScheduler
from khronos.catalog import Text
from khronos.checks import CheckRunner, checks_from_config
from khronos.config import ChecksConfig, KhronosConfig
from khronos.daemon._console import build_console
from khronos.daemon._reactions import (
    PART_DOWN_KEY,
    drill_failed,
    log_files_changed,
    part_down,
    recall_drills,
    scraped_counters,
)
from khronos.daemon._snapshots import (
    build_snapshots,
    enter_snapshots,
    snapshot_api,
    snapshot_drills,
    snapshots_source,
)
from khronos.dashboard import (
    DASHBOARD_PATHS,
    AppCounters,
    HistorySampler,
    MetricsProbe,
    StatusBuilder,
    StatusSources,
    dashboard_routes,
)
from khronos.errors import DaemonError, LockedError
from khronos.health import Health, PartDown, get_health, set_health
from khronos.heartbeats import HeartbeatMonitor, HeartbeatSender, heartbeat_routes
from khronos.lifecycle import Lifecycle
from khronos.locks import FileLock
from khronos.metrics import HealthCollector, Metrics
from khronos.server import (
    HTTP_PART,
    ConnectionCollector,
    ConnectionLimits,
    ConnectionStats,
    HttpServer,
    create_app,
    raise_open_files_limit,
)
from khronos.state import StateDir, write_json_atomic

__all__ = ["Daemon"]

_LOW_NOFILE = 1024
# checks that need the app's message metrics: khronos run beside another process has no source
_APP_METRIC_CHECKS = ("error_rate", "queue_backlog")

_log = structlog.get_logger("khronos.daemon")


class Daemon(Lifecycle):
    """Everything ``khronos run`` runs, for one configuration.

    ``app_metrics``: the service metrics an app records (messages, queue...) are served, and
    the checks reading them run - for a Python app running the daemon inside itself and
    recording into :attr:`metrics`; ``khronos run`` passes False (no such source beside it).
    ``app_status``, ``heartbeats_status``: the supervised app's and the heartbeats' ``status()``
    for ``/api/status``, the dashboard and ``/ready``; ``app_counters``: the app's counters from
    its scraped ``/metrics`` for the charts (see :class:`~khronos.dashboard.AppCounters`).

    In your own event loop (``khronos run`` also maps SIGTERM and SIGINT to a clean stop)::

        async with Daemon(config) as daemon:
            print(daemon.url)
            await stop_requested.wait()
    """

    def __init__(
        self,
        config: KhronosConfig,
        *,
        registry: CollectorRegistry | None = None,
        verify_initial_delay: float | None = None,
        app_metrics: bool = True,
        app_status: Callable[[], Any] | None = None,
        heartbeats_status: Callable[[], Any] | None = None,
        app_counters: AppCounters | None = None,
        history_interval: float = 10.0,
        silences: SilenceBook | None = None,
    ) -> None:
        self.config = config
        self.state_dir = Path(config.state_dir)
        self.registry = registry if registry is not None else CollectorRegistry()
        self.app_metrics = app_metrics
        self._checks_off: list[str] = []
        self.health = Health()
        self.health.on_down(self._part_down)
        self._previous_health: Health | None = None
        namespace = config.metrics.namespace
        self.metrics = Metrics.from_config(config.metrics, self.registry, app_metrics=app_metrics)
        self.registry.register(HealthCollector(self.health, namespace=namespace))
        self.registry.register(ConnectionCollector(self._connection_stats, namespace=namespace))
        self.engine = AlertEngine.from_config(config, registry=self.registry)
        for breaker in self.engine.worker.breakers.values():
            breaker.add_listener(breaker_metrics_listener(self.metrics))
        self.backup: BackupService | None = None
        if config.backup is not None:
            self.backup = BackupService(config, registry=self.registry, alerts=self.engine)
        self.verify: VerifyScheduler | None = None
        if config.backup is not None and config.backup.verify.interval is not None:
            interval = config.backup.verify.interval.total_seconds()
            self.verify = VerifyScheduler(
                config,
                on_result=self._on_verify,
                # the first drill a minute after start (Litestream has synced by then), sooner
                # when the interval itself is shorter
                initial_delay=min(60.0, interval)
                if verify_initial_delay is None
                else verify_initial_delay,
            )
        self.snapshots = build_snapshots(config, self.engine, self.registry)
        """The snapshot schedule (``backup.dbs[].snapshots``), None without destinations."""
        self.app: AppSupervisor | None = None
        if config.app is not None:
            self.app = AppSupervisor.from_config(config, alerts=self.engine)
            self.registry.register(AppCollector(self.app, namespace=namespace))
        scraper = self.app.scraper if self.app is not None else None
        self.checks = CheckRunner(
            self.engine,
            checks_from_config(
                self._checks_config(),
                self.registry,
                namespace=namespace,
                app_metrics=(scraper, config.app.metric_names) if scraper and config.app else None,
            ),
            registry=self.registry,
            namespace=namespace,
        )
        self.heartbeats: HeartbeatMonitor | None = None
        if config.checks.heartbeats:
            self.heartbeats = HeartbeatMonitor(
                config.checks.heartbeats,
                self.engine,
                self.state_dir,
                registry=self.registry,
                namespace=namespace,
            )
        self.heartbeat_out: HeartbeatSender | None = None
        if config.heartbeat is not None:
            self.heartbeat_out = HeartbeatSender(
                config.heartbeat, self._unhealthy, registry=self.registry, namespace=namespace
            )
        self.status = StatusBuilder(
            config,
            self.engine,
            StatusSources(
                databases=self.backup.status if self.backup is not None else None,
                checks=self.checks.status,
                app=app_status or (self.app.status if self.app is not None else None),
                heartbeats=heartbeats_status
                or (self.heartbeats.status if self.heartbeats is not None else None),
                snapshots=snapshots_source(config, self.snapshots),
            ),
        )
        """``/api/status`` and the backup/app reasons of ``/ready``."""
        self.console: TelegramConsole | None = build_console(
            config,
            self.engine,
            self.status,
            backup=self.backup,
            verify=self.verify,
            silences=silences if silences is not None else self.engine.silences,
            registry=self.registry,
        )
        """Commands from Telegram (``alerts.telegram.commands``); ``silences`` serves /silence."""
        self.history = HistorySampler(
            MetricsProbe(
                self.metrics,
                self.engine.metrics,
                lags=self.status.lags,
                litestream_pid=self._litestream_pid,
                app_counters=app_counters or scraped_counters(scraper, config),
            ).take,
            StateDir(self.state_dir).history_file,
            interval=history_interval,
        )
        """The dashboard's chart history (a point every ``history_interval`` seconds)."""
        self.server: HttpServer | None = None
        self._parts = contextlib.AsyncExitStack()
        """The started parts' stops, unwound by :meth:`stop` in reverse order."""
        self._stop_began = 0.0
        self.files = StateDir(self.state_dir)
        self._lock: FileLock | None = None
        self._started = False
        self._claimed_outside = False

    def __repr__(self) -> str:
        return f"Daemon(service={self.config.service.name!r}, state_dir={str(self.state_dir)!r})"

    @property
    def url(self) -> str | None:
        """``http://host:port`` the daemon serves on (after :meth:`start`)."""
        return self.server.url if self.server is not None else None

    def _checks_config(self) -> ChecksConfig:
        """``checks:``, without the checks that read the app's metrics when nothing in this
        process records them (``app_metrics=False``: ``khronos run`` beside another process);
        a user who asked for one is told why it is off."""
        checks = self.config.checks
        if self.app_metrics or (self.app is not None and self.app.scraper is not None):
            return checks  # read from this process' registry, or from app.metrics_url
        self._checks_off = [
            name
            for name in _APP_METRIC_CHECKS
            if name in checks.model_fields_set and getattr(checks, name) is not None
        ]
        return checks.model_copy(update=dict.fromkeys(_APP_METRIC_CHECKS))

    def _connection_stats(self) -> ConnectionStats | None:
        return self.server.stats if self.server is not None else None

    def claim(self) -> None:
        """Take the ``state_dir`` lock now (``start`` does it too): :class:`DaemonError` when
        another daemon runs on the same ``state_dir``.  ``khronos run`` claims before it sets up
        logging, so a second daemon fails with this message rather than a log-file conflict;
        it then releases the lock itself (:meth:`release`), after its last log line."""
        self._acquire()
        self._claimed_outside = True

    async def start(self) -> None:
        """Start every configured part; on a failure, stop what started and raise."""
        self._acquire()
        self._started = True
        self.health.stopping = False
        if get_health() is not self.health:
            self._previous_health = set_health(self.health)
        try:
            self._raise_open_files_limit()
            await self._start_parts()
        except BaseException:
            await self.stop()
            raise

    async def _start_parts(self) -> None:
        """Start the parts in order, each entered into :attr:`_parts`: unwinding the stack
        stops them in the reverse order, by construction."""
        config = self.config
        stack = self._parts
        await self.engine.start()
        stack.push_async_callback(self._stop_alerts)
        app = create_app(
            config,
            registry=self.registry,
            metrics=self.metrics,
            routes=self._routes(),
            health=self.health,
            readiness=self._not_ready,
            unmeasured=DASHBOARD_PATHS,
        )
        self.server = HttpServer(
            app,
            config.http.listen,
            shutdown_timeout=min(10.0, config.service.shutdown_timeout.total_seconds()),
            limits=ConnectionLimits.from_config(config.http),
        )
        await self._enter("http server", self.server)
        self.health.watch(HTTP_PART, self.server.task)
        if self.backup is not None:
            await self._enter("backup", self.backup)
        else:
            _log.warning(
                "no backup: section in the configuration: no database is being backed up",
                hint="add backup: with your SQLite files (see docs/backup.md)",
            )
        if self.app is not None:
            await self._enter("app", self.app)
            self._watch_app(self.app)
        await enter_snapshots(self.snapshots, self._enter, self.health)
        self._recall_drills()
        if self.verify is not None:
            await self._enter("restore drills", self.verify)
            if self.verify.task is not None:
                self.health.watch("backup.verify", self.verify.task)
        for name in self._checks_off:
            _log.warning(
                f"checks.{name} is off: khronos run has no source for the app's message metrics",
                hint="set app.metrics_url to the app's Prometheus endpoint, record them with "
                "khronos.metrics in your Python app (a Daemon inside it), or remove the key",
            )
        await self._enter("checks", self.checks)
        await self._enter("log files watch", logs.LogFilesWatch(self._log_files_changed))
        for part, task in (*self.checks.tasks.items(), *self.engine.tasks.items()):
            self.health.watch(part, task)
        if self.console is not None:
            await self._enter("telegram console", self.console)
        if self.heartbeats is not None:
            await self._enter("heartbeats", self.heartbeats)
        if self.heartbeat_out is not None:
            await self._enter("heartbeat out", self.heartbeat_out)
        await self._enter("chart history", self.history)
        if self.history.task is not None:
            self.health.watch("dashboard.history", self.history.task)
        self._write_daemon_file()
        _log.info(
            "khronos started",
            url=self.url,
            metrics=f"{self.url}{config.metrics.path}",
            backup=[db.label for db in config.backup.dbs] if config.backup else [],
            channels=[n.name for n in self.engine.notifiers],
            checks=[c.name for c in self.checks.checks],
            app=self.app.command if self.app is not None else None,
            alerts_api=config.http.token is not None,
            max_connections=self.server.stats.limits.max_connections,
        )

    async def _enter(self, name: str, part: Lifecycle) -> None:
        """Start ``part`` and push its stop onto the stack (a failing stop is logged and the
        unwinding goes on: one part must not strand the others)."""
        await part.start()
        self._parts.push_async_callback(self._quietly, name, part.stop)

    async def _stop_alerts(self) -> None:
        """The alert engine, last: pending alerts get what remains of ``shutdown_timeout``
        (at least a second; the rest stay queued for the next start)."""
        timeout = self.config.service.shutdown_timeout.total_seconds()
        remaining = max(1.0, timeout - (time.monotonic() - self._stop_began))
        await self._quietly("alerts", lambda: self.engine.stop(timeout=remaining))

    def _raise_open_files_limit(self) -> None:
        before, after = raise_open_files_limit()
        if after != before:
            _log.info("raised the open-files limit", soft_before=before, soft=after)
        if after < _LOW_NOFILE:
            _log.warning(
                f"the open-files limit is {after}: the HTTP server takes at most half of it",
                hint="raise it (LimitNOFILE=65536 in the systemd unit, or ulimit -n)",
            )

    def _watch_app(self, app: AppSupervisor) -> None:
        scrape = app.scraper.task if app.scraper is not None else None
        for part, task in (("app.supervisor", app.task), ("app.scrape", scrape)):
            if task is not None:
                self.health.watch(part, task)

    def _not_ready(self) -> list[str]:
        """/ready's reasons beyond the parts: CRITICAL conditions, the backup down or lagging
        past ``backup.lag_alert_after``, the app down."""
        return [*self._critical_conditions(), *self.status.not_ready()]

    def _litestream_pid(self) -> int | None:
        supervisor = self.backup.supervisor if self.backup is not None else None
        return supervisor.pid if supervisor is not None else None

    def _routes(self) -> list[Route]:
        """The API routes: alerts, silences, the heartbeat pings when heartbeats are configured,
        and the dashboard."""
        token = self.config.http.token
        routes = alert_routes(self.engine, token) + silence_routes(self.engine.silences, token)
        if self.heartbeats is not None:
            routes += heartbeat_routes(self.heartbeats, token)
        routes += snapshot_api(self.config, self.snapshots)
        routes += dashboard_routes(
            self.status.snapshot,
            self.history.document,
            token=token,
            auth_required=not self.config.http.listen.is_loopback,
        )
        return routes

    def _unhealthy(self) -> list[str]:
        """Why the outside heartbeat is not called: a part down, a CRITICAL condition firing,
        a database not replicating or its replica down (``khronos_backup_up`` 0)."""
        reasons = [*self.health.problems(), *self._critical_conditions()]
        for db in self.backup.status() if self.backup is not None else []:
            if not db.replicating:
                reasons.append(f"backup of {db.name} is not replicating")
            elif db.replica_down:
                reasons.append(f"the replica of {db.name} accepts nothing")
        return reasons

    def _critical_conditions(self) -> list[str]:
        """/ready's reasons beyond the parts: the CRITICAL alert conditions firing now."""
        return [
            f"{c.key}: {c.message}"
            for c in self.engine.conditions.values()
            if c.level >= Level.CRITICAL and not c.key.startswith(PART_DOWN_KEY)
        ]

    def _log_files_changed(self, failing: dict[Path, str]) -> None:
        log_files_changed(self.engine, failing)

    def _part_down(self, event: PartDown) -> None:
        part_down(self.engine, event)

    async def stop(self) -> None:
        """Stop in reverse order of the start: checks, drills, backup (Litestream's final sync,
        up to ``service.shutdown_timeout``), the HTTP server, then pending alerts with what
        remains of the timeout.  Cancelled midway, it still closes the outbox and releases the
        ``state_dir`` lock (unless :meth:`claim` was called from outside, whose caller then
        calls :meth:`release`)."""
        if not self._started:
            return
        self._started = False
        self.health.stopping = True  # the parts ending from here on are not faults
        self._stop_began = time.monotonic()
        pending: int | None = None
        try:
            await self._parts.aclose()
            pending = self.engine.outbox.count()
        finally:
            self._parts = contextlib.AsyncExitStack()
            self.engine.outbox.close()
            with contextlib.suppress(OSError):
                self.files.daemon_file.unlink()
            if not self._claimed_outside:
                self.release()
            if self._previous_health is not None and get_health() is self.health:
                set_health(self._previous_health)
                self._previous_health = None
        _log.info(
            "khronos stopped",
            seconds=round(time.monotonic() - self._stop_began, 3),
            alerts_pending=pending,
        )

    def release(self) -> None:
        """Release the ``state_dir`` lock (after :meth:`stop`)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _acquire(self) -> None:
        """One daemon per ``state_dir``: an exclusive lock on its ``daemon.lock``."""
        if self._lock is not None:
            return
        self.files.create()
        try:
            self._lock = FileLock.acquire(
                self.files.daemon_lock,
                what=f"the state_dir {self.state_dir}",
                op="run",
                hint="stop it first, or give this one its own state_dir",
            )
        except LockedError as exc:
            owner = exc.holder or "unknown"
            raise DaemonError(
                f"another khronos run (pid {owner}) uses {self.state_dir}",
                op="run",
                hint="stop it first, or give this one its own state_dir",
            ) from None

    async def _quietly(self, part: str, stop: Callable[[], Awaitable[None]]) -> None:
        """Run one stop step; a failure is logged and the shutdown goes on."""
        try:
            await stop()
        except Exception:  # noqa: BLE001 - one part failing to stop must not strand the rest
            _log.exception("failed to stop cleanly", part=part)

    def _recall_drills(self) -> None:
        recall_drills(self.engine, self.config, self.state_dir)

    async def _on_verify(self, report: VerifyReport) -> None:
        snapshot_drills(self.snapshots, report)
        key = f"backup.verify.{report.db}"
        if report.ok:
            self.engine.resolve(key)
            return
        if report.gap and self.backup is not None:
            self.backup.keeper.flag(report.db, report.error or Text("backup.drill_missing_rows"))
        drill_failed(self.engine, report.db, report.error)

    def _write_daemon_file(self) -> None:
        document: Mapping[str, Any] = {
            "pid": os.getpid(),
            "url": self.url,
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "version": __version__,
        }
        write_json_atomic(self.files.daemon_file, document)
