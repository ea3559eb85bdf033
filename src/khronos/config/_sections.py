"""Sections that later capabilities fill in: each is empty until its capability lands.

An empty section still rejects every key, so a setting that Khronos does not know yet is an
error instead of being silently ignored.
"""

from __future__ import annotations

from khronos.config._base import Section

__all__ = ["AlertsConfig", "BackupConfig", "ChecksConfig", "LoggingConfig"]


class BackupConfig(Section):
    """Continuous SQLite replication on Litestream (not configurable yet)."""


class LoggingConfig(Section):
    """Structured logging (not configurable yet)."""


class AlertsConfig(Section):
    """Alert delivery (not configurable yet)."""


class ChecksConfig(Section):
    """Built-in health checks (not configurable yet)."""
