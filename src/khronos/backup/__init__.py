"""Backup: continuous SQLite replication on Litestream 0.5, safe restore, restore drills."""

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
