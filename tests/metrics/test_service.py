"""The service metrics: names, base units, labels, helpers."""

from __future__ import annotations

import asyncio
import math

import pytest
from prometheus_client import REGISTRY, CollectorRegistry

from khronos.config import MetricsConfig
from khronos.metrics import AI_LATENCY_BUCKETS, OTHER, Metrics


def test_default_registry_is_fresh_and_not_global() -> None:
    """Without registry=, Metrics owns a new registry, leaving the global one untouched."""
    metrics = Metrics()
    assert metrics.registry is not REGISTRY
    assert REGISTRY.get_sample_value("khronos_queue_size") is None


def test_record_message_processed(metrics: Metrics, registry: CollectorRegistry) -> None:
    """record_message_processed counts by source and status."""
    metrics.record_message_processed("telegram", "ok")
    metrics.record_message_processed("telegram", "ok")
    labels = {"source": "telegram", "status": "ok"}
    assert registry.get_sample_value("khronos_messages_processed_total", labels) == 2.0


def test_record_message_failed(metrics: Metrics, registry: CollectorRegistry) -> None:
    """record_message_failed counts by source and reason."""
    metrics.record_message_failed("whatsapp", "timeout")
    labels = {"source": "whatsapp", "reason": "timeout"}
    assert registry.get_sample_value("khronos_messages_failed_total", labels) == 1.0


def test_gauges_set_users_and_queue(metrics: Metrics, registry: CollectorRegistry) -> None:
    """set_active_users and set_queue_size set plain gauges."""
    metrics.set_active_users(12)
    metrics.set_queue_size(3)
    assert registry.get_sample_value("khronos_active_users") == 12.0
    assert registry.get_sample_value("khronos_queue_size") == 3.0


@pytest.mark.parametrize("bad", [-1, math.nan, math.inf])
def test_gauges_refuse_impossible_counts(metrics: Metrics, bad: float) -> None:
    """A negative, NaN or infinite queue size is a bug in the caller, not a value."""
    with pytest.raises(ValueError, match="queue size"):
        metrics.set_queue_size(bad)


def test_ai_latency_is_in_seconds(metrics: Metrics, registry: CollectorRegistry) -> None:
    """record_ai_latency observes seconds into khronos_ai_latency_seconds."""
    metrics.record_ai_latency("openai", 1.5)
    labels = {"provider": "openai"}
    assert registry.get_sample_value("khronos_ai_latency_seconds_sum", labels) == 1.5
    bucket = {"provider": "openai", "le": "2.0"}
    assert registry.get_sample_value("khronos_ai_latency_seconds_bucket", bucket) == 1.0


def test_ai_latency_context_manager(metrics: Metrics, registry: CollectorRegistry) -> None:
    """`with record_ai_latency(provider)` records one observation, even when the body raises."""
    with pytest.raises(RuntimeError), metrics.record_ai_latency("anthropic"):
        raise RuntimeError
    labels = {"provider": "anthropic"}
    assert registry.get_sample_value("khronos_ai_latency_seconds_count", labels) == 1.0


def test_ai_latency_decorator_sync(metrics: Metrics, registry: CollectorRegistry) -> None:
    """The timer decorates a function; each call is one observation."""

    @metrics.record_ai_latency("local")
    def complete(prompt: str) -> str:
        return prompt.upper()

    assert complete("hi") == "HI"
    assert complete("yo") == "YO"
    labels = {"provider": "local"}
    assert registry.get_sample_value("khronos_ai_latency_seconds_count", labels) == 2.0


def test_ai_latency_decorator_async(metrics: Metrics, registry: CollectorRegistry) -> None:
    """The timer decorates a coroutine function and times the awaited call."""

    @metrics.record_ai_latency("openai")
    async def complete(prompt: str) -> str:
        await asyncio.sleep(0)
        return prompt

    assert asyncio.run(complete("x")) == "x"
    labels = {"provider": "openai"}
    assert registry.get_sample_value("khronos_ai_latency_seconds_count", labels) == 1.0


@pytest.mark.asyncio
async def test_ai_latency_async_with(metrics: Metrics, registry: CollectorRegistry) -> None:
    """`async with record_ai_latency(provider)` works in coroutines."""
    async with metrics.record_ai_latency("gemini"):
        await asyncio.sleep(0)
    labels = {"provider": "gemini"}
    assert registry.get_sample_value("khronos_ai_latency_seconds_count", labels) == 1.0


def test_record_api_call_accepts_status_codes(
    metrics: Metrics, registry: CollectorRegistry
) -> None:
    """record_api_call counts by provider and status; an HTTP code becomes its string."""
    metrics.record_api_call("telegram", 429)
    labels = {"provider": "telegram", "status": "429"}
    assert registry.get_sample_value("khronos_api_calls_total", labels) == 1.0


@pytest.mark.parametrize(
    ("state", "label", "value"),
    [("closed", "closed", 0), ("half-open", "half_open", 1), ("HALF_OPEN", "half_open", 1),
     ("open", "open", 2)],
)  # fmt: skip
def test_breaker_state_change_counts_and_sets_state(
    metrics: Metrics, registry: CollectorRegistry, state: str, label: str, value: int
) -> None:
    """A transition is counted under the normalised state and sets the state gauge."""
    metrics.record_circuit_breaker_state_change("openai", state)
    changes = {"breaker": "openai", "state": label}
    assert registry.get_sample_value("khronos_circuit_breaker_state_changes_total", changes) == 1
    state_labels = {"breaker": "openai"}
    assert registry.get_sample_value("khronos_circuit_breaker_state", state_labels) == value


def test_breaker_unknown_state_is_refused(metrics: Metrics) -> None:
    """An unknown state raises with the accepted values."""
    with pytest.raises(ValueError, match="closed, half_open or open"):
        metrics.record_circuit_breaker_state_change("openai", "broken")


def test_label_values_beyond_the_limit_fold_into_other(registry: CollectorRegistry) -> None:
    """A caller inventing label values cannot grow a metric past max_label_values."""
    metrics = Metrics(registry, max_label_values=3, process_metrics=False)
    for i in range(50):
        metrics.record_api_call(f"provider-{i}", "ok")
    labels = {"provider": OTHER, "status": "ok"}
    assert registry.get_sample_value("khronos_api_calls_total", labels) == 47.0


def test_label_values_are_cleaned(metrics: Metrics, registry: CollectorRegistry) -> None:
    """Empty values become 'unknown'; long ones are cut to 64 characters."""
    metrics.record_message_failed("", "x" * 500)
    labels = {"source": "unknown", "reason": "x" * 64}
    assert registry.get_sample_value("khronos_messages_failed_total", labels) == 1.0


def test_namespace_prefixes_every_name(registry: CollectorRegistry) -> None:
    """namespace= replaces the khronos_ prefix."""
    Metrics(registry, namespace="mybot").set_queue_size(1)
    assert registry.get_sample_value("mybot_queue_size") == 1.0


def test_process_metrics_are_registered(metrics: Metrics, registry: CollectorRegistry) -> None:
    """process_*, python_gc_* and python_info are on the owned registry."""
    names = {m.name for m in registry.collect()}
    assert {"process_cpu_seconds", "python_gc_collections", "python_info"} <= names


def test_buckets_are_overridable(registry: CollectorRegistry) -> None:
    """ai_buckets= replaces the default AI latency buckets."""
    metrics = Metrics(registry, ai_buckets=[1, 10])
    metrics.record_ai_latency("p", 5)
    bounds = {
        s.labels["le"]
        for m in registry.collect()
        for s in m.samples
        if s.name == "khronos_ai_latency_seconds_bucket"
    }
    assert bounds == {"1.0", "10.0", "+Inf"}
    assert AI_LATENCY_BUCKETS != (1, 10)  # the defaults differ, so the override took effect
    bucket = {"provider": "p", "le": "10.0"}
    assert registry.get_sample_value("khronos_ai_latency_seconds_bucket", bucket) == 1.0


def test_unordered_buckets_are_refused() -> None:
    """Buckets must increase."""
    with pytest.raises(ValueError, match="increasing"):
        Metrics(http_buckets=[1, 0.5])


def test_from_config_uses_namespace_and_buckets(registry: CollectorRegistry) -> None:
    """Metrics.from_config takes the metrics section's namespace and buckets."""
    config = MetricsConfig(namespace="bot", http_buckets=[0.1, 1.0])
    metrics = Metrics.from_config(config, registry)
    assert metrics.http_request_duration._upper_bounds == [0.1, 1.0, math.inf]
    assert metrics.namespace == "bot"
