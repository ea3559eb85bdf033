"""The app's output into the logs: JSON lines merged, plain lines wrapped, long lines bounded."""

from __future__ import annotations

import asyncio

import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import capture_logs

from khronos.app import forward_line, level_of, pump


def forward(raw: bytes, stream: str = "stdout") -> dict[str, object]:
    """The one record ``raw`` gives."""
    with capture_logs() as logs:
        forward_line(structlog.get_logger(component="app"), raw, stream)
    assert len(logs) == 1
    return logs[0]


def test_a_json_line_is_merged_with_its_level_message_and_correlation_id() -> None:
    """A JSON object keeps its level, msg and correlation ID; other fields as they are."""
    record = forward(b'{"level":"error","msg":"db down","correlation_id":"c-1","n":{"a":[1]}}')
    assert record["event"] == "db down"
    assert record["log_level"] == "error"
    assert record["correlationId"] == "c-1"
    assert record["n"] == {"a": [1]}


def test_pino_numeric_levels_and_clashing_keys() -> None:
    """pino's 50 is error; its pid/time/hostname fields do not overwrite Khronos' own."""
    record = forward(b'{"level":50,"time":1,"pid":77,"hostname":"h","msg":"x"}')
    assert record["log_level"] == "error"
    assert record["app_pid"] == 77
    assert "pid" not in record


@pytest.mark.parametrize(
    ("line", "stream", "level"),
    [
        (b"hello", "stdout", "info"),
        (b"hello", "stderr", "warning"),
        (b"ERROR something broke", "stderr", "error"),
        (b"error: bad thing", "stderr", "error"),
        (b"[INFO] fine", "stderr", "info"),
        (b"Traceback (most recent call last):", "stderr", "error"),
        (b'{"not": "closed"', "stdout", "info"),
    ],
)
def test_plain_lines_are_wrapped_at_their_streams_level(
    line: bytes, stream: str, level: str
) -> None:
    """stdout at info, stderr at warning unless the line names its level."""
    record = forward(line, stream)
    assert (record["event"], record["log_level"], record["stream"]) == (
        line.decode(),
        level,
        stream,
    )


def test_level_of_unknown_values_falls_back() -> None:
    """An unknown level name or a boolean keeps the stream's default."""
    assert level_of("verbose", "warning") == "warning"
    assert level_of(True, "info") == "info"


async def lines_of(data: bytes, max_line: int = 16) -> list[tuple[bytes, bool]]:
    """What pump() calls back for ``data`` fed in 3-byte chunks."""
    reader = asyncio.StreamReader()
    for i in range(0, len(data), 3):
        reader.feed_data(data[i : i + 3])
    reader.feed_eof()
    got: list[tuple[bytes, bool]] = []
    await pump(reader, lambda line, cut: got.append((line, cut)), max_line=max_line)
    return got


@pytest.mark.asyncio
async def test_pump_bounds_long_lines_and_flushes_the_partial_last_one() -> None:
    """A line over max_line is cut once and its rest skipped; the last line without a newline
    still comes out."""
    got = await lines_of(b"short\n" + b"x" * 40 + b"\nnext\npartial")
    assert got == [(b"short", False), (b"x" * 16, True), (b"next", False), (b"partial", False)]


@given(st.lists(st.binary(max_size=40).filter(lambda b: b"\n" not in b), max_size=8))
def test_pump_never_loses_or_merges_lines(parts: list[bytes]) -> None:
    """Every line comes out once, in order, cut to max_line."""
    data = b"".join(p + b"\n" for p in parts)
    got = asyncio.run(lines_of(data))
    assert [line for line, _ in got] == [p[:16] for p in parts]
    assert [cut for _, cut in got] == [len(p) > 16 for p in parts]
