"""The ``heartbeat:`` section of khronos.yml: Khronos pings an outside monitor while healthy."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal, Self

from pydantic import SecretStr, field_validator, model_validator

from khronos.config._base import Section
from khronos.config._types import ConfigValueError, Duration, Secret, check_http_url, is_unset

__all__ = ["HeartbeatConfig"]

_EXAMPLE = "https://hc-ping.com/<uuid> or https://kuma.example.com/api/push/<token>"


class HeartbeatConfig(Section):
    """Who watches the watcher: while Khronos is healthy (no part down, no CRITICAL alert
    firing, every database replicating) it calls `url` every `every`, so an outside service
    (healthchecks.io, an Uptime Kuma push monitor) pages you when it stops: the machine died,
    Khronos stopped, or something is badly wrong. While unhealthy it does not call."""

    url: Secret
    """The URL to call (secret: its path or query usually holds the token), e.g.
    `${HEARTBEAT_URL}` set to `https://hc-ping.com/<uuid>`."""

    every: Duration = timedelta(minutes=1)
    """How often to call it; set the monitor's period to this and its grace to a few times it."""

    method: Literal["GET", "POST", "HEAD"] = "GET"
    """HTTP method of the call."""

    timeout: Duration = timedelta(seconds=10)
    """Timeout of one call; a slower or failed call is logged and counted
    (`khronos_heartbeat_out_failures_total`), never alerted."""

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: SecretStr) -> SecretStr:
        if not is_unset(value):
            check_http_url(value.get_secret_value(), _EXAMPLE, allow_password=True)
        return value

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("every", "timeout")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=1):
            raise ConfigValueError("must be at least 1s", "e.g. every: 1m, timeout: 10s")
        return value

    @model_validator(mode="after")
    def _timeout_within_period(self) -> Self:
        if self.timeout > self.every:
            raise ConfigValueError(
                "timeout is longer than every",
                "give the call less time than the period",
                path="timeout",
            )
        return self
