"""Semantic alerts (one method per common problem, its level and details chosen once), the
cooldown that dedupes alerts, and the breaker listener that raises "breaker opened".

Kept apart from :mod:`khronos.alerts._engine`, which decides and queues.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from khronos.alerts._breaker import BreakerEvent, BreakerListener
from khronos.alerts._conditions import human_duration
from khronos.alerts._model import Level

__all__ = ["Cooldown", "SemanticAlerts", "breaker_alert_listener"]

_MAX_FINGERPRINTS = 10_000


@dataclass
class _Seen:
    last_sent: float
    suppressed: int = 0


class Cooldown:
    """The same fingerprint at most once per ``seconds`` (thread-safe, bounded memory)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._seen: dict[str, _Seen] = {}

    def check(self, fingerprint: str, now: float) -> int | None:
        """None when suppressed; else how many were suppressed since the last one sent."""
        with self._lock:
            seen = self._seen.get(fingerprint)
            if seen is not None and now - seen.last_sent < self.seconds:
                seen.suppressed += 1
                return None
            if seen is None and len(self._seen) >= _MAX_FINGERPRINTS:
                self._forget_old(now)
            self._seen[fingerprint] = _Seen(now)
            return seen.suppressed if seen else 0

    def _forget_old(self, now: float) -> None:
        stale = [k for k, s in self._seen.items() if now - s.last_sent >= self.seconds]
        for key in stale:
            del self._seen[key]
        while len(self._seen) >= _MAX_FINGERPRINTS:  # all recent: forget the oldest
            del self._seen[next(iter(self._seen))]


class SemanticAlerts:
    """``alert_database_down()`` and friends, on top of :meth:`send_alert`."""

    def send_alert(
        self,
        message: str,
        level: str | Level = "WARN",
        details: Mapping[str, Any] | None = None,
        fingerprint: str | None = None,
    ) -> str | None:
        """Queue an alert (implemented by the engine)."""
        raise NotImplementedError

    def alert_circuit_breaker_opened(self, breaker: str, reason: str = "") -> str | None:
        """An app circuit breaker opened (ERROR)."""
        return self.send_alert(f"Circuit breaker {breaker} opened", "ERROR", {"reason": reason})

    def alert_database_down(self, database: str = "database", error: str = "") -> str | None:
        """The database is unreachable (CRITICAL)."""
        return self.send_alert(
            f"Database {database} is down",
            "CRITICAL",
            {"database": database, "error": error, "action": "reconnect or restart the service"},
        )

    def alert_high_error_rate(self, rate: float, threshold: float) -> str | None:
        """Too many failed messages (ERROR); the numbers go to details so dedupe holds."""
        return self.send_alert(
            "High error rate",
            "ERROR",
            {"error_rate": f"{rate:.2%}", "threshold": f"{threshold:.2%}"},
        )

    def alert_high_memory(self, used_mb: float, limit_mb: float) -> str | None:
        """Memory use is high (WARN)."""
        return self.send_alert(
            "High memory usage", "WARN", {"used_mb": round(used_mb), "limit_mb": round(limit_mb)}
        )

    def alert_queue_backlog(self, size: int, max_size: int) -> str | None:
        """The message queue keeps growing (WARN)."""
        return self.send_alert("Queue backlog", "WARN", {"queued": size, "max": max_size})

    def alert_service_unhealthy(self, service: str, reason: str = "") -> str | None:
        """A service's health check fails (ERROR)."""
        return self.send_alert(
            f"Service {service} is unhealthy", "ERROR", {"service": service, "reason": reason}
        )

    def alert_backup_lag(self, database: str, lag_seconds: float) -> str | None:
        """Replication is behind (WARN, as the daemon's own ``backup.lag.<db>`` condition)."""
        return self.send_alert(
            f"Backup of {database} is lagging",
            "WARN",
            {"database": database, "lag": human_duration(lag_seconds)},
        )

    def alert_backup_process_down(self, reason: str = "") -> str | None:
        """Litestream is not running; data is not being backed up (CRITICAL)."""
        return self.send_alert(
            "Backup process (Litestream) is down: changes are not backed up",
            "CRITICAL",
            {"reason": reason},
        )

    def alert_restore_drill_failed(self, database: str, reason: str = "") -> str | None:
        """A scheduled restore drill failed: the backup may not be restorable (CRITICAL)."""
        return self.send_alert(
            f"Restore drill of {database} failed",
            "CRITICAL",
            {"database": database, "reason": reason},
        )


def breaker_alert_listener(engine: SemanticAlerts) -> BreakerListener:
    """A breaker listener that raises the "circuit breaker opened" alert (for app breakers)."""

    def listener(event: BreakerEvent) -> None:
        if event.new == "open" and event.old == "closed":
            engine.alert_circuit_breaker_opened(event.breaker, event.reason)

    return listener
