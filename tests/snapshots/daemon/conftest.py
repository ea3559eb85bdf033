"""Snapshot daemon test fixtures: the alert tests' engine on a fake Bot API, a manual clock, and
a real-time fake Bot API (``bot``) for a daemon."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.alerts.conftest import (  # noqa: F401 - pytest finds fixtures by their import here
    fixture_clock,
    fixture_make_engine,
    fixture_registry,
    fixture_telegram,
)
from tests.alerts.fake_telegram import FakeTelegram, FakeTelegramServer


@pytest.fixture(name="bot")
def fixture_bot() -> Iterator[FakeTelegram]:
    """The fake Bot API a daemon sends to (real time)."""
    with FakeTelegramServer() as fake:
        yield fake
