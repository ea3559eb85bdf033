"""The restore-drill schedule survives what its collaborators raise, and counts it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from khronos.backup import VerifyReport, VerifyScheduler
from khronos.health import Health, set_health
from tests.backup.conftest import MakeConfig
from tests.backup.test_restore_support import backed_up

pytestmark = pytest.mark.integration


def test_a_drill_whose_result_cannot_be_delivered_is_counted_and_the_next_one_runs(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    """on_result raising (the alert engine on a full disk) is an internal error of the part
    backup.verify: counted, and the schedule goes on to the next drill."""
    config, _db = backed_up(make_config, tmp_path, 5)
    seen: list[VerifyReport] = []

    def on_result(report: VerifyReport) -> None:
        seen.append(report)
        if len(seen) == 1:
            raise OSError(28, "No space left on device")

    health = Health()
    previous = set_health(health)

    async def main() -> None:
        scheduler = VerifyScheduler(config, on_result=on_result, interval=0.2, initial_delay=0)
        await scheduler.start()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while len(seen) < 2 and loop.time() < deadline:
            await asyncio.sleep(0.05)
        assert scheduler.task is not None
        assert not scheduler.task.done()
        await scheduler.stop()

    try:
        asyncio.run(main())
    finally:
        set_health(previous)
    assert len(seen) >= 2
    assert health.errors == {"backup.verify": 1}
