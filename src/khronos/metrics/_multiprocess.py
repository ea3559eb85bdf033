"""Multi-worker servers (gunicorn, ``uvicorn --workers``): prometheus-client's multiprocess mode.

Each worker writes its samples to memory-mapped files in ``PROMETHEUS_MULTIPROC_DIR``; the
``/metrics`` endpoint of any worker serves a registry that merges all of them.  The variable
must be set, to an empty folder, *before* the workers start (prometheus-client reads it at import
time).  Gauges are merged as :class:`~khronos.metrics.Metrics` declares: queue size and
in-progress requests are summed over live workers, active users and breaker states take the
live maximum.  Process metrics (``process_*``) are per worker and are not merged.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client import multiprocess as _mp

from khronos.errors import KhronosError

__all__ = [
    "MULTIPROC_ENV",
    "child_exit",
    "mark_process_dead",
    "multiprocess_dir",
    "multiprocess_registry",
]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
"""The environment variable naming the folder of the workers' metric files."""


def multiprocess_dir() -> Path | None:
    """The folder from ``PROMETHEUS_MULTIPROC_DIR``, or None when multiprocess mode is off."""
    value = os.environ.get(MULTIPROC_ENV)
    return Path(value) if value else None


def multiprocess_registry(path: str | Path | None = None) -> CollectorRegistry:
    """A fresh registry merging every worker's metrics, for the ``/metrics`` endpoint.

    ``path`` defaults to ``PROMETHEUS_MULTIPROC_DIR``.  Serve it with
    ``metrics_app(multiprocess_registry())``.
    """
    folder = Path(path) if path is not None else multiprocess_dir()
    if folder is None or not folder.is_dir():
        raise KhronosError(
            f"{MULTIPROC_ENV} is not set or not a folder: {folder}",
            op="metrics multiprocess",
            hint=f"export {MULTIPROC_ENV}=/run/my-app/metrics (an empty folder) before the "
            "workers start",
        )
    registry = CollectorRegistry()
    _mp.MultiProcessCollector(registry, path=str(folder))  # type: ignore[no-untyped-call]
    return registry


def mark_process_dead(pid: int, path: str | Path | None = None) -> None:
    """Drop a dead worker's live gauges (``livesum``/``livemax`` stop counting it)."""
    folder = Path(path) if path is not None else multiprocess_dir()
    if folder is not None:
        _mp.mark_process_dead(pid, str(folder))  # type: ignore[no-untyped-call]


def child_exit(server: Any, worker: Any) -> None:  # noqa: ARG001 - gunicorn's hook signature
    """A gunicorn ``child_exit`` hook: ``from khronos.metrics import child_exit`` in its config."""
    mark_process_dead(worker.pid)
