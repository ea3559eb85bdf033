"""Run an ASGI app with uvicorn on ``http.listen``, in the running loop, with connection limits.

:class:`HttpServer` binds the socket itself (a busy port fails at once; port 0 resolves to the
real port) and runs uvicorn with :class:`~khronos.server._protocol.GuardedH11Protocol` (request
and idle timeouts, a connection bound); it shuts down gracefully.  Signals stay with the caller
(``khronos run``): uvicorn's own handlers are not installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import socket
import time
from collections.abc import Generator
from email.utils import formatdate

import uvicorn
from starlette.types import ASGIApp
from uvicorn.server import ServerState

from khronos.config import HostPort
from khronos.errors import KhronosError
from khronos.lifecycle import Lifecycle
from khronos.server._protocol import ConnectionLimits, ConnectionStats, protocol_class

__all__ = ["HttpServer", "serve"]

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


class HttpServer(Lifecycle):
    """The daemon's HTTP server: :meth:`start` binds ``listen`` (a busy port fails at once; port
    0 resolves to the real port, :attr:`port`) and returns once it accepts; :meth:`stop` stops
    accepting and lets requests in flight finish (within ``shutdown_timeout``).  Its
    :attr:`task` is for a supervisor to watch; :attr:`stats` counts its connections."""

    def __init__(
        self,
        app: ASGIApp,
        listen: HostPort,
        *,
        shutdown_timeout: float = 10.0,
        limits: ConnectionLimits | None = None,
    ) -> None:
        self.app = app
        self.listen = listen
        self.shutdown_timeout = shutdown_timeout
        self.limits = (limits or ConnectionLimits()).resolved()
        self.stats = ConnectionStats(self.limits)
        self.host = listen.host
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        """``http://host:port`` of the server."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def task(self) -> asyncio.Task[None]:
        """The serving task (after :meth:`start`)."""
        if self._task is None:
            raise RuntimeError("the HTTP server is not started")
        return self._task

    async def start(self) -> None:
        """Bind and serve; :class:`KhronosError` when the port is busy or the app fails."""
        if self._task is not None:
            return
        limits = self.limits
        sock = _bind(self.listen)
        config = uvicorn.Config(
            self.app,
            http=protocol_class(self.stats),
            ws="none",  # no websocket routes: an upgrade request is answered as plain HTTP
            log_config=None,
            access_log=False,
            lifespan="auto",
            timeout_keep_alive=max(1, math.ceil(limits.idle_timeout)),
            # asyncio accepts up to `backlog` connections per wake-up before the protocol can
            # refuse any: a small batch keeps a burst within the descriptors the bound leaves
            backlog=min(2048, max(16, (limits.max_connections or 8192) // 4)),
            timeout_graceful_shutdown=max(1, round(self.shutdown_timeout)),
            server_header=False,
        )
        server = self._server = _Server(config)
        task = self._task = asyncio.create_task(
            _run(server, sock), name=f"khronos-http-{self.listen}"
        )
        deadline = time.monotonic() + _STARTUP_TIMEOUT_S
        while not server.started:
            if task.done() or time.monotonic() > deadline:
                sock.close()
                await self.stop()
                raise KhronosError(
                    f"the HTTP server on {self.listen} did not start",
                    op="serve",
                    hint="see the log above for the cause (e.g. an app lifespan error)",
                    recoverable=True,
                )
            await asyncio.sleep(0.01)
        self.host, self.port = sock.getsockname()[:2]

    async def stop(self) -> None:
        """Stop accepting, let requests in flight finish (within the timeout), then return."""
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def wait(self) -> None:
        """Wait until the server stops."""
        await asyncio.shield(self.task)


async def serve(
    app: ASGIApp,
    listen: HostPort,
    *,
    shutdown_timeout: float = 10.0,
    limits: ConnectionLimits | None = None,
) -> HttpServer:
    """An :class:`HttpServer` for ``app`` on ``listen``, started; ``await server.stop()`` (or
    ``async with``) shuts it down.  ``limits`` sets the request and idle timeouts and the
    connection bound (default: 10 s, 5 s, half the open-files limit)."""
    server = HttpServer(app, listen, shutdown_timeout=shutdown_timeout, limits=limits)
    await server.start()
    return server


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
