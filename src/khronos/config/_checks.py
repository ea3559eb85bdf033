"""The ``checks:`` section of khronos.yml: the built-in health checks and their limits."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, ValidationInfo, field_validator, model_validator

from khronos.config._base import Section
from khronos.config._types import (
    ByteSize,
    ConfigValueError,
    Duration,
    ResolvedPath,
    check_http_url,
)

__all__ = [
    "ChecksConfig",
    "DiskCheckConfig",
    "ErrorRateCheckConfig",
    "HeartbeatCheckConfig",
    "HttpCheckConfig",
    "MemoryCheckConfig",
    "QueueBacklogCheckConfig",
]

_CHECK_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")


class MemoryCheckConfig(Section):
    """Resident memory (RSS) of this process, or of another one by pid or pidfile."""

    max_mb: float = Field(default=1000, gt=0)
    """ERROR above this many MB (1 MB = 1,000,000 bytes)."""

    warn_ratio: float = Field(default=0.9, gt=0, le=1)
    """WARN above this share of `max_mb`."""

    every: Duration = timedelta(seconds=60)
    """How often to check."""

    pid: int | None = Field(default=None, ge=1)
    """Watch this process instead of Khronos itself."""

    pidfile: ResolvedPath | None = None
    """Watch the process whose pid is in this file (read on every check)."""

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        if self.pid is not None and self.pidfile is not None:
            raise ConfigValueError(
                "give pid or pidfile, not both", "a pidfile survives restarts; prefer it"
            )
        return self


class DiskCheckConfig(Section):
    """Free space on the filesystem holding a path."""

    path: ResolvedPath = Path()
    """A path on the filesystem to watch (default: the config file's folder)."""

    min_free: ByteSize = 1_000_000_000
    """Alert when less than this is free."""

    every: Duration = timedelta(seconds=60)
    """How often to check."""


class HttpCheckConfig(Section):
    """An HTTP health endpoint that must answer 2xx."""

    name: str
    """Short name shown in alerts and in the `check` metric label."""

    url: str
    """URL to GET, e.g. `http://127.0.0.1:18789/health`."""

    timeout: Duration = timedelta(seconds=5)
    """Timeout of one request."""

    every: Duration = timedelta(seconds=30)
    """How often to check."""

    failures: int = Field(default=3, ge=1)
    """Consecutive failures before the alert fires."""

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _CHECK_NAME_RE.fullmatch(value):
            raise ConfigValueError(
                f"not a usable check name: {value!r}", "use letters, digits, '.', '_' and '-'"
            )
        return value

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        # a health endpoint behind basic auth is legitimate; the URL is never echoed in errors
        return check_http_url(value, "http://127.0.0.1:8080/health", allow_password=True)


class HeartbeatCheckConfig(Section):
    """A dead-man's switch for a job (a cron job, a worker loop): it pings
    `POST /api/heartbeats/<name>` when it succeeds; no ping for `every` + `grace` is an alert."""

    name: str
    """The heartbeat's name, in its URL (`/api/heartbeats/<name>`), alerts and metrics."""

    every: Duration
    """How often the job pings (its schedule: `1h` for an hourly cron job)."""

    grace: Duration = timedelta(minutes=5)
    """How late a ping may be before the alert; also how long a job that pinged `/start`
    may run before it is late. Give it the job's run time plus its schedule's jitter."""

    level: Literal["INFO", "WARN", "ERROR", "CRITICAL"] = "ERROR"
    """Level of the alert when the job is late or pings `/fail`."""

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _CHECK_NAME_RE.fullmatch(value):
            raise ConfigValueError(
                f"not a usable heartbeat name: {value!r}", "use letters, digits, '.', '_' and '-'"
            )
        return value

    @field_validator("every", "grace")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=1):
            raise ConfigValueError("must be at least 1s", "e.g. every: 1h, grace: 5m")
        return value

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class ErrorRateCheckConfig(Section):
    """Share of failed messages (from the messages metrics) over a sliding window."""

    threshold: float = Field(default=0.05, gt=0, le=1)
    """Alert when the share of failed messages over the window exceeds this (0.05 = 5%)."""

    window: Duration = timedelta(minutes=5)
    """Sliding window the rate is computed over."""

    min_events: int = Field(default=20, ge=1)
    """Ignore windows with fewer processed messages than this."""

    every: Duration = timedelta(seconds=30)
    """How often to check."""


class QueueBacklogCheckConfig(Section):
    """Length of the app's message queue (from the queue gauge)."""

    max: int = Field(default=1000, ge=1)
    """Alert when more messages than this are waiting."""

    every: Duration = timedelta(seconds=30)
    """How often to check."""


class ChecksConfig(Section):
    """Built-in health checks; set one to `null` to turn it off."""

    memory: MemoryCheckConfig | None = Field(default_factory=MemoryCheckConfig)
    """Process memory (RSS)."""

    disk: DiskCheckConfig | None = Field(default_factory=DiskCheckConfig)
    """Free disk space."""

    http: list[HttpCheckConfig] = Field(default_factory=list)
    """HTTP health endpoints."""

    error_rate: ErrorRateCheckConfig | None = Field(default_factory=ErrorRateCheckConfig)
    """Message error rate, from the app's message metrics: scraped from `app.metrics_url`
    under `khronos run` (on by default once it is set, off without it), or recorded by a
    Python app running Khronos inside it."""

    queue_backlog: QueueBacklogCheckConfig | None = Field(default_factory=QueueBacklogCheckConfig)
    """Message queue backlog, from the app's queue gauge: scraped from `app.metrics_url`
    under `khronos run` (on by default once it is set, off without it), or recorded by a
    Python app running Khronos inside it."""

    heartbeats: list[HeartbeatCheckConfig] = Field(default_factory=list)
    """Heartbeats the app's jobs ping (`POST /api/heartbeats/<name>`, needs `http.token`);
    late or failed → alert, the next ping → resolved."""

    @field_validator("http", "heartbeats")
    @classmethod
    def _unique_names(
        cls, value: list[HttpCheckConfig] | list[HeartbeatCheckConfig], info: ValidationInfo
    ) -> list[HttpCheckConfig] | list[HeartbeatCheckConfig]:
        seen: set[str] = set()
        for check in value:
            if check.name in seen:
                raise ConfigValueError(
                    f"two {info.field_name} checks are named {check.name!r}",
                    "give each a different name",
                )
            seen.add(check.name)
        return value
