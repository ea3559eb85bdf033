"""The channel seam: a :class:`Notifier` delivers one rendered message, or says why it could not.

Telegram (:mod:`khronos.alerts._telegram`) and the log (:class:`LogNotifier`) are built in; an
app can add its own (Slack, email) by implementing the protocol.  Notifiers do not retry: the
outbox worker owns retries, backoff, rate limits and the circuit breaker.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol, runtime_checkable

import structlog

from khronos.alerts._model import Level
from khronos.errors import DeliveryError
from khronos.ratelimit import RateLimit

__all__ = ["DeliveryError", "LogNotifier", "Notifier", "OutgoingMessage", "RateLimit"]


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One message taken from the outbox for one channel and chat."""

    id: int
    alert_id: str
    chat: str
    level: Level
    html: str
    plain: str


@runtime_checkable
class Notifier(Protocol):
    """A channel alerts are delivered to."""

    @property
    def name(self) -> str:
        """Channel name, used in the outbox and as the ``channel`` metric label."""
        ...

    def chats_for(self, level: Level) -> Sequence[str]:
        """The chats (destinations) an alert of this level goes to."""
        ...

    def rate_limits(self, chat: str) -> Sequence[RateLimit]:
        """Limits the worker must respect when sending to ``chat``."""
        ...

    async def send(self, message: OutgoingMessage) -> object:
        """Deliver one message; raise :class:`DeliveryError` when it was not accepted.  May
        return the channel's answer (Telegram: ``{"message_id": ...}``, recorded for edits)."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class LogNotifier:
    """Writes alerts to the structured log (``khronos.alerts`` logger); never fails."""

    _METHODS: ClassVar[dict[Level, str]] = {
        Level.INFO: "info",
        Level.WARN: "warning",
        Level.ERROR: "error",
    }

    def __init__(self, name: str = "log") -> None:
        self._name = name
        self._log = structlog.get_logger("khronos.alerts")

    @property
    def name(self) -> str:
        """``log``."""
        return self._name

    def chats_for(self, level: Level) -> Sequence[str]:  # noqa: ARG002 - one destination
        """One destination: the log."""
        return ("log",)

    def rate_limits(self, chat: str) -> Sequence[RateLimit]:  # noqa: ARG002 - no limits
        """None."""
        return ()

    async def send(self, message: OutgoingMessage) -> None:
        """Log the plain text at the alert's level."""
        method = self._METHODS.get(message.level, "critical")
        getattr(self._log, method)(
            "alert", alert_id=message.alert_id, level=message.level.name, text=message.plain
        )

    async def aclose(self) -> None:
        """Nothing to close."""
