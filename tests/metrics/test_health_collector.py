"""khronos_internal_errors_total and khronos_part_up, read from a Health at scrape time."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from khronos.health import Health
from khronos.metrics import HealthCollector


def test_every_known_part_is_exported_with_zero_errors(registry: CollectorRegistry) -> None:
    """A part that never failed is 0 errors and up: rate() works from the first scrape."""
    health = Health()
    health.record_error("check.disk", OSError(28, "No space left on device"))
    health.mark_down("http", "its task ended")
    registry.register(HealthCollector(health))
    errors = "khronos_internal_errors_total"
    assert registry.get_sample_value(errors, {"part": "check.disk"}) == 1.0
    assert registry.get_sample_value(errors, {"part": "http"}) == 0.0
    assert registry.get_sample_value("khronos_part_up", {"part": "check.disk"}) == 1.0
    assert registry.get_sample_value("khronos_part_up", {"part": "http"}) == 0.0


def test_the_process_wide_health_is_read_at_each_scrape(registry: CollectorRegistry) -> None:
    """Without a Health, the collector reads get_health() when scraped."""
    from khronos.health import set_health

    previous = set_health(Health())
    try:
        registry.register(HealthCollector(namespace="bot"))
        set_health(current := Health())
        current.record_error("alerts.api", RuntimeError("x"))
        assert registry.get_sample_value("bot_internal_errors_total", {"part": "alerts.api"}) == 1
    finally:
        set_health(previous)


def test_log_records_lost_are_exported_per_output_and_reason() -> None:
    """What the log writer could not write (khronos.logs.records_lost) is a counter."""
    registry = CollectorRegistry()
    lost = {("combined.log", "disk_full"): 12, ("console", "broken_pipe"): 1}
    registry.register(HealthCollector(Health(), lost=lambda: lost))
    sample = registry.get_sample_value(
        "khronos_log_records_lost_total", {"output": "combined.log", "reason": "disk_full"}
    )
    assert sample == 12.0
