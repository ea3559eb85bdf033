"""keep_running: parts survive their collaborators' exceptions and say when they end."""

from __future__ import annotations

import asyncio

import pytest
from structlog.testing import capture_logs

from khronos.health import Health, PartDown, keep_running, spawn, stop_part

pytestmark = pytest.mark.asyncio


async def _no_sleep(_seconds: float) -> None:
    await asyncio.sleep(0)


async def test_a_raising_body_is_run_again_and_counted() -> None:
    """Each exception is counted for the part and the body runs again until it returns."""
    health = Health()
    calls = 0

    async def body() -> None:
        nonlocal calls
        calls += 1
        if calls < 4:
            raise OSError(28, "No space left on device")

    await keep_running("poller", body, health=health, sleep=_no_sleep)
    assert calls == 4
    assert health.errors == {"poller": 3}


async def test_the_same_error_is_logged_once_per_streak() -> None:
    """A repeating error is logged with its traceback once, not on every failure."""
    health = Health()
    calls = 0

    async def body() -> None:
        nonlocal calls
        calls += 1
        if calls <= 5:
            raise RuntimeError("no transaction is active")

    with capture_logs() as logs:
        await keep_running("supervisor", body, health=health, sleep=_no_sleep)
    errors = [r for r in logs if r["log_level"] == "error"]
    assert len(errors) == 1
    assert errors[0]["part"] == "supervisor"
    assert health.errors["supervisor"] == 5


async def test_cancellation_ends_it_at_once() -> None:
    """Cancelling the task stops the body; it is not counted as an error."""
    health = Health()
    started = asyncio.Event()

    async def body() -> None:
        started.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(keep_running("checks", body, health=health))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert health.errors == {}


async def test_a_watched_part_that_ends_is_down_and_told() -> None:
    """A spawned part whose body returns while not stopping is down, with listeners told."""
    health = Health()
    told: list[PartDown] = []
    health.on_down(told.append)

    async def body() -> None:
        return None

    task = spawn("http", body, health=health)
    await task
    await asyncio.sleep(0)
    assert [d.part for d in told] == ["http"]
    assert health.problems() == ["http stopped: its task ended"]


async def test_parts_stopped_by_their_owner_are_not_down() -> None:
    """While stopping, a cancelled part is not a fault."""
    health = Health()

    async def body() -> None:
        await asyncio.Event().wait()

    task = spawn("drills", body, health=health)
    await asyncio.sleep(0)
    health.stopping = True
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert health.problems() == []


@pytest.mark.asyncio
async def test_stop_part_forgets_cancels_and_waits() -> None:
    """A part stopped on purpose is no fault: its task ends and it is not reported down."""
    health = Health()
    started = asyncio.Event()

    async def body() -> None:
        started.set()
        await asyncio.Event().wait()

    task = spawn("demo.part", body, health=health)
    await started.wait()
    await stop_part(task, "demo.part", health=health)
    assert task.done()
    assert health.problems() == []
    await stop_part(None, "demo.part", health=health)  # nothing to stop: fine
