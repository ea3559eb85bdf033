"""The built-in checks: memory, disk, http, error rate, queue backlog.

Each check answers one :class:`CheckResult` per run; the :class:`~khronos.checks.CheckRunner`
turns it into an engine condition (fire/resolve) and the ``khronos_check_up{check}`` gauge.
Readings are injectable (a function), so tests give a fake process size or a fake registry.
The error-rate and queue-backlog checks read a :class:`MetricSource`: Khronos' own registry for
a Python app recording into it (:class:`RegistrySource`), or the app's scraped ``/metrics``
(``app.metrics_url``, :class:`khronos.app.AppScraper`); a source that cannot be read raises
:class:`~khronos.errors.ScrapeError`, which the check reports as a failure with its reason.
"""

from __future__ import annotations

import os
import shutil
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import httpx
import psutil
from prometheus_client import CollectorRegistry

from khronos.alerts import Level
from khronos.catalog import Text
from khronos.clock import Clock, SystemClock
from khronos.config import (
    DiskCheckConfig,
    ErrorRateCheckConfig,
    HttpCheckConfig,
    MemoryCheckConfig,
    QueueBacklogCheckConfig,
)
from khronos.errors import ScrapeError

__all__ = [
    "Check",
    "CheckResult",
    "DiskCheck",
    "ErrorRateCheck",
    "HttpCheck",
    "MemoryCheck",
    "MetricSource",
    "QueueBacklogCheck",
    "RegistrySource",
    "registry_counters",
    "registry_total",
]

_MB = 1_000_000


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One run's verdict: ``ok`` false fires the check's condition at ``level``."""

    ok: bool
    message: str = ""
    level: Level = Level.WARN
    details: Mapping[str, Any] = field(default_factory=dict)
    up: bool | None = None
    """``khronos_check_up`` value; defaults to ``ok`` (an http check below its failure count
    is up=0 without firing yet).  The runner counts a problem's duration from the first run
    that was not up."""
    worst: str = ""
    """The value that failed, as the resolved notice should quote it if it is the worst
    (``RSS 1250 MB``)."""
    worst_value: float | None = None
    """The number that ranks ``worst`` (larger is worse): the engine keeps the worst one."""


@runtime_checkable
class Check(Protocol):
    """A health check the runner calls every ``every`` seconds."""

    @property
    def name(self) -> str:
        """Metric label and condition key."""
        ...

    @property
    def every(self) -> float:
        """Seconds between runs."""
        ...

    async def run(self) -> CheckResult:
        """Check once."""
        ...


@runtime_checkable
class MetricSource(Protocol):
    """Where the error-rate and queue-backlog checks read the app's series."""

    def total(self, sample: str) -> float | None:
        """The sum of every sample named ``sample`` (all label sets); None when absent.
        Raises :class:`~khronos.errors.ScrapeError` when the source cannot be read."""
        ...


class RegistrySource:
    """A :class:`MetricSource` on a registry in this process (a Python app recording into it)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def total(self, sample: str) -> float | None:
        """The sum of ``sample`` in the registry (:func:`registry_total`)."""
        return registry_total(self.registry, sample)


def _unreadable(exc: ScrapeError) -> CheckResult:
    """A source that cannot be read: a failure naming why (WARN)."""
    return CheckResult(
        False,
        Text("check.metrics_unreadable", reason=exc.message),
        Level.WARN,
        {"reason": exc.message, **({"hint": exc.hint} if exc.hint else {})},
    )


def registry_total(registry: CollectorRegistry, sample: str) -> float | None:
    """Sum of every sample named ``sample`` (all label sets) in a registry; None when absent."""
    total, seen = 0.0, False
    for metric in registry.collect():
        for s in metric.samples:
            if s.name == sample:
                total += s.value
                seen = True
    return total if seen else None


class MemoryCheck:
    """RSS of this process (or ``pid``/``pidfile``): WARN above warn_ratio, ERROR above max."""

    def __init__(
        self,
        max_mb: float = 1000,
        warn_ratio: float = 0.9,
        every: float = 60.0,
        *,
        pid: int | None = None,
        pidfile: Path | None = None,
        read_rss: Callable[[], int] | None = None,
    ) -> None:
        self.name, self.every = "memory", every
        self.max_mb, self.warn_ratio = max_mb, warn_ratio
        self.pid, self.pidfile = pid, pidfile
        self._read = read_rss or self._read_process

    @classmethod
    def from_config(cls, config: MemoryCheckConfig) -> MemoryCheck:
        """From ``checks.memory``."""
        return cls(
            config.max_mb,
            config.warn_ratio,
            config.every.total_seconds(),
            pid=config.pid,
            pidfile=config.pidfile,
        )

    def _read_process(self) -> int:
        pid = self.pid or os.getpid()
        if self.pidfile is not None:
            pid = int(self.pidfile.read_text(encoding="utf-8").strip())
        return int(psutil.Process(pid).memory_info().rss)

    async def run(self) -> CheckResult:
        """Compare the RSS with the limits."""
        try:
            used = self._read() / _MB
        except (OSError, ValueError, psutil.Error) as exc:
            return CheckResult(
                False, Text("check.memory_unreadable"), Level.ERROR, {"error": str(exc)}
            )
        details = {"used_mb": round(used), "limit_mb": round(self.max_mb)}
        if used < self.max_mb * self.warn_ratio:
            return CheckResult(True, Text("check.memory_ok"), details=details)
        above = used >= self.max_mb
        return CheckResult(
            False,
            Text("check.memory_above" if above else "check.memory_high"),
            Level.ERROR if above else Level.WARN,
            details,
            worst=Text("check.worst_rss", used=used),
            worst_value=used,
        )


class DiskCheck:
    """Free space on the filesystem holding ``path``."""

    def __init__(
        self,
        path: Path,
        min_free: int = 1_000_000_000,
        every: float = 60.0,
        *,
        read_free: Callable[[Path], int] | None = None,
    ) -> None:
        self.name, self.every = "disk", every
        self.path, self.min_free = path, min_free
        self._read = read_free or (lambda p: shutil.disk_usage(p).free)

    @classmethod
    def from_config(cls, config: DiskCheckConfig) -> DiskCheck:
        """From ``checks.disk``."""
        return cls(config.path, config.min_free, config.every.total_seconds())

    async def run(self) -> CheckResult:
        """Compare free space with ``min_free``."""
        target = self.path
        while not target.exists() and target != target.parent:
            target = target.parent
        try:
            free = self._read(target)
        except OSError as exc:
            return CheckResult(False, Text("check.disk_failed"), Level.ERROR, {"error": str(exc)})
        details = {
            "path": str(self.path),
            "free_mb": free // _MB,
            "min_free_mb": self.min_free // _MB,
        }
        if free < self.min_free:
            return CheckResult(
                False,
                Text("check.disk_low", path=self.path),
                Level.ERROR,
                details,
                worst=Text("check.worst_free", free=free // _MB),
                worst_value=-float(free),
            )
        return CheckResult(True, Text("check.disk_ok", path=self.path), details=details)


class HttpCheck:
    """GET a health URL; ``failures`` consecutive non-2xx answers or errors fire."""

    def __init__(
        self,
        name: str,
        url: str,
        *,
        timeout: float = 5.0,
        every: float = 30.0,
        failures: int = 3,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.name, self.every = f"http:{name}", every
        self.service, self.url, self.timeout, self.failures = name, url, timeout, failures
        self._transport = transport
        self._consecutive = 0

    @classmethod
    def from_config(cls, config: HttpCheckConfig) -> HttpCheck:
        """From one ``checks.http`` entry."""
        return cls(
            config.name,
            config.url,
            timeout=config.timeout.total_seconds(),
            every=config.every.total_seconds(),
            failures=config.failures,
        )

    async def run(self) -> CheckResult:
        """One request."""
        error = ""
        try:
            async with httpx.AsyncClient(timeout=self.timeout, transport=self._transport) as http:
                response = await http.get(self.url)
            if not response.is_success:
                error = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if not error:
            self._consecutive = 0
            return CheckResult(True, Text("check.http_ok", service=self.service))
        self._consecutive += 1
        details = {"url": self.url, "error": error, "consecutive_failures": self._consecutive}
        firing = self._consecutive >= self.failures
        return CheckResult(
            not firing,
            Text("check.http_failed", service=self.service),
            Level.ERROR,
            details,
            up=False,
            worst=Text("check.worst_failed", count=self._consecutive),
            worst_value=self._consecutive,
        )


class ErrorRateCheck:
    """failed / (processed + failed) over a sliding window, from two growing counters.

    ``read`` returns (processed, failed) totals, e.g. from the messages metrics
    (:func:`registry_total`), where ``messages_processed_total`` counts the messages that did
    not fail (``khronos.metrics.Metrics.record_message_processed``) and
    ``messages_failed_total`` those that did.  The rate compares the newest reading with the
    oldest one inside the window.
    """

    def __init__(
        self,
        read: Callable[[], tuple[float, float] | None],
        *,
        threshold: float = 0.05,
        window: float = 300.0,
        min_events: int = 20,
        every: float = 30.0,
        clock: Clock | None = None,
    ) -> None:
        self.name, self.every = "error_rate", every
        self.threshold, self.window, self.min_events = threshold, window, min_events
        self._read = read
        self._clock = clock or SystemClock()
        self._samples: deque[tuple[float, float, float]] = deque()

    @classmethod
    def from_config(
        cls,
        config: ErrorRateCheckConfig,
        registry: CollectorRegistry | MetricSource,
        *,
        namespace: str = "khronos",
        clock: Clock | None = None,
        names: tuple[str, str] | None = None,
    ) -> ErrorRateCheck:
        """From ``checks.error_rate``, reading ``names`` (processed, failed; default
        ``<ns>_messages_processed/failed_total``) from a registry or another source."""
        processed, failed = names or (
            f"{namespace}_messages_processed_total",
            f"{namespace}_messages_failed_total",
        )
        return cls(
            registry_counters(registry, processed, failed),
            threshold=config.threshold,
            window=config.window.total_seconds(),
            min_events=config.min_events,
            every=config.every.total_seconds(),
            clock=clock,
        )

    async def run(self) -> CheckResult:
        """Add a reading and compare the window's rate with the threshold."""
        try:
            reading = self._read()
        except ScrapeError as exc:
            return _unreadable(exc)
        if reading is None:
            return CheckResult(True, Text("check.no_messages"))
        now = self._clock.monotonic()
        self._samples.append((now, *reading))
        while len(self._samples) > 1 and now - self._samples[1][0] >= self.window:
            self._samples.popleft()
        _, processed0, failed0 = self._samples[0]
        failed = reading[1] - failed0
        processed = reading[0] - processed0 + failed  # the counters are disjoint
        if processed < self.min_events or processed <= 0:
            return CheckResult(True, Text("check.few_messages"))
        rate = failed / processed
        details = {
            "error_rate": f"{rate:.2%}",
            "threshold": f"{self.threshold:.2%}",
            "processed": int(processed),
            "failed": int(failed),
        }
        if rate > self.threshold:
            return CheckResult(
                False,
                Text("check.error_rate_high"),
                Level.ERROR,
                details,
                worst=Text("check.worst_rate", rate=rate),
                worst_value=rate,
            )
        return CheckResult(True, Text("check.error_rate_ok"), details=details)


def registry_counters(
    registry: CollectorRegistry | MetricSource, processed: str, failed: str
) -> Callable[[], tuple[float, float] | None]:
    """A reader of (processed, failed) totals from a registry or a :class:`MetricSource` (0
    before the first message; None when the source has neither series)."""
    source = RegistrySource(registry) if isinstance(registry, CollectorRegistry) else registry
    in_process = isinstance(registry, CollectorRegistry)

    def read() -> tuple[float, float] | None:
        done, fail = source.total(processed), source.total(failed)
        if done is None and fail is None and not in_process:
            return None  # the app exports neither series (yet)
        return (done or 0.0, fail or 0.0)

    return read


class QueueBacklogCheck:
    """The queue gauge must stay at or below ``max``."""

    def __init__(
        self, read: Callable[[], float | None], *, max_size: int = 1000, every: float = 30.0
    ) -> None:
        self.name, self.every = "queue_backlog", every
        self.max_size = max_size
        self._read = read

    @classmethod
    def from_config(
        cls,
        config: QueueBacklogCheckConfig,
        registry: CollectorRegistry | MetricSource,
        *,
        gauge: str = "khronos_queue_size",
    ) -> QueueBacklogCheck:
        """From ``checks.queue_backlog``, reading the queue gauge from a registry or another
        source."""
        source = RegistrySource(registry) if isinstance(registry, CollectorRegistry) else registry
        return cls(
            lambda: source.total(gauge),
            max_size=config.max,
            every=config.every.total_seconds(),
        )

    async def run(self) -> CheckResult:
        """Compare the queue size with ``max``."""
        try:
            size = self._read()
        except ScrapeError as exc:
            return _unreadable(exc)
        if size is None:
            return CheckResult(True, Text("check.no_queue"))
        details = {"queued": int(size), "max": self.max_size}
        if size > self.max_size:
            return CheckResult(
                False,
                Text("check.queue_high"),
                Level.WARN,
                details,
                worst=Text("check.worst_queued", size=int(size)),
                worst_value=size,
            )
        return CheckResult(True, Text("check.queue_ok"), details=details)
