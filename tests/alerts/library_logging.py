"""Subprocess for the token-leak test: ``khronos.alerts`` used as a library, no ``khronos.logs``.

The app only calls ``logging.basicConfig(level=logging.INFO)``, so httpx prints every request
line (with its URL) to stderr.  One alert is delivered with the right token, and one call is made
with a wrong token (Telegram answers 401).  Prints ``delivered`` when the alert arrived.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

from khronos.alerts import AlertEngine, DeliveryError, Outbox, TelegramNotifier


async def main(state_dir: str, url: str, token: str, wrong_token: str) -> None:
    logging.basicConfig(level=logging.INFO)
    notifier = TelegramNotifier(bot_token=token, chat_id=111, api_url=url, timeout=10)
    engine = AlertEngine(Outbox(Path(state_dir) / "outbox.db"), [notifier])
    await engine.start()
    alert_id = engine.send_alert("hello from a library", "WARN")
    assert alert_id is not None
    status = await engine.wait_delivered(alert_id, 30)
    await engine.stop()
    engine.outbox.close()
    wrong = TelegramNotifier(bot_token=wrong_token, chat_id=111, api_url=url, timeout=10)
    try:
        await wrong.get_me()
    except DeliveryError as exc:
        logging.getLogger("app").warning("telegram check failed: %s", exc)
    finally:
        await wrong.aclose()
    print("delivered" if status.delivered else f"not delivered: {status.detail}", flush=True)  # noqa: T201


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
