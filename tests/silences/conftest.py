"""Fixtures for the silence tests: a manual clock, the fake Bot API, engines wired to both."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from prometheus_client import CollectorRegistry

from khronos.alerts import AlertEngine, AlertMetrics, Outbox, SilenceStore
from khronos.clock import ManualClock
from tests.alerts.fake_telegram import FakeTelegram, FakeTelegramServer
from tests.alerts.helpers import MakeEngine, notifier_for
from tests.daemon.harness import daemon_env
from tests.dashboard.conftest import fixture_browser  # noqa: F401 - pytest finds it imported here

START = 1_790_000_000.0
"""2026-09-21T14:13:20Z, a Monday."""


@pytest.fixture(name="clock")
def fixture_clock() -> ManualClock:
    """A clock that moves only when told to."""
    return ManualClock(START)


@pytest.fixture(name="telegram")
def fixture_telegram(clock: ManualClock) -> Iterator[FakeTelegram]:
    """The fake Bot API server."""
    with FakeTelegramServer(FakeTelegram(clock=clock.monotonic)) as fake:
        yield fake


@pytest.fixture(name="registry")
def fixture_registry() -> CollectorRegistry:
    """A fresh metrics registry."""
    return CollectorRegistry()


@pytest.fixture(name="env")
def fixture_env() -> dict[str, str]:
    """A daemon's environment: the secrets come from variables, as in production."""
    return daemon_env()


@pytest.fixture(name="store")
def fixture_store(tmp_path: Path, clock: ManualClock) -> SilenceStore:
    """A silence store in tmp_path/state on the manual clock."""
    return SilenceStore.in_state_dir(tmp_path / "state", clock=clock, timezone="UTC")


@pytest_asyncio.fixture(name="make_engine")
async def fixture_make_engine(
    tmp_path: Path, telegram: FakeTelegram, clock: ManualClock, registry: CollectorRegistry
) -> AsyncIterator[MakeEngine]:
    """Build engines on the fake server (``silences=`` a store); stopped after the test."""
    engines: list[AlertEngine] = []
    metrics = AlertMetrics(registry)

    def make(**kwargs: object) -> AlertEngine:
        engine = AlertEngine(
            Outbox(tmp_path / "outbox.db"),
            [notifier_for(telegram)],
            clock=clock,
            metrics=metrics,
            poll_interval=0.05,
            **kwargs,  # type: ignore[arg-type]
        )
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        await engine.stop()
        engine.outbox.close()
