"""``POST /api/alerts/test``: queue a test alert over HTTP (the daemon mounts these routes).

Bad input never causes a 5xx: every check answers with a 4xx and a JSON ``{"error": ...}``.
Order: 404 when ``http.token`` is unset, 401 for a missing/wrong bearer token (constant-time
compare), 429 when one client floods, 413 over 16 KiB (declared *and* streamed size), 415 for
a non-JSON content type, 400 for invalid JSON, level or fields; else 202 with the alert id.
When the engine cannot queue it (the outbox on a full disk), 503 with the reason and
``Retry-After``: the alert was not queued, and the client may try again.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from khronos.alerts._engine import AlertEngine
from khronos.alerts._model import parse_level
from khronos.health import get_health
from khronos.ratelimit import RateLimit, RateLimiter
from khronos.redact import get_redactor

__all__ = ["MAX_BODY", "alert_routes"]

MAX_BODY = 16 * 1024
API_PART = "alerts.api"
"""The part an engine failure under the API is counted under (``khronos_internal_errors_total``)."""
_MAX_MESSAGE = 2000
_MAX_CLIENTS = 1024


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class _TestAlertEndpoint:
    def __init__(
        self, engine: AlertEngine, token: str | None, per_minute: float, burst: int
    ) -> None:
        self.engine = engine
        self._token = token.encode() if token else None
        # ``burst`` at once, ``per_minute`` over a minute (sliding windows per client address)
        self.limiter = RateLimiter(
            [RateLimit(burst, 60.0 * burst / per_minute), RateLimit(round(per_minute), 60.0)],
            max_keys=_MAX_CLIENTS,
        )

    async def handle(self, request: Request) -> JSONResponse:
        if self._token is None:
            return _error(404, "not found (set http.token to enable the alert API)")
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), self._token
        ):
            return _error(401, "missing or wrong bearer token", {"WWW-Authenticate": "Bearer"})
        client = request.client.host if request.client else "unknown"
        if not self.limiter.allow(client, time.monotonic()):
            return _error(429, "too many test alerts; wait a minute", {"Retry-After": "60"})
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
            return _error(413, f"body larger than {MAX_BODY} bytes")
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            return _error(415, "send Content-Type: application/json")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                return _error(413, f"body larger than {MAX_BODY} bytes")
        return self._accept(bytes(body))

    def _accept(self, body: bytes) -> JSONResponse:
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            return _error(400, "the body is not valid JSON")
        problem = _validate(data)
        if problem:
            return _error(400, problem)
        try:
            alert_id = self.engine.enqueue_test(
                data.get("message") or "Test alert from the Khronos API",
                parse_level(data.get("level", "INFO")),
                data.get("details") or {},
            )
        except RecursionError:
            return _error(400, "details are nested too deeply")
        except Exception as exc:  # noqa: BLE001 - the engine's fault is a 503, never a 500
            get_health().record_error(API_PART, exc)
            reason = get_redactor().redact(f"{type(exc).__name__}: {exc}")
            return _error(
                503,
                f"the alert could not be queued ({reason}); see the khronos log",
                {"Retry-After": "60"},
            )
        return JSONResponse({"id": alert_id, "status": "queued"}, status_code=202)


def _validate(data: Any) -> str:
    if not isinstance(data, dict):
        return "the body must be a JSON object"
    extra = set(data) - {"message", "level", "details"}
    if extra:
        return f"unknown field(s): {', '.join(sorted(extra))}; allowed: message, level, details"
    message = data.get("message", "")
    if not isinstance(message, str) or len(message) > _MAX_MESSAGE:
        return f"message must be a string of at most {_MAX_MESSAGE} characters"
    level = data.get("level", "INFO")
    if not isinstance(level, str):
        return "level must be one of INFO, WARN, ERROR, CRITICAL"
    try:
        parse_level(level)
    except ValueError as exc:
        return str(exc)
    details = data.get("details", {})
    if details is not None and not isinstance(details, dict):
        return "details must be a JSON object"
    return ""


def alert_routes(
    engine: AlertEngine,
    token: SecretStr | str | None,
    *,
    per_minute: float = 10.0,
    burst: int = 5,
) -> list[Route]:
    """The alert API routes for the daemon's Starlette app (pass ``config.http.token``)."""
    secret = token.get_secret_value() if isinstance(token, SecretStr) else token
    endpoint = _TestAlertEndpoint(engine, secret, per_minute, burst)
    return [Route("/api/alerts/test", endpoint.handle, methods=["POST"], name="alerts_test")]
