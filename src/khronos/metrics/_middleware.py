"""ASGI middleware timing every HTTP request into ``khronos_http_request_duration_seconds``.

Requests are labelled by the *route template* that handled them (``/users/{id}``), never by the
raw path, so a scanner walking 10,000 random URLs adds no series: whatever no route matched is
counted once under ``route="<unmatched>"``.  Methods outside the standard set become ``OTHER``.

The template comes from ``scope["route"]``, which Starlette's router sets on the scope it was
given; the full template of a route inside ``Mount``\\ s is found once per route object by walking
the router, then cached, so the per-request cost is a few dictionary lookups.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from typing import Any

from prometheus_client import Gauge, Histogram

from khronos.metrics._service import Metrics

__all__ = ["UNMATCHED_ROUTE", "MetricsMiddleware"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

UNMATCHED_ROUTE = "<unmatched>"
"""The ``route`` label of requests no route matched (404s, scanners)."""

_METHODS = {
    m: m for m in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE")
}
_STATUS = {code: str(code) for code in range(100, 600)}
_CHILD_CACHE_LIMIT = 10_000


class MetricsMiddleware:
    """Pure ASGI middleware recording request duration and in-progress requests.

    ``excluded_paths`` are raw paths not measured at all (e.g. ``/metrics``, ``/healthz``).
    With ``group_unmatched`` (the default) requests that matched no route share the label
    ``route="<unmatched>"``; without it they are not recorded.  An exception escaping the app is
    recorded as status 500 and re-raised.  ``preset_methods`` creates the in-progress series of
    every standard method up front (a dashboard sees 0, not "no data"); without it each appears
    with its method's first request (the daemon, whose own API sees a few POSTs a day).

    >>> from starlette.applications import Starlette
    >>> app = Starlette()
    >>> app.add_middleware(MetricsMiddleware, metrics=Metrics())
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: Metrics,
        excluded_paths: Iterable[str] = (),
        group_unmatched: bool = True,
        preset_methods: bool = True,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.excluded_paths = frozenset(excluded_paths)
        self.group_unmatched = group_unmatched
        self._histogram: Histogram = metrics.http_request_duration
        self._in_progress_gauge: Gauge = metrics.http_requests_in_progress
        self._in_progress: dict[str, Gauge] = {}
        if preset_methods:
            self._in_progress = {m: self._in_progress_gauge.labels(m) for m in (*_METHODS, "OTHER")}
        self._children: dict[tuple[str, str, str], Histogram] = {}
        self._templates: dict[int, tuple[Any, str | None]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.excluded_paths:
            await self.app(scope, receive, send)
            return
        method = _METHODS.get(scope["method"], "OTHER")
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        gauge = self._in_progress.get(method)
        if gauge is None:
            gauge = self._in_progress[method] = self._in_progress_gauge.labels(method)
        gauge.inc()
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_wrapper)
        except BaseException:
            status = 500
            raise
        finally:
            elapsed = time.perf_counter() - started
            gauge.dec()
            route = self._route_template(scope)
            if route is not None:
                self._observe(method, route, status, elapsed)

    def _observe(self, method: str, route: str, status: int, elapsed: float) -> None:
        key = (method, route, _STATUS.get(status, "other"))
        child = self._children.get(key)
        if child is None:
            child = self._histogram.labels(*key)
            if len(self._children) < _CHILD_CACHE_LIMIT:
                self._children[key] = child
        child.observe(elapsed)

    def _route_template(self, scope: Scope) -> str | None:
        route = scope.get("route")
        if route is None:
            return UNMATCHED_ROUTE if self.group_unmatched else None
        cached = self._templates.get(id(route))
        if cached is not None and cached[0] is route:
            return cached[1]
        template = self._find_template(scope, route)
        self._templates[id(route)] = (route, template)  # keeps `route` alive: ids stay unique
        return template

    def _find_template(self, scope: Scope, route: Any) -> str | None:
        """The full template of ``route``: its path behind the templates of its Mounts."""
        path = getattr(route, "path", None)
        if not isinstance(path, str) or getattr(route, "routes", None):
            # a Host, or a Mount whose inner router matched nothing: no template
            return UNMATCHED_ROUTE if self.group_unmatched else None
        routes: Sequence[Any] = getattr(scope.get("router"), "routes", ())
        prefixes = _mount_prefixes(routes, route) or ""
        return (prefixes + path) or "/"


def _mount_prefixes(routes: Sequence[Any], target: Any, depth: int = 0) -> str | None:
    """The joined Mount paths leading to ``target`` among ``routes``, or None if absent."""
    if depth > 16:
        return None
    for candidate in routes:
        if candidate is target:
            return ""
        inner = getattr(candidate, "routes", None)
        if inner and hasattr(candidate, "path"):
            found = _mount_prefixes(inner, target, depth + 1)
            if found is not None:
                return str(candidate.path) + found
    return None
