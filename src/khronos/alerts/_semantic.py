"""Semantic alerts: one function per common problem, its level and details chosen once.

The original design's public API for apps (``alertDatabaseDown()`` and friends), as thin
functions on top of :meth:`AlertEngine.send_alert <khronos.alerts.AlertEngine.send_alert>`:
the numbers go to the details, so the cooldown's dedupe holds while they change::

    from khronos.alerts import alert_database_down

    alert_database_down(engine, "main", error="disk I/O error")
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from khronos.alerts._breaker import BreakerEvent, BreakerListener
from khronos.alerts._catalog import Text
from khronos.alerts._conditions import human_duration
from khronos.alerts._model import Level

__all__ = [
    "AlertSender",
    "alert_backup_lag",
    "alert_backup_process_down",
    "alert_circuit_breaker_opened",
    "alert_database_down",
    "alert_high_error_rate",
    "alert_high_memory",
    "alert_queue_backlog",
    "alert_restore_drill_failed",
    "alert_service_unhealthy",
    "breaker_alert_listener",
]


class AlertSender(Protocol):
    """What the semantic alerts need: an engine's :meth:`send_alert`."""

    def send_alert(
        self,
        message: str,
        level: str | Level = "WARN",
        details: Mapping[str, Any] | None = None,
        fingerprint: str | None = None,
    ) -> str | None:
        """Queue an alert unless the same one was sent within the cooldown; its id, or None."""
        ...


def alert_circuit_breaker_opened(engine: AlertSender, breaker: str, reason: str = "") -> str | None:
    """An app circuit breaker opened (ERROR)."""
    return engine.send_alert(
        Text("semantic.breaker_opened", breaker=breaker), "ERROR", {"reason": reason}
    )


def alert_database_down(
    engine: AlertSender, database: str = "database", error: str = ""
) -> str | None:
    """The database is unreachable (CRITICAL)."""
    return engine.send_alert(
        Text("semantic.database_down", database=database),
        "CRITICAL",
        {"database": database, "error": error, "action": Text("semantic.database_down.action")},
    )


def alert_high_error_rate(engine: AlertSender, rate: float, threshold: float) -> str | None:
    """Too many failed messages (ERROR)."""
    return engine.send_alert(
        Text("semantic.high_error_rate"),
        "ERROR",
        {"error_rate": f"{rate:.2%}", "threshold": f"{threshold:.2%}"},
    )


def alert_high_memory(engine: AlertSender, used_mb: float, limit_mb: float) -> str | None:
    """Memory use is high (WARN)."""
    return engine.send_alert(
        Text("semantic.high_memory"),
        "WARN",
        {"used_mb": round(used_mb), "limit_mb": round(limit_mb)},
    )


def alert_queue_backlog(engine: AlertSender, size: int, max_size: int) -> str | None:
    """The message queue keeps growing (WARN)."""
    return engine.send_alert(
        Text("semantic.queue_backlog"), "WARN", {"queued": size, "max": max_size}
    )


def alert_service_unhealthy(engine: AlertSender, service: str, reason: str = "") -> str | None:
    """A service's health check fails (ERROR)."""
    return engine.send_alert(
        Text("semantic.service_unhealthy", service=service),
        "ERROR",
        {"service": service, "reason": reason},
    )


def alert_backup_lag(engine: AlertSender, database: str, lag_seconds: float) -> str | None:
    """Replication is behind (WARN, as the daemon's own ``backup.lag.<db>`` condition)."""
    return engine.send_alert(
        Text("semantic.backup_lag", database=database),
        "WARN",
        {"database": database, "lag": human_duration(lag_seconds)},
    )


def alert_backup_process_down(engine: AlertSender, reason: str = "") -> str | None:
    """Litestream is not running; data is not being backed up (CRITICAL)."""
    return engine.send_alert(
        Text("semantic.backup_down"),
        "CRITICAL",
        {"reason": reason},
    )


def alert_restore_drill_failed(engine: AlertSender, database: str, reason: str = "") -> str | None:
    """A scheduled restore drill failed: the backup may not be restorable (CRITICAL)."""
    return engine.send_alert(
        Text("semantic.drill_failed", database=database),
        "CRITICAL",
        {"database": database, "reason": reason},
    )


def breaker_alert_listener(engine: AlertSender) -> BreakerListener:
    """A breaker listener that raises the "circuit breaker opened" alert (for app breakers)."""

    def listener(event: BreakerEvent) -> None:
        if event.new == "open" and event.old == "closed":
            alert_circuit_breaker_opened(engine, event.breaker, event.reason)

    return listener
