"""The snapshot schedule inside the daemon: built when a database has ``snapshots:``, its
metrics registered, its entries for ``/api/status``, and the drills' outcomes handed to it."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import CollectorRegistry
from starlette.routing import Route

from khronos.alerts import AlertEngine
from khronos.backup import VerifyReport
from khronos.config import KhronosConfig
from khronos.health import Health
from khronos.lifecycle import Lifecycle
from khronos.snapshots import (
    SNAPSHOTS_PART,
    SnapshotCollector,
    SnapshotSample,
    SnapshotScheduler,
    snapshot_pairs,
    snapshot_routes,
    snapshot_status,
)

__all__ = [
    "build_snapshots",
    "enter_snapshots",
    "snapshot_api",
    "snapshot_drills",
    "snapshots_source",
]

_STOP_WAIT_MAX_S = 30.0


def build_snapshots(
    config: KhronosConfig, engine: AlertEngine, registry: CollectorRegistry
) -> SnapshotScheduler | None:
    """The schedule when some database has snapshot destinations (else None), its metrics
    registered on ``registry``.  A stop waits for a running snapshot up to half of
    ``service.shutdown_timeout`` (at most 30s)."""
    if not snapshot_pairs(config):
        return None
    shutdown = config.service.shutdown_timeout.total_seconds()
    scheduler = SnapshotScheduler(
        config, alerts=engine, stop_timeout=max(1.0, min(_STOP_WAIT_MAX_S, shutdown / 2))
    )

    def sample() -> SnapshotSample:
        return SnapshotSample(scheduler.states(), scheduler.failures_total(), scheduler.intervals())

    registry.register(SnapshotCollector(sample, namespace=config.metrics.namespace))
    return scheduler


async def enter_snapshots(
    scheduler: SnapshotScheduler | None,
    enter: Callable[[str, Lifecycle], Awaitable[None]],
    health: Health,
) -> None:
    """Start the schedule through the daemon's ``enter`` (its stop on the stack) and watch it."""
    if scheduler is None:
        return
    await enter("snapshots", scheduler)
    if scheduler.task is not None:
        health.watch(SNAPSHOTS_PART, scheduler.task)


def snapshots_source(
    config: KhronosConfig, scheduler: SnapshotScheduler | None
) -> Callable[[], Any] | None:
    """``/api/status``'s snapshot entries per database (None without a schedule)."""
    if scheduler is None:
        return None
    return lambda: snapshot_status(
        config, scheduler.states(), now=time.time(), running=scheduler.is_running
    )


def snapshot_drills(scheduler: SnapshotScheduler | None, report: VerifyReport) -> None:
    """Hand each snapshot drill of a restore drill to the schedule (state, metrics, alerts)."""
    if scheduler is None:
        return
    for drill in report.snapshots:
        scheduler.drilled(drill.db, drill.dest, drill.result)


def snapshot_api(config: KhronosConfig, scheduler: SnapshotScheduler | None) -> list[Route]:
    """``/api/snapshots`` when there is a schedule."""
    return [] if scheduler is None else snapshot_routes(scheduler, config.http.token)
