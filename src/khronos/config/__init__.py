"""Configuration: the ``khronos.yml`` model, its loader and its value types.

>>> from khronos.config import parse_config
>>> parse_config("service: my-bot").service.name
'my-bot'
"""

from khronos.config._alerts import (
    WEEKDAYS,
    AlertsConfig,
    BreakerConfig,
    SilenceConfig,
    TelegramConfig,
    WeeklyWindow,
    check_timezone,
)
from khronos.config._app import AppConfig, AppMetricNames, parse_command
from khronos.config._backup import DatabaseConfig, ReplicaConfig, RestartPolicy, VerifyConfig
from khronos.config._checks import (
    ChecksConfig,
    DiskCheckConfig,
    ErrorRateCheckConfig,
    HeartbeatCheckConfig,
    HttpCheckConfig,
    MemoryCheckConfig,
    QueueBacklogCheckConfig,
)
from khronos.config._heartbeat import HeartbeatConfig
from khronos.config._litestream_lint import is_raw_litestream, lint_litestream, migrate_litestream
from khronos.config._loader import (
    DEFAULT_CONFIG_NAME,
    ENV_CONFIG,
    load_config,
    parse_config,
    read_config_text,
    resolve_config_path,
)
from khronos.config._logging import LOG_LEVELS, LogFilesConfig, LoggingConfig
from khronos.config._model import HttpConfig, KhronosConfig, MetricsConfig, ServiceConfig
from khronos.config._reference import render_reference
from khronos.config._sections import BackupConfig
from khronos.config._snapshots import SnapshotDestination, SnapshotEncryption, SnapshotRetention
from khronos.config._types import (
    ByteSize,
    ConfigValueError,
    Duration,
    HostPort,
    ResolvedPath,
    Secret,
    format_duration,
    format_size,
    parse_duration,
    parse_size,
)

__all__ = [
    "DEFAULT_CONFIG_NAME",
    "ENV_CONFIG",
    "LOG_LEVELS",
    "WEEKDAYS",
    "AlertsConfig",
    "AppConfig",
    "AppMetricNames",
    "BackupConfig",
    "BreakerConfig",
    "ByteSize",
    "ChecksConfig",
    "ConfigValueError",
    "DatabaseConfig",
    "DiskCheckConfig",
    "Duration",
    "ErrorRateCheckConfig",
    "HeartbeatCheckConfig",
    "HeartbeatConfig",
    "HostPort",
    "HttpCheckConfig",
    "HttpConfig",
    "KhronosConfig",
    "LogFilesConfig",
    "LoggingConfig",
    "MemoryCheckConfig",
    "MetricsConfig",
    "QueueBacklogCheckConfig",
    "ReplicaConfig",
    "ResolvedPath",
    "RestartPolicy",
    "Secret",
    "ServiceConfig",
    "SilenceConfig",
    "SnapshotDestination",
    "SnapshotEncryption",
    "SnapshotRetention",
    "TelegramConfig",
    "VerifyConfig",
    "WeeklyWindow",
    "check_timezone",
    "format_duration",
    "format_size",
    "is_raw_litestream",
    "lint_litestream",
    "load_config",
    "migrate_litestream",
    "parse_command",
    "parse_config",
    "parse_duration",
    "parse_size",
    "read_config_text",
    "render_reference",
    "resolve_config_path",
]
