"""Subprocess for the kill -9 test: enqueue alerts into an outbox, say so, then wait forever."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from khronos.alerts import AlertEngine, Outbox, TelegramNotifier


def main(path: str, url: str, token: str, count: int) -> None:
    engine = AlertEngine(
        Outbox(Path(path)),
        [TelegramNotifier(bot_token=token, chat_id=111, api_url=url)],
    )
    for i in range(count):
        engine.send_alert(f"before the crash {i}", "ERROR")
    print("queued", flush=True)  # noqa: T201
    time.sleep(600)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
