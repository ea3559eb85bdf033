"""Backup: continuous SQLite replication on Litestream 0.5, safe restore, restore drills.

Where things are (each module's docstring says more):

- the Litestream boundary: :class:`Invocation` (``_invocation``: prepare a run, run it bounded,
  classify its failures) on top of ``_litestream`` (the binary, its environment, its config);
- where each database's backup is: :func:`query_status` and :class:`DbStatus` (``_status``),
  kept live inside ``khronos run`` by ``_tracker``;
- ``khronos run``: :class:`BackupService` (``_service``) with :class:`Supervisor`, the alert
  conditions (``_conditions``), the crash-window guard and repair (``_continuity``), one
  replicator per database (``_claims``), metrics (``_metrics``);
- forcing a sync: :func:`backup_now` (``_sync``); restore: :func:`restore_database`
  (``_restore``, its download in ``_download``) on the safe path every restore shares,
  :func:`restore_from` (``_swap``: refusal, safety copy, integrity check, atomic swap; the
  snapshots restore through it too); the restore drill: :func:`verify_database`
  (``_verify``, its comparison with the live database in ``_digest``).

The names are imported from their modules on first use, so that a command that needs a few of
them (``khronos status``) does not import the daemon's side (the supervisor, the metrics,
prometheus-client, the restore drill).
"""

import importlib as _importlib
import typing as _typing

if _typing.TYPE_CHECKING:
    from khronos.backup._alerts import AlertEvent, AlertSink, NullAlertSink, RecordingAlertSink
    from khronos.backup._control import ControlClient, SyncResult, control_socket_path
    from khronos.backup._download import Progress
    from khronos.backup._invocation import Invocation, litestream_version
    from khronos.backup._litestream import (
        RenderedConfig,
        find_litestream,
        litestream_env,
        render_config,
    )
    from khronos.backup._metrics import BackupCollector
    from khronos.backup._restore import restore_database
    from khronos.backup._restore_args import parse_timestamp, parse_txid_arg
    from khronos.backup._service import BackupService
    from khronos.backup._sqlite import integrity_problems
    from khronos.backup._status import (
        DbStatus,
        VerifyResult,
        format_txid,
        query_status,
        read_status_file,
        read_verify_file,
        replica_position,
    )
    from khronos.backup._supervisor import (
        AsyncioProcessRunner,
        ProcessHandle,
        ProcessRunner,
        Supervisor,
    )
    from khronos.backup._swap import RestorePlan, RestoreResult, RestoreSource, restore_from
    from khronos.backup._sync import SyncOutcome, backup_now, sync_and_wait
    from khronos.backup._verify import VerifyReport, VerifyScheduler, verify_all, verify_database
    from khronos.errors import ControlError, LitestreamNotFoundError, SyncError

_LAZY = {
    "AlertEvent": "khronos.backup._alerts",
    "AlertSink": "khronos.backup._alerts",
    "AsyncioProcessRunner": "khronos.backup._supervisor",
    "BackupCollector": "khronos.backup._metrics",
    "BackupService": "khronos.backup._service",
    "ControlClient": "khronos.backup._control",
    "ControlError": "khronos.errors",
    "DbStatus": "khronos.backup._status",
    "Invocation": "khronos.backup._invocation",
    "LitestreamNotFoundError": "khronos.errors",
    "NullAlertSink": "khronos.backup._alerts",
    "ProcessHandle": "khronos.backup._supervisor",
    "ProcessRunner": "khronos.backup._supervisor",
    "Progress": "khronos.backup._download",
    "RecordingAlertSink": "khronos.backup._alerts",
    "RenderedConfig": "khronos.backup._litestream",
    "RestorePlan": "khronos.backup._swap",
    "RestoreResult": "khronos.backup._swap",
    "RestoreSource": "khronos.backup._swap",
    "Supervisor": "khronos.backup._supervisor",
    "SyncError": "khronos.errors",
    "SyncOutcome": "khronos.backup._sync",
    "SyncResult": "khronos.backup._control",
    "VerifyReport": "khronos.backup._verify",
    "VerifyResult": "khronos.backup._status",
    "VerifyScheduler": "khronos.backup._verify",
    "backup_now": "khronos.backup._sync",
    "control_socket_path": "khronos.backup._control",
    "find_litestream": "khronos.backup._litestream",
    "format_txid": "khronos.backup._status",
    "integrity_problems": "khronos.backup._sqlite",
    "litestream_env": "khronos.backup._litestream",
    "litestream_version": "khronos.backup._invocation",
    "parse_timestamp": "khronos.backup._restore_args",
    "parse_txid_arg": "khronos.backup._restore_args",
    "query_status": "khronos.backup._status",
    "read_status_file": "khronos.backup._status",
    "read_verify_file": "khronos.backup._status",
    "render_config": "khronos.backup._litestream",
    "replica_position": "khronos.backup._status",
    "restore_database": "khronos.backup._restore",
    "restore_from": "khronos.backup._swap",
    "sync_and_wait": "khronos.backup._sync",
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
    "AlertEvent",
    "AlertSink",
    "AsyncioProcessRunner",
    "BackupCollector",
    "BackupService",
    "ControlClient",
    "ControlError",
    "DbStatus",
    "Invocation",
    "LitestreamNotFoundError",
    "NullAlertSink",
    "ProcessHandle",
    "ProcessRunner",
    "Progress",
    "RecordingAlertSink",
    "RenderedConfig",
    "RestorePlan",
    "RestoreResult",
    "RestoreSource",
    "Supervisor",
    "SyncError",
    "SyncOutcome",
    "SyncResult",
    "VerifyReport",
    "VerifyResult",
    "VerifyScheduler",
    "backup_now",
    "control_socket_path",
    "find_litestream",
    "format_txid",
    "integrity_problems",
    "litestream_env",
    "litestream_version",
    "parse_timestamp",
    "parse_txid_arg",
    "query_status",
    "read_status_file",
    "read_verify_file",
    "render_config",
    "replica_position",
    "restore_database",
    "restore_from",
    "sync_and_wait",
    "verify_all",
    "verify_database",
]
