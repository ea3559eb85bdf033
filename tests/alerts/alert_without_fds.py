"""Subprocess for the descriptor test: raise alerts while every file descriptor is in use.

It starts an engine on the outbox at argv[1] delivering to the fake Bot API at argv[2], lowers
its descriptor limit, opens files until the limit is hit, raises alerts (plain, a condition and
its resolution, a test alert), frees the descriptors, waits for delivery and prints one JSON
line: how many alerts were raised without an exception, and whether the outbox drained.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time
from pathlib import Path

from khronos.alerts import AlertEngine, Outbox, TelegramNotifier


async def main(path: str, url: str, token: str) -> None:
    notifier = TelegramNotifier(bot_token=token, chat_id=111, api_url=url, timeout=2.0)
    engine = AlertEngine(
        Outbox(Path(path)),
        [notifier],
        backoff_initial=0.05,
        backoff_max=0.2,
        breaker_reset=0.2,
        poll_interval=0.05,
    )
    await engine.start()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
    held: list[int] = []
    try:
        while True:
            held.append(os.open(os.devnull, os.O_RDONLY))
    except OSError:
        pass
    raised = 0
    for i in range(3):
        engine.send_alert(f"without descriptors {i}", "ERROR")
        raised += 1
    engine.fire(
        "fd.test",
        "without descriptors 3 (a condition)",
        "WARN",
        {"open_files": len(held)},
        since=time.time() - 30,
        worst=f"{len(held)} files open",
        worst_value=len(held),
    )
    engine.resolve("fd.test")
    engine.enqueue_test("without descriptors 5 (a test)")
    raised += 3  # the condition, its resolved notice ("without descriptors 3" again), the test
    for fd in held:
        os.close(fd)
    drained = await engine.drain(60)
    await engine.stop()
    engine.outbox.close()
    print(json.dumps({"raised": raised, "held": len(held), "drained": drained}), flush=True)  # noqa: T201


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
