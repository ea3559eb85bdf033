"""Backup metrics, computed at scrape time from the live status (a custom Collector).

Never registered on the global registry: :class:`BackupCollector` is registered on the
``registry`` the caller passes (``BackupService(config, registry=...)``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from khronos.backup._status import DbStatus

__all__ = ["BackupCollector", "BackupSample"]


@dataclass(frozen=True, slots=True)
class BackupSample:
    """What one scrape reads: per-database statuses and the process restart count."""

    databases: list[DbStatus]
    restarts: int
    verify_last_success: dict[str, float]
    """Database label -> Unix time of the last successful restore drill."""
    repairs: dict[str, int] = field(default_factory=dict)
    """Database label -> full snapshots Khronos had Litestream take because the WAL's
    continuity was lost."""


class BackupCollector(Collector):
    """``<ns>_backup_*`` and ``<ns>_db_*`` metrics from a :class:`BackupSample` source."""

    def __init__(self, source: Callable[[], BackupSample], *, namespace: str = "khronos") -> None:
        self._source = source
        self._ns = namespace

    def describe(self) -> Iterator[Metric]:
        """No samples at registration time (the source may not be running yet)."""
        return iter(())

    def collect(self) -> Iterator[Metric]:
        """One set of samples, read now."""
        sample = self._source()
        ns = self._ns
        up = GaugeMetricFamily(
            f"{ns}_backup_up",
            "1 when Litestream replicates the database and changes reach the replica "
            "(0: not replicating, or nothing accepted for longer than backup.down_alert_after)",
            labels=["db"],
        )
        lag = GaugeMetricFamily(
            f"{ns}_backup_lag_seconds",
            "Age of the oldest local change not yet in the replica (0: caught up)",
            labels=["db"],
        )
        last_sync = GaugeMetricFamily(
            f"{ns}_backup_last_sync_timestamp_seconds",
            "Unix time of the last successful upload to the replica",
            labels=["db"],
        )
        errors = CounterMetricFamily(
            f"{ns}_backup_sync_errors", "Replication errors Litestream reported", labels=["db"]
        )
        verify_ok = GaugeMetricFamily(
            f"{ns}_backup_verify_success",
            "1 when the last restore drill passed, 0 when it failed",
            labels=["db"],
        )
        verify_at = GaugeMetricFamily(
            f"{ns}_backup_verify_last_success_timestamp_seconds",
            "Unix time of the last restore drill that passed",
            labels=["db"],
        )
        size = GaugeMetricFamily(f"{ns}_db_size_bytes", "Database file size", labels=["db"])
        wal = GaugeMetricFamily(f"{ns}_db_wal_size_bytes", "WAL file size", labels=["db"])
        for db in sample.databases:
            labels = [db.name]
            up.add_metric(labels, 1.0 if db.replicating and not db.replica_down else 0.0)
            lag.add_metric(labels, db.lag_seconds or 0.0)
            if db.last_sync_at is not None:
                last_sync.add_metric(labels, db.last_sync_at.timestamp())
            errors.add_metric(labels, float(db.sync_errors))
            if db.last_verify is not None:
                verify_ok.add_metric(labels, 1.0 if db.last_verify.ok else 0.0)
            if db.name in sample.verify_last_success:
                verify_at.add_metric(labels, sample.verify_last_success[db.name])
            if db.db_size_bytes is not None:
                size.add_metric(labels, float(db.db_size_bytes))
            if db.wal_size_bytes is not None:
                wal.add_metric(labels, float(db.wal_size_bytes))
        restarts = CounterMetricFamily(
            f"{ns}_backup_process_restarts", "Times Khronos restarted Litestream"
        )
        restarts.add_metric([], float(sample.restarts))
        repairs = CounterMetricFamily(
            f"{ns}_backup_repairs",
            "Full snapshots taken because the WAL was reset while Litestream was away",
            labels=["db"],
        )
        for name, count in sorted(sample.repairs.items()):
            repairs.add_metric([name], float(count))
        yield from (up, lag, last_sync, errors, verify_ok, verify_at, size, wal, restarts, repairs)
