"""One log line per kind of event per minute: LogThrottle and the event loop's handler."""

from __future__ import annotations

import asyncio
import errno
import itertools
import socket

import pytest
from structlog.testing import capture_logs

from khronos import logs
from khronos.logs import LogThrottle


def test_one_event_per_kind_per_period_with_the_count_held_back() -> None:
    """The first is let through; those within the period are counted; the next says how many."""
    ticks = itertools.chain([0.0, 10.0, 20.0, 30.0, 61.0], itertools.repeat(200.0))
    throttle = LogThrottle(60.0, clock=ticks.__next__)
    assert [throttle.admit("emfile") for _ in range(5)] == [0, None, None, None, 3]
    assert throttle.admit("other kind") == 0


@pytest.mark.asyncio
async def test_a_burst_of_accept_errors_is_logged_once() -> None:
    """asyncio's "socket.accept() out of system resource", 2,000 times in a burst: one line."""
    loop = asyncio.get_running_loop()
    logs.install_asyncio_handler(loop)
    try:
        with socket.socket() as sock, capture_logs() as records:
            for _ in range(2000):
                loop.call_exception_handler(
                    {
                        "message": "socket.accept() out of system resource",
                        "exception": OSError(errno.EMFILE, "Too many open files"),
                        "socket": sock,
                    }
                )
    finally:
        logs.uninstall_exception_hooks()
    assert len(records) == 1
    assert "Too many open files" in records[0]["event"]
