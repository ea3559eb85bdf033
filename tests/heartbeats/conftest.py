"""Heartbeat test fixtures: the alert tests' engine on the fake Bot API, and a monitor on it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from khronos.clock import ManualClock
from khronos.config import HeartbeatCheckConfig
from khronos.heartbeats import HeartbeatMonitor
from tests.alerts.conftest import (  # noqa: F401 - pytest finds fixtures by their import here
    fixture_clock,
    fixture_make_engine,
    fixture_registry,
    fixture_telegram,
)
from tests.alerts.helpers import MakeEngine

MakeMonitor = Callable[..., HeartbeatMonitor]


@pytest.fixture(name="make_monitor")
def fixture_make_monitor(
    tmp_path: Path, make_engine: MakeEngine, clock: ManualClock
) -> MakeMonitor:
    """Build a monitor of one heartbeat ``nightly`` (every 1s, grace 1s by default) on an
    engine over ``tmp_path``; its loop is not started (tests call ``tick``)."""

    def make(
        *, engine: object = None, registry: CollectorRegistry | None = None, **config: object
    ) -> HeartbeatMonitor:
        spec = {"name": "nightly", "every": "1s", "grace": "1s", **config}
        return HeartbeatMonitor(
            [HeartbeatCheckConfig.model_validate(spec)],
            engine or make_engine(),  # type: ignore[arg-type]
            tmp_path / "state",
            clock=clock,
            registry=registry,
        )

    return make
