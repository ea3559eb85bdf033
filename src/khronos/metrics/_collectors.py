"""Values computed at scrape time: "seconds since X" from a timestamp source.

An age that grows by itself ("seconds since the last backup sync") is not pushed by a timer
loop; a custom collector reads the timestamp when Prometheus scrapes and subtracts it from now.
The source is any callable: it returns a Unix timestamp (or None when there is none yet), or, for
a labelled metric, a mapping from label values to timestamps.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence

import structlog
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["AgeCollector", "TimestampSource", "register_age_collector"]

TimestampSource = Callable[[], float | Mapping[tuple[str, ...], float | None] | None]
"""What an :class:`AgeCollector` reads: a timestamp, None, or label values -> timestamp."""

_NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*_seconds")
_log = structlog.get_logger("khronos.metrics")


class AgeCollector(Collector):
    """A gauge ``name`` whose value is ``clock() - source()`` at scrape time, in seconds.

    ``labelnames`` empty: ``source()`` returns a Unix timestamp or None.  Otherwise it returns a
    mapping from a tuple of label values to a timestamp or None.  A None timestamp (never
    happened) exports no sample, or ``missing`` when given (e.g. ``math.inf``).  A source that
    raises exports no samples for this scrape instead of failing the whole scrape.
    """

    def __init__(
        self,
        name: str,
        documentation: str,
        source: TimestampSource,
        *,
        labelnames: Sequence[str] = (),
        missing: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not _NAME_RE.fullmatch(name):
            raise ValueError(f"an age metric name must be valid and end in _seconds: {name!r}")
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self._source = source
        self._missing = missing
        self._clock = clock

    def describe(self) -> Iterator[Metric]:
        """The metric family without samples (lets the registry detect duplicate names)."""
        yield GaugeMetricFamily(self.name, self.documentation, labels=self.labelnames)

    def collect(self) -> Iterator[Metric]:
        """The family with one sample per known timestamp, aged against the clock now."""
        family = GaugeMetricFamily(self.name, self.documentation, labels=self.labelnames)
        try:
            reading = self._source()
            now = self._clock()
            for labels, stamp in self._pairs(reading):
                value = self._missing if stamp is None else max(0.0, now - float(stamp))
                if value is not None:
                    family.add_metric(list(labels), value)
        except Exception:  # noqa: BLE001 - one bad source must not fail the whole scrape
            _log.warning("age_source_failed", metric=self.name, exc_info=True)
            family = GaugeMetricFamily(self.name, self.documentation, labels=self.labelnames)
        yield family

    def _pairs(
        self, reading: float | Mapping[tuple[str, ...], float | None] | None
    ) -> list[tuple[tuple[str, ...], float | None]]:
        if isinstance(reading, Mapping):
            if not self.labelnames:
                raise TypeError(f"{self.name}: source returned a mapping, but there are no labels")
            pairs = [(tuple(str(v) for v in k), stamp) for k, stamp in reading.items()]
            if any(len(k) != len(self.labelnames) for k, _ in pairs):
                raise ValueError(f"{self.name}: label values do not match {self.labelnames}")
            return pairs
        if self.labelnames:
            raise TypeError(f"{self.name}: labelled age metrics need a mapping from the source")
        return [((), reading)]


def register_age_collector(
    registry: CollectorRegistry,
    name: str,
    documentation: str,
    source: TimestampSource,
    *,
    labelnames: Sequence[str] = (),
    missing: float | None = None,
    clock: Callable[[], float] = time.time,
) -> AgeCollector:
    """Create an :class:`AgeCollector` and register it on ``registry``.

    >>> registry = CollectorRegistry()
    >>> _ = register_age_collector(
    ...     registry,
    ...     "khronos_backup_lag_seconds",
    ...     "Seconds since the last sync.",
    ...     lambda: {("app",): 100.0},
    ...     labelnames=["db"],
    ...     clock=lambda: 130.0,
    ... )
    >>> registry.get_sample_value("khronos_backup_lag_seconds", {"db": "app"})
    30.0
    """
    collector = AgeCollector(
        name, documentation, source, labelnames=labelnames, missing=missing, clock=clock
    )
    registry.register(collector)
    return collector
