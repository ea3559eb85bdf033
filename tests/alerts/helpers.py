"""Helpers of the alert tests: a notifier on the fake Bot API, waiting for deliveries."""

from __future__ import annotations

from collections.abc import Callable

from khronos.alerts import AlertEngine, TelegramNotifier
from khronos.clock import ManualClock
from tests.alerts.fake_telegram import TOKEN, FakeTelegram
from tests.polling import wait_for

__all__ = ["MakeEngine", "advance_until", "notifier_for", "wait_attempted", "wait_until"]

MakeEngine = Callable[..., AlertEngine]
"""The ``make_engine`` fixture: an engine on the fake Bot API, stopped after the test."""


def notifier_for(
    fake: FakeTelegram, *, chat: str = "111", critical: str | None = None, **kwargs: object
) -> TelegramNotifier:
    """A Telegram notifier pointed at the fake server."""
    return TelegramNotifier(
        bot_token=TOKEN,
        chat_id=chat,
        critical_chat_id=critical,
        api_url=fake.url,
        timeout=kwargs.pop("timeout", 2.0),  # type: ignore[arg-type]
        **kwargs,  # type: ignore[arg-type]
    )


async def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """:func:`tests.polling.wait_for`, as the alert tests call it."""
    await wait_for(condition, timeout=timeout)


async def wait_attempted(engine: AlertEngine, alert_id: str, attempts: int = 1) -> None:
    """Wait until every row of an alert was tried (and failed) ``attempts`` times."""
    await wait_until(lambda: engine.outbox.pending(alert_id).attempts >= attempts)


async def advance_until(
    clock: ManualClock, condition: Callable[[], bool], step: float = 1.0
) -> None:
    """Move the manual clock by ``step`` per poll until ``condition`` holds (real-time deadline)."""

    def advanced() -> bool:
        if condition():
            return True
        clock.advance(step)
        return False

    await wait_until(advanced)
