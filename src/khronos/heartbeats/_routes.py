"""``/api/heartbeats/<name>`` (+ ``/start``, ``/fail``): the pings of ``checks.heartbeats``.

As healthchecks.io's ping URLs: ``GET``, ``HEAD`` or ``POST``, any body (``POST`` to ``/fail``
may send the job's output: its last 1000 characters go into the alert).  Unlike them, the URL
holds no secret: the bearer ``http.token`` is required, checked by
:class:`~khronos.alerts.ApiGate` like the alert API (404 without a token, 401 for a missing or
wrong one, 429 for a flood, 413 over 16 KiB).  An unknown name is 404 (after the token check,
so the names are not revealed).  The answer: 200 with the heartbeat's status
(:meth:`HeartbeatMonitor.status`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from khronos.alerts import ApiGate, api_error, refused_response
from khronos.errors import RequestRefusedError
from khronos.heartbeats._monitor import HeartbeatMonitor, PingKind

__all__ = ["heartbeat_routes"]

_METHODS = ["GET", "HEAD", "POST"]


def heartbeat_routes(
    monitor: HeartbeatMonitor,
    token: SecretStr | str | None,
    *,
    per_minute: float = 600.0,
    burst: int = 60,
) -> list[Route]:
    """The ping routes for the daemon's Starlette app (pass ``config.http.token``)."""
    gate = ApiGate(token, per_minute=per_minute, burst=burst, what="pings")

    def endpoint(kind: PingKind) -> Callable[[Request], Awaitable[JSONResponse]]:
        async def handle(request: Request) -> JSONResponse:
            try:
                body = await gate.admit(request)
            except RequestRefusedError as refused:
                return refused_response(refused)
            name = request.path_params["name"]
            if name not in monitor:
                return api_error(404, f"no heartbeat named {name!r} in checks.heartbeats")
            output = body.decode("utf-8", errors="replace").strip()
            return JSONResponse(monitor.ping(name, kind, output))

        return handle

    return [
        Route("/api/heartbeats/{name}", endpoint("success"), methods=_METHODS, name="heartbeat"),
        Route(
            "/api/heartbeats/{name}/start",
            endpoint("start"),
            methods=_METHODS,
            name="heartbeat_start",
        ),
        Route(
            "/api/heartbeats/{name}/fail", endpoint("fail"), methods=_METHODS, name="heartbeat_fail"
        ),
    ]
