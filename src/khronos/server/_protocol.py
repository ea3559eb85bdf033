"""The HTTP/1.1 protocol the daemon serves with: uvicorn's h11 protocol, plus the limits it lacks.

uvicorn times out only idle keep-alive connections, and only once a first response went out; it
has no timeout for a request whose headers or body do not arrive, and its one bound,
``limit_concurrency``, still accepts and answers 503.  A client that connects and sends nothing,
or sends its headers a byte at a time (slowloris), holds a file descriptor for ever: 3,000 such
connections made a daemon at 1,024 descriptors unreachable, and its accept loop then failed
thousands of times a second.  Nothing in uvicorn's configuration covers it, so
:class:`GuardedH11Protocol` subclasses its h11 protocol (passed as uvicorn's ``http=`` class):
parsing, flow control and the ASGI cycle stay uvicorn's, and only these are added:

- **request timeout**: a request's headers and body must arrive within ``request_timeout`` of
  its first byte (of the connection, for a new one); otherwise the connection is closed.  The
  time the app takes to answer is not counted.
- **slow readers**: a client that stops reading its response (the write buffer stays full) is
  cut off after ``request_timeout`` too, and an idle keep-alive connection whose response is
  still unread is aborted rather than closed gracefully (which would wait for it for ever).
- **a bound on connections** (``max_connections``, by default from the descriptor limit): a
  connection beyond it is closed at once, without an answer - a 5xx would blame the server,
  and answering costs what the bound is there to save.
- **malformed requests** (bad chunked encoding, huge headers, garbage): uvicorn answers 400;
  here the request already handed to the app (if any) then sees a disconnect instead of a
  send failing on a closed h11 state (which was logged as "Exception in ASGI application" and
  counted as a 500), and its scope says :data:`CLIENT_FAULT` = 400 for the metrics.  uvicorn's
  warnings about the client's faults become one info line per minute.

Each connection closed by these rules is counted in :class:`ConnectionStats` (exported as
``khronos_http_connections_closed_total{reason}`` by :class:`ConnectionCollector`).
"""

from __future__ import annotations

import asyncio
import logging
import resource
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import h11
import structlog
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from khronos.config import HttpConfig
from khronos.logs import LogThrottle

__all__ = [
    "CLIENT_FAULT",
    "DEFAULT_IDLE_TIMEOUT",
    "DEFAULT_REQUEST_TIMEOUT",
    "MAX_AUTO_CONNECTIONS",
    "NOFILE_CAP",
    "ConnectionCollector",
    "ConnectionLimits",
    "ConnectionStats",
    "GuardedH11Protocol",
    "auto_max_connections",
    "protocol_class",
    "raise_open_files_limit",
]

CLIENT_FAULT = "khronos.client_fault"
"""Scope key set by the protocol when it gave up on the request for the client's fault: the
status it stands for (400 malformed, 408 too slow); the app's guard records it in the metrics."""

DEFAULT_REQUEST_TIMEOUT = 10.0
DEFAULT_IDLE_TIMEOUT = 5.0
MAX_AUTO_CONNECTIONS = 4096
"""The automatic connection bound never goes above this (a sidecar serves a scraper, a health
probe and a few API calls)."""

NOFILE_CAP = 65536
"""The soft open-files limit is raised to the hard limit, but not above this (as Go does)."""

_MIN_AUTO_CONNECTIONS = 16
_WAITING_FOR_CLIENT = (h11.IDLE, h11.SEND_BODY)

_log = structlog.get_logger("khronos.server")
_client_faults = LogThrottle(60.0)

# uvicorn's warnings about requests that are the client's fault: info, at most once a minute
_CLIENT_FAULT_MESSAGES = frozenset(
    {
        "Invalid HTTP request received.",
        "Unsupported upgrade request.",
    }
)


def auto_max_connections() -> int:
    """Half the process's open-files limit (soft), between 16 and :data:`MAX_AUTO_CONNECTIONS`.

    The other half stays for what the daemon itself opens: logs, the outbox, Litestream's
    pipes, restore drills, checks.
    """
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_AUTO_CONNECTIONS
    return max(_MIN_AUTO_CONNECTIONS, min(MAX_AUTO_CONNECTIONS, soft // 2))


def raise_open_files_limit(cap: int = NOFILE_CAP) -> tuple[int, int]:
    """Raise the soft ``RLIMIT_NOFILE`` to the hard limit (at most ``cap``); (before, after).

    The soft limit is often 1,024 while the hard one is far higher: a daemon serving HTTP next
    to Litestream should not run out of descriptors at the lower one.  Children (Litestream)
    inherit the raised limit, which Go programs raise by themselves anyway.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = cap if hard == resource.RLIM_INFINITY else min(hard, cap)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            return soft, soft
        return soft, target
    return soft, soft


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """How long a client may take, and how many connections are served at once."""

    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    """Seconds for a request's headers and body to arrive (and for a stalled reader)."""
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    """Seconds a kept-alive connection may wait for its next request."""
    max_connections: int | None = None
    """Open connections at most; None: :func:`auto_max_connections` when serving starts."""

    @classmethod
    def from_config(cls, config: HttpConfig) -> ConnectionLimits:
        """The limits of the ``http`` section."""
        return cls(
            config.request_timeout.total_seconds(),
            config.idle_timeout.total_seconds(),
            config.max_connections,
        )

    def resolved(self) -> ConnectionLimits:
        """These limits with ``max_connections`` computed when it is automatic."""
        if self.max_connections is not None:
            return self
        return ConnectionLimits(self.request_timeout, self.idle_timeout, auto_max_connections())


@dataclass
class ConnectionStats:
    """What the guarded protocol did: connections open now, and those it closed, by reason."""

    limits: ConnectionLimits
    open: int = 0
    closed: dict[str, int] = field(default_factory=dict)

    def count_closed(self, reason: str) -> None:
        """One more connection closed for ``reason`` (over_limit, request_timeout, ...)."""
        self.closed[reason] = self.closed.get(reason, 0) + 1


CLOSE_REASONS = ("over_limit", "request_timeout", "slow_reader")


class ConnectionCollector(Collector):
    """``<ns>_http_connections`` (open now), ``<ns>_http_connections_max`` and
    ``<ns>_http_connections_closed_total{reason}`` (zero for each reason until it happens)."""

    def __init__(
        self,
        stats: ConnectionStats | Callable[[], ConnectionStats | None],
        namespace: str = "khronos",
    ) -> None:
        self._stats = stats
        self.namespace = namespace

    def describe(self) -> Iterator[Metric]:
        """The families without samples (lets the registry detect duplicate names)."""
        yield from self._families(None)

    def collect(self) -> Iterator[Metric]:
        """Read the counters at scrape time (no samples while no server runs)."""
        stats = self._stats if isinstance(self._stats, ConnectionStats) else self._stats()
        yield from self._families(stats)

    def _families(self, stats: ConnectionStats | None) -> Iterator[Metric]:
        ns = self.namespace
        now = GaugeMetricFamily(f"{ns}_http_connections", "HTTP connections open now.")
        most = GaugeMetricFamily(
            f"{ns}_http_connections_max", "Open HTTP connections allowed (http.max_connections)."
        )
        closed = CounterMetricFamily(
            f"{ns}_http_connections_closed",
            "HTTP connections closed by the server's limits: over_limit (beyond "
            "http.max_connections), request_timeout (request not sent in time), slow_reader.",
            labels=["reason"],
        )
        if stats is not None:
            now.add_metric([], stats.open)
            most.add_metric([], stats.limits.max_connections or 0)
            for reason in sorted({*CLOSE_REASONS, *stats.closed}):
                closed.add_metric([reason], stats.closed.get(reason, 0))
        yield now
        yield most
        yield closed


class _ClientFaultLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """uvicorn's protocol logger, with the client's faults demoted and throttled."""

    @property
    def level(self) -> int:
        """uvicorn compares it with its TRACE level."""
        return int(self.logger.level)

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        if msg in _CLIENT_FAULT_MESSAGES or str(msg).startswith("No supported WebSocket"):
            note_client_fault(f"HTTP client fault: {msg}")
            return
        self.logger.log(level, msg, *args, **kwargs)


def note_client_fault(what: str, *, level: int = logging.INFO, **fields: Any) -> None:
    """One line per kind of client fault per minute, with how many were held back."""
    held_back = _client_faults.admit(what)
    if held_back is None:
        return
    if held_back:
        fields["repeats_since_last_log"] = held_back
    _log.log(level, what, **fields)


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with request timeouts, a connection bound and quiet client faults.

    Use :func:`protocol_class` to get one bound to a :class:`ConnectionStats`.
    """

    stats: ClassVar[ConnectionStats]

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.logger = _ClientFaultLogger(self.logger)  # type: ignore[assignment]
        self._limits = self.stats.limits
        self._request_timer: asyncio.TimerHandle | None = None
        self._write_timer: asyncio.TimerHandle | None = None
        self._refused = False
        self._counted = False

    # -- connection bound

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        limit = self._limits.max_connections
        if limit is not None and len(self.connections) >= limit:
            self._refused = True
            self.stats.count_closed("over_limit")
            note_client_fault(
                "too many HTTP connections: new ones are closed at once",
                level=logging.WARNING,
                limit=limit,
                hint="raise http.max_connections (and the open-files limit) if they are real",
            )
            transport.abort()
            return
        super().connection_made(transport)
        self.stats.open += 1
        self._counted = True
        self._arm_request_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._refused:
            return
        self._cancel_timers()
        if self._counted:
            self.stats.open -= 1
            self._counted = False
        super().connection_lost(exc)

    # -- request timeout

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state in _WAITING_FOR_CLIENT:
            self._arm_request_timer()  # the first byte of a new request starts its clock
        super().data_received(data)
        if self.conn.their_state not in _WAITING_FOR_CLIENT:
            self._cancel_request_timer()  # the request is in: the app's time is not counted

    def _arm_request_timer(self) -> None:
        if self._request_timer is None:
            self._request_timer = self.loop.call_later(
                self._limits.request_timeout, self._request_timed_out
            )

    def _cancel_request_timer(self) -> None:
        if self._request_timer is not None:
            self._request_timer.cancel()
            self._request_timer = None

    def _request_timed_out(self) -> None:
        self._request_timer = None
        if self.transport.is_closing() or self.conn.their_state not in _WAITING_FOR_CLIENT:
            return
        self.stats.count_closed("request_timeout")
        note_client_fault(
            "HTTP request not received in time: connection closed",
            timeout=self._limits.request_timeout,
        )
        self._give_up(408)

    # -- slow readers

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._write_timer is None:
            self._write_timer = self.loop.call_later(
                self._limits.request_timeout, self._reader_stalled
            )

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None

    def _reader_stalled(self) -> None:
        self._write_timer = None
        if self.transport.is_closing():
            return
        self.stats.count_closed("slow_reader")
        note_client_fault("HTTP client stopped reading its response: connection aborted")
        self._give_up(408)

    def timeout_keep_alive_handler(self) -> None:
        try:
            super().timeout_keep_alive_handler()
        except h11.LocalProtocolError:  # the connection is in an error state: just drop it
            self.transport.abort()
            return
        if self.transport.get_write_buffer_size():
            self.transport.abort()  # a graceful close would wait for the reader for ever

    # -- malformed requests

    def send_400_response(self, msg: str) -> None:
        self._flag_client_fault(400)
        if self.conn.our_state is not h11.SEND_RESPONSE or self.transport.is_closing():
            self.transport.close()  # a response is under way: nothing more can be said
            return
        try:
            super().send_400_response(msg)
        except h11.LocalProtocolError:
            self.transport.close()

    def shutdown(self) -> None:
        try:
            super().shutdown()
        except h11.LocalProtocolError:  # the connection is in an error state: just close it
            self.transport.close()

    # -- helpers

    def _flag_client_fault(self, status: int) -> None:
        """The request in flight (if any) ends for the client's fault: its app sees a
        disconnect, and its scope says which status stands for it."""
        cycle = self.cycle
        if cycle is None or cycle.response_complete:
            return
        scope: MutableMapping[str, Any] = cycle.scope  # type: ignore[assignment]
        scope.setdefault(CLIENT_FAULT, status)
        cycle.disconnected = True
        cycle.message_event.set()

    def _give_up(self, status: int) -> None:
        self._flag_client_fault(status)
        self._cancel_timers()
        self.transport.abort()

    def _cancel_timers(self) -> None:
        self._cancel_request_timer()
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None


def protocol_class(stats: ConnectionStats) -> type[GuardedH11Protocol]:
    """A :class:`GuardedH11Protocol` subclass bound to ``stats`` (and its limits), for one
    server: uvicorn instantiates the class it is given for each connection."""
    return type("KhronosH11Protocol", (GuardedH11Protocol,), {"stats": stats})
