"""Prometheus metrics: the service metrics, an ASGI middleware, the ``/metrics`` endpoint.

>>> from khronos.metrics import Metrics
>>> metrics = Metrics()  # a fresh registry, never the global one
>>> metrics.record_api_call("openai", "ok")
>>> metrics.registry.get_sample_value(
...     "khronos_api_calls_total", {"provider": "openai", "status": "ok"}
... )
1.0
"""

from khronos.metrics._collectors import AgeCollector, TimestampSource, register_age_collector
from khronos.metrics._endpoint import MetricsEndpoint, metrics_app, token_authorized
from khronos.metrics._health import HealthCollector
from khronos.metrics._labels import OTHER, UNKNOWN
from khronos.metrics._middleware import UNMATCHED_ROUTE, MetricsMiddleware
from khronos.metrics._multiprocess import (
    MULTIPROC_ENV,
    child_exit,
    mark_process_dead,
    multiprocess_dir,
    multiprocess_registry,
)
from khronos.metrics._service import (
    AI_LATENCY_BUCKETS,
    BREAKER_STATES,
    HTTP_DURATION_BUCKETS,
    AiLatencyTimer,
    Metrics,
)

__all__ = [
    "AI_LATENCY_BUCKETS",
    "BREAKER_STATES",
    "HTTP_DURATION_BUCKETS",
    "MULTIPROC_ENV",
    "OTHER",
    "UNKNOWN",
    "UNMATCHED_ROUTE",
    "AgeCollector",
    "AiLatencyTimer",
    "HealthCollector",
    "Metrics",
    "MetricsEndpoint",
    "MetricsMiddleware",
    "TimestampSource",
    "child_exit",
    "mark_process_dead",
    "metrics_app",
    "multiprocess_dir",
    "multiprocess_registry",
    "register_age_collector",
    "token_authorized",
]
