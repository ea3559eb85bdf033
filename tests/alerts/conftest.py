"""Fixtures for the alert tests: a fake Bot API server, a manual clock, an engine wired to both."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from prometheus_client import CollectorRegistry

from khronos.alerts import AlertEngine, AlertMetrics, Outbox
from khronos.clock import ManualClock
from tests.alerts.fake_telegram import FakeTelegram, FakeTelegramServer
from tests.alerts.helpers import MakeEngine, notifier_for
from tests.smallfs import SmallFilesystem, small_filesystem


@pytest.fixture(name="clock")
def fixture_clock() -> ManualClock:
    """A clock that moves only when told to or slept on."""
    return ManualClock()


@pytest.fixture(name="telegram")
def fixture_telegram(clock: ManualClock) -> Iterator[FakeTelegram]:
    """The fake Bot API server, timestamping messages with the manual clock."""
    with FakeTelegramServer(FakeTelegram(clock=clock.monotonic)) as fake:
        yield fake


@pytest.fixture(name="registry")
def fixture_registry() -> CollectorRegistry:
    """A fresh metrics registry."""
    return CollectorRegistry()


@pytest_asyncio.fixture(name="make_engine")
async def fixture_make_engine(
    tmp_path: Path, telegram: FakeTelegram, clock: ManualClock, registry: CollectorRegistry
) -> AsyncIterator[MakeEngine]:
    """Build engines on the fake server; they are stopped after the test."""
    engines: list[AlertEngine] = []
    shared: list[AlertMetrics] = []  # one set of metrics per registry, however many engines

    def make(**kwargs: object) -> AlertEngine:
        if not shared:
            shared.append(AlertMetrics(registry))
        notifier_kwargs = kwargs.pop("notifier", {})
        path = Path(kwargs.pop("path", tmp_path / "outbox.db"))  # type: ignore[arg-type]
        outbox = Outbox(path, max_pending=kwargs.pop("max_pending", 10_000))  # type: ignore[arg-type]
        engine = AlertEngine(
            outbox,
            [notifier_for(telegram, **notifier_kwargs)],  # type: ignore[arg-type]
            clock=kwargs.pop("clock", clock),  # type: ignore[arg-type]
            metrics=shared[0],
            poll_interval=0.05,
            **kwargs,  # type: ignore[arg-type]
        )
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        await engine.stop()
        engine.outbox.close()


@pytest.fixture(name="small_fs")
def fixture_small_fs(tmp_path: Path) -> Iterator[SmallFilesystem]:
    """A 2 MB tmpfs (skipped, with the reason, where mounting is not permitted)."""
    with small_filesystem(tmp_path / "small") as fs:
        yield fs
