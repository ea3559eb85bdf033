"""Alerts: dedupe, a durable SQLite outbox, Telegram delivery, a circuit breaker, the HTTP API.

>>> from khronos.alerts import Level, parse_level
>>> parse_level("warn") is Level.WARN
True
"""

from khronos.alerts._api import API_KEY_PREFIX, alert_routes
from khronos.alerts._breaker import (
    BreakerEvent,
    BreakerListener,
    BreakerMetricsSink,
    CircuitBreaker,
    CircuitOpenError,
    breaker_metrics_listener,
)
from khronos.alerts._catalog import CATALOG, LANGUAGES, format_stamp, translate
from khronos.alerts._commands import COMMANDS, ConsoleActions, SilenceBook, parse_command
from khronos.alerts._console import CONFLICT_KEY, TelegramConsole
from khronos.alerts._engine import (
    STATE_DIR_CONDITION,
    AlertEngine,
    Condition,
    DeliveryStatus,
    human_duration,
)
from khronos.alerts._format import MAX_MESSAGE_LENGTH, escape, render_html, render_plain
from khronos.alerts._gate import MAX_BODY, ApiGate, api_error, refused_response
from khronos.alerts._metrics import AlertMetrics
from khronos.alerts._model import LEVEL_EMOJI, Alert, Level, parse_level
from khronos.alerts._notifier import (
    DeliveryError,
    LogNotifier,
    Notifier,
    OutgoingMessage,
)
from khronos.alerts._outbox import Outbox, OutboxError, WriteProblem
from khronos.alerts._semantic import (
    AlertSender,
    alert_backup_lag,
    alert_backup_process_down,
    alert_circuit_breaker_opened,
    alert_database_down,
    alert_high_error_rate,
    alert_high_memory,
    alert_queue_backlog,
    alert_restore_drill_failed,
    alert_service_unhealthy,
    breaker_alert_listener,
)
from khronos.alerts._silence_api import silence_routes
from khronos.alerts._silences import Silence, SilenceStore
from khronos.alerts._telegram import TelegramNotifier, explain_telegram_error

__all__ = [
    "API_KEY_PREFIX",
    "CATALOG",
    "COMMANDS",
    "CONFLICT_KEY",
    "LANGUAGES",
    "LEVEL_EMOJI",
    "MAX_BODY",
    "MAX_MESSAGE_LENGTH",
    "STATE_DIR_CONDITION",
    "Alert",
    "AlertEngine",
    "AlertMetrics",
    "AlertSender",
    "ApiGate",
    "BreakerEvent",
    "BreakerListener",
    "BreakerMetricsSink",
    "CircuitBreaker",
    "CircuitOpenError",
    "Condition",
    "ConsoleActions",
    "DeliveryError",
    "DeliveryStatus",
    "Level",
    "LogNotifier",
    "Notifier",
    "Outbox",
    "OutboxError",
    "OutgoingMessage",
    "Silence",
    "SilenceBook",
    "SilenceStore",
    "TelegramConsole",
    "TelegramNotifier",
    "WriteProblem",
    "alert_backup_lag",
    "alert_backup_process_down",
    "alert_circuit_breaker_opened",
    "alert_database_down",
    "alert_high_error_rate",
    "alert_high_memory",
    "alert_queue_backlog",
    "alert_restore_drill_failed",
    "alert_routes",
    "alert_service_unhealthy",
    "api_error",
    "breaker_alert_listener",
    "breaker_metrics_listener",
    "escape",
    "explain_telegram_error",
    "format_stamp",
    "human_duration",
    "parse_command",
    "parse_level",
    "refused_response",
    "render_html",
    "render_plain",
    "silence_routes",
    "translate",
]
