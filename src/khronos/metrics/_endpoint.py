"""The ``/metrics`` ASGI endpoint: content negotiation, gzip, optional token auth.

Prometheus asks for OpenMetrics or the text format in ``Accept``; prometheus-client's encoder
picks the matching one.  ``Accept-Encoding: gzip`` compresses the body.  With a token, a scrape
must present it as ``Authorization: Bearer <token>`` or as the password of basic auth (any user
name) - Prometheus' ``authorization`` and ``basic_auth`` scrape settings; the comparison is
constant-time.  Only GET and HEAD are served.  A malformed request gets a 4xx, never a 5xx.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hmac
import math
import time
from urllib.parse import parse_qs

import anyio.to_thread
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from pydantic import SecretStr

from khronos.metrics._middleware import Receive, Scope, Send

__all__ = ["MetricsEndpoint", "metrics_app", "token_authorized"]

_CHALLENGE = [(b"www-authenticate", b'Bearer realm="khronos", Basic realm="khronos"')]
_MIN_GZIP_BYTES = 512
_INLINE_RENDER_S = 0.02
"""A registry whose last rendering took less than this is rendered in the event loop: the hop
to a worker thread costs ~0.4 ms, more than blocking the loop that briefly is worth avoiding;
a bigger one is rendered in a thread, so /healthz and the alert API answer meanwhile."""


class MetricsEndpoint:
    """An ASGI app serving a registry in the Prometheus or OpenMetrics text format.

    A class instance, not a function, so Starlette's ``Route`` treats it as an ASGI app.
    """

    def __init__(
        self,
        registry: CollectorRegistry | Collector,
        *,
        token: SecretStr | str | None = None,
        gzip_level: int = 6,
    ) -> None:
        self.registry = registry
        secret = token.get_secret_value() if isinstance(token, SecretStr) else token
        self._expected = secret.encode("utf-8") if secret else None
        self._gzip_level = gzip_level
        self._last_render_s = math.inf  # the first scrape goes to a thread: its size is unknown

    def __repr__(self) -> str:
        auth = "token" if self._expected else "none"
        return f"MetricsEndpoint(registry={self.registry!r}, auth={auth})"

    async def __call__(self, scope: Scope, _receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            await _respond(send, 405, b"method not allowed\n", [(b"allow", b"GET, HEAD")])
            return
        headers = _headers(scope)
        expected = self._expected
        if expected is not None and not token_authorized(
            headers.get("authorization", ""), expected
        ):
            await _respond(send, 401, b"unauthorized\n", _CHALLENGE)
            return
        accept = headers.get("accept", "")
        names = _requested_names(scope)
        if self._last_render_s < _INLINE_RENDER_S:
            body, content_type = self._timed_render(accept, names)
        else:
            body, content_type = await anyio.to_thread.run_sync(self._timed_render, accept, names)
        extra = [(b"content-type", content_type.encode("latin-1")), (b"vary", b"Accept-Encoding")]
        if len(body) >= _MIN_GZIP_BYTES and _gzip_accepted(headers.get("accept-encoding", "")):
            body = gzip.compress(body, compresslevel=self._gzip_level)
            extra.append((b"content-encoding", b"gzip"))
        await _respond(send, 200, body, extra, head=method == "HEAD")

    def _timed_render(self, accept: str, names: list[str] | None) -> tuple[bytes, str]:
        started = time.perf_counter()
        try:
            return _render(self.registry, accept, names)
        finally:
            self._last_render_s = time.perf_counter() - started


def metrics_app(
    registry: CollectorRegistry | Collector,
    *,
    token: SecretStr | str | None = None,
    gzip_level: int = 6,
) -> MetricsEndpoint:
    """The ``/metrics`` ASGI app for ``registry``.

    With ``token`` every request must authenticate (bearer token, or basic auth with the token
    as password); otherwise 401 with a ``WWW-Authenticate`` challenge.  Mount it at any path:
    ``Route("/metrics", metrics_app(metrics.registry))``.
    """
    return MetricsEndpoint(registry, token=token, gzip_level=gzip_level)


def _render(
    registry: CollectorRegistry | Collector, accept: str, names: list[str] | None
) -> tuple[bytes, str]:
    target: Collector = registry
    if names and isinstance(registry, CollectorRegistry):
        target = registry.restricted_registry(names)
    try:
        encoder, content_type = choose_encoder(accept)
        return encoder(target), content_type
    except (ValueError, TypeError):
        if not accept:
            raise
    # a garbled version or escaping in Accept: the classic text format, as without Accept
    encoder, content_type = choose_encoder("")
    return encoder(target), content_type


def _headers(scope: Scope) -> dict[str, str]:
    """Request headers, lower-cased names, repeated ones joined by commas."""
    out: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", ()):
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        out[name] = f"{out[name]},{value}" if name in out else value
    return out


def _requested_names(scope: Scope) -> list[str] | None:
    query = scope.get("query_string", b"").decode("latin-1")
    if "name" not in query:
        return None
    names = parse_qs(query).get("name[]")
    return names or None


def token_authorized(header: str, expected: bytes) -> bool:
    """Whether an ``Authorization`` header carries ``expected``: as a bearer token, or as the
    password of basic auth (any user name); constant-time."""
    scheme, _, credentials = header.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer":
        given = credentials.encode("latin-1")
    elif scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True)
        except (binascii.Error, ValueError):
            return False
        given = decoded.partition(b":")[2]
    else:
        return False
    return hmac.compare_digest(given, expected)


def _gzip_accepted(header: str) -> bool:
    for item in header.split(","):
        coding, _, params = item.partition(";")
        if coding.strip().lower() == "gzip":
            return params.replace(" ", "").lower() not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    headers: list[tuple[bytes, bytes]],
    *,
    head: bool = False,
) -> None:
    all_headers = [*headers, (b"content-length", str(len(body)).encode())]
    if status != 200:
        all_headers.append((b"content-type", b"text/plain; charset=utf-8"))
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": b"" if head else body})
