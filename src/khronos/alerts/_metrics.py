"""The alert metrics, on an explicit registry (never the global one).

``khronos_alerts_pending`` is read from the outbox at scrape time by a collector.  The circuit
breaker metrics belong to ``khronos.metrics``; see :func:`~khronos.alerts.breaker_metrics_listener`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["AlertMetrics"]


class _PendingCollector(Collector):
    def __init__(self, name: str, read: Callable[[], int | None]) -> None:
        self._name = name
        self._read = read

    def collect(self) -> Iterator[Metric]:
        value = self._read()
        family = GaugeMetricFamily(self._name, "Alert messages waiting in the outbox.")
        if value is not None:
            family.add_metric([], value)
        yield family


class AlertMetrics:
    """Counters of sent, suppressed, silenced and failed alerts; the outbox size at scrape time."""

    def __init__(
        self, registry: CollectorRegistry | None = None, *, namespace: str = "khronos"
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._pending_source: Callable[[], int] | None = None
        self._suppressed_children: dict[str, Counter] = {}
        self.sent = Counter(
            "alerts_sent",
            "Alert messages accepted by a channel.",
            ["level", "channel"],
            namespace=namespace,
            registry=self.registry,
        )
        self.suppressed = Counter(
            "alerts_suppressed",
            "Alerts not sent because the same one was sent within the cooldown.",
            ["level"],
            namespace=namespace,
            registry=self.registry,
        )
        self.silenced = Counter(
            "alerts_silenced",
            "Alerts not sent because a silence or maintenance window covered them.",
            ["level"],
            namespace=namespace,
            registry=self.registry,
        )
        self.failed = Counter(
            "alerts_failed",
            "Failed delivery attempts and dropped alerts, by reason.",
            ["channel", "reason"],
            namespace=namespace,
            registry=self.registry,
        )
        self.registry.register(_PendingCollector(f"{namespace}_alerts_pending", self._pending))

    def suppressed_for(self, level: str) -> Counter:
        """The suppressed counter's child for a level (cached: storms call this per alert)."""
        child = self._suppressed_children.get(level)
        if child is None:
            child = self._suppressed_children[level] = self.suppressed.labels(level=level)
        return child

    def _pending(self) -> int | None:
        source = self._pending_source
        if source is None:
            return None
        try:
            return source()
        except Exception:  # noqa: BLE001 - a scrape must not fail because the outbox closed
            return None

    def watch_pending(self, source: Callable[[], int]) -> None:
        """Read ``khronos_alerts_pending`` from ``source`` at scrape time."""
        self._pending_source = source
