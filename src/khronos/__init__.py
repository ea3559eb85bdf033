"""Khronos: backup, metrics, logs and alerts for small self-hosted services on SQLite.

The most used names are here; each concept has its own module with the rest:
:mod:`khronos.backup`, :mod:`khronos.metrics`, :mod:`khronos.logs`, :mod:`khronos.alerts`,
:mod:`khronos.checks`, :mod:`khronos.config`, :mod:`khronos.daemon`.

>>> import khronos
>>> khronos.Level.CRITICAL.name
'CRITICAL'
"""

import typing as _typing

from khronos._version import __version__
from khronos.errors import (
    AlertError,
    BackupError,
    CircuitOpenError,
    ConfigError,
    ConfigProblem,
    ControlError,
    DaemonError,
    DeliveryError,
    KhronosError,
    LitestreamNotFoundError,
    LockedError,
    NoBackupError,
    OutboxError,
    ReplicaAccessError,
    RequestRefusedError,
    RestoreError,
    RestoreRefusedError,
    ScrapeError,
    SnapshotError,
    SyncError,
)

if _typing.TYPE_CHECKING:
    from khronos import logs
    from khronos.alerts import AlertEngine, CircuitBreaker, Level
    from khronos.backup import (
        BackupService,
        DbStatus,
        VerifyReport,
        restore_database,
        verify_database,
    )
    from khronos.checks import CheckRunner
    from khronos.config import KhronosConfig, load_config, parse_config
    from khronos.daemon import Daemon
    from khronos.logs import CorrelationIdMiddleware, bind_correlation_id, get_logger
    from khronos.metrics import Metrics, MetricsMiddleware, metrics_app

# Imported on first use, so `import khronos` (and `khronos --help`) stays fast: the daemon side
# pulls in uvicorn, httpx and prometheus-client, the configuration model pydantic.
_LAZY = {
    "AlertEngine": "khronos.alerts",
    "BackupService": "khronos.backup",
    "CheckRunner": "khronos.checks",
    "CircuitBreaker": "khronos.alerts",
    "CorrelationIdMiddleware": "khronos.logs",
    "Daemon": "khronos.daemon",
    "DbStatus": "khronos.backup",
    "KhronosConfig": "khronos.config",
    "Level": "khronos.alerts",
    "Metrics": "khronos.metrics",
    "MetricsMiddleware": "khronos.metrics",
    "VerifyReport": "khronos.backup",
    "bind_correlation_id": "khronos.logs",
    "get_logger": "khronos.logs",
    "load_config": "khronos.config",
    "metrics_app": "khronos.metrics",
    "parse_config": "khronos.config",
    "restore_database": "khronos.backup",
    "verify_database": "khronos.backup",
}


def __getattr__(name: str) -> _typing.Any:
    import importlib  # noqa: PLC0415 - only on the first use of a lazy name

    if name == "logs":
        return importlib.import_module("khronos.logs")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'khronos' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "AlertEngine",
    "AlertError",
    "BackupError",
    "BackupService",
    "CheckRunner",
    "CircuitBreaker",
    "CircuitOpenError",
    "ConfigError",
    "ConfigProblem",
    "ControlError",
    "CorrelationIdMiddleware",
    "Daemon",
    "DaemonError",
    "DbStatus",
    "DeliveryError",
    "KhronosConfig",
    "KhronosError",
    "Level",
    "LitestreamNotFoundError",
    "LockedError",
    "Metrics",
    "MetricsMiddleware",
    "NoBackupError",
    "OutboxError",
    "ReplicaAccessError",
    "RequestRefusedError",
    "RestoreError",
    "RestoreRefusedError",
    "ScrapeError",
    "SnapshotError",
    "SyncError",
    "VerifyReport",
    "__version__",
    "bind_correlation_id",
    "get_logger",
    "load_config",
    "logs",
    "metrics_app",
    "parse_config",
    "restore_database",
    "verify_database",
]
