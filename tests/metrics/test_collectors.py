"""Ages computed at scrape time from a timestamp source."""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry

from khronos.clock import ManualClock
from khronos.metrics import register_age_collector


def test_age_grows_with_the_clock_between_scrapes(registry: CollectorRegistry) -> None:
    """The backup lag example: the value is now - last sync, computed at each scrape."""
    clock = ManualClock(1_000.0)
    last_sync = {("app",): 990.0, ("users",): 900.0}
    register_age_collector(
        registry, "khronos_backup_lag_seconds", "Seconds since the last replica sync.",
        lambda: last_sync, labelnames=["db"], clock=clock.wall,
    )  # fmt: skip
    assert registry.get_sample_value("khronos_backup_lag_seconds", {"db": "app"}) == 10.0
    clock.advance(30.0)
    assert registry.get_sample_value("khronos_backup_lag_seconds", {"db": "users"}) == 130.0


def test_unlabelled_age(registry: CollectorRegistry) -> None:
    """Without labels the source returns one timestamp."""
    register_age_collector(registry, "x_age_seconds", "Age.", lambda: 5.0, clock=lambda: 7.5)
    assert registry.get_sample_value("x_age_seconds") == 2.5


def test_never_happened_exports_nothing_or_missing(registry: CollectorRegistry) -> None:
    """A None timestamp exports no sample by default, or `missing` when given."""
    register_age_collector(registry, "a_seconds", "A.", lambda: None)
    register_age_collector(registry, "b_seconds", "B.", lambda: None, missing=math.inf)
    assert registry.get_sample_value("a_seconds") is None
    assert registry.get_sample_value("b_seconds") == math.inf


def test_failing_source_does_not_fail_the_scrape(registry: CollectorRegistry) -> None:
    """A source that raises exports no sample; other metrics are still collected."""

    def broken() -> float:
        raise OSError("state file unreadable")

    register_age_collector(registry, "broken_seconds", "Broken.", broken)
    register_age_collector(registry, "fine_seconds", "Fine.", lambda: 1.0, clock=lambda: 2.0)
    assert registry.get_sample_value("broken_seconds") is None
    assert registry.get_sample_value("fine_seconds") == 1.0


def test_name_must_be_in_seconds(registry: CollectorRegistry) -> None:
    """Ages are in base units: the name ends in _seconds."""
    with pytest.raises(ValueError, match="_seconds"):
        register_age_collector(registry, "khronos_backup_lag_ms", "Lag.", lambda: 0.0)


def test_duplicate_name_is_refused(registry: CollectorRegistry) -> None:
    """describe() lets the registry refuse a second collector with the same name."""
    register_age_collector(registry, "dup_seconds", "D.", lambda: 0.0)
    with pytest.raises(ValueError, match="Duplicated"):
        register_age_collector(registry, "dup_seconds", "D.", lambda: 0.0)
