"""The whole ``khronos.yml``: one pydantic model per section.

Later capabilities fill their sections in their own modules (``backup``, ``logging``, ``alerts``,
``checks``); this module ties them together and holds the small core sections.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from khronos.config._base import Section
from khronos.config._heartbeat import HeartbeatConfig
from khronos.config._sections import (
    AlertsConfig,
    AppConfig,
    BackupConfig,
    ChecksConfig,
    LoggingConfig,
)
from khronos.config._types import (
    ConfigValueError,
    Duration,
    ListenAddress,
    ResolvedPath,
    Secret,
    parse_listen,
)
from khronos.errors import ConfigError

__all__ = ["HttpConfig", "KhronosConfig", "MetricsConfig", "ServiceConfig", "UnsetVariable"]

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
_METRIC_PREFIX_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_URL_PATH_RE = re.compile(r"/[A-Za-z0-9/_.-]*")


class ServiceConfig(Section):
    """The service Khronos looks after (``service: my-bot`` is short for ``{name: my-bot}``)."""

    name: str = "khronos"
    """Name of the service, shown in logs, alerts and metrics."""

    shutdown_timeout: Duration = timedelta(seconds=30)
    """How long `khronos run` waits on stop for a final backup sync and pending alerts."""

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"name": data} if isinstance(data, str) else data

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _NAME_RE.fullmatch(value):
            raise ConfigValueError(
                f"not a usable service name: {value!r}",
                "use letters, digits, '.', '_' and '-', starting with a letter or digit",
            )
        return value


class HttpConfig(Section):
    """Khronos' own HTTP endpoint (``/metrics``, ``/status``, the alert API)."""

    listen: ListenAddress = Field(default_factory=lambda: parse_listen("127.0.0.1:9321"))
    """Address to listen on, ``host:port`` (``[::1]:9321`` for IPv6; port 0 picks a free one)."""

    token: Secret | None = None
    """Bearer token required by the write endpoints; required to listen beyond loopback."""

    request_timeout: Duration = timedelta(seconds=10)
    """Time a client has to send a whole request (headers and body) from its first byte, or
    from connecting; slower ones (slowloris) are disconnected. Also how long a client that
    stops reading its response is waited for."""

    idle_timeout: Duration = timedelta(seconds=5)
    """How long a kept-alive connection may wait for its next request (whole seconds)."""

    max_connections: int | None = Field(default=None, ge=1)
    """Open connections at most; beyond it new ones are closed at once. Default: half the
    open-files limit (which `khronos run` raises to the hard limit, up to 65536), at most
    4096."""

    @field_validator("request_timeout", "idle_timeout")
    @classmethod
    def _check_timeout(cls, value: timedelta, info: ValidationInfo) -> timedelta:
        if value <= timedelta(0):
            default = {"request_timeout": "10s", "idle_timeout": "5s"}.get(info.field_name or "")
            raise ConfigValueError(
                f"{info.field_name} must be greater than 0", f"e.g. {info.field_name}: {default}"
            )
        return value


class MetricsConfig(Section):
    """Prometheus metrics."""

    namespace: str = "khronos"
    """Prefix of every metric name (``khronos_messages_processed_total``)."""

    path: str = "/metrics"
    """URL path of the Prometheus endpoint on ``http.listen``."""

    auth: Literal["auto", "token", "none"] = "auto"
    """Who may scrape: `auto` requires `http.token` (as bearer token or basic-auth password)
    when listening beyond loopback, `token` always, `none` never (e.g. behind a proxy)."""

    http_buckets: list[float] | None = None
    """Buckets (seconds) of the HTTP request duration histogram (default 5ms to 10s)."""

    ai_buckets: list[float] | None = None
    """Buckets (seconds) of the AI call latency histogram (default 100ms to 2m)."""

    @field_validator("namespace")
    @classmethod
    def _check_namespace(cls, value: str) -> str:
        if not _METRIC_PREFIX_RE.fullmatch(value):
            raise ConfigValueError(
                f"not a valid metric name prefix: {value!r}",
                "use letters, digits and '_', not starting with a digit",
            )
        return value

    @field_validator("path")
    @classmethod
    def _check_path(cls, value: str) -> str:
        if not _URL_PATH_RE.fullmatch(value) or value == "/":
            raise ConfigValueError(
                f"not a usable URL path: {value!r}",
                "write an absolute path such as /metrics (letters, digits, '/', '-', '_', '.')",
            )
        return value

    @field_validator("http_buckets", "ai_buckets")
    @classmethod
    def _check_buckets(cls, value: list[float] | None) -> list[float] | None:
        if value is None:
            return value
        hint = "list increasing positive numbers of seconds, e.g. [0.01, 0.1, 1, 10]"
        if not value:
            raise ConfigValueError("needs at least one bucket", hint)
        if any(not math.isfinite(b) or b <= 0 for b in value):
            raise ConfigValueError("buckets must be positive finite numbers of seconds", hint)
        if any(a >= b for a, b in itertools.pairwise(value)):
            raise ConfigValueError("buckets must be in increasing order", hint)
        return value


@dataclass(frozen=True, slots=True)
class UnsetVariable:
    """A ``${VAR}`` not set while a reading command loaded the configuration."""

    variable: str
    path: str
    """The key that references it (``alerts.telegram.bot_token``)."""
    left_out: str | None
    """The part left out because of it (``alerts.telegram``); None for a secret, which stays
    set but fails when read."""

    def describe(self) -> str:
        """``${X} is not set: alerts.telegram is left out`` (for a note on stderr)."""
        if self.left_out:
            return f"${{{self.variable}}} is not set: {self.left_out} is left out"
        return f"${{{self.variable}}} is not set: {self.path} is unavailable to this command"


class KhronosConfig(Section):
    """The whole configuration file."""

    service: ServiceConfig = Field(default_factory=ServiceConfig)
    """The service Khronos looks after."""

    environment: str = "production"
    """Deployment environment shown in logs and alerts (production, staging, dev...)."""

    state_dir: ResolvedPath = Path(".khronos")
    """Khronos' own files (rendered Litestream config, alert outbox, status)."""

    http: HttpConfig = Field(default_factory=HttpConfig)
    """Khronos' HTTP endpoint."""

    backup: BackupConfig | None = None
    """Continuous SQLite replication (see the backup section)."""

    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    """Prometheus metrics."""

    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    """Structured logs."""

    alerts: AlertsConfig | None = None
    """Alert delivery (Telegram)."""

    checks: ChecksConfig = Field(default_factory=ChecksConfig)
    """Built-in health checks."""

    app: AppConfig | None = None
    """The app `khronos run` supervises (see docs/app.md)."""
    heartbeat: HeartbeatConfig | None = None
    """An outside monitor Khronos calls while healthy (healthchecks.io, Uptime Kuma push)."""

    _source: Path | None = PrivateAttr(default=None)
    _unset: list[UnsetVariable] = PrivateAttr(default_factory=list)

    @property
    def source(self) -> Path | None:
        """The file this configuration was read from, if any."""
        return self._source

    @property
    def unset_variables(self) -> list[UnsetVariable]:
        """The ``${VAR}`` left unset in a configuration loaded for a reading command."""
        return list(self._unset)

    def require_backup(self) -> BackupConfig:
        """The ``backup:`` section; :class:`~khronos.errors.ConfigError` (the CLI exits 2) when
        the file has none.  With :meth:`BackupConfig.select`, the one way commands pick what
        they back up, restore or check."""
        if self.backup is None:
            raise ConfigError.single(
                "backup",
                "the configuration has no backup: section",
                "add backup: with at least one database (see docs/backup.md)",
                source=str(self._source) if self._source else None,
            )
        return self.backup

    @property
    def base_dir(self) -> Path:
        """The folder relative paths are resolved against."""
        return self._source.parent if self._source else Path.cwd()

    @model_validator(mode="after")
    def _token_beyond_loopback(self) -> Self:
        if not self.http.listen.is_loopback and self.http.token is None:
            raise ConfigValueError(
                f"http.listen is {self.http.listen}, beyond loopback, but http.token is not set",
                "set http.token (e.g. ${KHRONOS_HTTP_TOKEN}) or listen on 127.0.0.1",
                path="http.token",
            )
        return self

    @model_validator(mode="after")
    def _token_for_heartbeats(self) -> Self:
        if self.checks.heartbeats and self.http.token is None:
            raise ConfigValueError(
                "checks.heartbeats needs http.token: the jobs ping with it as bearer token",
                "set http.token (e.g. ${KHRONOS_HTTP_TOKEN})",
                path="http.token",
            )
        return self
