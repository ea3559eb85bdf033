"""The app's metrics, read from its supervisor at scrape time (a custom Collector, no timer).

``<ns>_app_last_exit_code`` is the exit code of the app's last exit, or minus the signal number
when a signal ended it (-9: SIGKILL, -15: SIGTERM).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from khronos.app._supervisor import AppSupervisor

__all__ = ["AppCollector"]


class AppCollector(Collector):
    """``<ns>_app_up``, ``_restarts_total``, ``_start_time_seconds``, ``_last_exit_code``,
    read from the supervisor at scrape time."""

    def __init__(self, supervisor: AppSupervisor, *, namespace: str = "khronos") -> None:
        self.supervisor = supervisor
        self.namespace = namespace

    def collect(self) -> Iterator[Metric]:
        """The app's metrics now."""
        sup, ns = self.supervisor, self.namespace
        yield GaugeMetricFamily(f"{ns}_app_up", "1 while the supervised app runs", int(sup.up))
        yield CounterMetricFamily(
            f"{ns}_app_restarts_total", "Restarts of the supervised app", sup.restarts
        )
        started = sup.started_at if sup.up else None
        if started is not None:
            yield GaugeMetricFamily(
                f"{ns}_app_start_time_seconds",
                "Unix time the running app started",
                started,
            )
        if sup.last_exit_code is not None:
            yield GaugeMetricFamily(
                f"{ns}_app_last_exit_code",
                "Exit code of the app's last exit; negative: the signal that ended it (-9 SIGKILL)",
                sup.last_exit_code,
            )
