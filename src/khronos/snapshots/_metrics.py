"""Snapshot metrics, computed at scrape time from the schedule's state (a custom Collector).

Per database and destination (labels ``db``, ``dest``):

- ``<ns>_snapshot_last_success_timestamp_seconds``: Unix time the newest successful snapshot
  was taken (absent until there is one);
- ``<ns>_snapshot_bytes``: its stored size (compressed and encrypted);
- ``<ns>_snapshot_duration_seconds``: how long it took (copy, compress, encrypt, upload, check);
- ``<ns>_snapshot_failures_total``: failed attempts since the daemon started;
- ``<ns>_snapshot_drill_success``: 1 when the last drill of the newest snapshot passed, 0 when
  it failed (absent before the first drill);
- ``<ns>_snapshot_interval_seconds``: the destination's ``interval`` (so a Prometheus rule can
  say "older than twice the interval" for every destination at once).

Never registered on the global registry: the daemon registers it on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from khronos.snapshots._state import DestinationState

__all__ = ["SnapshotCollector", "SnapshotSample"]


@dataclass(frozen=True, slots=True)
class SnapshotSample:
    """What one scrape reads: every pair's state and its failures since start."""

    states: list[DestinationState]
    failures: dict[tuple[str, str], int]
    intervals: dict[tuple[str, str], float] = field(default_factory=dict)
    """Each pair's ``interval`` in seconds."""


class SnapshotCollector(Collector):
    """``<ns>_snapshot_*`` from a :class:`SnapshotSample` source."""

    def __init__(self, source: Callable[[], SnapshotSample], *, namespace: str = "khronos") -> None:
        self._source = source
        self._ns = namespace

    def describe(self) -> Iterator[Metric]:
        """No samples at registration time."""
        return iter(())

    def collect(self) -> Iterator[Metric]:
        """One set of samples, read now."""
        sample = self._source()
        ns, labels = self._ns, ["db", "dest"]
        last = GaugeMetricFamily(
            f"{ns}_snapshot_last_success_timestamp_seconds",
            "Unix time the newest successful snapshot was taken",
            labels=labels,
        )
        size = GaugeMetricFamily(
            f"{ns}_snapshot_bytes",
            "Stored size of the newest successful snapshot (compressed and encrypted)",
            labels=labels,
        )
        duration = GaugeMetricFamily(
            f"{ns}_snapshot_duration_seconds",
            "How long the newest successful snapshot took (copy, compress, encrypt, upload, "
            "read back)",
            labels=labels,
        )
        failures = CounterMetricFamily(
            f"{ns}_snapshot_failures",
            "Failed snapshot attempts since the daemon started",
            labels=labels,
        )
        drill = GaugeMetricFamily(
            f"{ns}_snapshot_drill_success",
            "1 when the last drill of the newest snapshot passed, 0 when it failed",
            labels=labels,
        )
        interval = GaugeMetricFamily(
            f"{ns}_snapshot_interval_seconds",
            "How often a snapshot is taken (the destination's interval)",
            labels=labels,
        )
        for (db, dest), seconds in sorted(sample.intervals.items()):
            interval.add_metric([db, dest], seconds)
        for state in sample.states:
            values = [state.db, state.dest]
            failures.add_metric(values, float(sample.failures.get((state.db, state.dest), 0)))
            success = state.last_success
            if success is not None:
                last.add_metric(values, success.at.timestamp())
                size.add_metric(values, float(success.size))
                duration.add_metric(values, success.duration_seconds)
            if state.last_drill is not None and state.last_drill.ok is not None:
                drill.add_metric(values, 1.0 if state.last_drill.ok else 0.0)
        yield from (last, size, duration, failures, drill, interval)
