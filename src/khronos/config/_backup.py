"""The ``backup:`` section of khronos.yml."""

from __future__ import annotations

from khronos.config._base import Section

__all__ = ["BackupConfig"]


class BackupConfig(Section):
    """Continuous SQLite replication on Litestream (not configurable yet)."""
