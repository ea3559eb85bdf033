"""Fixtures of the console tests: the fake Bot API (real clock) and a real alert engine on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from khronos.alerts import AlertEngine, Outbox, TelegramConsole
from tests.alerts.fake_telegram import FakeTelegram, FakeTelegramServer
from tests.alerts.helpers import notifier_for
from tests.daemon.harness import daemon_env


@pytest.fixture(name="env")
def fixture_env() -> dict[str, str]:
    """A `khronos run` environment: the secrets come from variables, as in production."""
    return daemon_env()


@pytest.fixture(name="telegram")
def fixture_telegram() -> Iterator[FakeTelegram]:
    """The fake Bot API server."""
    with FakeTelegramServer(FakeTelegram()) as fake:
        yield fake


@pytest_asyncio.fixture(name="engine")
async def fixture_engine(tmp_path: Path, telegram: FakeTelegram) -> AsyncIterator[AlertEngine]:
    """A started alert engine delivering to chat 111 of the fake server."""
    engine = AlertEngine(
        Outbox(tmp_path / "outbox.db"),
        [notifier_for(telegram, rate_limited=False, buttons=True)],
        poll_interval=0.05,
        repeat_interval=0.0,
    )
    await engine.start()
    yield engine
    await engine.stop(timeout=1.0)
    engine.outbox.close()


@pytest_asyncio.fixture(name="consoles")
async def fixture_consoles() -> AsyncIterator[list[TelegramConsole]]:
    """Consoles a test starts go here; they are stopped after it."""
    started: list[TelegramConsole] = []
    yield started
    for console in started:
        await console.stop()
