"""Run an ASGI app with uvicorn on ``http.listen``, in the running loop, with connection limits.

:func:`serve` binds the socket itself (a busy port fails at once; port 0 resolves to the real
port), runs uvicorn with :class:`~khronos.server._protocol.GuardedH11Protocol` (request and idle
timeouts, a connection bound) and hands back a :class:`RunningServer` that shuts down
gracefully.  Signals stay with the caller (``khronos run``): uvicorn's own handlers are not
installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import socket
import time
from collections.abc import Generator
from email.utils import formatdate
from types import TracebackType

import uvicorn
from starlette.types import ASGIApp
from uvicorn.server import ServerState

from khronos.config import HostPort
from khronos.errors import KhronosError
from khronos.server._protocol import ConnectionLimits, ConnectionStats, protocol_class

__all__ = ["RunningServer", "serve"]

_STARTUP_TIMEOUT_S = 10.0


Headers = list[tuple[bytes, bytes]]


class _LiveDateState(ServerState):
    """uvicorn's server state, with the ``Date`` header made when a request reads it (once a
    second at most) rather than refreshed by a timer."""

    def __init__(self) -> None:
        self._other: Headers = []
        self._second = -1
        self._headers: Headers = []
        super().__init__()

    @property
    def default_headers(self) -> Headers:
        """``Date`` (current to the second) and the other headers uvicorn set."""
        now = int(time.time())
        if now != self._second:
            date = formatdate(now, usegmt=True).encode()
            self._headers = [(b"date", date), *self._other]
            self._second = now
        return self._headers

    @default_headers.setter
    def default_headers(self, value: Headers) -> None:
        self._other = [(name, v) for name, v in value if name.lower() != b"date"]
        self._second = -1


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers (the embedding process owns the signals), and
    without its ten wake-ups a second: an idle daemon's server does not wake at all (the
    ``Date`` header is made per request) and stops as soon as it is told to."""

    def __init__(self, config: uvicorn.Config) -> None:
        self._exit = asyncio.Event()  # before super().__init__, which sets should_exit
        super().__init__(config)
        self.server_state = _LiveDateState()

    @property
    def should_exit(self) -> bool:
        """uvicorn's flag, which now also wakes :meth:`main_loop` when set."""
        return self._exit.is_set()

    @should_exit.setter
    def should_exit(self, value: bool) -> None:
        if value:
            self._exit.set()
        else:
            self._exit.clear()

    async def main_loop(self) -> None:
        """uvicorn's loop ticks every 0.1 s to see ``should_exit``; this one waits for it."""
        while not await self.on_tick(0):  # sets the default headers, says whether to exit
            await self._exit.wait()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class RunningServer:
    """A server started by :func:`serve`: its bound address, its connection counters, its
    task (for a supervisor to watch) and :meth:`stop`."""

    def __init__(
        self,
        server: uvicorn.Server,
        task: asyncio.Task[None],
        host: str,
        port: int,
        stats: ConnectionStats | None = None,
    ):
        self._server = server
        self.task = task
        self.host = host
        self.port = port
        self.stats = stats if stats is not None else ConnectionStats(ConnectionLimits())

    @property
    def url(self) -> str:
        """``http://host:port`` of the server."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def stop(self) -> None:
        """Stop accepting, let requests in flight finish (within the timeout), then return."""
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self.task

    async def wait(self) -> None:
        """Wait until the server stops."""
        await asyncio.shield(self.task)

    async def __aenter__(self) -> RunningServer:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


async def serve(
    app: ASGIApp,
    listen: HostPort,
    *,
    shutdown_timeout: float = 10.0,
    limits: ConnectionLimits | None = None,
) -> RunningServer:
    """Start serving ``app`` on ``listen`` in the running loop; return once it accepts.

    The socket is bound here, so a busy port raises :class:`KhronosError` at once and port 0
    resolves to the real port (``RunningServer.port``).  ``limits`` sets the request and idle
    timeouts and the connection bound (default: 10 s, 5 s, half the open-files limit).
    ``await server.stop()`` (or leaving ``async with``) shuts down gracefully, waiting up to
    ``shutdown_timeout`` seconds for requests in flight.
    """
    resolved = (limits or ConnectionLimits()).resolved()
    stats = ConnectionStats(resolved)
    sock = _bind(listen)
    config = uvicorn.Config(
        app,
        http=protocol_class(stats),
        ws="none",  # no websocket routes: an upgrade request is answered as plain HTTP
        log_config=None,
        access_log=False,
        lifespan="auto",
        timeout_keep_alive=max(1, math.ceil(resolved.idle_timeout)),
        # asyncio accepts up to `backlog` connections per wake-up before the protocol can
        # refuse any: a small batch keeps a burst within the descriptors the bound leaves
        backlog=min(2048, max(16, (resolved.max_connections or 8192) // 4)),
        timeout_graceful_shutdown=max(1, round(shutdown_timeout)),
        server_header=False,
    )
    server = _Server(config)
    task = asyncio.create_task(_run(server, sock), name=f"khronos-http-{listen}")
    deadline = time.monotonic() + _STARTUP_TIMEOUT_S
    while not server.started:
        if task.done() or time.monotonic() > deadline:
            sock.close()
            await RunningServer(server, task, listen.host, 0).stop()
            raise KhronosError(
                f"the HTTP server on {listen} did not start",
                op="serve",
                hint="see the log above for the cause (e.g. an app lifespan error)",
                recoverable=True,
            )
        await asyncio.sleep(0.01)
    host, port = sock.getsockname()[:2]
    return RunningServer(server, task, host, port, stats)


async def _run(server: uvicorn.Server, sock: socket.socket) -> None:
    """uvicorn's serve, with its ``sys.exit`` on a failed startup turned into a return."""
    try:
        await server.serve(sockets=[sock])
    except SystemExit:
        sock.close()


def _bind(listen: HostPort) -> socket.socket:
    try:
        infos = socket.getaddrinfo(
            listen.host, listen.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise KhronosError(
            f"cannot resolve {listen.host!r}: {exc}", op="serve", hint="check http.listen"
        ) from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.set_inheritable(True)
    except OSError as exc:
        sock.close()
        raise KhronosError(
            f"cannot listen on {listen}: {exc.strerror or exc}",
            op="serve",
            hint="another process may use the port: pick another http.listen port, or 0",
            recoverable=True,
        ) from exc
    return sock
