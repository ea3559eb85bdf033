"""Replica settings of the ``backup:`` section: the keys Litestream 0.5 reads per replica type.

Every key is checked against what Litestream 0.5 really accepts: Litestream ignores unknown keys
silently, and also the keys its replica type does not read, so here a replica may only carry the
keys of its type (:data:`LITESTREAM_TYPE_KEYS`, from 0.5's ``NewReplicaFromConfig``).  Replica
keys may be written kebab-case, as in Litestream's own files (``sync-interval``), or snake_case
(``sync_interval``).  Khronos adds provider sugar that Litestream lacks: ``b2://bucket/path`` /
``type: b2`` (Backblaze B2) and ``r2://bucket/path`` / ``type: r2`` (Cloudflare R2) become the
S3-compatible settings those stores need.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, Self
from urllib.parse import unquote, urlsplit

from pydantic import ConfigDict, Field, ValidationInfo, field_validator, model_validator

from khronos.config._base import Section
from khronos.config._types import (
    ByteSize,
    ConfigValueError,
    Duration,
    ResolvedPath,
    Secret,
    check_http_url,
    is_unset,
)

__all__ = [
    "LEGACY_DB_KEYS",
    "LEGACY_REPLICA_KEYS",
    "LITESTREAM_TYPE_KEYS",
    "UNSUPPORTED_DB_KEYS",
    "UNSUPPORTED_REPLICA_KEYS",
    "ReplicaConfig",
    "ReplicaType",
    "kebab",
    "positive",
    "screen_keys",
]

ReplicaType = Literal["file", "s3", "b2", "r2", "gs", "abs", "sftp", "webdav", "oss"]

# 0.3-era replica keys that Litestream 0.5 ignores without a word, with their 0.5 replacement.
LEGACY_REPLICA_KEYS: dict[str, str] = {
    "retention": "backup.snapshot.retention (one setting for every database)",
    "retention-check-interval": "nothing: 0.5 enforces backup.snapshot.retention by itself",
    "snapshot-interval": "backup.snapshot.interval",
    "validation-interval": "backup.verify.interval (Khronos' restore drill)",
    "name": "nothing: a database has one replica in 0.5",
    "age": "nothing: 0.5 has no age encryption; use sse-kms-key-id or sse-customer-key (s3)",
    "key-id": "access-key-id (for B2: your keyID)",
    "application-key": "secret-access-key (for B2: your applicationKey)",
}
LEGACY_DB_KEYS: dict[str, str] = {
    "replicas": "replica: (one mapping; Litestream 0.5 allows one replica per database)",
}
# Keys Litestream 0.5 has but Khronos does not render (yet), with what to do instead.
_ONE_BY_ONE = "list each database under backup.dbs with its own path"
UNSUPPORTED_REPLICA_KEYS: dict[str, str] = {
    "max-sync-ltx-files": "remove it: Litestream then uploads every pending file in one run",
    "auto-recover": "remove it: Khronos alerts on sync errors; khronos verify checks the backup",
}
UNSUPPORTED_DB_KEYS: dict[str, str] = {
    **dict.fromkeys(("dir", "pattern", "recursive", "watch"), _ONE_BY_ONE),
    **dict.fromkeys(("meta-path", "meta-dir"), "remove it: Litestream's state stays by the db"),
    **dict.fromkeys(("truncate-page-n", "max-sync-wal-bytes"), "remove it (Litestream default)"),
    "snapshot": "use backup.snapshot (one setting for every database)",
}


def _keys(names: str) -> frozenset[str]:
    return frozenset(names.split())


_S3 = _keys(
    "path bucket region endpoint access-key-id secret-access-key force-path-style sign-payload "
    "sign-accept-encoding skip-verify require-content-md5 storage-class part-size concurrency "
    "sse-kms-key-id sse-customer-algorithm sse-customer-key sse-customer-key-path"
)
# The keys each Litestream 0.5 replica type reads besides type, url and sync-interval.
LITESTREAM_TYPE_KEYS: dict[str, frozenset[str]] = {
    "file": _keys("path"),
    "s3": _S3,
    "gs": _keys("path bucket"),
    "abs": _keys("path bucket endpoint account-name account-key sas-token"),
    "sftp": _keys("path host user password key-path host-key concurrent-writes"),
    "webdav": _keys("path webdav-url webdav-username webdav-password"),
    "nats": _keys(
        "bucket jwt seed creds nkey username password token tls root-cas client-cert "
        "client-key max-reconnects reconnect-wait timeout"
    ),
    "oss": _keys(
        "path bucket region endpoint access-key-id secret-access-key part-size concurrency"
    ),
}
# What a khronos.yml replica takes: Litestream's keys, the provider sugar, no NATS (yet).
_KHRONOS_TYPE_KEYS: dict[str, frozenset[str]] = {
    **{kind: keys for kind, keys in LITESTREAM_TYPE_KEYS.items() if kind != "nats"},
    "b2": _S3,
    "r2": _S3 | {"account-id"},
}
_SCHEMES = frozenset({"s3", "b2", "r2", "gs", "abs", "sftp", "webdav", "webdavs", "oss"})
_URL_HINT = (
    "use s3://, b2://, r2://, gs://, abs://, oss://, sftp://, webdav(s)://, or file:///dir; "
    "any other S3-compatible store: s3://bucket/path with endpoint: https://..."
)
_NEEDS: dict[str, tuple[tuple[str, str], ...]] = {
    "file": (("path", "/backups/app"),),
    **dict.fromkeys(("s3", "gs", "oss"), (("bucket", "NAME"),)),
    "abs": (("bucket", "CONTAINER"),),
    "sftp": (("host", "backup.example:22"), ("user", "backup")),
    "webdav": (("webdav_url", "https://dav.example"),),
}
_NO_NATS = "replicate to s3, gs, abs, oss, sftp, webdav or a file folder instead"
_B2_HOST = re.compile(r"s3\.([a-z0-9-]+)\.backblazeb2\.com")
_R2_ACCOUNT = re.compile(r"[0-9a-f]{32}")


def kebab(name: str) -> str:
    return name.replace("_", "-")


def screen_keys(data: Any, legacy: dict[str, str], unsupported: dict[str, str]) -> None:
    """Reject 0.3-era keys, Litestream keys Khronos does not render, and a key spelled twice."""
    if not isinstance(data, dict):
        return
    seen: dict[str, str] = {}
    for raw in data:
        key = str(raw)
        name = kebab(key)
        if name in seen:
            raise ConfigValueError(
                f"{seen[name]!r} and {key!r} are the same setting", "keep one of them", path=key
            )
        seen[name] = key
        if name in legacy:
            raise ConfigValueError(
                f"{key!r} is a Litestream 0.3 setting that 0.5 ignores or rejects",
                f"use {legacy[name]}",
                path=key,
            )
        if name in unsupported:
            raise ConfigValueError(
                f"{key!r} is a Litestream 0.5 setting not supported by Khronos yet",
                unsupported[name],
                path=key,
            )


def positive(value: timedelta | None, key: str, example: str) -> timedelta | None:
    if value is not None and value <= timedelta(0):
        raise ConfigValueError(f"{key} must be greater than 0", f"e.g. {key}: {example}")
    return value


class ReplicaConfig(Section):
    """Where one database is replicated: ``url:``, or ``type:`` with its keys."""

    model_config = ConfigDict(alias_generator=kebab, validate_by_name=True, validate_by_alias=True)

    url: str | None = None
    """Replica URL: `s3://bucket/path`, `b2://`, `r2://`, `gs://`, `abs://`, `oss://`, `sftp://user@host/dir`, `webdavs://host/dir`, `file:///dir`."""  # noqa: E501

    type: ReplicaType | None = None
    """Replica type when `url` is not used: file, s3, b2, r2, gs, abs, sftp, webdav, oss."""

    path: str | None = None
    """Folder (file, sftp, webdav) or key prefix (object stores) of the replica."""

    bucket: str | None = None
    """Bucket (s3, b2, r2, gs, oss) or container (abs)."""

    region: str | None = None
    """Region (s3, oss); b2 takes it from the endpoint, r2 uses `auto`."""

    endpoint: str | None = None
    """S3-compatible endpoint URL (MinIO, B2, R2, ...; empty for AWS S3); abs/oss endpoint."""

    account_id: str | None = None
    """Cloudflare account ID (r2): the endpoint becomes `https://ACCOUNT_ID.r2.cloudflarestorage.com`."""

    force_path_style: bool | None = None
    """Path-style bucket addressing (most S3-compatible stores need it)."""

    sign_payload: bool | None = None
    """Sign request bodies (B2 needs it)."""

    sign_accept_encoding: bool | None = None
    """Sign the Accept-Encoding header (false for stores that reject it, e.g. Garage)."""

    skip_verify: bool | None = None
    """Skip TLS certificate checks (self-signed test servers only)."""

    require_content_md5: bool | None = None
    """Send Content-MD5 headers (some S3-compatible stores require them)."""

    storage_class: str | None = None
    """S3 storage class for uploaded files."""

    part_size: ByteSize | None = None
    """Multipart upload part size (s3, oss)."""

    concurrency: int | None = Field(default=None, ge=1)
    """Parallel multipart upload parts (s3, oss)."""

    access_key_id: Secret | None = None
    """S3/OSS access key id (else the AWS_ACCESS_KEY_ID environment variable is used)."""

    secret_access_key: Secret | None = None
    """S3/OSS secret access key (else AWS_SECRET_ACCESS_KEY)."""

    sse_customer_algorithm: Literal["AES256"] | None = None
    """SSE-C algorithm (s3): AES256, the only one (and the default with a customer key)."""

    sse_customer_key: Secret | None = None
    """SSE-C key: 32 random bytes, base64 (s3); the store encrypts every object with it."""

    sse_customer_key_path: ResolvedPath | None = None
    """File holding the SSE-C key (s3), instead of sse-customer-key."""

    sse_kms_key_id: str | None = None
    """AWS KMS key id or ARN for SSE-KMS encryption (s3)."""

    account_name: str | None = None
    """Azure Blob Storage account name (abs)."""

    account_key: Secret | None = None
    """Azure Blob Storage account key (abs)."""

    sas_token: Secret | None = None
    """Azure shared access signature token (abs), instead of account-key."""

    host: str | None = None
    """SFTP server host:port (sftp)."""

    user: str | None = None
    """SFTP user (sftp)."""

    password: Secret | None = None
    """SFTP password (sftp)."""

    key_path: ResolvedPath | None = None
    """SFTP private key file (sftp)."""

    host_key: str | None = None
    """The SFTP server's public key, authorized_keys format (sftp; unset: not checked)."""

    concurrent_writes: bool | None = None
    """Parallel SFTP writes (sftp; Litestream default true)."""

    webdav_url: str | None = None
    """WebDAV server URL, e.g. `https://dav.example.com` (webdav)."""

    webdav_username: str | None = None
    """WebDAV user (webdav)."""

    webdav_password: Secret | None = None
    """WebDAV password (webdav)."""

    sync_interval: Duration = timedelta(seconds=1)
    """How often new changes are shipped to the replica (the upper bound of data at risk)."""

    @model_validator(mode="before")
    @classmethod
    def _screen(cls, data: Any) -> Any:
        screen_keys(data, LEGACY_REPLICA_KEYS, UNSUPPORTED_REPLICA_KEYS)
        if isinstance(data, dict) and (
            data.get("type") == "nats" or str(data.get("url", "")).lower().startswith("nats:")
        ):
            raise ConfigValueError(
                "nats is a Litestream 0.5 replica type not supported by Khronos yet", _NO_NATS
            )
        return data

    @field_validator("sync_interval")
    @classmethod
    def _sync_positive(cls, value: timedelta) -> timedelta | None:
        return positive(value, "sync-interval", "1s (0 would stop replication)")

    @model_validator(mode="after")
    def _check_and_expand(self, info: ValidationInfo) -> Self:
        if (self.url is None) == (self.type is None):
            raise ConfigValueError(
                "give either url or type",
                "e.g. url: s3://my-bucket/khronos/state.db, or type: s3 with bucket and path",
            )
        kind: str = self.type or ""
        values: dict[str, Any] = {}
        if self.url is not None:
            kind, values = _parse_url(self.url)
        self._check_keys(kind)
        for key, value in values.items():
            current = getattr(self, key)
            if current is not None and current != value:
                raise ConfigValueError(
                    f"{kebab(key)} {current!r} contradicts the url",
                    "give it in one place",
                    path=kebab(key),
                )
        if kind == "b2":
            values.update(_b2_settings(self))
        elif kind == "r2":
            values.update(_r2_settings(self))
        if kind == "file":
            values["path"] = str(_absolute(values.get("path") or self.path or "", info))
        for key, value in values.items():
            object.__setattr__(self, key, value)  # frozen model: set once, while validating
        object.__setattr__(self, "type", "s3" if kind in {"b2", "r2"} else kind)
        object.__setattr__(self, "url", None)
        self._check_required()
        return self

    def _check_keys(self, kind: str) -> None:
        """Litestream ignores a key its replica type does not read: refuse it here."""
        allowed = _KHRONOS_TYPE_KEYS[kind]
        for name in type(self).model_fields:
            key = kebab(name)
            if key in allowed or key in {"url", "type", "sync-interval"}:
                continue
            if getattr(self, name) is not None:
                raise ConfigValueError(
                    f"{key} is not read by {kind} replicas (Litestream would ignore it)",
                    f"{kind} replicas take: {', '.join(sorted(allowed))}",
                    path=key,
                )

    def _check_required(self) -> None:
        kind = self.type or ""
        for name, example in _NEEDS.get(kind, ()):
            if getattr(self, name) in {None, "", "."}:
                key = kebab(name)
                raise ConfigValueError(f"a {kind} replica needs {key}", f"add {key}: {example}")
        if kind == "abs" and not (self.account_name or self.endpoint):
            raise ConfigValueError("an abs replica needs account-name", "add account-name: NAME")
        if kind == "webdav" and self.webdav_url is not None:
            check_http_url(self.webdav_url, "https://host/dir", key="webdav-url")
        if kind == "s3":
            if self.endpoint is not None:
                check_http_url(self.endpoint, "https://host", key="endpoint")
            sse_c = (self.sse_customer_key, self.sse_customer_key_path)
            if all(sse_c):
                raise ConfigValueError("give sse-customer-key or sse-customer-key-path, not both")
            if self.sse_customer_algorithm and not any(sse_c):
                raise ConfigValueError(
                    "sse-customer-algorithm alone does nothing (Litestream ignores it)",
                    "add sse-customer-key or sse-customer-key-path",
                )
            sse_key = self.sse_customer_key
            if sse_key and not is_unset(sse_key) and not _is_sse_key(sse_key.get_secret_value()):
                raise ConfigValueError(
                    "sse-customer-key is not 32 bytes in base64 (Litestream would refuse it)",
                    "make one with: openssl rand -base64 32",
                    path="sse-customer-key",
                )
            if self.sse_kms_key_id and any(sse_c):
                raise ConfigValueError(
                    "SSE-KMS and SSE-C cannot be combined", "keep sse-kms-key-id or the SSE-C keys"
                )

    @property
    def display(self) -> str:
        """The replica as a URL-like string for status output (no secrets)."""
        where = (self.path or "").lstrip("/")
        if self.type == "file":
            return f"file://{self.path}"
        if self.type == "sftp":
            return f"sftp://{self.host}/{where}"
        if self.type == "webdav":
            return f"{(self.webdav_url or '').rstrip('/')}/{where}"
        suffix = f" ({self.endpoint})" if self.endpoint else ""
        return f"{self.type}://{self.bucket}/{where}{suffix}"


def _parse_url(url: str) -> tuple[str, dict[str, Any]]:
    """A replica URL as its type and the keys it stands for (credentials stay out of URLs)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    path = unquote(parts.path)
    if scheme == "file":
        if parts.netloc not in {"", "localhost"}:
            raise ConfigValueError("the file URL has a host", "write file:///absolute/dir")
        return "file", {"path": path}
    if scheme not in _SCHEMES:
        hint = {"gcs": "use gs://bucket/path"}.get(scheme, _URL_HINT)
        raise ConfigValueError(f"unsupported replica URL scheme {parts.scheme!r}", hint)
    host = parts.netloc.rpartition("@")[2]
    if not host:
        raise ConfigValueError("the replica URL has no bucket or host", _URL_HINT)
    if parts.query or parts.fragment:
        raise ConfigValueError(
            "the replica URL has a query string",
            "give endpoint, region and the other settings as keys beside url",
        )
    if parts.password is not None:
        raise ConfigValueError(
            "the replica URL holds a password",
            "remove it from the url and give password: ${VAR} (webdav-password for webdav)",
        )
    user = unquote(parts.username) if parts.username else None
    values: dict[str, Any] = {}
    kind = scheme
    if scheme == "sftp":
        values = {"host": host, "user": user, "path": path or None}
    elif scheme in {"webdav", "webdavs"}:
        kind = "webdav"
        web = "https" if scheme == "webdavs" else "http"
        values = {"webdav_url": f"{web}://{host}", "webdav_username": user, "path": path or None}
    else:
        if user is not None and scheme != "abs":
            raise ConfigValueError(
                f"a {scheme} URL has no user part", "give the credentials as keys beside url"
            )
        values = {"bucket": host, "account_name": user, "path": path.strip("/") or None}
    return kind, {key: value for key, value in values.items() if value is not None}


def _is_sse_key(text: str) -> bool:
    try:
        return len(base64.b64decode(text, validate=True)) == 32
    except binascii.Error:
        return False


def _absolute(path: str, info: ValidationInfo) -> Path:
    """A file replica path with ~ expanded, relative to the config file's folder."""
    if not path:
        return Path()
    resolved = Path(path).expanduser()
    base = (info.context or {}).get("base_dir")
    return resolved if resolved.is_absolute() or base is None else Path(base) / resolved


def _b2_settings(replica: ReplicaConfig) -> dict[str, Any]:
    """Backblaze B2 through its S3-compatible API: endpoint, its region, path style, signing.

    B2 checks that the region a request is signed for is the one in the endpoint, so the
    region is read from ``s3.<region>.backblazeb2.com`` rather than defaulted.
    """
    endpoint, region = replica.endpoint, replica.region
    hint = "add region: us-west-004 (the part after s3. in your bucket's endpoint)"
    if endpoint is None:
        if region is None:
            raise ConfigValueError("a b2 replica needs its region or endpoint", hint)
        endpoint = f"https://s3.{region}.backblazeb2.com"
    else:
        match = _B2_HOST.fullmatch(urlsplit(endpoint).hostname or "")
        if match is None and region is None:
            raise ConfigValueError(
                "cannot tell the b2 region from the endpoint", hint, path="endpoint"
            )
        if match is not None and region not in {None, match[1]}:
            raise ConfigValueError(
                f"region {region!r} contradicts the endpoint (region {match[1]!r})",
                "remove region: b2 takes it from the endpoint",
                path="region",
            )
        region = region or (match[1] if match else None)
    return {
        "endpoint": endpoint,
        "region": region,
        "force_path_style": True if replica.force_path_style is None else replica.force_path_style,
        "sign_payload": True if replica.sign_payload is None else replica.sign_payload,
    }


def _r2_settings(replica: ReplicaConfig) -> dict[str, Any]:
    """Cloudflare R2 through its S3-compatible API: the account's endpoint, region ``auto``."""
    account, endpoint = replica.account_id, replica.endpoint
    where = "https://ACCOUNT_ID.r2.cloudflarestorage.com"
    if account is None and endpoint is None:
        raise ConfigValueError(
            "an r2 replica needs account-id or endpoint",
            f"add account-id: <your Cloudflare account ID>, or endpoint: {where}",
        )
    if account is not None:
        if not _R2_ACCOUNT.fullmatch(account):
            raise ConfigValueError(
                "account-id is not a Cloudflare account ID (32 hex digits)",
                "copy it from the Cloudflare dashboard: R2 > Account details",
                path="account-id",
            )
        if endpoint is None:
            endpoint = f"https://{account}.r2.cloudflarestorage.com"
        elif not (urlsplit(endpoint).hostname or "").startswith(f"{account}."):
            raise ConfigValueError(
                "endpoint contradicts account-id", "give one of them", path="endpoint"
            )
    return {"endpoint": endpoint, "region": replica.region or "auto", "account_id": None}
