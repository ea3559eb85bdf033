"""The backup's alert conditions, evaluated on every status poll of :class:`BackupService`.

Per database:

- ``backup.db_down.<db>``: CRITICAL "Database down" while the file is missing.
- ``backup.lag.<db>``: WARN while the lag is above ``backup.lag_alert_after``.
- ``backup.replica.<db>``: ERROR when changes have not reached the replica for longer than
  ``backup.down_alert_after`` (the replica is unreachable, the bucket or the credentials are
  wrong, or Litestream is down); ``khronos_backup_up`` is 0 meanwhile.

Litestream's last sync error, translated the way ``khronos restore`` explains it ("bucket 'x'
does not exist at ENDPOINT"), is named in the lag and replica alerts: a wrong bucket shows as
what it is, not only as a growing lag.

Each condition is fired on every poll while it holds (the engine dedupes and repeats it) and
resolved when it clears.  Every key starts as *possibly open*: a condition a previous run left
firing (the engine keeps them across restarts) is resolved by the first poll that finds it
cleared.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import structlog

from khronos.backup._alerts import AlertSink
from khronos.backup._status import DbStatus
from khronos.catalog import Span, Text
from khronos.config import BackupConfig, format_duration

__all__ = ["BackupConditions", "condition_keys"]

_log = structlog.get_logger("khronos.backup")


def condition_keys(label: str) -> list[str]:
    """Every alert key backup's per-database conditions use for ``label``."""
    return [f"backup.db_down.{label}", f"backup.lag.{label}", f"backup.replica.{label}"]


class BackupConditions:
    """Fires and resolves the per-database conditions from each poll's statuses."""

    def __init__(self, backup: BackupConfig, alerts: AlertSink) -> None:
        self.backup = backup
        self.alerts = alerts
        self.firing: set[str] = set()
        """Keys fired by this process and not resolved since."""
        self._maybe_open = {key for db in backup.dbs for key in condition_keys(db.label)}
        """Keys a previous run may have left open: each is resolved once if found clear."""

    def replica_down(self, status: DbStatus, now: float | None = None) -> bool:
        """Whether changes have waited longer than ``down_alert_after`` for the replica, or
        every sync has failed for that long (a wrong bucket fails before anything is pending)."""
        limit = self.backup.down_alert_after.total_seconds()
        if (status.lag_seconds or 0.0) > limit:
            return True
        if status.failing_since is None:
            return False
        now = time.time() if now is None else now
        return now - status.failing_since.timestamp() > limit

    def evaluate(self, status: DbStatus, error: str | None) -> None:
        """Fire or resolve each condition of one database; ``error`` is its translated last
        replication error (None: none since the last success)."""
        label = status.name
        self._toggle(
            f"backup.db_down.{label}",
            not status.db_exists,
            "CRITICAL",
            Text("backup.db_down", path=status.path),
            {"db": label, "path": str(status.path), "hint": Text("backup.db_down.hint")},
        )
        lag = status.lag_seconds or 0.0
        details: dict[str, Any] = {
            "db": label,
            "lag_seconds": round(lag, 1),
            "local_txid": status.local_txid,
            "replica_txid": status.replica_txid,
            "replica": status.replica,
            "replicating": status.replicating,
        }
        if error:
            details["error"] = error
        because = Text("backup.because", error=error) if error else ""
        limit = self.backup.lag_alert_after.total_seconds()
        now = time.time()
        span = Span(lag, format_duration(timedelta(seconds=round(lag))))
        worst = {"worst": Text("backup.worst_lag", lag=span), "worst_value": lag}
        self._toggle(
            f"backup.lag.{label}",
            lag > limit,
            "WARN",
            Text("backup.lag", db=label, lag=lag, limit=limit, because=because),
            {**details, "hint": Text("backup.lag.hint")},
            since=now - lag,
            **worst,
        )
        down = self.backup.down_alert_after.total_seconds()
        reason = because or (Text("backup.not_replicating") if not status.replicating else "")
        failing = 0.0
        if status.failing_since is not None:
            failing = max(0.0, now - status.failing_since.timestamp())
        self._toggle(
            f"backup.replica.{label}",
            status.replica_down,
            "ERROR",
            Text(
                "backup.replica_down",
                db=label,
                replica=status.replica,
                seconds=max(lag, failing),
                limit=down,
                because=reason,
            ),
            {**details, "hint": Text("backup.replica_down.hint")},
            since=now - max(lag, failing),
            **worst,
        )

    def _toggle(
        self,
        key: str,
        active: bool,
        level: str,
        message: str,
        details: dict[str, Any],
        **extra: Any,
    ) -> None:
        unknown = key in self._maybe_open
        self._maybe_open.discard(key)
        if active:
            if key not in self.firing:
                _log.warning("backup alert", alert=key, message=message, db=details.get("db"))
                self.firing.add(key)
            self.alerts.fire(key, message, level, details, **extra)
        elif key in self.firing or unknown:
            self.firing.discard(key)
            self.alerts.resolve(key)
