"""Helpers of the check tests: a runner for one check, the texts an engine queued."""

from __future__ import annotations

import sqlite3

from prometheus_client import CollectorRegistry

from khronos.alerts import AlertEngine
from khronos.checks import Check, CheckRunner

__all__ = ["queued_texts", "runner_for"]


def runner_for(engine: AlertEngine, check: Check, registry: CollectorRegistry) -> CheckRunner:
    """A runner for one check."""
    return CheckRunner(engine, [check], registry=registry)


def queued_texts(engine: AlertEngine) -> list[str]:
    """The plain text of every alert queued in the engine's outbox, oldest first."""
    with sqlite3.connect(engine.outbox.path) as db:
        return [row[0] for row in db.execute("SELECT plain FROM outbox ORDER BY id")]
