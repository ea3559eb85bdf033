"""The daemon's Starlette app: ``/metrics``, ``/healthz``, ``/ready`` and the routes others add.

``/healthz`` (liveness) answers 503 when a part of the process has stopped for good
(:class:`~khronos.health.Health`); ``/ready`` (readiness) answers 503 then too, while the
process is stopping, and for every reason the caller's ``readiness`` source gives (the daemon:
a CRITICAL alert condition firing).  Both answer JSON with the reasons, masked by the redactor.

Nothing a handler raises reaches uvicorn (:class:`_Guard`, inside the metrics middleware): a
request the protocol gave up on for the client's fault (malformed, too slow, disconnected) is
recorded with the status that stands for it (400, 408, 499) and logs nothing more; any other
exception is an internal error of the ``http`` part - logged once with its traceback, counted in
``khronos_internal_errors_total`` - and answers 503 with a reason, never a bare 500.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, MutableMapping, Sequence
from typing import Any

from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from khronos._version import __version__
from khronos.config import KhronosConfig
from khronos.errors import ConfigError, KhronosError
from khronos.health import Health, get_health
from khronos.logs import CorrelationIdMiddleware
from khronos.metrics import Metrics, MetricsMiddleware, metrics_app
from khronos.redact import get_redactor
from khronos.server._protocol import CLIENT_FAULT

__all__ = [
    "HEALTH_PATH",
    "HTTP_PART",
    "READY_PATH",
    "Readiness",
    "create_app",
    "metrics_token_required",
]

HEALTH_PATH = "/healthz"
"""Liveness: 200 while every part of the process runs, else 503 with the parts that stopped."""

READY_PATH = "/ready"
"""Readiness: 200 when healthy, not stopping and nothing the caller watches is wrong."""

HTTP_PART = "http"
"""The part name the HTTP server's internal errors are counted under."""

CLIENT_CLOSED = 499
"""Recorded (nginx's convention) for a request whose client went away before the answer."""

Readiness = Callable[[], Iterable[str]]
"""Reasons the process is not ready (empty: ready), read on every ``/ready`` request."""


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
    health: Health | None = None,
    readiness: Readiness | None = None,
    unmeasured: Sequence[str] = (),
) -> Starlette:
    """The daemon's app: ``metrics.path``, ``/healthz``, ``/ready`` and ``routes``, measured
    and correlated.

    ``registry`` is what ``/metrics`` serves (backup, alert and breaker metrics register there).
    ``metrics`` is the :class:`Metrics` the middleware records into; by default one is created
    on ``registry`` with the configured namespace and buckets.  ``health`` defaults to the
    process-wide :func:`~khronos.health.get_health` (read at each request).  Unknown paths get
    a JSON 404.  ``unmeasured``: more paths the HTTP metrics leave out (the dashboard's own
    polling is not the service's traffic).
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
    service = {"service": config.service.name, "version": __version__}

    def current() -> Health:
        return health if health is not None else get_health()

    async def healthz(_request: Request) -> Response:
        problems = _masked(current().problems())
        if problems:
            return JSONResponse(
                {"status": "failing", **service, "problems": problems}, status_code=503
            )
        return JSONResponse({"status": "ok", **service})

    async def ready(_request: Request) -> Response:
        reasons = _not_ready(current(), readiness)
        if reasons:
            return JSONResponse(
                {"status": "not ready", **service, "problems": reasons}, status_code=503
            )
        return JSONResponse({"status": "ready", **service})

    all_routes: list[BaseRoute] = [
        Route(path, metrics_app(registry, token=token), name="metrics"),
        Route(HEALTH_PATH, healthz, methods=["GET", "HEAD"], name="healthz"),
        Route(READY_PATH, ready, methods=["GET", "HEAD"], name="ready"),
        *routes,
    ]
    app = Starlette(routes=all_routes, exception_handlers={HTTPException: _http_error})
    # innermost: the metrics below see the status the guard answers or records
    app.add_middleware(_Guard, health=current)
    # the in-progress series of every method up front only where an app's requests fill them
    app.add_middleware(
        MetricsMiddleware,
        metrics=metrics,
        excluded_paths=(path, HEALTH_PATH, READY_PATH, *unmeasured),
        preset_methods=metrics.app_metrics,
    )
    # outermost: every record a request causes (an alert queued by the API, an error) carries
    # its X-Correlation-ID, which is echoed in the response
    app.add_middleware(CorrelationIdMiddleware)
    return app


def _masked(reasons: Iterable[str]) -> list[str]:
    redactor = get_redactor()
    return [redactor.redact(str(reason)) for reason in reasons]


def _not_ready(health: Health, readiness: Readiness | None) -> list[str]:
    reasons = list(health.problems())
    if health.stopping:
        reasons.append("khronos is stopping")
    if readiness is not None:
        try:
            reasons.extend(readiness())
        except Exception as exc:  # noqa: BLE001 - a broken source is a reason, not a crash
            health.record_error(HTTP_PART, exc)
            reasons.append(f"readiness could not be checked: {type(exc).__name__}")
    return _masked(reasons)


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
    headers = exc.headers if isinstance(exc, HTTPException) else None
    return JSONResponse(
        {"error": detail, "status": status, "path": request.url.path},
        status_code=status,
        headers=headers,
    )


class _Guard:
    """Pure ASGI: whatever the app raises ends here, as an answer or a recorded status."""

    def __init__(self, app: ASGIApp, *, health: Callable[[], Health]) -> None:
        self.app = app
        self._health = health

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except ClientDisconnect:
            # the protocol gave up on the request (malformed, too slow) or the client left:
            # the server drops this answer, the metrics record what stands for it
            if not started:
                await _answer(send, scope.get(CLIENT_FAULT, CLIENT_CLOSED), b"")
        except Exception as exc:  # noqa: BLE001 - nothing reaches uvicorn as a 500
            if scope.get(CLIENT_FAULT) is not None:
                if not started:
                    await _answer(send, scope[CLIENT_FAULT], b"")
                return
            self._health().record_error(HTTP_PART, exc)
            if not started:
                error = {
                    "error": f"internal error ({type(exc).__name__}); see the khronos log",
                    "status": 503,
                    "path": scope.get("path", ""),
                }
                await _answer(send, 503, json.dumps(error).encode(), as_json=True)


async def _answer(send: Send, status: int, body: bytes, *, as_json: bool = False) -> None:
    ctype = b"application/json" if as_json else b"text/plain; charset=utf-8"
    headers = [(b"content-type", ctype), (b"content-length", str(len(body)).encode())]
    message: MutableMapping[str, Any] = {
        "type": "http.response.start",
        "status": status,
        "headers": headers,
    }
    await send(message)
    await send({"type": "http.response.body", "body": body})
