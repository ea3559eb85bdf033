"""Built-in health checks that feed the alert engine.

>>> from khronos.checks import MemoryCheck
>>> MemoryCheck(max_mb=1000, read_rss=lambda: 10**6).name
'memory'
"""

from khronos.checks._checks import (
    Check,
    CheckResult,
    DiskCheck,
    ErrorRateCheck,
    HttpCheck,
    MemoryCheck,
    MetricSource,
    QueueBacklogCheck,
    RegistrySource,
    registry_counters,
    registry_total,
)
from khronos.checks._runner import CheckRunner, checks_from_config

__all__ = [
    "Check",
    "CheckResult",
    "CheckRunner",
    "DiskCheck",
    "ErrorRateCheck",
    "HttpCheck",
    "MemoryCheck",
    "MetricSource",
    "QueueBacklogCheck",
    "RegistrySource",
    "checks_from_config",
    "registry_counters",
    "registry_total",
]
