"""The ``app:`` section: the app `khronos run` supervises (the PM2 part of the original design).

``khronos run -- node bot.js`` overrides ``app.command``; the rest of the section still applies.
"""

from __future__ import annotations

import re
import shlex
import signal
from datetime import timedelta
from typing import Any

from pydantic import Field, field_validator

from khronos.config._backup import RestartPolicy
from khronos.config._base import Section
from khronos.config._types import ConfigValueError, Duration, ResolvedPath, check_http_url

__all__ = ["AppConfig", "AppMetricNames", "parse_command"]

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_SIGNALS = sorted(s.name for s in signal.Signals if not s.name.startswith("SIG_"))


def parse_command(value: Any) -> list[str] | None:
    """A command as a list of arguments; a string is split like a shell would (no expansion)."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = shlex.split(value)
        except ValueError as exc:
            raise ConfigValueError(
                f"cannot split the command: {exc}", "close the quotes, or write it as a list"
            ) from None
    if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
        raise ConfigValueError(
            "the command must be a string or a list of strings", 'e.g. ["node", "bot.js"]'
        )
    if not value or not value[0]:
        raise ConfigValueError("the command is empty", 'e.g. command: ["node", "bot.js"]')
    return list(value)


class AppMetricNames(Section):
    """The series of the app's `/metrics` the checks read (sample names, summed over labels)."""

    processed: str = "khronos_messages_processed_total"
    """Counter of messages handled without failure (`checks.error_rate`)."""

    failed: str = "khronos_messages_failed_total"
    """Counter of messages that failed (`checks.error_rate`)."""

    queue: str = "khronos_queue_size"
    """Gauge of messages waiting (`checks.queue_backlog`)."""

    @field_validator("processed", "failed", "queue")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _METRIC_NAME.fullmatch(value):
            raise ConfigValueError(
                f"not a Prometheus metric name: {value!r}",
                "e.g. myapp_messages_failed_total (letters, digits, '_' and ':')",
            )
        return value


class AppConfig(Section):
    """The app `khronos run` starts, watches and restarts (`khronos run -- CMD` overrides
    `command`)."""

    command: list[str] | None = None
    """The app's command: a list (`["node", "bot.js"]`) or a string split like a shell does
    (no variables, no pipes). Required unless given after `--` on the command line."""

    cwd: ResolvedPath | None = None
    """Working directory of the app (relative to the config file; default: the directory
    `khronos run` was started in)."""

    env: dict[str, str] = Field(default_factory=dict)
    """Variables added to the app's environment (values may use `${VAR}`; values of
    secret-looking names such as `*_TOKEN` are masked in logs). The app inherits Khronos'
    environment without Khronos' own secrets (Telegram token, HTTP token, the replica's
    keys): list one here to pass it on."""

    stop_signal: str = "SIGTERM"
    """Signal sent to the app's process group to stop it (`SIGTERM`, `SIGINT`, `SIGQUIT`...)."""

    stop_timeout: Duration = timedelta(seconds=10)
    """How long the app has to exit after `stop_signal`; then its whole process group gets
    SIGKILL."""

    restart: RestartPolicy = Field(default_factory=RestartPolicy)
    """Restart policy when the app exits on its own (same keys as `backup.restart`)."""

    metrics_url: str | None = None
    """The app's Prometheus endpoint (e.g. prom-client's `http://127.0.0.1:3000/metrics`):
    scraped every `scrape_interval`; `checks.error_rate` and `checks.queue_backlog` then read
    the app's series (and run by default)."""

    scrape_interval: Duration = timedelta(seconds=15)
    """How often `metrics_url` is scraped."""

    metric_names: AppMetricNames = Field(default_factory=AppMetricNames)
    """The app's series the checks read."""

    @field_validator("command", mode="before")
    @classmethod
    def _command(cls, value: Any) -> list[str] | None:
        return parse_command(value)

    @field_validator("env")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not _ENV_NAME.fullmatch(name):
                raise ConfigValueError(
                    f"not an environment variable name: {name!r}",
                    "use letters, digits and '_', not starting with a digit",
                )
        return value

    @field_validator("stop_signal")
    @classmethod
    def _signal(cls, value: str) -> str:
        name = value.strip().upper()
        if not name.startswith("SIG"):
            name = f"SIG{name}"
        if name not in _SIGNALS or name == "SIGKILL":
            raise ConfigValueError(
                f"not a signal to stop with: {value!r}", "e.g. SIGTERM, SIGINT or SIGQUIT"
            )
        return name

    @field_validator("stop_timeout", "scrape_interval")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ConfigValueError("must be greater than 0", "e.g. 10s")
        return value

    @field_validator("metrics_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return check_http_url(value, "http://127.0.0.1:3000/metrics", allow_password=True)

    @property
    def signal_number(self) -> int:
        """:attr:`stop_signal` as a number."""
        return int(signal.Signals[self.stop_signal])
