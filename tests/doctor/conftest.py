"""Doctor fixtures: the backup tests' S3 server and the fake Bot API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.alerts.fake_telegram import FakeTelegram, FakeTelegramServer
from tests.backup.conftest import (  # noqa: F401 - pytest finds fixtures by their import here
    fixture_auth_s3,
    fixture_bucket,
    fixture_s3_server,
)


@pytest.fixture(name="telegram")
def fixture_telegram() -> Iterator[FakeTelegram]:
    """The fake Bot API the doctor asks (getMe, getChat)."""
    with FakeTelegramServer() as fake:
        yield fake
