"""The service metrics: messages, queue, users, HTTP and AI latency, API calls, circuit breakers.

One :class:`Metrics` object owns (or is handed) a ``CollectorRegistry`` and registers every metric
on it; nothing is ever registered on prometheus-client's global registry implicitly.  All values
are in base units (seconds, not milliseconds) and counters end in ``_total``.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import math
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, overload

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from khronos.metrics._labels import BoundedLabels

if TYPE_CHECKING:
    from khronos.config import MetricsConfig

__all__ = [
    "AI_LATENCY_BUCKETS",
    "BREAKER_STATES",
    "HTTP_DURATION_BUCKETS",
    "AiLatencyTimer",
    "Metrics",
]

HTTP_DURATION_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
"""Request latency buckets (seconds): 5 ms to 10 s, the range of a small web service."""

AI_LATENCY_BUCKETS: tuple[float, ...] = (
    0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0,
)  # fmt: skip
"""AI provider call buckets (seconds): 100 ms to 2 min, where LLM completions land."""

BREAKER_STATES: dict[str, int] = {"closed": 0, "half_open": 1, "open": 2}
"""Value of ``khronos_circuit_breaker_state`` for each breaker state."""

_STATE_ALIASES = {"closed": "closed", "half_open": "half_open", "half-open": "half_open",
                  "halfopen": "half_open", "open": "open"}  # fmt: skip
_NAMESPACE_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_DEFAULT_MAX_LABEL_VALUES = 100

P = ParamSpec("P")
R = TypeVar("R")


class Metrics:
    """The service's Prometheus metrics, bound to one registry.

    ``registry`` defaults to a fresh ``CollectorRegistry`` owned by this object (read it back from
    :attr:`registry` to serve it).  ``namespace`` prefixes every name (``khronos_queue_size``).
    ``max_label_values`` bounds the distinct values of each caller-supplied label (provider,
    source, reason, ...); newcomers beyond it are counted under ``"other"``.
    ``process_metrics`` registers ``process_*``, ``python_gc_*`` and ``python_info``.
    ``app_metrics`` False leaves out what only an app in this process can record (messages,
    queue size, active users, AI latency, API calls): ``khronos run`` beside a service in
    another process has no source for them, and exporting zeros would say "idle" where the
    truth is "unknown".  The methods still work; their metrics are just not served.

    >>> metrics = Metrics()
    >>> metrics.record_message_processed("telegram", "ok")
    >>> metrics.registry.get_sample_value(
    ...     "khronos_messages_processed_total", {"source": "telegram", "status": "ok"}
    ... )
    1.0
    """

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        namespace: str = "khronos",
        http_buckets: Sequence[float] = HTTP_DURATION_BUCKETS,
        ai_buckets: Sequence[float] = AI_LATENCY_BUCKETS,
        max_label_values: int = _DEFAULT_MAX_LABEL_VALUES,
        process_metrics: bool = True,
        app_metrics: bool = True,
    ) -> None:
        if not _NAMESPACE_RE.fullmatch(namespace):
            raise ValueError(f"not a valid metric namespace: {namespace!r}")
        self.registry = registry if registry is not None else CollectorRegistry()
        self.namespace = namespace
        self.app_metrics = app_metrics
        reg = self.registry
        app = reg if app_metrics else None  # not served: nothing in this process records them
        ns = namespace
        self.messages_processed = Counter(
            "messages_processed_total", "Messages processed, by source and outcome.",
            ["source", "status"], namespace=ns, registry=app,
        )  # fmt: skip
        self.messages_failed = Counter(
            "messages_failed_total", "Messages that failed, by source and reason.",
            ["source", "reason"], namespace=ns, registry=app,
        )  # fmt: skip
        self.active_users = Gauge(
            "active_users", "Users active now.",
            namespace=ns, registry=app, multiprocess_mode="livemax",
        )  # fmt: skip
        self.queue_size = Gauge(
            "queue_size", "Messages waiting in the queue.",
            namespace=ns, registry=app, multiprocess_mode="livesum",
        )  # fmt: skip
        self.http_request_duration = Histogram(
            "http_request_duration_seconds", "HTTP request latency, by method, route template "
            "and status.", ["method", "route", "status"], namespace=ns, registry=reg,
            buckets=_check_buckets(http_buckets, "http_buckets"),
        )  # fmt: skip
        self.http_requests_in_progress = Gauge(
            "http_requests_in_progress", "HTTP requests being served now, by method.",
            ["method"], namespace=ns, registry=reg, multiprocess_mode="livesum",
        )  # fmt: skip
        self.ai_latency = Histogram(
            "ai_latency_seconds", "AI provider call latency, by provider.",
            ["provider"], namespace=ns, registry=app,
            buckets=_check_buckets(ai_buckets, "ai_buckets"),
        )  # fmt: skip
        self.api_calls = Counter(
            "api_calls_total", "Calls to external APIs, by provider and outcome.",
            ["provider", "status"], namespace=ns, registry=app,
        )  # fmt: skip
        self.circuit_breaker_state_changes = Counter(
            "circuit_breaker_state_changes_total", "Circuit breaker transitions, by breaker and "
            "the state entered.", ["breaker", "state"], namespace=ns, registry=reg,
        )  # fmt: skip
        self.circuit_breaker_state = Gauge(
            "circuit_breaker_state", "Circuit breaker state: 0 closed, 1 half-open, 2 open.",
            ["breaker"], namespace=ns, registry=reg, multiprocess_mode="livemax",
        )  # fmt: skip
        limit = max_label_values
        self._processed = BoundedLabels(self.messages_processed, ("source", "status"), limit)
        self._failed = BoundedLabels(self.messages_failed, ("source", "reason"), limit)
        self._ai = BoundedLabels(self.ai_latency, ("provider",), limit)
        self._api = BoundedLabels(self.api_calls, ("provider", "status"), limit)
        self._breaker_changes = BoundedLabels(
            self.circuit_breaker_state_changes, ("breaker", "state"), limit
        )
        self._breaker_state = BoundedLabels(self.circuit_breaker_state, ("breaker",), limit)
        if process_metrics:
            _register_process_collectors(reg)

    @classmethod
    def from_config(
        cls,
        config: MetricsConfig,
        registry: CollectorRegistry | None = None,
        *,
        app_metrics: bool = True,
    ) -> Metrics:
        """Metrics with the namespace and buckets of the ``metrics`` section."""
        return cls(
            registry,
            namespace=config.namespace,
            http_buckets=config.http_buckets or HTTP_DURATION_BUCKETS,
            ai_buckets=config.ai_buckets or AI_LATENCY_BUCKETS,
            app_metrics=app_metrics,
        )

    def record_message_processed(self, source: str, status: str) -> None:
        """Count one processed message (``status``: ok, ignored, retried, ...)."""
        self._processed.child(source, status).inc()

    def record_message_failed(self, source: str, reason: str) -> None:
        """Count one failed message, with a short machine-readable ``reason`` (timeout, ...)."""
        self._failed.child(source, reason).inc()

    def set_active_users(self, count: float) -> None:
        """Set the number of users active now."""
        self.active_users.set(_non_negative(count, "active users"))

    def set_queue_size(self, count: float) -> None:
        """Set the number of messages waiting in the queue."""
        self.queue_size.set(_non_negative(count, "queue size"))

    @overload
    def record_ai_latency(self, provider: str) -> AiLatencyTimer: ...
    @overload
    def record_ai_latency(self, provider: str, seconds: float) -> None: ...

    def record_ai_latency(
        self, provider: str, seconds: float | None = None
    ) -> AiLatencyTimer | None:
        """Observe an AI call's latency in seconds; without ``seconds``, a timer.

        The timer is a context manager (``with``/``async with``) and a decorator for functions and
        coroutine functions; it records the elapsed time even when the call raises.
        """
        child = self._ai.child(provider)
        if seconds is None:
            return AiLatencyTimer(child)
        child.observe(_non_negative(seconds, "latency"))
        return None

    def record_api_call(self, provider: str, status: str | int) -> None:
        """Count one call to an external API (``status``: ok/error or an HTTP status code)."""
        self._api.child(provider, status).inc()

    def record_circuit_breaker_state_change(self, breaker: str, state: str) -> None:
        """Count a breaker's transition and set its current state gauge.

        ``state`` is ``closed``, ``half_open`` (or ``half-open``) or ``open``, in any case.
        """
        normalized = _STATE_ALIASES.get(state.strip().lower()) if isinstance(state, str) else None
        if normalized is None:
            raise ValueError(
                f"unknown circuit breaker state {state!r}: use closed, half_open or open"
            )
        self._breaker_changes.child(breaker, normalized).inc()
        self._breaker_state.child(breaker).set(BREAKER_STATES[normalized])


class AiLatencyTimer:
    """Times an AI call into ``khronos_ai_latency_seconds``: ``with``, ``async with``, decorator."""

    __slots__ = ("_child", "_started")

    def __init__(self, child: Histogram) -> None:
        self._child = child
        self._started = 0.0

    def __enter__(self) -> AiLatencyTimer:
        self._started = time.perf_counter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._child.observe(time.perf_counter() - self._started)

    async def __aenter__(self) -> AiLatencyTimer:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    @overload
    def __call__(self, func: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]: ...
    @overload
    def __call__(self, func: Callable[P, R]) -> Callable[P, R]: ...

    def __call__(self, func: Callable[P, Any]) -> Callable[P, Any]:
        """Decorate a function or coroutine function; each call is timed separately."""
        child = self._child
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def timed_async(*args: P.args, **kwargs: P.kwargs) -> Any:
                started = time.perf_counter()
                try:
                    return await func(*args, **kwargs)
                finally:
                    child.observe(time.perf_counter() - started)

            return timed_async

        @functools.wraps(func)
        def timed(*args: P.args, **kwargs: P.kwargs) -> Any:
            started = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                child.observe(time.perf_counter() - started)

        return timed


def _register_process_collectors(registry: CollectorRegistry) -> None:
    """``process_*``, ``python_gc_*`` and ``python_info``, unless the registry has them already."""
    for factory in (ProcessCollector, GCCollector, PlatformCollector):
        try:
            factory(registry=registry)
        except ValueError:  # duplicated timeseries: the registry (e.g. the global one) has them
            continue


def _check_buckets(buckets: Sequence[float], name: str) -> tuple[float, ...]:
    values = tuple(float(b) for b in buckets)
    if not values:
        raise ValueError(f"{name} cannot be empty")
    if any(not math.isfinite(b) or b <= 0 for b in values):
        raise ValueError(f"{name} must be positive finite numbers of seconds")
    if any(a >= b for a, b in itertools.pairwise(values)):
        raise ValueError(f"{name} must be in increasing order")
    return values


def _non_negative(value: float, what: str) -> float:
    number = float(value)
    if not number >= 0 or not math.isfinite(number):
        raise ValueError(f"{what} must be a finite number >= 0, got {value!r}")
    return number
