"""The daemon's app: /metrics with auth defaults, /healthz, JSON 404, extra routes; serve()."""

from __future__ import annotations

import socket

import httpx
import pytest
from prometheus_client import CollectorRegistry
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from khronos.config import HostPort, KhronosConfig, parse_config
from khronos.errors import ConfigError, KhronosError
from khronos.metrics import Metrics
from khronos.server import create_app, metrics_token_required, serve
from tests.metrics.asgi import call


async def _alerts(_request: Request) -> Response:
    return JSONResponse({"alerts": []})


@pytest.mark.asyncio
async def test_healthz_is_json_200(registry: CollectorRegistry) -> None:
    """/healthz answers 200 with the service name."""
    app = create_app(parse_config("service: my-bot"), registry=registry)
    reply = await call(app, "/healthz")
    assert reply.status == 200
    assert b'"service":"my-bot"' in reply.body


@pytest.mark.asyncio
async def test_unknown_path_is_json_404(registry: CollectorRegistry) -> None:
    """Unknown paths get a JSON 404, counted under route='<unmatched>'."""
    app = create_app(KhronosConfig(), registry=registry)
    reply = await call(app, "/nope")
    assert reply.status == 404
    assert reply.headers["content-type"] == "application/json"
    labels = {"method": "GET", "route": "<unmatched>", "status": "404"}
    count = "khronos_http_request_duration_seconds_count"
    assert registry.get_sample_value(count, labels) == 1.0


@pytest.mark.asyncio
async def test_extra_routes_are_served_and_measured(registry: CollectorRegistry) -> None:
    """Routes from other components are served and labelled by their template."""
    app = create_app(KhronosConfig(), registry=registry, routes=[Route("/alerts", _alerts)])
    assert (await call(app, "/alerts")).status == 200
    labels = {"method": "GET", "route": "/alerts", "status": "200"}
    count = "khronos_http_request_duration_seconds_count"
    assert registry.get_sample_value(count, labels) == 1.0


@pytest.mark.asyncio
async def test_metrics_open_on_loopback_by_default(registry: CollectorRegistry) -> None:
    """metrics.auth: auto on 127.0.0.1 with a token set: scrapes need no credentials."""
    config = parse_config("http: {listen: '127.0.0.1:9321', token: abc}")
    reply = await call(create_app(config, registry=registry), "/metrics")
    assert reply.status == 200
    assert b"khronos_http_request_duration_seconds" in reply.body


@pytest.mark.asyncio
async def test_metrics_need_token_beyond_loopback(registry: CollectorRegistry) -> None:
    """metrics.auth: auto beyond loopback requires http.token."""
    config = parse_config("http: {listen: '0.0.0.0:9321', token: abc}")
    app = create_app(config, registry=registry)
    assert (await call(app, "/metrics")).status == 401
    ok = await call(app, "/metrics", headers={"Authorization": "Bearer abc"})
    assert ok.status == 200


@pytest.mark.asyncio
async def test_metrics_path_is_configurable(registry: CollectorRegistry) -> None:
    """metrics.path moves the endpoint; metrics.auth: token protects it on loopback too."""
    config = parse_config("http: {token: abc}\nmetrics: {path: /prom, auth: token}")
    app = create_app(config, registry=registry)
    assert (await call(app, "/prom")).status == 401
    assert (await call(app, "/metrics")).status == 404


def test_auth_token_without_token_is_a_config_error() -> None:
    """metrics.auth: token needs http.token."""
    with pytest.raises(ConfigError, match=r"http\.token"):
        metrics_token_required(parse_config("metrics: {auth: token}"))


def test_metrics_bound_elsewhere_is_refused(registry: CollectorRegistry) -> None:
    """A Metrics object on another registry would record into a registry nobody serves."""
    with pytest.raises(KhronosError, match="another registry"):
        create_app(KhronosConfig(), registry=registry, metrics=Metrics(process_metrics=False))


@pytest.mark.integration
@pytest.mark.asyncio
async def test_serve_reports_the_real_port_and_stops(registry: CollectorRegistry) -> None:
    """serve() on port 0 returns the bound port; stop() closes it."""
    app = create_app(KhronosConfig(), registry=registry)
    server = await serve(app, HostPort("127.0.0.1", 0))
    assert server.port > 0
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{server.url}/healthz")
    assert response.json()["status"] == "ok"
    await server.stop()
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection(("127.0.0.1", server.port), 1),
    ):
        pass


@pytest.mark.integration
@pytest.mark.asyncio
async def test_serve_on_a_busy_port_fails_clearly(registry: CollectorRegistry) -> None:
    """A port in use raises KhronosError with a hint, not uvicorn's sys.exit."""
    app = create_app(KhronosConfig(), registry=registry)
    async with await serve(app, HostPort("127.0.0.1", 0)) as first:
        with pytest.raises(KhronosError, match="cannot listen"):
            await serve(app, HostPort("127.0.0.1", first.port))
