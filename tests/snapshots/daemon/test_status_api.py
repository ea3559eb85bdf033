"""What status shows of the snapshots (/api/status, /api/snapshots): every destination with its
newest snapshot, next due time, error and drill; POST takes one now; no secret anywhere."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from khronos.backup import RecordingAlertSink
from khronos.clock import ManualClock
from khronos.dashboard import StatusSources
from khronos.snapshots import SnapshotScheduler, snapshot_routes, snapshot_status
from tests.dashboard.helpers import db_status, make_builder
from tests.polling import wait_for
from tests.snapshots.daemon.helpers import KEY_ID, SECRET, FakeTake, s3_config, snapshot_config

TOKEN = "snapshot-api-token-0123456789abcdef"


def taken(
    tmp_path: Path, *, failing: str | None = None, config: object = None
) -> SnapshotScheduler:
    """A schedule that has taken one snapshot (and then failed once, with ``failing``)."""
    clock, take = ManualClock(time.time()), FakeTake()
    take.failing = lambda *_: failing if failing and len(take.calls) >= 1 else None
    sched = SnapshotScheduler(
        config or snapshot_config(tmp_path),  # type: ignore[arg-type]
        alerts=RecordingAlertSink(), take=take, clock=clock, tick=5.0,
    )  # fmt: skip

    async def main() -> None:
        await sched.start()
        await wait_for(lambda: len(take.calls) >= (2 if failing else 1), what="the snapshots")
        await sched.stop()

    asyncio.run(main())
    return sched


def test_an_entry_has_the_newest_snapshot_next_due_error_and_drill(tmp_path: Path) -> None:
    """After a success then a failure: time, size, verified, next due, the error."""
    sched = taken(tmp_path, failing="bucket gone")
    (entry,) = snapshot_status(sched.config, sched.states(), now=time.time())["app"]
    assert entry["dest"] == "offsite"
    assert entry["size_bytes"] == 1001
    assert entry["verified"] is True
    assert entry["last_error"] == "bucket gone"
    assert entry["consecutive_failures"] >= 1
    assert entry["next_due_at"] > entry["last_success_at"]
    assert entry["stale"] is False
    assert entry["last_drill"] is None


def test_api_status_carries_each_databases_snapshots(tmp_path: Path) -> None:
    """/api/status: the database's card has its destinations."""
    sched = taken(tmp_path)
    builder = make_builder(tmp_path, [db_status()])
    builder.sources = StatusSources(
        databases=builder.sources.databases,
        checks=list,
        snapshots=lambda: snapshot_status(sched.config, sched.states(), now=time.time()),
    )
    (db,) = builder.snapshot()["databases"]
    assert [s["dest"] for s in db["snapshots"]] == ["offsite"]
    builder.engine.outbox.close()


def test_no_secret_in_status_or_state(tmp_path: Path) -> None:
    """An S3 destination with keys: neither key in the status entries nor in snapshots.json."""
    config = s3_config(tmp_path)
    sched = taken(tmp_path, failing=f"denied for {KEY_ID}", config=config)
    text = json.dumps(snapshot_status(config, sched.states(), now=time.time()))
    text += (tmp_path / "state" / "snapshots.json").read_text()
    assert "offsite" in text
    assert SECRET not in text


def client(sched: SnapshotScheduler, token: str | None = TOKEN) -> httpx.AsyncClient:
    app = Starlette(routes=snapshot_routes(sched, token))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


@pytest.mark.asyncio
async def test_api_snapshots_get_needs_the_token_and_lists_the_state(tmp_path: Path) -> None:
    """GET without the token 401, with it the entries."""
    sched = SnapshotScheduler(snapshot_config(tmp_path), alerts=RecordingAlertSink())
    async with client(sched) as c:
        assert (await c.get("/api/snapshots")).status_code == 401
        r = await c.get("/api/snapshots", headers={"authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200
    assert r.json()["databases"]["app"][0]["dest"] == "offsite"


@pytest.mark.asyncio
async def test_api_snapshots_post_queues_and_refuses_bad_input_with_4xx(tmp_path: Path) -> None:
    """POST {} queues every pair (202); an unknown db 404; bad JSON, a wrong field 400."""
    sched = SnapshotScheduler(snapshot_config(tmp_path), alerts=RecordingAlertSink())
    auth = {"authorization": f"Bearer {TOKEN}"}
    async with client(sched) as c:
        ok = await c.post("/api/snapshots", headers=auth, content=b"{}")
        unknown = await c.post("/api/snapshots", headers=auth, json={"db": "nope"})
        bad = await c.post("/api/snapshots", headers=auth, content=b"{not json")
        field = await c.post("/api/snapshots", headers=auth, json={"when": "now"})
        typed = await c.post("/api/snapshots", headers=auth, json={"db": 3})
    assert (ok.status_code, ok.json()) == (202, {"queued": [{"db": "app", "dest": "offsite"}]})
    assert unknown.status_code == 404
    assert [bad.status_code, field.status_code, typed.status_code] == [400, 400, 400]


@pytest.mark.asyncio
async def test_api_snapshots_is_off_without_a_token(tmp_path: Path) -> None:
    """No http.token: 404, like the other API endpoints."""
    sched = SnapshotScheduler(snapshot_config(tmp_path), alerts=RecordingAlertSink())
    async with client(sched, token=None) as c:
        assert (await c.post("/api/snapshots")).status_code == 404
