"""The error tree is true: every class in khronos.errors, exported from khronos, backup errors
under BackupError."""

from __future__ import annotations

import importlib
import pkgutil

import khronos
from khronos import errors


def _all_subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub, *_all_subclasses(sub)}
    return found


def test_every_error_class_lives_in_errors_and_is_exported() -> None:
    """Importing every module finds no KhronosError subclass outside khronos.errors."""
    for info in pkgutil.walk_packages(khronos.__path__, "khronos."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    for cls in _all_subclasses(errors.KhronosError):
        assert cls.__module__ == "khronos.errors", cls
        assert getattr(khronos, cls.__name__) is cls
        assert cls.__name__ in errors.__doc__


def test_except_backup_error_catches_every_backup_failure() -> None:
    """Restore, sync, control-socket and missing-binary failures are all BackupErrors."""
    for cls in (
        errors.RestoreError,
        errors.RestoreRefusedError,
        errors.NoBackupError,
        errors.ReplicaAccessError,
        errors.SyncError,
        errors.ControlError,
        errors.LitestreamNotFoundError,
    ):
        assert issubclass(cls, errors.BackupError), cls


def test_alert_failures_are_alert_errors() -> None:
    """Delivery and outbox failures share AlertError."""
    assert issubclass(errors.DeliveryError, errors.AlertError)
    assert issubclass(errors.OutboxError, errors.AlertError)
