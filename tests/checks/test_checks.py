"""Every built-in check fires and resolves its condition and sets khronos_check_up."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge

from khronos.alerts import AlertEngine, Level
from khronos.checks import (
    DiskCheck,
    ErrorRateCheck,
    HttpCheck,
    MemoryCheck,
    QueueBacklogCheck,
    checks_from_config,
)
from khronos.clock import ManualClock
from khronos.config import parse_config
from tests.checks.helpers import queued_texts, runner_for


def up(registry: CollectorRegistry, check: str) -> float | None:
    return registry.get_sample_value("khronos_check_up", {"check": check})


@pytest.mark.asyncio
async def test_memory_warns_errors_and_resolves(
    engine: AlertEngine, registry: CollectorRegistry
) -> None:
    """A fake RSS above warn_ratio warns, above max errors, below clears."""
    rss = [950_000_000]
    runner = runner_for(engine, MemoryCheck(1000, 0.9, read_rss=lambda: rss[0]), registry)
    await runner.run_all()
    assert engine.conditions["check:memory"].level is Level.WARN
    rss[0] = 1_200_000_000
    await runner.run_all()
    assert engine.conditions["check:memory"].level is Level.ERROR
    assert up(registry, "memory") == 0
    rss[0] = 100_000_000
    await runner.run_all()
    assert "check:memory" not in engine.conditions
    assert up(registry, "memory") == 1


@pytest.mark.asyncio
async def test_memory_reads_a_real_process(
    engine: AlertEngine, registry: CollectorRegistry
) -> None:
    """Without a fake reading the check measures this process with psutil."""
    result = await MemoryCheck(1_000_000).run()
    assert result.ok
    assert result.details["used_mb"] > 0


@pytest.mark.asyncio
async def test_disk_fires_with_a_huge_min_free_and_resolves(
    tmp_path: Path, engine: AlertEngine, registry: CollectorRegistry
) -> None:
    """min_free beyond any disk fires; a small one resolves."""
    check = DiskCheck(tmp_path / "not" / "yet", min_free=10**18)
    runner = runner_for(engine, check, registry)
    await runner.run_all()
    assert engine.conditions["check:disk"].level is Level.ERROR
    check.min_free = 1
    await runner.run_all()
    assert engine.conditions == {}
    assert engine.outbox.count() == 2  # the alert and the resolved notice


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        healthy = getattr(self.server, "healthy", True)
        self.send_response(200 if healthy else 503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Quiet."""


class HealthServer:
    """A loopback health endpoint that can answer 503, go away (connection refused) and return."""

    def __init__(self) -> None:
        self.port = 0
        self.healthy = True
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/health"

    def start(self) -> None:
        """Listen (again) on 127.0.0.1, on the same port as before once one was picked."""
        server = ThreadingHTTPServer(("127.0.0.1", self.port), _Health)
        server.healthy = self.healthy  # type: ignore[attr-defined]
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def set_healthy(self, healthy: bool) -> None:
        self.healthy = healthy
        if self._server is not None:
            self._server.healthy = healthy  # type: ignore[attr-defined]

    def stop(self) -> None:
        """Stop listening: new connections are refused."""
        if self._server is None or self._thread is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)
        self._server = self._thread = None


@pytest.fixture(name="health")
def fixture_health() -> Iterator[HealthServer]:
    """A running loopback health endpoint, stopped after the test."""
    server = HealthServer()
    server.start()
    yield server
    server.stop()


@pytest.mark.integration
@pytest.mark.asyncio
async def test_http_fires_when_the_server_goes_down_and_resolves_when_it_is_back(
    health: HealthServer, engine: AlertEngine, registry: CollectorRegistry
) -> None:
    """A server that stops listening fires after `failures` refusals; back on its port, resolves."""
    runner = runner_for(engine, HttpCheck("gateway", health.url, failures=2, timeout=5), registry)
    assert (await runner.run_all())[0].ok
    assert up(registry, "http:gateway") == 1
    health.stop()
    (first,) = await runner.run_all()
    assert "ConnectError" in first.details["error"]
    assert engine.conditions == {}  # one refusal is not enough
    assert up(registry, "http:gateway") == 0
    await runner.run_all()
    assert engine.conditions["check:http:gateway"].level is Level.ERROR
    health.start()  # same port
    assert (await runner.run_all())[0].ok
    assert engine.conditions == {}
    assert up(registry, "http:gateway") == 1
    fired, resolved = queued_texts(engine)
    assert "Service gateway is unhealthy" in fired
    assert "✅ Resolved: Service gateway is unhealthy" in resolved


@pytest.mark.integration
@pytest.mark.asyncio
async def test_http_counts_error_statuses(
    health: HealthServer, engine: AlertEngine, registry: CollectorRegistry
) -> None:
    """Two 503s in a row (failures=2) fire; a 200 resolves."""
    runner = runner_for(engine, HttpCheck("gateway", health.url, failures=2), registry)
    health.set_healthy(False)
    (first,) = await runner.run_all()
    assert first.details["error"] == "HTTP 503"
    assert engine.conditions == {}
    await runner.run_all()
    assert "check:http:gateway" in engine.conditions
    health.set_healthy(True)
    await runner.run_all()
    assert engine.conditions == {}


@pytest.mark.asyncio
async def test_http_counts_a_server_that_is_gone(
    engine: AlertEngine, registry: CollectorRegistry
) -> None:
    """A refused connection is a failure."""
    check = HttpCheck("gone", "http://127.0.0.1:1/health", failures=1, timeout=2)
    result = await runner_for(engine, check, registry).run_once(check)
    assert not result.ok
    assert "ConnectError" in result.details["error"]


@pytest.mark.asyncio
async def test_error_rate_from_the_registry_fires_and_resolves(
    engine: AlertEngine, registry: CollectorRegistry, clock: ManualClock
) -> None:
    """10% failed over the window fires; a later window of 100 clean messages resolves."""
    processed = Counter("messages_processed", "x", ["kind"], namespace="khronos", registry=registry)
    failed = Counter("messages_failed", "x", namespace="khronos", registry=registry)
    config = parse_config("checks: {error_rate: {threshold: 0.05, window: 1m, min_events: 20}}")
    check = ErrorRateCheck.from_config(config.checks.error_rate, registry, clock=clock)  # type: ignore[arg-type]
    runner = runner_for(engine, check, registry)
    await runner.run_all()
    processed.labels(kind="text").inc(100)
    failed.inc(10)
    await runner.run_all()
    assert engine.conditions["check:error_rate"].level is Level.ERROR
    clock.advance(61)
    processed.labels(kind="text").inc(100)
    result = await runner.run_once(check)
    assert result.message == "Error rate is normal"  # judged, not "too few messages"
    assert result.details["processed"] == 100
    assert result.details["failed"] == 0
    assert engine.conditions == {}
    assert up(registry, "error_rate") == 1
    assert "✅ Resolved: High error rate" in queued_texts(engine)[-1]


@pytest.mark.asyncio
async def test_error_rate_ignores_too_few_events(
    engine: AlertEngine, registry: CollectorRegistry
) -> None:
    """Fewer than min_events processed messages never fire."""
    totals = [(0.0, 0.0)]
    check = ErrorRateCheck(lambda: totals[-1], min_events=20)
    await check.run()
    totals.append((5.0, 5.0))
    assert (await check.run()).ok


@pytest.mark.asyncio
async def test_queue_backlog_from_the_gauge(
    engine: AlertEngine, registry: CollectorRegistry
) -> None:
    """The queue gauge above max fires; back under max resolves."""
    gauge = Gauge("queue_size", "x", namespace="khronos", registry=registry)
    config = parse_config("checks: {queue_backlog: {max: 10}}")
    check = QueueBacklogCheck.from_config(config.checks.queue_backlog, registry)  # type: ignore[arg-type]
    runner = runner_for(engine, check, registry)
    gauge.set(50)
    await runner.run_all()
    assert "check:queue_backlog" in engine.conditions
    gauge.set(3)
    await runner.run_all()
    assert engine.conditions == {}


@pytest.mark.asyncio
async def test_a_crashing_check_is_a_failed_check(
    engine: AlertEngine, registry: CollectorRegistry
) -> None:
    """An exception inside a check fires its condition instead of killing the runner."""

    def broken() -> int:
        raise RuntimeError("boom")

    check = MemoryCheck(read_rss=broken)
    result = await runner_for(engine, check, registry).run_once(check)
    assert not result.ok


def test_checks_from_config_builds_the_enabled_ones(registry: CollectorRegistry) -> None:
    """Defaults give memory, disk, error_rate, backlog; null turns one off; http adds one."""
    config = parse_config(
        "checks: {disk: null, http: [{name: gw, url: 'http://127.0.0.1:9/health'}]}"
    )
    names = [c.name for c in checks_from_config(config.checks, registry)]
    assert names == ["memory", "http:gw", "error_rate", "queue_backlog"]


@pytest.mark.asyncio
async def test_runner_runs_checks_on_their_schedule(
    engine: AlertEngine, registry: CollectorRegistry
) -> None:
    """start() runs each check at once and again every `every`; stop() cancels the tasks."""
    from khronos.checks import CheckRunner

    reads: list[int] = []

    def read() -> int:
        reads.append(1)
        return 1

    runner = CheckRunner(engine, [MemoryCheck(every=0.01, read_rss=read)], registry=registry)
    await runner.start()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while len(reads) < 3 and loop.time() < deadline:
        await asyncio.sleep(0.01)
    await runner.stop()
    assert len(reads) >= 3
    assert up(registry, "memory") == 1
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("khronos-check-")]
