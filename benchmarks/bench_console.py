"""The Telegram console: how fast a command is answered, and what long polling costs at idle.

A real ``khronos run`` (one database on a file replica) talks to the loopback fake Bot API of the
tests, which holds each ``getUpdates`` up to 30 s like Telegram.  Latency: from a ``/status``
update appearing in the fake's queue to the reply arriving at the fake (median of 10).  Idle CPU:
the khronos process' CPU time over the same window with ``alerts.telegram.commands`` off and on
(the alert channel configured both times).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from tests.alerts.fake_telegram import TOKEN, FakeTelegram, FakeTelegramServer

from benchmarks._daemon import QUICK, cpu_ns, khronos_run

WINDOW_S = 15.0 if QUICK else 60.0
SETTLE_S = 3.0 if QUICK else 5.0
ROUNDS = 10


def _alerts(url: str, commands: bool) -> str:
    return (
        "alerts:\n  telegram:\n"
        f"    bot_token: '{TOKEN}'\n    chat_id: '111'\n    api_url: '{url}'\n"
        f"    commands: {'true' if commands else 'false'}\n"
    )


def _latencies(fake: FakeTelegram) -> list[float]:
    out = []
    for _ in range(ROUNDS):
        before = len(fake.sent_at)
        update = fake.push_message(111, "/status")
        deadline = time.monotonic() + 30
        while len(fake.sent_at) == before and time.monotonic() < deadline:
            time.sleep(0.001)
        if len(fake.sent_at) == before:
            raise RuntimeError("no reply to /status within 30 s")
        out.append((fake.sent_at[before] - fake.pushed_at[update]) * 1000)
        time.sleep(0.2)
    return out


def _idle_cpu_ms(commands: bool) -> tuple[float, float, list[float]]:
    with (
        FakeTelegramServer(FakeTelegram(long_poll_cap=30.0)) as fake,
        tempfile.TemporaryDirectory(prefix="khronos-bench-console-") as tmp,
        khronos_run(Path(tmp), _alerts(fake.url, commands)) as run,
    ):
        if commands:
            deadline = time.monotonic() + 30
            while not fake.polls and time.monotonic() < deadline:
                time.sleep(0.05)
        time.sleep(SETTLE_S)
        before = cpu_ns(run.pid)
        started = time.monotonic()
        time.sleep(WINDOW_S)
        wall = time.monotonic() - started
        used = (cpu_ns(run.pid) - before) / 1e6
        latencies = _latencies(fake) if commands else []
        return used, wall, latencies


def run() -> str:
    """The Markdown section."""
    off_ms, wall, _ = _idle_cpu_ms(commands=False)
    on_ms, _, latencies = _idle_cpu_ms(commands=True)
    median = statistics.median(latencies)
    return f"""\
## Telegram console

A `/status` sent to the bot, answered by a running `khronos run` through the loopback fake Bot
API (30 s long polls): **{median:.1f} ms** median from the update appearing to the reply
arriving (min {min(latencies):.1f} ms, max {max(latencies):.1f} ms, {ROUNDS} rounds).

Idle CPU of the khronos process over {wall:.0f} s: {off_ms:.0f} ms with
`alerts.telegram.commands: false`, {on_ms:.0f} ms with it on
(**{on_ms - off_ms:+.0f} ms**, {(on_ms - off_ms) / wall / 10:+.3f} % of one core).
"""


if __name__ == "__main__":
    print(run())  # noqa: T201
