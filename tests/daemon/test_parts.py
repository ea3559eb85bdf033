"""The daemon's parts, inside one asyncio program: a part that ends is seen and alerted.

Each test runs a real Daemon in the test's event loop - a real HTTP server on loopback, the
durable outbox, the fake Telegram Bot API - and makes a part end for real: its task cancelled
as a stray ``cancel()`` would, or the HTTP server stopped outside a daemon stop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from khronos.config import load_config
from khronos.daemon import Daemon
from khronos.health import get_health
from tests.alerts.fake_telegram import FakeTelegram
from tests.daemon.harness import write_config

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]
DEADLINE_S = 60.0


@pytest_asyncio.fixture(name="daemon")
async def fixture_daemon(
    tmp_path: Path, env: dict[str, str], telegram: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Daemon]:
    """A started daemon without backup, alerting to the fake Telegram."""
    for name in ("TELEGRAM_BOT_TOKEN", "KHRONOS_HTTP_TOKEN"):
        monkeypatch.setenv(name, env[name])
    daemon = Daemon(load_config(write_config(tmp_path, telegram, backup=False)))
    await daemon.start()
    try:
        yield daemon
    finally:
        await daemon.stop()


async def until(check: Callable[[], object], what: str) -> None:
    """Poll ``check`` (real time) until truthy; fail after the deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEADLINE_S
    while not check():
        if loop.time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def test_a_check_loop_that_ends_fails_healthz_and_ready_and_alerts(
    daemon: Daemon, telegram: FakeTelegram
) -> None:
    """The memory check's task cancelled under a running daemon: /healthz and /ready answer
    503 naming it, khronos_part_up says 0, and a CRITICAL alert reaches Telegram."""
    (task,) = [t for t in asyncio.all_tasks() if t.get_name() == "khronos-check-memory"]
    task.cancel()
    async with httpx.AsyncClient(base_url=str(daemon.url), timeout=10) as http:
        await until(daemon.health.problems, "the part to be down")
        healthz = await http.get("/healthz")
        ready = await http.get("/ready")
        metrics = (await http.get("/metrics")).text
    assert healthz.status_code == 503
    assert healthz.json()["problems"] == ["check.memory stopped: its task was cancelled"]
    assert ready.status_code == 503
    assert "check.memory stopped: its task was cancelled" in ready.json()["problems"]
    assert 'khronos_part_up{part="check.memory"} 0.0' in metrics
    await until(
        lambda: any("stopped running check.memory" in t for t in telegram.texts()),
        "the CRITICAL alert at Telegram",
    )
    (text,) = [t for t in telegram.texts() if "stopped running check.memory" in t]
    assert "CRITICAL" in text


async def test_the_http_server_ending_on_its_own_is_alerted(
    daemon: Daemon, telegram: FakeTelegram
) -> None:
    """The HTTP server stops while the daemon is not stopping: part http down, CRITICAL alert
    through the engine (Telegram)."""
    assert daemon.server is not None
    await daemon.server.stop()
    await until(
        lambda: any("stopped running http" in t for t in telegram.texts()),
        "the CRITICAL alert at Telegram",
    )
    assert daemon.health.problems() == ["http stopped: its task ended"]


async def test_a_clean_stop_is_not_a_part_down(
    tmp_path: Path, env: dict[str, str], telegram: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopping the daemon ends every part without a fault, an alert, or a leftover Health."""
    for name in ("TELEGRAM_BOT_TOKEN", "KHRONOS_HTTP_TOKEN"):
        monkeypatch.setenv(name, env[name])
    before = get_health()
    daemon = Daemon(load_config(write_config(tmp_path, telegram, backup=False)))
    await daemon.start()
    assert get_health() is daemon.health
    assert {"http", "check.memory", "check.disk"} <= {p for p, _up in daemon.health.parts()}
    await daemon.stop()
    assert daemon.health.problems() == []
    assert not any("stopped running" in t for t in telegram.texts())
    assert get_health() is before
