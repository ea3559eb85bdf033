"""The one way tests wait: poll a condition until it holds, with a deadline (never sleep-and-hope).

``poll`` blocks (threads, subprocesses); ``wait_for`` awaits (inside an event loop).  Both fail
the test with what they waited for when the deadline passes, and return the truthy value.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

import pytest

__all__ = ["poll", "wait_for"]

T = TypeVar("T")
DEADLINE_S = 60.0


def poll(
    check: Callable[[], T], *, timeout: float = DEADLINE_S, what: str = "", every: float = 0.05
) -> T:
    """Call ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g}s waiting for {what or check}")
        time.sleep(every)


async def wait_for(
    check: Callable[[], T], *, timeout: float = DEADLINE_S, what: str = "", every: float = 0.02
) -> T:
    """Await until ``check`` returns something truthy (real time); fail after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = check()
        if value:
            return value
        if loop.time() > deadline:
            pytest.fail(f"timed out after {timeout:g}s waiting for {what or check}")
        await asyncio.sleep(every)
