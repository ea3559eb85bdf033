"""An ASGI middleware that gives every request a correlation ID and returns it in a header."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from khronos.logs._context import bind_correlation_id, is_valid_correlation_id, new_correlation_id

__all__ = ["CORRELATION_HEADER", "REQUEST_ID_HEADER", "CorrelationIdMiddleware"]

CORRELATION_HEADER = "X-Correlation-ID"
REQUEST_ID_HEADER = "X-Request-ID"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class CorrelationIdMiddleware:
    """Pure ASGI: bind the request's ``X-Correlation-ID`` (or ``X-Request-ID``) for its logs.

    An incoming ID is kept only when it is at most 128 safe characters (letters, digits and
    ``._:@/+=-``); otherwise a new one is made, so a client cannot forge log lines through it.
    The ID is echoed in the response's ``X-Correlation-ID`` header and put in
    ``scope["state"]["correlation_id"]``.
    """

    def __init__(self, app: ASGIApp, *, response_header: str = CORRELATION_HEADER) -> None:
        self.app = app
        self._header = response_header.lower().encode("latin-1")
        self._accepted = (CORRELATION_HEADER.lower().encode(), REQUEST_ID_HEADER.lower().encode())

    def _incoming(self, scope: Scope) -> str:
        found: dict[bytes, bytes] = {}
        for name, value in scope.get("headers") or ():
            if name in self._accepted and name not in found:
                found[name] = value
        for name in self._accepted:
            raw = found.get(name)
            if raw is None:
                continue
            text = raw.decode("latin-1").strip()
            if is_valid_correlation_id(text):
                return text
        return new_correlation_id()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        correlation_id = self._incoming(scope)
        scope.setdefault("state", {})["correlation_id"] = correlation_id
        header = (self._header, correlation_id.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", ()) if h[0].lower() != self._header]
                message = {**message, "headers": [*headers, header]}
            await send(message)

        with bind_correlation_id(correlation_id):
            await self.app(scope, receive, send_with_id)
