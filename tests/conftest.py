"""Shared fixtures, and the gate that turns a skipped integration test into a failure in CI.

With ``KHRONOS_REQUIRE_INTEGRATION=1`` (set by ``.ci/run``) a test marked ``integration`` that is
skipped - say because ``prometheus`` is not installed - fails instead, with the skip reason.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path

import pytest

from tests.support import REQUIRE_INTEGRATION, WriteConfig

_KHRONOS_ENV = ("KHRONOS_CONFIG", "KHRONOS_DEBUG", "LOG_LEVEL")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    """Fail, instead of skip, an integration test when integration tests are required."""
    outcome = yield
    report = outcome.get_result()
    if (
        report.skipped
        and os.environ.get(REQUIRE_INTEGRATION) == "1"
        and item.get_closest_marker("integration") is not None
        and not hasattr(report, "wasxfail")
    ):
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"integration test skipped while {REQUIRE_INTEGRATION}=1: {reason}"


@pytest.fixture(autouse=True)
def _clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the developer's Khronos settings."""
    for name in _KHRONOS_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(name="write_config")
def fixture_write_config(tmp_path: Path) -> WriteConfig:
    """Write text to tmp_path/khronos.yml and return the path."""

    def write(text: str) -> Path:
        path = tmp_path / "khronos.yml"
        path.write_text(text, encoding="utf-8")
        return path

    return write
