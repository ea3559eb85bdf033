"""POST /api/alerts: the engine's dedupe, conditions and resolved notices over HTTP, 4xx for
bad requests, the caller's keys kept apart from Khronos' own conditions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from structlog.testing import capture_logs

from khronos.alerts import API_KEY_PREFIX, AlertEngine, alert_routes
from tests.alerts.fake_telegram import FakeTelegram
from tests.alerts.helpers import MakeEngine, wait_until

TOKEN = "s3cret-http-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(name="engine")
def fixture_engine(make_engine: MakeEngine) -> AlertEngine:
    """An engine on the fake Bot API (a 5-minute cooldown; started by the tests that deliver)."""
    return make_engine(cooldown=300)


@pytest_asyncio.fixture(name="client")
async def fixture_client(engine: AlertEngine) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app with the alert routes and a token."""
    app = Starlette(routes=alert_routes(engine, TOKEN))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        yield client


async def post(client: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    return await client.post("/api/alerts", json=body, headers=AUTH)


@pytest.mark.asyncio
async def test_five_identical_fires_send_one_message(
    client: httpx.AsyncClient, engine: AlertEngine, telegram: FakeTelegram
) -> None:
    """A condition fired five times is notified once; the answers say queued, then suppressed."""
    body = {"action": "fire", "key": "queue", "level": "ERROR", "message": "queue stuck"}
    answers = [(await post(client, body)).json() for _ in range(5)]
    assert [a["status"] for a in answers] == ["queued"] + ["suppressed"] * 4
    await engine.start()
    await wait_until(lambda: len(telegram.texts()) == 1)
    assert await engine.drain(10)
    assert len(telegram.texts()) == 1
    assert "queue stuck" in telegram.texts()[0]


@pytest.mark.asyncio
async def test_resolve_sends_one_resolved_notice(
    client: httpx.AsyncClient, engine: AlertEngine, telegram: FakeTelegram
) -> None:
    """Resolving a firing condition sends one ✅ notice; resolving it again finds nothing."""
    await post(client, {"action": "fire", "key": "q", "level": "WARN", "message": "slow"})
    first = await post(client, {"action": "resolve", "key": "q"})
    second = await post(client, {"action": "resolve", "key": "q"})
    assert (first.status_code, first.json()["status"]) == (202, "resolved")
    assert first.json()["id"] is not None
    assert second.json() == {"id": None, "key": "q", "action": "resolve", "status": "not_firing"}
    await engine.start()
    assert await engine.drain(10)
    texts = telegram.texts()
    assert len(texts) == 2
    assert "✅ Resolved: slow" in texts[1]


@pytest.mark.asyncio
async def test_identical_sends_are_deduplicated(
    client: httpx.AsyncClient, engine: AlertEngine, telegram: FakeTelegram
) -> None:
    """``send`` goes through the cooldown: five identical alerts, one message."""
    body = {"level": "WARN", "message": "cache miss storm"}
    answers = [(await post(client, body)).json() for _ in range(5)]
    assert [a["status"] for a in answers] == ["queued"] + ["suppressed"] * 4
    await engine.start()
    assert await engine.drain(10)
    assert len(telegram.texts()) == 1


@pytest.mark.asyncio
async def test_a_caller_cannot_resolve_khronos_own_conditions(
    client: httpx.AsyncClient, engine: AlertEngine
) -> None:
    """A key from the API is namespaced: ``backup.replica.app`` stays firing."""
    engine.fire("backup.replica.app", "replica unreachable", "CRITICAL")
    answer = await post(client, {"action": "resolve", "key": "backup.replica.app"})
    assert answer.json()["status"] == "not_firing"
    assert engine.is_firing("backup.replica.app")


@pytest.mark.asyncio
async def test_fired_condition_is_namespaced_in_the_engine(
    client: httpx.AsyncClient, engine: AlertEngine
) -> None:
    """The engine sees an API condition under ``api.<key>``."""
    await post(client, {"action": "fire", "key": "jobs", "level": "INFO", "message": "x"})
    assert set(engine.conditions) == {f"{API_KEY_PREFIX}jobs"}
    assert engine.conditions[f"{API_KEY_PREFIX}jobs"].level.name == "INFO"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "ctype", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b"\xff\xfe", "application/json", 400),
        (b"[" * 5000 + b"]" * 5000, "application/json", 400),
        (b'{"message": "m"}', "application/json", 400),  # no level
        (b'{"level": "WARN"}', "application/json", 400),  # no message
        (b'{"level": "WARN", "message": "  "}', "application/json", 400),
        (b'{"level": "FATAL", "message": "m"}', "application/json", 400),
        (b'{"level": 3, "message": "m"}', "application/json", 400),
        (b'{"level": "WARN", "message": 42}', "application/json", 400),
        (b'{"level": "WARN", "message": "m", "details": "text"}', "application/json", 400),
        (b'{"level": "WARN", "message": "m", "extra": 1}', "application/json", 400),
        (b'{"action": "page", "level": "WARN", "message": "m"}', "application/json", 400),
        (b'{"action": "fire", "level": "WARN", "message": "m"}', "application/json", 400),
        (b'{"action": "resolve"}', "application/json", 400),
        (
            b'{"action": "fire", "key": "", "level": "WARN", "message": "m"}',
            "application/json",
            400,
        ),
        (
            b'{"action": "fire", "key": "a b", "level": "WARN", "message": "m"}',
            "application/json",
            400,
        ),
        (b'{"action": "fire", "key": 7, "level": "WARN", "message": "m"}', "application/json", 400),
        (b'{"level": "WARN", "message": "' + b"x" * 2001 + b'"}', "application/json", 400),
        (b'{"level": "WARN", "message": "m"}', "text/plain", 415),
        (b'{"level": "WARN", "message": "' + b"x" * 17000 + b'"}', "application/json", 413),
    ],
)
async def test_bad_requests_are_4xx_with_a_reason(
    client: httpx.AsyncClient, engine: AlertEngine, body: bytes, ctype: str, status: int
) -> None:
    """Invalid JSON, fields, types, sizes or content type: the 4xx named, a JSON reason,
    nothing queued."""
    r = await client.post("/api/alerts", content=body, headers={**AUTH, "Content-Type": ctype})
    assert r.status_code == status
    assert r.json()["error"]
    assert engine.outbox.count() == 0


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": TOKEN}]
)
async def test_missing_or_wrong_token_is_401(
    client: httpx.AsyncClient, engine: AlertEngine, headers: dict[str, str]
) -> None:
    """No token, a wrong one or a non-Bearer header: 401, nothing queued."""
    body = {"level": "WARN", "message": "m"}
    r = await client.post("/api/alerts", json=body, headers=headers)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == "Bearer"
    assert engine.outbox.count() == 0


@pytest.mark.asyncio
async def test_an_engine_failure_is_503_not_500(
    client: httpx.AsyncClient, engine: AlertEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the engine itself fails, the client is told to retry (503 + Retry-After)."""

    def broken(*_args: object, **_kwargs: object) -> str:
        raise RuntimeError("boom")

    monkeypatch.setattr(engine, "send_alert", broken)
    r = await post(client, {"level": "WARN", "message": "m"})
    assert r.status_code == 503
    assert r.headers["Retry-After"] == "60"


@pytest.mark.asyncio
@pytest.mark.parametrize("action", ["send", "fire"])
async def test_a_silenced_alert_says_so(
    client: httpx.AsyncClient,
    engine: AlertEngine,
    telegram: FakeTelegram,
    registry: CollectorRegistry,
    action: str,
) -> None:
    """An alert a silence covers answers ``silenced`` with the silence's id; it is logged,
    counted and listed as silenced, and not sent."""
    silence = engine.silences.add("disk", 3600, "maintenance", "ana")
    body = {"action": action, "key": "disk.full", "level": "ERROR", "message": "disk 97% full"}
    with capture_logs() as logs:
        answer = await post(client, body)
    assert answer.status_code == 202
    assert answer.json() == {
        "id": None,
        "key": "disk.full",
        "action": action,
        "status": "silenced",
        "silence": silence,
    }
    assert [e["silence"] for e in logs if e["event"] == "alert silenced"] == [silence]
    assert registry.get_sample_value("khronos_alerts_silenced_total", {"level": "ERROR"}) == 1
    assert engine.recent_alerts()[0]["state"] == "silenced"
    await engine.start()
    assert await engine.drain(10)
    assert telegram.texts() == []
