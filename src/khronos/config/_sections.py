"""The sections each capability owns, gathered for the root model (one module per section)."""

from __future__ import annotations

from khronos.config._alerts import AlertsConfig
from khronos.config._app import AppConfig
from khronos.config._backup import BackupConfig
from khronos.config._checks import ChecksConfig
from khronos.config._logging import LoggingConfig

__all__ = ["AlertsConfig", "AppConfig", "BackupConfig", "ChecksConfig", "LoggingConfig"]
