"""Daemon test fixtures: its environment, a fake Telegram, and the backup tests' S3 fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.alerts.fake_telegram import FakeTelegram, FakeTelegramServer
from tests.backup.conftest import (  # noqa: F401 - pytest finds fixtures by their import here
    fixture_bucket,
    fixture_s3_proxy,
    fixture_s3_server,
)
from tests.daemon.harness import daemon_env


@pytest.fixture(name="env")
def fixture_env() -> dict[str, str]:
    """The daemon's environment: the secrets come from variables, as in production."""
    return daemon_env()


@pytest.fixture(name="telegram")
def fixture_telegram() -> Iterator[FakeTelegram]:
    """The fake Bot API the daemon sends to."""
    with FakeTelegramServer() as fake:
        yield fake
