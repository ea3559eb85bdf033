"""Khronos' own HTTP server: ``/metrics``, ``/healthz`` and the routes other components add.

:func:`create_app` builds the Starlette app from the configuration; :func:`serve` runs it with
uvicorn on ``http.listen`` and hands back a :class:`RunningServer` that knows its real port
(``http.listen`` may say port 0) and shuts down gracefully.  Signals stay with the caller
(``khronos run``): uvicorn's own handlers are not installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Generator, Sequence
from types import TracebackType

import uvicorn
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp

from khronos._version import __version__
from khronos.config import HostPort, KhronosConfig
from khronos.errors import ConfigError, KhronosError
from khronos.logs import CorrelationIdMiddleware
from khronos.metrics import Metrics, MetricsMiddleware, metrics_app

__all__ = ["HEALTH_PATH", "RunningServer", "create_app", "metrics_token_required", "serve"]

HEALTH_PATH = "/healthz"
"""Liveness endpoint: 200 and a small JSON document while the process serves requests."""

_STARTUP_TIMEOUT_S = 10.0


def metrics_token_required(config: KhronosConfig) -> bool:
    """Whether ``/metrics`` asks for ``http.token`` under ``metrics.auth``.

    ``auto``: only when listening beyond loopback (where a token is mandatory anyway), so a local
    Prometheus scrapes without credentials; ``token``: always; ``none``: never.
    """
    mode = config.metrics.auth
    if mode == "none":
        return False
    if mode == "token":
        if config.http.token is None:
            raise ConfigError.single(
                "metrics.auth",
                "metrics.auth is 'token' but http.token is not set",
                "set http.token (e.g. ${KHRONOS_HTTP_TOKEN}) or use metrics.auth: auto",
            )
        return True
    return not config.http.listen.is_loopback


def create_app(
    config: KhronosConfig,
    *,
    registry: CollectorRegistry,
    routes: Sequence[BaseRoute] = (),
    metrics: Metrics | None = None,
) -> Starlette:
    """The daemon's app: ``metrics.path``, ``/healthz`` and ``routes``, measured and correlated.

    ``registry`` is what ``/metrics`` serves (backup, alert and breaker metrics register there).
    ``metrics`` is the :class:`Metrics` the middleware records into; by default one is created
    on ``registry`` with the configured namespace and buckets.  Unknown paths get a JSON 404.
    """
    if metrics is None:
        metrics = Metrics.from_config(config.metrics, registry)
    elif metrics.registry is not registry:
        raise KhronosError(
            "the Metrics object is bound to another registry than the one served",
            op="create app",
            hint="create Metrics(registry) on the registry passed to create_app",
        )
    token = config.http.token if metrics_token_required(config) else None
    path = config.metrics.path

    async def healthz(_request: Request) -> Response:
        return JSONResponse(
            {"status": "ok", "service": config.service.name, "version": __version__}
        )

    all_routes: list[BaseRoute] = [
        Route(path, metrics_app(registry, token=token), name="metrics"),
        Route(HEALTH_PATH, healthz, methods=["GET", "HEAD"], name="healthz"),
        *routes,
    ]
    app = Starlette(routes=all_routes, exception_handlers={HTTPException: _http_error})
    app.add_middleware(MetricsMiddleware, metrics=metrics, excluded_paths=(path, HEALTH_PATH))
    # outermost: every record a request causes (an alert queued by the API, an error) carries
    # its X-Correlation-ID, which is echoed in the response
    app.add_middleware(CorrelationIdMiddleware)
    return app


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
    headers = exc.headers if isinstance(exc, HTTPException) else None
    return JSONResponse(
        {"error": detail, "status": status, "path": request.url.path},
        status_code=status,
        headers=headers,
    )


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: the embedding process owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class RunningServer:
    """A server started by :func:`serve`: its bound address, and :meth:`stop`."""

    def __init__(self, server: uvicorn.Server, task: asyncio.Task[None], host: str, port: int):
        self._server = server
        self._task = task
        self.host = host
        self.port = port

    @property
    def url(self) -> str:
        """``http://host:port`` of the server."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def stop(self) -> None:
        """Stop accepting, let requests in flight finish (within the timeout), then return."""
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def wait(self) -> None:
        """Wait until the server stops."""
        await asyncio.shield(self._task)

    async def __aenter__(self) -> RunningServer:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


async def serve(app: ASGIApp, listen: HostPort, *, shutdown_timeout: float = 10.0) -> RunningServer:
    """Start serving ``app`` on ``listen`` in the running loop; return once it accepts.

    The socket is bound here, so a busy port raises :class:`KhronosError` at once and port 0
    resolves to the real port (``RunningServer.port``).  ``await server.stop()`` (or leaving
    ``async with``) shuts down gracefully, waiting up to ``shutdown_timeout`` seconds for
    requests in flight.
    """
    sock = _bind(listen)
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan="auto",
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
    return RunningServer(server, task, host, port)


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
