"""The CI gate: a skipped integration test fails when KHRONOS_REQUIRE_INTEGRATION=1."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

SKIPPING = """
import pytest

@pytest.mark.integration
def test_needs_a_server():
    pytest.skip("server not installed")

def test_plain_skip():
    pytest.skip("not an integration test")
"""


@pytest.fixture(name="gated")
def fixture_gated(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester project using this suite's conftest and markers."""
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text())
    pytester.makeini(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
        "markers =\n    integration: real processes\n"
    )
    pytester.makepyfile(test_sample=SKIPPING)
    return pytester


def test_skip_is_a_skip_without_the_gate(
    gated: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Outside CI an integration test may skip (with its reason)."""
    monkeypatch.delenv("KHRONOS_REQUIRE_INTEGRATION", raising=False)
    gated.runpytest().assert_outcomes(skipped=2)


def test_skip_fails_under_the_gate(gated: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """In CI a skipped integration test is a failure naming the reason; plain skips stay skips."""
    monkeypatch.setenv("KHRONOS_REQUIRE_INTEGRATION", "1")
    result = gated.runpytest()
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines(
        ["*skipped while KHRONOS_REQUIRE_INTEGRATION=1*server not installed*"]
    )
