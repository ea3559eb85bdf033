"""Fixtures for the check tests: an engine on a throw-away outbox with the log channel."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from prometheus_client import CollectorRegistry

from khronos.alerts import AlertEngine, AlertMetrics, LogNotifier, Outbox
from khronos.clock import ManualClock


@pytest.fixture(name="clock")
def fixture_clock() -> ManualClock:
    """A manual clock."""
    return ManualClock()


@pytest.fixture(name="registry")
def fixture_registry() -> CollectorRegistry:
    """A fresh registry."""
    return CollectorRegistry()


@pytest_asyncio.fixture(name="engine")
async def fixture_engine(
    tmp_path: Path, clock: ManualClock, registry: CollectorRegistry
) -> AsyncIterator[AlertEngine]:
    """An engine writing to a temporary outbox (not delivering)."""
    engine = AlertEngine(
        Outbox(tmp_path / "o.db"), [LogNotifier()], clock=clock, metrics=AlertMetrics(registry)
    )
    yield engine
    engine.outbox.close()
