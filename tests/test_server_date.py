"""The HTTP server's Date header is made per request (the server has no timer refreshing it)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx
import pytest
from prometheus_client import CollectorRegistry

from khronos.config import KhronosConfig
from khronos.server import create_app
from tests.metrics.live import running

pytestmark = pytest.mark.integration


def _date(port: int) -> datetime:
    reply = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
    assert reply.headers.get_list("date") == [reply.headers["date"]]  # exactly one
    return parsedate_to_datetime(reply.headers["date"])


def test_every_answer_carries_the_current_date() -> None:
    """Two answers a second apart carry the date of their own second, not the server's start."""
    app = create_app(KhronosConfig(), registry=CollectorRegistry())
    with running(app) as port:
        first = _date(port)
        deadline = time.monotonic() + 10
        while datetime.now(UTC).replace(microsecond=0) <= first and time.monotonic() < deadline:
            time.sleep(0.05)
        second = _date(port)
    assert second > first
    assert abs((datetime.now(UTC) - second).total_seconds()) < 5
