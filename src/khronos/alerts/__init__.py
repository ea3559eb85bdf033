"""Alerts: dedupe, a durable SQLite outbox, Telegram delivery, a circuit breaker, the HTTP API.

>>> from khronos.alerts import Level, parse_level
>>> parse_level("warn") is Level.WARN
True
"""

from khronos.alerts._api import alert_routes
from khronos.alerts._breaker import (
    BreakerEvent,
    BreakerListener,
    BreakerMetricsSink,
    CircuitBreaker,
    CircuitOpenError,
    breaker_metrics_listener,
)
from khronos.alerts._engine import STATE_DIR_CONDITION, AlertEngine, Condition, DeliveryStatus
from khronos.alerts._format import MAX_MESSAGE_LENGTH, escape, render_html, render_plain
from khronos.alerts._metrics import AlertMetrics
from khronos.alerts._model import LEVEL_EMOJI, Alert, Level, parse_level
from khronos.alerts._notifier import (
    DeliveryError,
    LogNotifier,
    Notifier,
    OutgoingMessage,
)
from khronos.alerts._outbox import Outbox, OutboxError, WriteProblem
from khronos.alerts._semantic import breaker_alert_listener
from khronos.alerts._telegram import TelegramNotifier, explain_telegram_error

__all__ = [
    "LEVEL_EMOJI",
    "MAX_MESSAGE_LENGTH",
    "STATE_DIR_CONDITION",
    "Alert",
    "AlertEngine",
    "AlertMetrics",
    "BreakerEvent",
    "BreakerListener",
    "BreakerMetricsSink",
    "CircuitBreaker",
    "CircuitOpenError",
    "Condition",
    "DeliveryError",
    "DeliveryStatus",
    "Level",
    "LogNotifier",
    "Notifier",
    "Outbox",
    "OutboxError",
    "OutgoingMessage",
    "TelegramNotifier",
    "WriteProblem",
    "alert_routes",
    "breaker_alert_listener",
    "breaker_metrics_listener",
    "escape",
    "explain_telegram_error",
    "parse_level",
    "render_html",
    "render_plain",
]
