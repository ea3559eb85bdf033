"""Chaos suite fixtures: the daemon's environment, a fake Telegram, S3, and the report hook."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.alerts.fake_telegram import FakeTelegram, FakeTelegramServer
from tests.backup.conftest import (  # noqa: F401 - pytest finds fixtures by their import here
    fixture_bucket,
    fixture_s3_proxy,
    fixture_s3_server,
)
from tests.chaos.report import write_report
from tests.daemon.harness import daemon_env

REPORT_ENV = "KHRONOS_RELIABILITY_REPORT"
_DEFAULT_REPORT = Path(__file__).resolve().parents[2] / ".khronos-chaos" / "RELIABILITY.md"


@pytest.fixture(scope="session", name="chaos_results")
def fixture_chaos_results(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Where each fault test saves its outcome; rendered into the report at the end."""
    results = tmp_path_factory.mktemp("chaos") / "results.jsonl"
    yield results
    if results.exists():
        write_report(results, Path(os.environ.get(REPORT_ENV) or _DEFAULT_REPORT))


@pytest.fixture(name="env")
def fixture_env() -> dict[str, str]:
    """The daemon's environment: the secrets come from variables, as in production."""
    return daemon_env()


@pytest.fixture(name="telegram")
def fixture_telegram() -> Iterator[FakeTelegram]:
    """The fake Bot API the daemon sends to."""
    with FakeTelegramServer() as fake:
        yield fake
