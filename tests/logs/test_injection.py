"""Hostile text in messages and fields still makes one valid JSON record per line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from khronos import logs
from tests.logs.helpers import Setup

HOSTILE = st.text(
    alphabet=st.characters(codec=None, exclude_categories=()),
    max_size=60,
) | st.sampled_from(["line1\nline2", '"},{"level":"critical', "\x00\x1b[31m\r", "\udc80\ud800x"])


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(messages=st.lists(HOSTILE, min_size=1, max_size=5))
def test_any_text_gives_one_valid_json_line_per_record(
    messages: list[str], setup_logs: Setup, tmp_path: Path
) -> None:
    """Newlines, quotes, control characters and lone surrogates never break the format."""
    log_dir = tmp_path / "inj"
    for old in log_dir.glob("*"):
        old.unlink()
    setup_logs(log_dir=log_dir)
    log = logs.get_logger()
    for message in messages:
        log.info(message, field=message, **{"key\n" + message[:5]: 1})
    logs.shutdown()
    lines = (log_dir / "combined.log").read_bytes().split(b"\n")
    assert lines[-1] == b""
    records = [json.loads(line.decode("utf-8")) for line in lines[:-1]]
    assert len(records) == len(messages)
    assert all(isinstance(r["message"], str) for r in records)


@pytest.mark.parametrize("message", ["a\nb", "\udcff", '"quoted"', "\x07bell"])
def test_known_hostile_messages_round_trip(setup_logs: Setup, tmp_path: Path, message: str) -> None:
    """The message is stored escaped and reads back as the same text (surrogates escaped)."""
    setup_logs()
    logs.get_logger().info(message)
    logs.shutdown()
    (line,) = (tmp_path / "logs/combined.log").read_text(encoding="utf-8").splitlines()
    expected = message.encode("utf-8", "backslashreplace").decode("utf-8")
    assert json.loads(line)["message"] == expected
