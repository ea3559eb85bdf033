"""Heartbeat out: who watches the watcher (the ``heartbeat:`` section).

:class:`HeartbeatSender` calls ``heartbeat.url`` every ``heartbeat.every`` while Khronos is
healthy, so an outside monitor (healthchecks.io, an Uptime Kuma push monitor) pages the owner
when the calls stop: the machine died, Khronos stopped or hangs, or it is unhealthy.  Healthy
is what the owner's ``reasons`` callable says (the daemon: no part down, no CRITICAL alert
condition firing, every database replicating); while it names a reason the sender does not call
(it logs the pause and the resumption once each).  It does not call a ``/fail`` URL: stopping is
what every such monitor understands.

A call that fails (no answer within ``timeout``, an HTTP status >= 400) is counted
(``khronos_heartbeat_out_failures_total``; rounds skipped while unhealthy in
``khronos_heartbeat_out_skipped_total``) and logged at most once per five minutes per
streak (:class:`~khronos.ratelimit.RateLimiter`) with how many failed meanwhile; it never raises
an alert (the outside monitor is the one that alerts, and an alert about it would loop).

The URL usually holds the monitor's token (in its path or query): it is a
:class:`~pydantic.SecretStr`, masked in ``config show`` and by the redactor, and logs and
:meth:`HeartbeatSender.status` show only ``scheme://host/**********``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge

from khronos.clock import Clock, SystemClock
from khronos.config import HeartbeatConfig
from khronos.health import get_health, spawn, stop_part
from khronos.lifecycle import Lifecycle
from khronos.ratelimit import RateLimit, RateLimiter
from khronos.redact import MASK, get_redactor

__all__ = ["HEARTBEAT_OUT_PART", "HeartbeatSender", "mask_url"]

HEARTBEAT_OUT_PART = "heartbeat.out"
"""The part name of the sender's task."""
_LOG_EVERY_S = 300.0

_log = structlog.get_logger("khronos.heartbeats")


def mask_url(url: str) -> str:
    """``scheme://host[:port]/**********``: where a URL points, without its path or query."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return MASK
    if ":" in host:
        host = f"[{host}]"
    rest = "" if parts.path in ("", "/") and not parts.query else f"/{MASK}"
    return f"{parts.scheme}://{host}{port}{rest}"


class HeartbeatSender(Lifecycle):
    """Calls the outside monitor while ``reasons()`` is empty (see the module docstring)."""

    def __init__(
        self,
        config: HeartbeatConfig,
        reasons: Callable[[], Iterable[str]],
        *,
        registry: CollectorRegistry | None = None,
        namespace: str = "khronos",
        clock: Clock | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config
        self.reasons = reasons
        self.clock = clock or SystemClock()
        self.target = mask_url(config.url.get_secret_value())
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self.task: asyncio.Task[None] | None = None
        self.state = "starting"
        """``starting``, ``ok`` (the last call succeeded), ``failing``, ``paused`` (unhealthy)."""
        self.paused_for: list[str] = []
        self.last_success_at: float | None = None
        self.last_attempt_at: float | None = None
        self.last_error: str | None = None
        self.failures = 0
        self._unlogged = 0
        self._log_limit = RateLimiter([RateLimit(1, _LOG_EVERY_S)])
        self.sent_total = Counter(
            f"{namespace}_heartbeat_out_sent_total",
            "Successful calls to the outside heartbeat monitor (heartbeat.url).",
            registry=registry,
        )
        self.failures_total = Counter(
            f"{namespace}_heartbeat_out_failures_total",
            "Failed calls to the outside heartbeat monitor (no answer, or HTTP >= 400).",
            registry=registry,
        )
        self.skipped_total = Counter(
            f"{namespace}_heartbeat_out_skipped_total",
            "Calls to the outside heartbeat monitor not made because Khronos was unhealthy.",
            registry=registry,
        )
        self.paused = Gauge(
            f"{namespace}_heartbeat_out_paused",
            "1 while Khronos is unhealthy and does not call the outside heartbeat monitor.",
            registry=registry,
        )

    def __repr__(self) -> str:
        return f"HeartbeatSender(target={self.target!r}, state={self.state!r})"

    async def start(self) -> None:
        """Call now (when healthy) and every ``every``."""
        if self.task is None:
            self._client = httpx.AsyncClient(
                timeout=self.config.timeout.total_seconds(), transport=self._transport
            )
            self.task = spawn(HEARTBEAT_OUT_PART, self._run)

    async def stop(self) -> None:
        """Stop calling (the outside monitor notices after its grace)."""
        task, self.task = self.task, None
        await stop_part(task, HEARTBEAT_OUT_PART)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _run(self) -> None:
        while True:
            await self.beat()
            await self.clock.sleep(self.config.every.total_seconds())

    async def beat(self) -> bool:
        """One round: call the monitor if healthy; whether a call succeeded."""
        redactor = get_redactor()
        try:
            reasons = [redactor.redact(str(r)) for r in self.reasons()]
        except Exception as exc:  # noqa: BLE001 - an unknown health is not a healthy one
            get_health().record_error(HEARTBEAT_OUT_PART, exc)
            reasons = [f"health could not be checked: {type(exc).__name__}"]
        if reasons:
            if self.state != "paused":
                # at start (backup not replicating yet, say) it is news, not a warning
                log = _log.info if self.state == "starting" else _log.warning
                log(
                    "not calling the heartbeat monitor while khronos is unhealthy",
                    target=self.target,
                    reasons=reasons,
                )
            self.state, self.paused_for = "paused", reasons
            self.paused.set(1)
            self.skipped_total.inc()
            return False
        if self.state == "paused":
            _log.info("healthy again: calling the heartbeat monitor", target=self.target)
        self.paused_for = []
        self.paused.set(0)
        return await self._call()

    async def _call(self) -> bool:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self.config.timeout.total_seconds(), transport=self._transport
            )
        self.last_attempt_at = self.clock.wall()
        error = ""
        try:
            response = await self._client.request(
                self.config.method, self.config.url.get_secret_value()
            )
            if response.status_code >= 400:
                error = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            error = type(exc).__name__ + (f": {exc}" if str(exc) else "")
        if error:
            self._failed(get_redactor().redact(error))
            return False
        if self.state == "failing":
            _log.info(
                "the heartbeat monitor is reachable again",
                target=self.target,
                failed_calls=self._unlogged,
            )
        self.state, self.last_error, self._unlogged = "ok", None, 0
        self.last_success_at = self.last_attempt_at
        self.sent_total.inc()
        return True

    def _failed(self, error: str) -> None:
        self.failures += 1
        self._unlogged += 1
        self.failures_total.inc()
        if self.state != "failing":
            self._log_limit = RateLimiter([RateLimit(1, _LOG_EVERY_S)])  # a new streak logs
        self.state, self.last_error = "failing", error
        if self._log_limit.allow("failing", self.clock.monotonic()):
            _log.warning(
                "cannot reach the heartbeat monitor",
                target=self.target,
                error=error,
                failed_calls=self._unlogged,
                hint="check heartbeat.url and the network; no alert is sent for this",
            )
            self._unlogged = 0

    def status(self) -> dict[str, Any]:
        """JSON-ready: target (masked), state, every, last success/attempt (ISO), failures,
        last error, why it is paused."""
        return {
            "target": self.target,
            "method": self.config.method,
            "every_seconds": self.config.every.total_seconds(),
            "state": self.state,
            "paused_for": list(self.paused_for),
            "last_success_at": _iso(self.last_success_at),
            "last_attempt_at": _iso(self.last_attempt_at),
            "failures": self.failures,
            "last_error": self.last_error,
        }


def _iso(at: float | None) -> str | None:
    if at is None:
        return None
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds")
