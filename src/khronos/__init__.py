"""Khronos: backup, metrics, logs and alerts for small self-hosted services on SQLite."""

from khronos._version import __version__
from khronos.config import KhronosConfig, load_config, parse_config
from khronos.errors import ConfigError, ConfigProblem, KhronosError

__all__ = [
    "ConfigError",
    "ConfigProblem",
    "KhronosConfig",
    "KhronosError",
    "__version__",
    "load_config",
    "parse_config",
]
