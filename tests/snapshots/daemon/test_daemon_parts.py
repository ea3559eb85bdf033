"""The snapshot schedule as a part of a real Daemon (in this event loop, the fake engine):
started only with destinations, in /api/status, /metrics and /api/snapshots, watched by health,
stopped with the daemon."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from khronos.config import load_config
from khronos.daemon import Daemon
from tests.alerts.fake_telegram import FakeTelegram
from tests.daemon.harness import HTTP_TOKEN, daemon_env, write_config
from tests.polling import wait_for
from tests.snapshots.daemon.helpers import RECIPIENT, FakeTake

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


def with_snapshots(path: Path, tmp_path: Path) -> Path:
    """The daemon harness' configuration, its database snapshotting to a folder every hour."""
    text = path.read_text(encoding="utf-8").replace(
        "verify: {interval: 3s}", "verify: {interval: null}"
    )
    text += (
        "      snapshots:\n"
        f"        - {{url: 'file://{tmp_path}/snaps', name: local, interval: 1h, "
        f"encrypt: {{recipients: [{RECIPIENT}]}}}}\n"
    )
    path.write_text(text, encoding="utf-8")
    return path


@pytest_asyncio.fixture(name="env_set")
async def fixture_env_set(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in daemon_env().items():
        if name in ("TELEGRAM_BOT_TOKEN", "KHRONOS_HTTP_TOKEN"):
            monkeypatch.setenv(name, value)


@pytest_asyncio.fixture(name="take")
async def fixture_take() -> FakeTake:
    return FakeTake()


@pytest_asyncio.fixture(name="daemon")
async def fixture_daemon(
    tmp_path: Path, bot: FakeTelegram, env_set: None, take: FakeTake
) -> AsyncIterator[Daemon]:
    """A started daemon with backup and one snapshot destination, on the fake engine."""
    config = load_config(with_snapshots(write_config(tmp_path, bot), tmp_path))
    daemon = Daemon(config)
    assert daemon.snapshots is not None
    daemon.snapshots.take = take
    await daemon.start()
    try:
        yield daemon
    finally:
        await daemon.stop()


async def test_the_schedule_runs_and_shows_in_status_metrics_and_the_api(
    daemon: Daemon, take: FakeTake
) -> None:
    """The first snapshot at start: /api/status's card, /metrics and /api/snapshots show it."""
    await wait_for(take.successes, what="the first snapshot")
    auth = {"authorization": f"Bearer {HTTP_TOKEN}"}
    async with httpx.AsyncClient(base_url=str(daemon.url), timeout=10) as http:
        await wait_for(
            lambda: daemon.status.snapshot()["databases"][0]["snapshots"][0]["size_bytes"]
        )
        metrics = (await http.get("/metrics")).text
        listed = await http.get("/api/snapshots", headers=auth)
        queued = await http.post("/api/snapshots", headers=auth, json={"dest": "local"})
    assert 'khronos_snapshot_bytes{db="app",dest="local"} 1001.0' in metrics
    assert listed.json()["databases"]["app"][0]["verified"] is True
    assert queued.status_code == 202
    await wait_for(lambda: len(take.successes()) >= 2, what="the requested snapshot")


async def test_the_schedule_is_a_watched_part(daemon: Daemon) -> None:
    """Its task cancelled under a running daemon: the part snapshots is down."""
    assert daemon.snapshots is not None
    task = daemon.snapshots.task
    assert task is not None
    task.cancel()
    await wait_for(daemon.health.problems, what="the part down")
    assert daemon.health.problems() == ["snapshots stopped: its task was cancelled"]


async def test_no_destinations_no_schedule(
    tmp_path: Path, bot: FakeTelegram, env_set: None
) -> None:
    """Without snapshots: no schedule, no route, no metric."""
    daemon = Daemon(load_config(write_config(tmp_path, bot, backup=False)))
    assert daemon.snapshots is None
    assert not [r for r in daemon._routes() if getattr(r, "path", "") == "/api/snapshots"]
    daemon.engine.outbox.close()
