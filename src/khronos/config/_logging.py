"""The ``logging:`` section of khronos.yml: level, console, rotated files and redaction."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from khronos.config._base import Section
from khronos.config._types import ByteSize, ConfigValueError, ResolvedPath, Secret

__all__ = [
    "LOG_LEVELS",
    "CriticalFileConfig",
    "ErrorsFileConfig",
    "LogFileConfig",
    "LogFilesConfig",
    "LoggingConfig",
]

LogLevel = Literal["debug", "info", "warning", "error", "critical"]
LOG_LEVELS: tuple[str, ...] = ("debug", "info", "warning", "error", "critical")
_MIN_FILE_SIZE = 1000


class LogFileConfig(Section):
    """Size-based rotation of one log file: ``{max_size: 20MB, keep: 7}``."""

    max_size: ByteSize = 20_000_000
    """Rotate the file when the next line would make it bigger than this."""

    keep: int = Field(default=7, ge=1, le=10_000)
    """How many rotated files (`name.log.1` ... `name.log.N`) to keep beside the live one."""

    @field_validator("max_size")
    @classmethod
    def _check_size(cls, value: int) -> int:
        if value < _MIN_FILE_SIZE:
            raise ConfigValueError(
                f"max_size {value} bytes is too small to hold a log line",
                "use at least 1kB, e.g. 20MB",
            )
        return value


class ErrorsFileConfig(LogFileConfig):
    """Rotation of ``errors.log``."""

    max_size: ByteSize = 20_000_000
    """Rotate the file when the next line would make it bigger than this."""

    keep: int = Field(default=30, ge=1, le=10_000)
    """How many rotated files (`name.log.1` ... `name.log.N`) to keep beside the live one."""


class CriticalFileConfig(LogFileConfig):
    """Rotation of ``critical.log`` and ``exceptions.log``."""

    max_size: ByteSize = 10_000_000
    """Rotate the file when the next line would make it bigger than this."""

    keep: int = Field(default=90, ge=1, le=10_000)
    """How many rotated files (`name.log.1` ... `name.log.N`) to keep beside the live one."""


class LogFilesConfig(Section):
    """The log files in ``logging.dir``; set one to null to stop writing it."""

    combined: LogFileConfig | None = Field(default_factory=LogFileConfig)
    """`combined.log`: every record at or above `logging.level`."""

    errors: ErrorsFileConfig | None = Field(default_factory=ErrorsFileConfig)
    """`errors.log`: error and critical records."""

    critical: CriticalFileConfig | None = Field(default_factory=CriticalFileConfig)
    """`critical.log`: critical records, and errors logged with `critical=True`."""

    exceptions: CriticalFileConfig | None = Field(default_factory=CriticalFileConfig)
    """`exceptions.log`: uncaught exceptions (main thread, threads, asyncio tasks) with stacks."""


class LoggingConfig(Section):
    """Structured JSON logs: console output, rotated files, redaction of secrets."""

    level: LogLevel = "info"
    """Lowest level logged: debug, info, warning, error, critical (`LOG_LEVEL` overrides it)."""

    dir: ResolvedPath | None = Path("logs")
    """Folder of the log files (relative to the config file); null writes no files."""

    console: Literal["auto", "json", "pretty", "off"] = "auto"
    """Console (stderr) output: `auto` (pretty on a terminal, JSON otherwise), json, pretty, off."""

    files: LogFilesConfig = Field(default_factory=LogFilesConfig)
    """Rotation of each file in `logging.dir`."""

    redact: list[Secret] = Field(default_factory=list)
    """Extra literal secrets to mask in every output, beside every secret in this file."""

    @field_validator("level", mode="before")
    @classmethod
    def _lower_level(cls, value: Any) -> Any:
        if isinstance(value, str):
            lowered = value.strip().lower()
            if lowered not in LOG_LEVELS:
                raise ConfigValueError(
                    f"unknown log level {value!r}", "use debug, info, warning, error or critical"
                )
            return lowered
        return value

    @field_validator("console", mode="before")
    @classmethod
    def _off_is_false(cls, value: Any) -> Any:
        # YAML 1.1 reads a bare `off` as false: `console: off` must still mean off.
        return "off" if value is False else value
