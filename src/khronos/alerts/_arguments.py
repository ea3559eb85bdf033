"""What :meth:`AlertEngine.from_config` builds from khronos.yml: channels, timings, silences,
language and time zone, the outbox and metrics in ``state_dir`` (kept apart from the engine's
module so that one stays readable)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prometheus_client import CollectorRegistry

from khronos.alerts._catalog import SYSTEM_ZONE
from khronos.alerts._metrics import AlertMetrics
from khronos.alerts._notifier import LogNotifier, Notifier
from khronos.alerts._outbox import Outbox
from khronos.alerts._silences import SilenceStore, zone
from khronos.clock import Clock
from khronos.config import KhronosConfig
from khronos.redact import Redactor, collect_secrets

__all__ = ["engine_arguments"]


def engine_arguments(
    config: KhronosConfig,
    *,
    registry: CollectorRegistry | None,
    clock: Clock | None,
    notifiers: Sequence[Notifier] | None,
    redactor: Redactor,
) -> dict[str, Any]:
    """The :class:`AlertEngine` keyword arguments for ``config``; every secret of the
    configuration is added to ``redactor``."""
    from khronos.alerts._telegram import TelegramNotifier  # noqa: PLC0415 - httpx is heavy

    for secret in collect_secrets(config):
        redactor.add_secret(secret)
    alerts = config.alerts
    max_pending = alerts.max_pending if alerts else 10_000
    if notifiers is None:
        notifiers = [LogNotifier()]
        if alerts is not None and alerts.telegram is not None:
            notifiers.append(TelegramNotifier.from_config(alerts.telegram))
    kwargs: dict[str, Any] = {}
    if alerts is not None:
        kwargs = {
            "cooldown": alerts.cooldown.total_seconds(),
            "repeat_interval": alerts.repeat_interval.total_seconds(),
            "send_resolved": alerts.send_resolved,
            "breaker_failures": alerts.breaker.failures,
            "breaker_reset": alerts.breaker.reset_timeout.total_seconds(),
            "resolve_mode": alerts.resolve_mode,
            "language": alerts.language,
            "timezone": zone(alerts.timezone) if alerts.timezone else SYSTEM_ZONE,
        }
    silences = SilenceStore.in_state_dir(
        config.state_dir,
        alerts.silences if alerts else (),
        clock=clock,
        timezone=alerts.timezone if alerts else None,
    )
    return {
        "outbox": Outbox.in_state_dir(config.state_dir, max_pending=max_pending),
        "notifiers": notifiers,
        "clock": clock,
        "metrics": AlertMetrics(registry, namespace=config.metrics.namespace),
        "service": config.service.name,
        "environment": config.environment,
        "redactor": redactor,
        "silences": silences,
        **kwargs,
    }
