"""Only what has a source is exported: the app's metrics are left out where no app records them."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from khronos.metrics import Metrics, MetricsMiddleware
from tests.metrics.asgi import call

APP_ONLY = (
    "khronos_messages_processed_total",
    "khronos_messages_failed_total",
    "khronos_active_users",
    "khronos_queue_size",
    "khronos_ai_latency_seconds",
    "khronos_api_calls_total",
)


def _names(registry: CollectorRegistry) -> set[str]:
    return {metric.name for metric in registry.collect()} | {
        sample.name for metric in registry.collect() for sample in metric.samples
    }


def test_without_app_metrics_only_the_own_ones_are_served(registry: CollectorRegistry) -> None:
    """app_metrics=False: messages, queue, users, AI and API metrics are not on the registry;
    recording into them still works (and shows nowhere)."""
    metrics = Metrics(registry, app_metrics=False)
    metrics.set_queue_size(3)
    metrics.record_message_processed("telegram", "ok")
    names = _names(registry)
    for name in APP_ONLY:
        assert name not in names
        assert name.removesuffix("_total") not in names
    assert "khronos_http_request_duration_seconds" in names
    assert "khronos_circuit_breaker_state" in names


def test_the_library_keeps_the_app_metrics(registry: CollectorRegistry) -> None:
    """A Python app's Metrics (the default) serves them, at 0 before the first record."""
    Metrics(registry)
    assert registry.get_sample_value("khronos_queue_size") == 0.0
    assert registry.get_sample_value("khronos_active_users") == 0.0


@pytest.mark.asyncio
async def test_in_progress_series_appear_with_their_method_when_not_preset(
    registry: CollectorRegistry,
) -> None:
    """preset_methods=False: no zero series for ten methods, only the ones seen."""

    async def ok(_request: object) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/x", ok, methods=["POST"])])
    app.add_middleware(MetricsMiddleware, metrics=Metrics(registry), preset_methods=False)
    name = "khronos_http_requests_in_progress"
    assert registry.get_sample_value(name, {"method": "GET"}) is None
    await call(app, "/x", method="POST")
    assert registry.get_sample_value(name, {"method": "POST"}) == 0.0
    assert registry.get_sample_value(name, {"method": "GET"}) is None
