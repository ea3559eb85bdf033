"""Heartbeat out: calls while healthy, pauses while not, counts and rate-limits failures, masks
its URL."""

from __future__ import annotations

import httpx
import pytest
import structlog
from prometheus_client import CollectorRegistry

from khronos.clock import ManualClock
from khronos.config import HeartbeatConfig, parse_config
from khronos.errors import ConfigError
from khronos.heartbeats import HeartbeatSender, mask_url

URL = "https://hc-ping.com/0f1e2d3c-aaaa-bbbb-cccc-0123456789ab"


def sender_for(
    handler: httpx.MockTransport, reasons: list[str], registry: CollectorRegistry
) -> HeartbeatSender:
    config = HeartbeatConfig.model_validate({"url": URL, "every": "1m"})
    return HeartbeatSender(
        config, lambda: reasons, registry=registry, clock=ManualClock(), transport=handler
    )


@pytest.mark.asyncio
async def test_calls_while_healthy_and_pauses_while_not() -> None:
    """Healthy: a GET of the URL; a reason: no call, counted as skipped; healthy again: calls."""
    seen: list[str] = []
    transport = httpx.MockTransport(lambda r: seen.append(str(r.url)) or httpx.Response(200))
    reasons: list[str] = []
    registry = CollectorRegistry()
    sender = sender_for(transport, reasons, registry)
    assert await sender.beat()
    reasons.append("backup of app is not replicating")
    assert not await sender.beat()
    assert sender.status()["paused_for"] == ["backup of app is not replicating"]
    reasons.clear()
    assert await sender.beat()
    assert seen == [URL, URL]
    assert registry.get_sample_value("khronos_heartbeat_out_skipped_total") == 1.0
    await sender.stop()


@pytest.mark.asyncio
async def test_failures_are_counted_and_logged_once_per_streak() -> None:
    """HTTP 500s and refused connections count each; the log says so once, without the URL."""
    answers = iter([httpx.Response(500), httpx.Response(503)])

    def handler(request: httpx.Request) -> httpx.Response:
        answer = next(answers, None)
        if answer is None:
            raise httpx.ConnectError("connection refused", request=request)
        return answer

    registry = CollectorRegistry()
    sender = sender_for(httpx.MockTransport(handler), [], registry)
    with structlog.testing.capture_logs() as logs:
        for _ in range(3):
            assert not await sender.beat()
    assert registry.get_sample_value("khronos_heartbeat_out_failures_total") == 3.0
    warnings = [r for r in logs if r["event"] == "cannot reach the heartbeat monitor"]
    assert len(warnings) == 1
    assert warnings[0]["target"] == "https://hc-ping.com/**********"
    assert "0f1e2d3c" not in repr(logs)
    assert sender.status()["last_error"] == "ConnectError: connection refused"
    await sender.stop()


@pytest.mark.asyncio
async def test_a_broken_health_source_is_not_healthy() -> None:
    """When the health cannot be read, no call is made."""

    def broken() -> list[str]:
        raise RuntimeError("boom")

    config = HeartbeatConfig.model_validate({"url": URL})
    transport = httpx.MockTransport(lambda _r: pytest.fail("called while health is unknown"))
    sender = HeartbeatSender(config, broken, transport=transport, clock=ManualClock())
    assert not await sender.beat()
    assert sender.state == "paused"
    await sender.stop()


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (URL, "https://hc-ping.com/**********"),
        ("http://kuma.lan:3001/api/push/AbC?status=up", "http://kuma.lan:3001/**********"),
        ("https://example.com/", "https://example.com"),
    ],
)
def test_mask_url_keeps_only_where_it_points(url: str, masked: str) -> None:
    """The path and query (where the token lives) are masked."""
    assert mask_url(url) == masked


def test_config_show_masks_the_url() -> None:
    """The URL is a secret: config show prints it masked."""
    config = parse_config(f"heartbeat: {{url: '{URL}'}}")
    assert "0f1e2d3c" not in config.model_dump_json()


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("heartbeat: {url: 'ftp://x/y'}", "heartbeat.url"),
        ("heartbeat: {url: 'https://x/y', every: 5s, timeout: 10s}", "heartbeat.timeout"),
        ("heartbeat: {url: 'https://x/y', method: PUT}", "heartbeat.method"),
        ("checks: {heartbeats: [{name: a, every: 1h}]}", "http.token"),
        (
            (
                "http: {token: abcdefgh}\nchecks: {heartbeats: [{name: a, every: 1h}, "
                "{name: a, every: 1h}]}"
            ),
            "checks.heartbeats",
        ),
        ("http: {token: abcdefgh}\nchecks: {heartbeats: [{name: 'a b', every: 1h}]}", "name"),
        ("http: {token: abcdefgh}\nchecks: {heartbeats: [{name: a, every: 0s}]}", "every"),
    ],
)
def test_bad_heartbeat_config_names_the_key(text: str, path: str) -> None:
    """Config errors name the key path."""
    with pytest.raises(ConfigError) as raised:
        parse_config(text)
    assert path in str(raised.value)
