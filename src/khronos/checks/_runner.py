"""The check runner: every check on its own schedule, results into engine conditions.

Each check's loop runs through :func:`~khronos.health.keep_running` as the part
``check.<name>``: an exception from a collaborator (the alert engine failing to write its
outbox, say) is logged once with its traceback, counted in ``khronos_internal_errors_total``,
and the loop starts again; it never ends by itself.  :attr:`CheckRunner.tasks` lets an owner
(the daemon) watch the loops with :meth:`~khronos.health.Health.watch`.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence

import structlog
from prometheus_client import CollectorRegistry, Gauge

from khronos.alerts import AlertEngine, Clock
from khronos.checks._checks import (
    Check,
    CheckResult,
    DiskCheck,
    ErrorRateCheck,
    HttpCheck,
    MemoryCheck,
    QueueBacklogCheck,
)
from khronos.config._checks import ChecksConfig
from khronos.health import keep_running

__all__ = ["CheckRunner", "checks_from_config"]

_log = structlog.get_logger("khronos.checks")


def checks_from_config(
    config: ChecksConfig,
    registry: CollectorRegistry,
    *,
    namespace: str = "khronos",
    clock: Clock | None = None,
) -> list[Check]:
    """The checks ``checks:`` turns on; error rate and backlog read ``registry``."""
    checks: list[Check] = []
    if config.memory is not None:
        checks.append(MemoryCheck.from_config(config.memory))
    if config.disk is not None:
        checks.append(DiskCheck.from_config(config.disk))
    checks.extend(HttpCheck.from_config(c) for c in config.http)
    if config.error_rate is not None:
        checks.append(
            ErrorRateCheck.from_config(
                config.error_rate, registry, namespace=namespace, clock=clock
            )
        )
    if config.queue_backlog is not None:
        checks.append(
            QueueBacklogCheck.from_config(
                config.queue_backlog, registry, gauge=f"{namespace}_queue_size"
            )
        )
    return checks


class CheckRunner:
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

    async def run_once(self, check: Check) -> CheckResult:
        """Run one check now and apply its result."""
        try:
            result = await check.run()
        except Exception as exc:  # noqa: BLE001 - a broken check is a failed check, not a crash
            _log.exception("check crashed", check=check.name)
            result = CheckResult(False, f"Check {check.name} crashed: {type(exc).__name__}")
        up = result.ok if result.up is None else result.up
        self.up.labels(check=check.name).set(1 if up else 0)
        key = f"check:{check.name}"
        if result.ok:
            self.engine.resolve(key)
        else:
            self.engine.fire(key, result.message, result.level, result.details)
        return result

    async def run_all(self) -> list[CheckResult]:
        """Run every check once (``khronos status``, tests)."""
        return [await self.run_once(check) for check in self.checks]

    async def _loop(self, check: Check) -> None:
        while True:
            await self.run_once(check)
            await asyncio.sleep(check.every)

    @property
    def tasks(self) -> dict[str, asyncio.Task[None]]:
        """The running check loops by part name (``check.<name>``), for an owner to watch."""
        return dict(self._tasks)

    def start(self) -> None:
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
