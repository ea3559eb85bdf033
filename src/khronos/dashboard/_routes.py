"""The dashboard's HTTP side: ``GET /``, ``/static/*``, ``/api/status``, ``/api/history``.

The page is three static files shipped as package data (read once with ``importlib.resources``):
no CDN, no build step, no external font, no inline script.  Every answer carries a strict
``Content-Security-Policy`` (scripts, styles and requests to this origin only),
``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer`` and
``X-Frame-Options: DENY``; the JSON answers ``Cache-Control: no-store``.

Access: on loopback, open (like ``/metrics`` under ``metrics.auth: auto``); beyond loopback,
``http.token`` as a bearer token or as the password of HTTP basic auth - a browser asks once
(``WWW-Authenticate: Basic``) and sends it with the page's own requests afterwards.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Callable
from typing import Any

from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from khronos.health import get_health
from khronos.metrics import token_authorized

__all__ = ["DASHBOARD_PATHS", "SECURITY_HEADERS", "dashboard_routes"]

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
"""Headers on every dashboard answer."""

_STATIC = {
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
DASHBOARD_PATHS = ("/", "/api/status", "/api/history", *(f"/static/{name}" for name in _STATIC))
"""The dashboard's paths: the daemon leaves them out of the HTTP metrics (its own polling)."""
_CHALLENGE = {"WWW-Authenticate": 'Basic realm="khronos", charset="UTF-8"'}
_SPANS = ("1h", "24h")
DASHBOARD_PART = "dashboard"


def _read(name: str) -> bytes:
    return (importlib.resources.files("khronos.dashboard") / "static" / name).read_bytes()


def dashboard_routes(
    status: Callable[[], dict[str, Any]],
    history: Callable[[str], dict[str, Any]],
    *,
    token: SecretStr | str | None,
    auth_required: bool,
) -> list[Route]:
    """The dashboard's routes for the daemon's app.

    ``status()``: the ``/api/status`` document; ``history(span)``: the ``/api/history`` one.
    ``auth_required`` (beyond loopback): every route needs ``token``; without a token set,
    nothing is served (401).
    """
    secret = token.get_secret_value() if isinstance(token, SecretStr) else token
    expected = secret.encode("utf-8") if secret else None
    files = {name: _read(name) for name in _STATIC}
    index = _read("index.html")

    def allowed(request: Request) -> bool:
        if not auth_required:
            return True
        if expected is None:
            return False
        return token_authorized(request.headers.get("authorization", ""), expected)

    def denied() -> Response:
        return Response(
            "authentication required: use http.token as the password\n",
            status_code=401,
            media_type="text/plain",
            headers={**SECURITY_HEADERS, **_CHALLENGE},
        )

    async def page(request: Request) -> Response:
        if not allowed(request):
            return denied()
        headers = {**SECURITY_HEADERS, "Cache-Control": "no-cache"}
        return Response(index, media_type="text/html; charset=utf-8", headers=headers)

    async def static(request: Request) -> Response:
        if not allowed(request):
            return denied()
        name = request.path_params["name"]
        body = files.get(name)
        if body is None:
            return JSONResponse({"error": "not found"}, status_code=404, headers=SECURITY_HEADERS)
        headers = {**SECURITY_HEADERS, "Cache-Control": "no-cache"}
        return Response(body, media_type=_STATIC[name], headers=headers)

    def data(build: Callable[[], dict[str, Any]]) -> Response:
        try:
            document = build()
        except Exception as exc:  # noqa: BLE001 - a broken source is a 503 with a reason
            get_health().record_error(DASHBOARD_PART, exc)
            return JSONResponse(
                {"error": f"status unavailable ({type(exc).__name__}); see the khronos log"},
                status_code=503,
                headers={**SECURITY_HEADERS, "Cache-Control": "no-store", "Retry-After": "5"},
            )
        return JSONResponse(document, headers={**SECURITY_HEADERS, "Cache-Control": "no-store"})

    async def api_status(request: Request) -> Response:
        if not allowed(request):
            return denied()
        return data(status)

    async def api_history(request: Request) -> Response:
        if not allowed(request):
            return denied()
        span = request.query_params.get("span", "1h")
        if span not in _SPANS:
            return JSONResponse(
                {"error": "span must be 1h or 24h"}, status_code=400, headers=SECURITY_HEADERS
            )
        return data(lambda: history(span))

    return [
        Route("/", page, methods=["GET", "HEAD"], name="dashboard"),
        Route("/static/{name}", static, methods=["GET", "HEAD"], name="dashboard_static"),
        Route("/api/status", api_status, methods=["GET", "HEAD"], name="api_status"),
        Route("/api/history", api_history, methods=["GET", "HEAD"], name="api_history"),
    ]
