"""Fixtures for the metrics tests: a fresh registry and Metrics bound to it, per test."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from khronos.metrics import Metrics


@pytest.fixture(name="registry")
def fixture_registry() -> CollectorRegistry:
    """A fresh registry: never the global one."""
    return CollectorRegistry()


@pytest.fixture(name="metrics")
def fixture_metrics(registry: CollectorRegistry) -> Metrics:
    """Metrics bound to the test's registry."""
    return Metrics(registry)
