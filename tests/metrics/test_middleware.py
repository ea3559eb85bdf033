"""MetricsMiddleware: route templates, methods, statuses, exclusions, in-progress."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from khronos.metrics import UNMATCHED_ROUTE, Metrics, MetricsMiddleware
from tests.metrics.apps import build_app
from tests.metrics.asgi import call

DURATION = "khronos_http_request_duration_seconds_count"
IN_PROGRESS = "khronos_http_requests_in_progress"


def _count(registry: CollectorRegistry, method: str, route: str, status: str) -> float | None:
    labels = {"method": method, "route": route, "status": status}
    return registry.get_sample_value(DURATION, labels)


@pytest.fixture(name="app")
def fixture_app(metrics: Metrics) -> Starlette:
    """The instrumented test app."""
    return build_app(metrics)


@pytest.mark.asyncio
async def test_labels_by_route_template(app: Starlette, registry: CollectorRegistry) -> None:
    """/users/1 and /users/2 share the series of /users/{user_id}."""
    await call(app, "/users/1")
    await call(app, "/users/2")
    assert _count(registry, "GET", "/users/{user_id}", "200") == 2.0


@pytest.mark.asyncio
async def test_mounted_route_gets_the_full_template(
    app: Starlette, registry: CollectorRegistry
) -> None:
    """A route inside a Mount is labelled with the Mount's template plus its own."""
    await call(app, "/api/v1/orders/7")
    await call(app, "/api/v2/orders/8")
    assert _count(registry, "GET", "/api/{version}/orders/{order_id:int}", "200") == 2.0


@pytest.mark.asyncio
async def test_mounted_app_is_labelled_by_its_mount(
    app: Starlette, registry: CollectorRegistry
) -> None:
    """A mounted plain ASGI app (static files) is one series: the Mount's path."""
    await call(app, "/static/a.css")
    await call(app, "/static/b/c.js")
    assert _count(registry, "GET", "/static", "200") == 2.0


@pytest.mark.asyncio
async def test_unmatched_paths_share_one_series(
    app: Starlette, registry: CollectorRegistry
) -> None:
    """404s for unknown paths, including under a Mount, go to route='<unmatched>'."""
    await call(app, "/wp-login.php")
    await call(app, "/api/v1/nope")
    assert _count(registry, "GET", UNMATCHED_ROUTE, "404") == 2.0


@pytest.mark.asyncio
async def test_exception_counts_as_500(app: Starlette, registry: CollectorRegistry) -> None:
    """An exception escaping the app is recorded with status 500."""
    assert (await call(app, "/boom")).status == 500
    assert _count(registry, "GET", "/boom", "500") == 1.0


@pytest.mark.asyncio
async def test_status_and_method_labels(app: Starlette, registry: CollectorRegistry) -> None:
    """POST /items -> 201; GET /items -> 405 on the same template."""
    await call(app, "/items", method="POST")
    await call(app, "/items")
    assert _count(registry, "POST", "/items", "201") == 1.0
    assert _count(registry, "GET", "/items", "405") == 1.0


@pytest.mark.asyncio
async def test_nonstandard_method_becomes_other(
    app: Starlette, registry: CollectorRegistry
) -> None:
    """An invented method is labelled OTHER."""
    await call(app, "/", method="BREW")
    assert _count(registry, "OTHER", "/", "405") == 1.0


@pytest.mark.asyncio
async def test_in_progress_counts_the_request_being_served(
    metrics: Metrics, registry: CollectorRegistry
) -> None:
    """While a request runs, the in-progress gauge counts it."""
    seen: list[float | None] = []

    async def peek(_request: Request) -> PlainTextResponse:
        seen.append(registry.get_sample_value(IN_PROGRESS, {"method": "GET"}))
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/peek", peek)])
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    await call(app, "/peek")
    assert seen == [1.0]
    assert registry.get_sample_value(IN_PROGRESS, {"method": "GET"}) == 0.0


@pytest.mark.asyncio
async def test_in_progress_returns_to_zero(app: Starlette, registry: CollectorRegistry) -> None:
    """The in-progress gauge goes back to 0 after each request, errors included."""
    await call(app, "/")
    await call(app, "/boom")
    labels = {"method": "GET"}
    assert registry.get_sample_value("khronos_http_requests_in_progress", labels) == 0.0


@pytest.mark.asyncio
async def test_excluded_paths_are_not_measured(
    metrics: Metrics, registry: CollectorRegistry
) -> None:
    """excluded_paths are passed through without a sample."""
    await call(build_app(metrics, excluded_paths=["/"]), "/")
    assert _count(registry, "GET", "/", "200") is None


@pytest.mark.asyncio
async def test_unmatched_can_be_dropped(metrics: Metrics, registry: CollectorRegistry) -> None:
    """group_unmatched=False records nothing for unmatched requests."""
    await call(build_app(metrics, group_unmatched=False), "/nothing-here")
    assert _count(registry, "GET", UNMATCHED_ROUTE, "404") is None


@pytest.mark.asyncio
async def test_lifespan_passes_through(metrics: Metrics) -> None:
    """A lifespan scope reaches the app untouched and completes."""
    sent: list[str] = []
    events = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

    async def receive() -> dict[str, str]:
        return next(events)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message["type"])

    await build_app(metrics)({"type": "lifespan"}, receive, send)
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


@pytest.mark.asyncio
async def test_plain_asgi_app_is_grouped(metrics: Metrics, registry: CollectorRegistry) -> None:
    """A non-Starlette ASGI app has no routes: every request counts under '<unmatched>'."""
    await call(MetricsMiddleware(PlainTextResponse("hi"), metrics=metrics), "/anything")
    assert _count(registry, "GET", UNMATCHED_ROUTE, "200") == 1.0
