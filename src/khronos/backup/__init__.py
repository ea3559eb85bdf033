"""Backup: continuous SQLite replication on Litestream 0.5, safe restore, restore drills.

The names below are imported from their modules on first use, so that a command that needs a
few of them (``khronos status``) does not import the daemon's side (the supervisor, the metrics,
prometheus-client, the restore drill).
"""

import importlib as _importlib
import typing as _typing

if _typing.TYPE_CHECKING:
    from khronos.backup._alerts import AlertEvent, AlertSink, NullAlertSink, RecordingAlertSink
    from khronos.backup._control import ControlClient, ControlError, SyncResult, control_socket_path
    from khronos.backup._litestream import (
        LitestreamNotFoundError,
        RenderedConfig,
        find_litestream,
        litestream_env,
        render_config,
    )
    from khronos.backup._metrics import BackupCollector
    from khronos.backup._offline import offline_status, replicate_once
    from khronos.backup._restore import (
        RestorePlan,
        RestoreResult,
        restore_database,
        select_database,
    )
    from khronos.backup._restore_run import Progress
    from khronos.backup._service import BackupService, SyncError, sync_and_wait
    from khronos.backup._status import (
        STATUS_FILE,
        VERIFY_FILE,
        DbStatus,
        VerifyResult,
        read_status_file,
        read_verify_file,
    )
    from khronos.backup._supervisor import (
        AsyncioProcessRunner,
        Clock,
        ProcessHandle,
        ProcessRunner,
        Supervisor,
        SystemClock,
    )
    from khronos.backup._verify import VerifyReport, VerifyScheduler, verify_all, verify_database

_LAZY = {
    "AlertEvent": "khronos.backup._alerts",
    "AlertSink": "khronos.backup._alerts",
    "AsyncioProcessRunner": "khronos.backup._supervisor",
    "BackupCollector": "khronos.backup._metrics",
    "BackupService": "khronos.backup._service",
    "Clock": "khronos.backup._supervisor",
    "ControlClient": "khronos.backup._control",
    "ControlError": "khronos.backup._control",
    "DbStatus": "khronos.backup._status",
    "LitestreamNotFoundError": "khronos.backup._litestream",
    "NullAlertSink": "khronos.backup._alerts",
    "ProcessHandle": "khronos.backup._supervisor",
    "ProcessRunner": "khronos.backup._supervisor",
    "Progress": "khronos.backup._restore_run",
    "RecordingAlertSink": "khronos.backup._alerts",
    "RenderedConfig": "khronos.backup._litestream",
    "RestorePlan": "khronos.backup._restore",
    "RestoreResult": "khronos.backup._restore",
    "STATUS_FILE": "khronos.backup._status",
    "Supervisor": "khronos.backup._supervisor",
    "SyncError": "khronos.backup._service",
    "SyncResult": "khronos.backup._control",
    "SystemClock": "khronos.backup._supervisor",
    "VERIFY_FILE": "khronos.backup._status",
    "VerifyReport": "khronos.backup._verify",
    "VerifyResult": "khronos.backup._status",
    "VerifyScheduler": "khronos.backup._verify",
    "control_socket_path": "khronos.backup._control",
    "find_litestream": "khronos.backup._litestream",
    "litestream_env": "khronos.backup._litestream",
    "offline_status": "khronos.backup._offline",
    "read_status_file": "khronos.backup._status",
    "read_verify_file": "khronos.backup._status",
    "render_config": "khronos.backup._litestream",
    "replicate_once": "khronos.backup._offline",
    "restore_database": "khronos.backup._restore",
    "select_database": "khronos.backup._restore",
    "sync_and_wait": "khronos.backup._service",
    "verify_all": "khronos.backup._verify",
    "verify_database": "khronos.backup._verify",
}
"""Exported name -> the module that defines it."""


def __getattr__(name: str) -> _typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'khronos.backup' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "STATUS_FILE",
    "VERIFY_FILE",
    "AlertEvent",
    "AlertSink",
    "AsyncioProcessRunner",
    "BackupCollector",
    "BackupService",
    "Clock",
    "ControlClient",
    "ControlError",
    "DbStatus",
    "LitestreamNotFoundError",
    "NullAlertSink",
    "ProcessHandle",
    "ProcessRunner",
    "Progress",
    "RecordingAlertSink",
    "RenderedConfig",
    "RestorePlan",
    "RestoreResult",
    "Supervisor",
    "SyncError",
    "SyncResult",
    "SystemClock",
    "VerifyReport",
    "VerifyResult",
    "VerifyScheduler",
    "control_socket_path",
    "find_litestream",
    "litestream_env",
    "offline_status",
    "read_status_file",
    "read_verify_file",
    "render_config",
    "replicate_once",
    "restore_database",
    "select_database",
    "sync_and_wait",
    "verify_all",
    "verify_database",
]
