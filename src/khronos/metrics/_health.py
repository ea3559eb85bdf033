"""Khronos' own health as metrics, read at scrape time from a :class:`~khronos.health.Health`.

``<ns>_internal_errors_total{part}`` counts the exceptions each long-lived part survived (zero
for every part the process knows, so ``rate()`` and ``increase()`` work from the first scrape);
``<ns>_part_up{part}`` is 1 while the part runs and 0 once it stopped for good - alert on
``<ns>_part_up == 0`` and on ``increase(<ns>_internal_errors_total[10m]) > 0``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from khronos.health import Health, get_health
from khronos.logs import records_lost

__all__ = ["HealthCollector"]


class HealthCollector(Collector):
    """Exports a :class:`~khronos.health.Health` (default: the process-wide one, read at each
    scrape, so a Health set later with :func:`~khronos.health.set_health` is the one shown)."""

    def __init__(
        self,
        health: Health | Callable[[], Health] | None = None,
        *,
        namespace: str = "khronos",
        lost: Callable[[], dict[tuple[str, str], int]] = records_lost,
    ) -> None:
        self._health = health
        self.namespace = namespace
        self._lost = lost

    def _current(self) -> Health:
        if isinstance(self._health, Health):
            return self._health
        return self._health() if self._health is not None else get_health()

    def describe(self) -> Iterator[Metric]:
        """The families without samples (lets the registry detect duplicate names)."""
        yield from self._families({}, [])

    def collect(self) -> Iterator[Metric]:
        """One sample per known part."""
        health = self._current()
        yield from self._families(dict(health.errors), list(health.parts()))

    def _families(self, errors: dict[str, int], parts: list[tuple[str, bool]]) -> Iterator[Metric]:
        ns = self.namespace
        counter = CounterMetricFamily(
            f"{ns}_internal_errors",
            "Exceptions a long-lived part of Khronos survived (logged with their traceback).",
            labels=["part"],
        )
        up = GaugeMetricFamily(
            f"{ns}_part_up",
            "1 while a long-lived part of Khronos runs, 0 once it stopped for good.",
            labels=["part"],
        )
        for part, running in parts:
            counter.add_metric([part], errors.get(part, 0))
            up.add_metric([part], 1 if running else 0)
        lost = CounterMetricFamily(
            f"{ns}_log_records_lost",
            "Log lines that could not be written (a full disk, no descriptors...), per output.",
            labels=["output", "reason"],
        )
        for (output, reason), count in sorted(self._lost().items()):
            lost.add_metric([output, reason], count)
        yield counter
        yield up
        yield lost
