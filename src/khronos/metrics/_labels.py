"""Label values the application passes in, kept few and clean before they become series.

Every distinct label value is a new time series in Prometheus, so values coming from callers
(provider names, failure reasons, sources) are normalised and bounded: a metric keeps at most
``max_values`` distinct values per label, and later newcomers are folded into ``"other"``.
Looking up an already seen combination is one dictionary access.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from prometheus_client.metrics import MetricWrapperBase

__all__ = ["OTHER", "UNKNOWN", "BoundedLabels"]

OTHER = "other"
"""The value that label values beyond a metric's limit are folded into."""

UNKNOWN = "unknown"
"""The value an empty label value becomes."""

MAX_VALUE_LENGTH = 64
_CACHE_LIMIT = 4096

M = TypeVar("M", bound=MetricWrapperBase)


class BoundedLabels(Generic[M]):
    """Children of one labelled metric, with their label values normalised and bounded."""

    __slots__ = ("_children", "_max_values", "_metric", "_seen")

    def __init__(self, metric: M, labelnames: tuple[str, ...], max_values: int) -> None:
        if max_values < 1:
            raise ValueError(f"max_values must be at least 1, got {max_values}")
        self._metric = metric
        self._max_values = max_values
        self._seen: tuple[set[str], ...] = tuple(set() for _ in labelnames)
        self._children: dict[tuple[Any, ...], M] = {}

    def child(self, *values: Any) -> M:
        """The child metric for these label values (cached after the first call)."""
        child = self._children.get(values)
        if child is None:
            clean = tuple(self._bound(i, v) for i, v in enumerate(values))
            child = self._metric.labels(*clean)
            if len(self._children) < _CACHE_LIMIT:
                self._children[values] = child
        return child

    def _bound(self, index: int, value: Any) -> str:
        text = normalize(value)
        seen = self._seen[index]
        if text in seen:
            return text
        if len(seen) >= self._max_values:
            return OTHER
        seen.add(text)
        return text


def normalize(value: Any) -> str:
    """A label value as a short, printable string (empty becomes ``"unknown"``)."""
    text = value if isinstance(value, str) else str(value)
    text = text.strip()
    if not text:
        return UNKNOWN
    if len(text) > MAX_VALUE_LENGTH:
        text = text[:MAX_VALUE_LENGTH]
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else "_" for ch in text)
    return text
