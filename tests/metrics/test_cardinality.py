"""A scanner cannot explode the number of series."""

from __future__ import annotations

import random
import string

import pytest
from prometheus_client import CollectorRegistry

from khronos.metrics import Metrics
from tests.metrics.apps import build_app
from tests.metrics.asgi import call

PATHS = 10_000


def _series(registry: CollectorRegistry) -> int:
    return sum(len(metric.samples) for metric in registry.collect())


def _random_path(rng: random.Random) -> str:
    parts = ["".join(rng.choices(string.ascii_letters + "-._~%", k=rng.randint(1, 12)))]
    return "/" + "/".join(parts * rng.randint(1, 3))


@pytest.mark.asyncio
async def test_ten_thousand_random_paths_add_no_series(
    metrics: Metrics, registry: CollectorRegistry
) -> None:
    """After one warm-up 404, 10,000 random paths and 404s leave the series count unchanged."""
    app = build_app(metrics)
    await call(app, "/warm-up-404")
    await call(app, "/users/1")
    before = _series(registry)
    rng = random.Random(4)  # noqa: S311 - reproducible test data, not cryptography
    for _ in range(PATHS):
        reply = await call(app, _random_path(rng))
        assert reply.status in (200, 404, 307)
    for i in range(200):
        await call(app, f"/users/{i}")
    # process_* samples are fixed in number; only the HTTP histogram could have grown
    assert _series(registry) == before
    assert _requests(registry) == PATHS + 202


def _requests(registry: CollectorRegistry) -> float:
    return sum(
        sample.value
        for metric in registry.collect()
        for sample in metric.samples
        if sample.name == "khronos_http_request_duration_seconds_count"
    )


@pytest.mark.asyncio
async def test_random_methods_are_bounded(metrics: Metrics, registry: CollectorRegistry) -> None:
    """Invented methods all fold into OTHER."""
    app = build_app(metrics)
    for i in range(100):
        await call(app, "/nope", method=f"X{i}")
    methods = {
        sample.labels["method"]
        for metric in registry.collect()
        if metric.name == "khronos_http_request_duration_seconds"
        for sample in metric.samples
    }
    assert methods == {"OTHER"}
