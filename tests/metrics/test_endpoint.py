"""The /metrics endpoint: formats, gzip, auth, methods, filtering."""

from __future__ import annotations

import base64
import gzip
import threading
import time
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from khronos.metrics import Metrics, metrics_app
from tests.metrics.asgi import call

TOKEN = "s3cret-token"


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.asyncio
async def test_default_is_prometheus_text(metrics: Metrics, registry: CollectorRegistry) -> None:
    """Without Accept, the classic text format 0.0.4 with the service metrics."""
    metrics.record_message_processed("telegram", "ok")
    reply = await call(metrics_app(registry), "/metrics")
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert b'khronos_messages_processed_total{source="telegram",status="ok"} 1.0' in reply.body


@pytest.mark.asyncio
async def test_openmetrics_by_accept(metrics: Metrics, registry: CollectorRegistry) -> None:
    """Accept: application/openmetrics-text gets OpenMetrics, ending in # EOF."""
    accept = "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"
    reply = await call(metrics_app(registry), "/metrics", headers={"Accept": accept})
    assert reply.headers["content-type"].startswith("application/openmetrics-text")
    assert reply.body.endswith(b"# EOF\n")


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "accept",
    ["text/plain;version=x.y", "application/openmetrics-text;version=abc", ";;;,,=", "*/*"],
)
async def test_garbled_accept_falls_back(registry: CollectorRegistry, accept: str) -> None:
    """A garbled Accept is not a server error: the classic text format is served."""
    reply = await call(metrics_app(registry), "/metrics", headers={"Accept": accept})
    assert reply.status == 200


@pytest.mark.asyncio
async def test_gzip_when_asked(metrics: Metrics, registry: CollectorRegistry) -> None:
    """Accept-Encoding: gzip compresses the body."""
    reply = await call(metrics_app(registry), "/m", headers={"Accept-Encoding": "br, gzip"})
    assert reply.headers["content-encoding"] == "gzip"
    assert b"khronos_queue_size" in gzip.decompress(reply.body)


@pytest.mark.asyncio
async def test_no_gzip_when_refused(metrics: Metrics, registry: CollectorRegistry) -> None:
    """gzip;q=0 means no gzip."""
    reply = await call(metrics_app(registry), "/m", headers={"Accept-Encoding": "gzip;q=0"})
    assert "content-encoding" not in reply.headers


@pytest.mark.asyncio
async def test_head_has_headers_and_no_body(metrics: Metrics, registry: CollectorRegistry) -> None:
    """HEAD answers 200 with the headers of GET and an empty body."""
    reply = await call(metrics_app(registry), "/metrics", method="HEAD")
    assert reply.status == 200
    assert int(reply.headers["content-length"]) > 0
    assert reply.body == b""


@pytest.mark.asyncio
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "BREW"])
async def test_other_methods_get_405(registry: CollectorRegistry, method: str) -> None:
    """Only GET and HEAD are allowed; the answer says so."""
    reply = await call(metrics_app(registry), "/metrics", method=method)
    assert reply.status == 405
    assert reply.headers["allow"] == "GET, HEAD"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong", f"Bearer {TOKEN}x", "Basic !!!notbase64", _basic("u", "nope"),
     f"Token {TOKEN}", "Bearer", ""],
)  # fmt: skip
async def test_token_is_required(registry: CollectorRegistry, authorization: str | None) -> None:
    """With a token, a missing or wrong credential gets 401 with both challenges."""
    headers = {"Authorization": authorization} if authorization is not None else {}
    reply = await call(metrics_app(registry, token=TOKEN), "/metrics", headers=headers)
    assert reply.status == 401
    assert "Bearer" in reply.headers["www-authenticate"]


@pytest.mark.asyncio
@pytest.mark.parametrize("authorization", [f"Bearer {TOKEN}", _basic("prometheus", TOKEN)])
async def test_token_accepted_as_bearer_or_basic(
    registry: CollectorRegistry, authorization: str
) -> None:
    """The token works as a bearer token and as the basic-auth password."""
    app = metrics_app(registry, token=TOKEN)
    reply = await call(app, "/metrics", headers={"Authorization": authorization})
    assert reply.status == 200


@pytest.mark.asyncio
async def test_name_filter(metrics: Metrics, registry: CollectorRegistry) -> None:
    """?name[]=... restricts the output to those metric names."""
    query = b"name[]=khronos_queue_size"
    reply = await call(metrics_app(registry), "/metrics", query=query)
    assert b"khronos_queue_size 0.0" in reply.body
    assert b"khronos_active_users" not in reply.body


@pytest.mark.asyncio
async def test_bad_query_is_not_an_error(metrics: Metrics, registry: CollectorRegistry) -> None:
    """A garbled query string still gets 200."""
    reply = await call(metrics_app(registry), "/metrics", query=b"name[]=%ff%fe&&=&name")
    assert reply.status == 200


class _ThreadRecorder:
    """A collector that notes the thread each collection runs in (and can be made slow)."""

    def __init__(self) -> None:
        self.threads: list[int] = []
        self.delay = 0.0

    def collect(self) -> Iterator[Metric]:
        self.threads.append(threading.get_ident())
        time.sleep(self.delay)
        yield GaugeMetricFamily("bench_thread", "The collecting thread.", value=1)


@pytest.mark.asyncio
async def test_a_small_registry_is_rendered_in_the_loop_a_slow_one_in_a_thread() -> None:
    """The first scrape and any after a slow render use a thread; after a fast one, the loop."""
    recorder = _ThreadRecorder()
    registry = CollectorRegistry()
    registry.register(recorder)
    recorder.threads.clear()  # register() may collect once to learn the names
    app = metrics_app(registry)
    loop_thread = threading.get_ident()
    for _ in range(2):
        assert (await call(app, "/metrics")).status == 200
    recorder.delay = 0.05
    for _ in range(2):
        assert (await call(app, "/metrics")).status == 200
    in_loop = [thread == loop_thread for thread in recorder.threads]
    assert in_loop == [False, True, True, False]
