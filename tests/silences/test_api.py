"""/api/silences: 201/200/204, 4xx for bad input, 401 without the token, 404 without one set."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from starlette.applications import Starlette

from khronos.alerts import SilenceStore, silence_routes

TOKEN = "silence-api-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest_asyncio.fixture(name="client")
async def fixture_client(store: SilenceStore) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app with the silence routes and a token."""
    app = Starlette(routes=silence_routes(store, TOKEN))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        yield client


@pytest.mark.asyncio
async def test_add_list_remove(client: httpx.AsyncClient, store: SilenceStore) -> None:
    """POST answers 201 with the silence, GET lists it, DELETE answers 204, then 404."""
    body = {"match": "backup", "duration": "2h", "level": "warn", "reason": "move", "by": "me"}
    created = await client.post("/api/silences", json=body, headers=AUTH)
    assert created.status_code == 201
    silence = created.json()
    assert (silence["match"], silence["level"], silence["by"]) == ("backup", "WARN", "me")
    assert silence["active"] is True
    assert silence["source"] == "runtime"
    listed = await client.get("/api/silences", headers=AUTH)
    assert listed.status_code == 200
    assert [s["id"] for s in listed.json()["silences"]] == [silence["id"]]
    assert [s["id"] for s in store.list()] == [silence["id"]]
    gone = await client.delete(f"/api/silences/{silence['id']}", headers=AUTH)
    assert gone.status_code == 204
    again = await client.delete(f"/api/silences/{silence['id']}", headers=AUTH)
    assert again.status_code == 404
    assert store.list() == []


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"duration": "1h"}, "match is required"),
        ({"match": "", "duration": "1h"}, "match is required"),
        ({"match": "x" * 500, "duration": "1h"}, "at most 200"),
        ({"match": "x"}, "duration is required"),
        ({"match": "x", "duration": 3600}, "duration is required"),
        ({"match": "x", "duration": "soon"}, "duration"),
        ({"match": "x", "duration": "400d"}, "at most a year"),
        ({"match": "x", "duration": "1h", "level": "LOUD"}, "unknown alert level"),
        ({"match": "x", "duration": "1h", "extra": 1}, "unknown field"),
        ({"match": ["x"], "duration": "1h"}, "match is required"),
    ],
)
async def test_bad_bodies_are_400(
    client: httpx.AsyncClient, store: SilenceStore, body: dict[str, Any], problem: str
) -> None:
    """Each bad body is a 400 naming the problem; nothing is added."""
    answer = await client.post("/api/silences", json=body, headers=AUTH)
    assert answer.status_code == 400, answer.text
    assert problem in answer.json()["error"]
    assert store.list() == []


@pytest.mark.asyncio
async def test_refusals(client: httpx.AsyncClient, store: SilenceStore) -> None:
    """No or a wrong token: 401; not JSON: 415/400; every method guarded."""
    body = {"match": "x", "duration": "1h"}
    assert (await client.post("/api/silences", json=body)).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert (await client.get("/api/silences", headers=wrong)).status_code == 401
    assert (await client.delete("/api/silences/abc", headers=wrong)).status_code == 401
    text = await client.post("/api/silences", content="match=x", headers=AUTH)
    assert text.status_code == 415
    broken = await client.post(
        "/api/silences",
        content="{",
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert broken.status_code == 400
    assert store.list() == []


@pytest.mark.asyncio
async def test_without_a_token_the_api_is_off(store: SilenceStore) -> None:
    """http.token unset: 404."""
    app = Starlette(routes=silence_routes(store, None))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        answer = await client.post("/api/silences", json={"match": "x", "duration": "1h"})
    assert answer.status_code == 404
