"""The names of the keys in every JSON log line (kept from the original design for jq recipes)."""

from __future__ import annotations

from typing import Final

__all__ = [
    "CORRELATION_ID",
    "CRITICAL_FLAG",
    "ENVIRONMENT",
    "EXCEPTION",
    "LEVEL",
    "LOGGER",
    "MESSAGE",
    "PID",
    "SERVICE",
    "SYSTEM_USER",
    "TIMESTAMP",
    "UNCAUGHT",
    "USER_ID",
    "VERSION",
]

TIMESTAMP: Final = "@timestamp"
LEVEL: Final = "level"
MESSAGE: Final = "message"
CORRELATION_ID: Final = "correlationId"
USER_ID: Final = "userId"
SERVICE: Final = "service"
ENVIRONMENT: Final = "environment"
PID: Final = "pid"
VERSION: Final = "version"
LOGGER: Final = "logger"
EXCEPTION: Final = "exception"
CRITICAL_FLAG: Final = "critical"
"""``log.error(..., critical=True)`` also goes to critical.log."""
UNCAUGHT: Final = "uncaught"
"""Set on records of uncaught exceptions; they also go to exceptions.log."""
SYSTEM_USER: Final = "SYSTEM"
"""The ``userId`` of records logged outside any user's action."""
