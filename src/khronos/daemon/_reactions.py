"""What the daemon turns into alert conditions, and where the charts read a sidecar app's counters.

Functions of the engine (and the configuration), not of the daemon: a log folder that cannot be
written, a part that stopped for good, a restore drill that failed (also the one a previous run
left open), and the app's scraped message counters for the dashboard's history.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from khronos import logs
from khronos.alerts import AlertEngine, Level
from khronos.app import AppScraper
from khronos.backup import read_verify_file
from khronos.catalog import Text
from khronos.config import KhronosConfig
from khronos.dashboard import AppCounters
from khronos.health import PartDown

__all__ = [
    "LOG_FILES_KEY",
    "PART_DOWN_KEY",
    "drill_failed",
    "log_files_changed",
    "part_down",
    "recall_drills",
    "scraped_counters",
]

PART_DOWN_KEY = "khronos.part_down."
"""Prefix of the CRITICAL condition raised when a part of the daemon stops (+ the part)."""

LOG_FILES_KEY = "khronos.log_files"
"""The ERROR condition raised while log files cannot be written ("log dir full: ...")."""


def log_files_changed(engine: AlertEngine, failing: dict[Path, str]) -> None:
    """Log files became unwritable (ERROR, through the channels that work) or writable."""
    if not failing:
        engine.resolve(LOG_FILES_KEY)
        return
    engine.fire(
        LOG_FILES_KEY,
        logs.describe_failing(failing),
        Level.ERROR,
        {
            "files": sorted(str(path) for path in failing),
            "action": Text("logs.action"),
        },
    )


def part_down(engine: AlertEngine, event: PartDown) -> None:
    """A part stopped for good: a CRITICAL alert (Health has logged it already)."""
    engine.fire(
        f"{PART_DOWN_KEY}{event.part}",
        Text("daemon.part_down", part=event.part, reason=event.reason),
        Level.CRITICAL,
        {
            "part": event.part,
            "reason": event.reason,
            "action": Text("daemon.part_down.action"),
        },
    )


def recall_drills(engine: AlertEngine, config: KhronosConfig, state_dir: Path) -> None:
    """The last drill's outcome holds until the next drill, across restarts: a failure a
    previous run left open stays open (drills may run less often than the engine waits
    for a restored condition to be confirmed), a pass resolves it."""
    labels = {db.label for db in config.backup.dbs} if config.backup else set()
    for label, result in read_verify_file(state_dir).items():
        if label not in labels:
            continue
        if result.ok:
            engine.resolve(f"backup.verify.{label}")
        else:
            drill_failed(engine, label, result.error)


def drill_failed(engine: AlertEngine, label: str, reason: str | None) -> None:
    """A restore drill failed: the CRITICAL ``backup.verify.<db>``."""
    engine.fire(
        f"backup.verify.{label}",
        Text("daemon.drill_failed", db=label),
        "CRITICAL",
        {"database": label, "reason": reason or Text("daemon.unknown")},
    )


def scraped_counters(scraper: AppScraper | None, config: KhronosConfig) -> AppCounters | None:
    """The app's message counters and queue from its scraped ``/metrics``, for the charts."""
    if scraper is None or config.app is None:
        return None
    names = config.app.metric_names

    def read() -> dict[str, Any] | None:
        found = {
            "processed": scraper.total(names.processed),
            "failed": scraper.total(names.failed),
            "queue": scraper.total(names.queue),
        }
        return {key: value for key, value in found.items() if value is not None} or None

    return read
