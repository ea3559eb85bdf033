"""One JSON line per record with the original design's keys."""

from __future__ import annotations

import json
import logging
import os
import re
import select
from pathlib import Path

import pytest
import structlog

from khronos import logs
from tests.logs.helpers import Setup, read_lines

KEYS = ["@timestamp", "level", "message", "correlationId", "userId", "service"]


def test_record_has_the_standard_keys_in_order(setup_logs: Setup, tmp_path: Path) -> None:
    """@timestamp, level, message, correlationId, userId, service, environment, pid, version."""
    setup_logs(version="1.2.3")
    logs.get_logger(chat_id=7).info("hello", extra_field=1)
    logs.shutdown()
    (record,) = read_lines(tmp_path / "logs/combined.log")
    assert list(record)[:9] == [*KEYS, "environment", "pid", "version"]
    assert record["userId"] == "SYSTEM"
    assert (record["service"], record["environment"], record["version"]) == (
        "test-bot",
        "test",
        "1.2.3",
    )
    assert (record["chat_id"], record["extra_field"]) == (7, 1)


def test_timestamp_is_utc_iso_with_milliseconds(setup_logs: Setup, tmp_path: Path) -> None:
    """`2024-05-01T12:00:00.123Z`."""
    setup_logs()
    logs.get_logger().info("x")
    logs.shutdown()
    (record,) = read_lines(tmp_path / "logs/combined.log")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["@timestamp"])


def test_stdlib_records_come_out_the_same(setup_logs: Setup, tmp_path: Path) -> None:
    """A third-party logging.getLogger record gets the same keys and the caller's IDs."""
    setup_logs()
    with logs.bind_correlation_id("req-1"), logs.bind_user_id(42):
        logging.getLogger("uvicorn.error").warning("port %d busy", 80)
    logs.shutdown()
    (record,) = read_lines(tmp_path / "logs/combined.log")
    assert record["message"] == "port 80 busy"
    assert (record["correlationId"], record["userId"], record["logger"]) == (
        "req-1",
        "42",
        "uvicorn.error",
    )


def test_structlog_contextvars_are_merged(setup_logs: Setup, tmp_path: Path) -> None:
    """Values bound with structlog.contextvars reach structlog and stdlib records."""
    setup_logs()
    with structlog.contextvars.bound_contextvars(update_id=99):
        logs.get_logger().info("a")
        logging.getLogger("lib").warning("b")
    logs.shutdown()
    assert [r["update_id"] for r in read_lines(tmp_path / "logs/combined.log")] == [99, 99]


def test_level_filters_below_the_threshold(setup_logs: Setup, tmp_path: Path) -> None:
    """At level warning, info records are dropped from structlog and stdlib alike."""
    setup_logs(level="warning")
    logs.get_logger().info("no")
    logging.getLogger("lib").info("no")
    logs.get_logger().warning("yes")
    logs.shutdown()
    assert [r["message"] for r in read_lines(tmp_path / "logs/combined.log")] == ["yes"]


def test_httpx_is_quiet_by_default(setup_logs: Setup) -> None:
    """httpx and httpcore are at WARNING after configure (they log URLs at INFO)."""
    setup_logs(level="debug")
    assert logging.getLogger("httpx").level == logging.WARNING
    assert logging.getLogger("httpcore").level == logging.WARNING


def test_pretty_console_is_readable(setup_logs: Setup) -> None:
    """console: pretty prints a line with the level and message, not JSON."""
    console = setup_logs(console="pretty")
    logs.get_logger().info("ready", port=9321)
    logs.shutdown()
    line = console.getvalue().strip()
    assert "ready" in line
    assert "port=9321" in line
    assert "info" in line
    assert not line.startswith("{")


def test_console_off_writes_nothing(setup_logs: Setup) -> None:
    """console: off keeps the stream empty while files still get the record."""
    console = setup_logs(console="off")
    logs.get_logger().info("quiet")
    logs.shutdown()
    assert console.getvalue() == ""


def test_capture_logs_sees_helper_fields() -> None:
    """log_user_action carries userId and the action (structlog.testing.capture_logs)."""
    with structlog.testing.capture_logs() as captured:
        logs.log_user_action(5, "subscribe", plan="pro")
    assert captured == [
        {
            "event": "user action",
            "action": "subscribe",
            "userId": "5",
            "plan": "pro",
            "log_level": "info",
        }
    ]


def test_db_query_is_debug_and_cut_to_100_chars() -> None:
    """log_db_query logs at debug with the query truncated."""
    with structlog.testing.capture_logs() as captured:
        logs.log_db_query("SELECT " + "x" * 300, 1.5, rows=2)
    (entry,) = captured
    assert entry["log_level"] == "debug"
    assert len(entry["query"]) == 100


def test_api_call_level_follows_status() -> None:
    """2xx info, 4xx warning, 5xx error."""
    with structlog.testing.capture_logs() as captured:
        for status in (200, 404, 503):
            logs.log_api_call("get", "https://example.org", status, 12.0)
    assert [e["log_level"] for e in captured] == ["info", "warning", "error"]


def test_job_logs_start_and_completion_under_its_id(setup_logs: Setup, tmp_path: Path) -> None:
    """job() binds its ID as correlation ID and logs both ends with a duration."""
    setup_logs()
    with logs.job("backup", job_id="job-1") as run:
        run.details["files"] = 3
    logs.shutdown()
    start, done = read_lines(tmp_path / "logs/combined.log")
    assert (start["message"], done["message"]) == ("job started", "job completed")
    assert start["correlationId"] == done["correlationId"] == "job-1"
    assert done["success"] is True
    assert done["files"] == 3
    assert done["duration_ms"] >= 0


def _fail(message: str) -> None:
    raise RuntimeError(message)


def test_failed_job_logs_an_error_with_the_stack(setup_logs: Setup, tmp_path: Path) -> None:
    """An exception inside job() is logged as `job failed` with the traceback, then re-raised."""
    setup_logs()
    with pytest.raises(RuntimeError), logs.job("sync"):
        _fail("disk full")
    logs.shutdown()
    (failed,) = read_lines(tmp_path / "logs/errors.log")
    assert failed["message"] == "job failed"
    assert "disk full" in failed["exception"]


def test_every_line_is_valid_json(setup_logs: Setup, tmp_path: Path) -> None:
    """Objects without a JSON form are written as their str()."""
    setup_logs()
    logs.get_logger().info("objects", path=Path("/x"), raw=b"\xff\x00", items={1, 2})
    logs.shutdown()
    line = (tmp_path / "logs/combined.log").read_text(encoding="utf-8")
    record = json.loads(line)
    assert record["path"] == "/x"
    assert record["raw"] == "\\xff\x00"


def test_auto_console_is_pretty_on_a_terminal(setup_logs: Setup) -> None:
    """console: auto on a real terminal (a pty) prints a coloured readable line, not JSON."""
    leader, follower = os.openpty()
    with os.fdopen(follower, "w", encoding="utf-8") as terminal, os.fdopen(leader, "rb") as out:
        assert terminal.isatty()
        setup_logs(console="auto", console_stream=terminal)
        logs.get_logger().info("on a tty", port=9321)
        logs.shutdown()
        assert select.select([out], [], [], 30)[0], "nothing reached the terminal"
        text = os.read(out.fileno(), 65536).decode("utf-8")
    assert "on a tty" in text
    assert "\x1b[" in text
    assert not text.lstrip().startswith("{")


def test_auto_console_is_json_elsewhere(setup_logs: Setup) -> None:
    """console: auto on a stream that is not a terminal (a pipe, a file) prints JSON lines."""
    console = setup_logs(console="auto")
    logs.get_logger().info("in a pipe", port=9321)
    logs.shutdown()
    record = json.loads(console.getvalue())
    assert (record["message"], record["port"]) == ("in a pipe", 9321)
