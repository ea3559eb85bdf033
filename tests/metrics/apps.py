"""A small Starlette app with plain, templated and mounted routes, for the middleware tests."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route, Router

from khronos.metrics import Metrics, MetricsMiddleware


async def ok(_request: Request) -> Response:
    """200 'ok'."""
    return PlainTextResponse("ok")


async def boom(_request: Request) -> Response:
    """Raise: the middleware must count a 500."""
    raise RuntimeError("boom")


async def created(_request: Request) -> Response:
    """201."""
    return PlainTextResponse("created", status_code=201)


def build_app(metrics: Metrics, **options: object) -> Starlette:
    """An app with /, /users/{user_id}, /boom, POST /items and /api/v1/{...} under Mounts."""
    inner = Router(routes=[Route("/orders/{order_id:int}", ok), Route("/health", ok)])
    app = Starlette(
        routes=[
            Route("/", ok),
            Route("/users/{user_id}", ok),
            Route("/boom", boom),
            Route("/items", created, methods=["POST"]),
            Mount("/api/{version}", app=inner),
            Mount("/static", app=PlainTextResponse("file")),
        ]
    )
    app.add_middleware(MetricsMiddleware, metrics=metrics, **options)
    return app
