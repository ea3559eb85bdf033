"""The door every write endpoint of the daemon's HTTP API goes through.

:class:`ApiGate` checks, in this order: 404 when ``http.token`` is unset (the API is off), 401
for a missing or wrong bearer token (constant-time compare), 429 when one client floods
(sliding windows per client address, :class:`~khronos.ratelimit.RateLimiter`), 413 over
:data:`MAX_BODY` (the declared *and* the streamed size), and for JSON endpoints 415 for another
content type and 400 for a body that is not a JSON object.  Each refusal is a JSON
``{"error": ...}`` with a 4xx status; nothing a client sends causes a 5xx.
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

from khronos.errors import RequestRefusedError
from khronos.ratelimit import RateLimit, RateLimiter

__all__ = ["MAX_BODY", "ApiGate", "api_error", "refused_response"]

MAX_BODY = 16 * 1024
"""The largest request body the API reads (bytes)."""
_MAX_CLIENTS = 1024


def api_error(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """The API's error answer: ``{"error": message}`` with ``status``."""
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def refused_response(exc: RequestRefusedError) -> JSONResponse:
    """The answer to a refused request: its status, ``{"error": ...}`` and headers."""
    return api_error(exc.status, exc.message, exc.headers)


class ApiGate:
    """Token, rate limit and body checks for one endpoint (or a family of them).

    ``per_minute`` requests a minute and ``burst`` at once per client address.
    """

    def __init__(
        self,
        token: SecretStr | str | None,
        *,
        per_minute: float,
        burst: int,
        what: str = "requests",
    ) -> None:
        secret = token.get_secret_value() if isinstance(token, SecretStr) else token
        self._token = secret.encode() if secret else None
        self._what = what
        self.limiter = RateLimiter(
            [RateLimit(burst, 60.0 * burst / per_minute), RateLimit(round(per_minute), 60.0)],
            max_keys=_MAX_CLIENTS,
        )

    @property
    def enabled(self) -> bool:
        """Whether a token is set (without one, every endpoint answers 404)."""
        return self._token is not None

    async def admit(self, request: Request) -> bytes:
        """Check the token and the rate, read the body (at most :data:`MAX_BODY`); the body.

        Raises :class:`~khronos.errors.RequestRefusedError` (a 4xx; :func:`refused_response`).
        """
        if self._token is None:
            raise RequestRefusedError(404, "not found (set http.token to enable the API)")
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), self._token
        ):
            raise RequestRefusedError(
                401, "missing or wrong bearer token", {"WWW-Authenticate": "Bearer"}
            )
        client = request.client.host if request.client else "unknown"
        if not self.limiter.allow(client, time.monotonic()):
            raise RequestRefusedError(
                429, f"too many {self._what}; wait a minute", {"Retry-After": "60"}
            )
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
            raise RequestRefusedError(413, f"body larger than {MAX_BODY} bytes")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                raise RequestRefusedError(413, f"body larger than {MAX_BODY} bytes")
        return bytes(body)

    async def admit_json(self, request: Request) -> dict[str, Any]:
        """:meth:`admit`, then a JSON object: 415 for another content type, 400 for a body
        that is not JSON or not an object."""
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        body = await self.admit(request)
        if ctype != "application/json":
            raise RequestRefusedError(415, "send Content-Type: application/json")
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            raise RequestRefusedError(400, "the body is not valid JSON") from None
        if not isinstance(data, dict):
            raise RequestRefusedError(400, "the body must be a JSON object")
        return data
