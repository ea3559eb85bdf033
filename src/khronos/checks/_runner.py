"""The check runner: every check on its own schedule, results into engine conditions.

A problem's duration runs from the first run that was not up: an http check with
``failures: 3`` fires at its third failure with ``since`` = the time of the first, so the
resolved notice says how long the service was really down.

Each check's loop runs through :func:`~khronos.health.keep_running` as the part
``check.<name>``: an exception from a collaborator (the alert engine failing to write its
outbox, say) is logged once with its traceback while it repeats, counted in
``khronos_internal_errors_total``, and the check runs again at its next interval; it never ends
by itself.  :attr:`CheckRunner.tasks` lets an owner (the daemon) watch the loops with
:meth:`~khronos.health.Health.watch`.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Gauge

from khronos.alerts import AlertEngine
from khronos.catalog import Text
from khronos.checks._checks import (
    Check,
    CheckResult,
    DiskCheck,
    ErrorRateCheck,
    HttpCheck,
    MemoryCheck,
    MetricSource,
    QueueBacklogCheck,
)
from khronos.clock import Clock
from khronos.config import AppMetricNames, ChecksConfig
from khronos.health import get_health, keep_running
from khronos.lifecycle import Lifecycle

__all__ = ["CheckRunner", "checks_from_config"]

_log = structlog.get_logger("khronos.checks")


def checks_from_config(
    config: ChecksConfig,
    registry: CollectorRegistry,
    *,
    namespace: str = "khronos",
    clock: Clock | None = None,
    app_metrics: tuple[MetricSource, AppMetricNames] | None = None,
) -> list[Check]:
    """The checks ``checks:`` turns on; error rate and backlog read ``registry``, or the app's
    scraped series (``app_metrics``: the source and the names from ``app.metric_names``)."""
    source: CollectorRegistry | MetricSource = registry
    processed_failed: tuple[str, str] | None = None
    queue = f"{namespace}_queue_size"
    if app_metrics is not None:
        source, names = app_metrics
        processed_failed, queue = (names.processed, names.failed), names.queue
    checks: list[Check] = []
    if config.memory is not None:
        checks.append(MemoryCheck.from_config(config.memory))
    if config.disk is not None:
        checks.append(DiskCheck.from_config(config.disk))
    checks.extend(HttpCheck.from_config(c) for c in config.http)
    if config.error_rate is not None:
        checks.append(
            ErrorRateCheck.from_config(
                config.error_rate,
                source,
                namespace=namespace,
                clock=clock,
                names=processed_failed,
            )
        )
    if config.queue_backlog is not None:
        checks.append(QueueBacklogCheck.from_config(config.queue_backlog, source, gauge=queue))
    return checks


class CheckRunner(Lifecycle):
    """Runs checks, fires/resolves ``check:<name>`` conditions, sets ``khronos_check_up``."""

    def __init__(
        self,
        engine: AlertEngine,
        checks: Sequence[Check],
        *,
        registry: CollectorRegistry | None = None,
        namespace: str = "khronos",
    ) -> None:
        self.engine = engine
        self.checks = list(checks)
        self.up = Gauge(
            "check_up",
            "1 when the built-in check passes, 0 when it fails.",
            ["check"],
            namespace=namespace,
            registry=registry if registry is not None else CollectorRegistry(),
        )
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._failing_since: dict[str, float] = {}
        self._results: dict[str, dict[str, Any]] = {}
        self._state_since: dict[str, tuple[bool, float]] = {}

    async def run_once(self, check: Check) -> CheckResult:
        """Run one check now and apply its result."""
        try:
            result = await check.run()
        except Exception as exc:  # noqa: BLE001 - a broken check is a failed check, not a crash
            _log.exception("check crashed", check=check.name)
            result = CheckResult(
                False, Text("check.crashed", name=check.name, error=type(exc).__name__)
            )
        observed = self.engine.clock.wall()
        up = result.ok if result.up is None else result.up
        self.up.labels(check=check.name).set(1 if up else 0)
        if up:
            self._failing_since.pop(check.name, None)
        else:
            observed = self._failing_since.setdefault(check.name, observed)
        self._remember(check.name, result, up)
        key = f"check:{check.name}"
        if result.ok:
            self.engine.resolve(key)
        else:
            self.engine.fire(
                key,
                result.message,
                result.level,
                result.details,
                since=observed,
                worst=result.worst or None,
                worst_value=result.worst_value,
            )
        return result

    def _remember(self, name: str, result: CheckResult, up: bool) -> None:
        now = self.engine.clock.wall()
        ok = result.ok
        previous = self._state_since.get(name)
        if previous is None or previous[0] != ok:
            # a failure's duration runs from the first run that was not up
            since = self._failing_since.get(name, now) if not ok else now
            self._state_since[name] = (ok, since)
        self._results[name] = {
            "name": name,
            "ok": ok,
            "up": up,
            "level": None if ok else result.level.name,
            "message": result.message,
            "since": self._state_since[name][1],
            "last_run_at": now,
        }

    def status(self) -> list[dict[str, Any]]:
        """Each check's last result: ``name``, ``ok``, ``up``, ``level`` (when failing),
        ``message``, ``since`` (Unix time of the change to this state) and ``last_run_at``;
        a check that has not run yet has ``ok`` None."""
        return [
            dict(self._results.get(c.name) or {"name": c.name, "ok": None, "since": None})
            for c in self.checks
        ]

    async def run_all(self) -> list[CheckResult]:
        """Run every check once (``khronos status``, tests)."""
        return [await self.run_once(check) for check in self.checks]

    async def _loop(self, check: Check) -> None:
        while True:
            try:
                await self.run_once(check)
            except Exception as exc:  # noqa: BLE001 - a check's task must outlive any failure
                get_health().record_error(f"check.{check.name}", exc)
            await asyncio.sleep(check.every)

    @property
    def tasks(self) -> dict[str, asyncio.Task[None]]:
        """The running check loops by part name (``check.<name>``), for an owner to watch."""
        return dict(self._tasks)

    async def start(self) -> None:
        """Start one task per check on the running loop (each kept running)."""
        if self._tasks:
            return
        for check in self.checks:
            part = f"check.{check.name}"
            body = functools.partial(self._loop, check)
            self._tasks[part] = asyncio.create_task(
                keep_running(part, body), name=f"khronos-check-{check.name}"
            )

    async def stop(self) -> None:
        """Cancel the check tasks."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks = {}
