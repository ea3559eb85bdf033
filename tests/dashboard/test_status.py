"""/api/status and /ready: the document's shape, the overall state and its reasons."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from khronos.alerts import Level
from khronos.config import parse_config
from khronos.dashboard import DASHBOARD_PATHS, SECURITY_HEADERS, dashboard_routes
from khronos.server import create_app
from tests.dashboard.helpers import TOKEN, db_status, make_builder
from tests.metrics.asgi import call

_TOP_KEYS = {
    "service", "generated_at", "overall", "databases", "app", "checks", "heartbeats",
    "conditions", "alerts", "silences", "channels", "versions",
}  # fmt: skip
_DB_KEYS = {
    "label", "path", "replica", "local_txid", "replica_txid", "lag_seconds", "lag_txids",
    "lag_alert_after_seconds", "last_sync_at", "last_sync_age_seconds", "replicating",
    "replica_down", "db_exists", "size_bytes", "wal_size_bytes", "sync_errors", "last_error",
    "last_drill", "restore_hint", "snapshots",
}  # fmt: skip


def test_status_document_has_every_part(tmp_path: Path) -> None:
    """Every section is there; no app and no heartbeats give null and []; versions named."""
    builder = make_builder(tmp_path, [db_status(local_txid=20, replica_txid=17, lag_seconds=2.5)])
    builder.engine.send_alert("hello", "INFO")
    doc = json.loads(json.dumps(builder.snapshot()))
    assert set(doc) == _TOP_KEYS
    (db,) = doc["databases"]
    assert set(db) == _DB_KEYS
    assert (db["lag_txids"], db["local_txid"]) == (3, "0000000000000014")
    assert doc["app"] is None
    assert doc["heartbeats"] == []
    assert doc["alerts"][0]["message"] == "hello"
    assert doc["channels"] == [{"name": "log", "breaker": "closed", "pending": 1}]
    assert doc["versions"]["khronos"]
    assert doc["versions"]["litestream"]
    assert doc["overall"] == {"state": "OK", "reasons": []}


def test_replica_password_is_masked(tmp_path: Path) -> None:
    """A password inside the replica URL never reaches the status."""
    builder = make_builder(tmp_path, [db_status(replica="sftp://me:hunter2-secret@host/x")])
    text = json.dumps(builder.snapshot())
    assert "hunter2-secret" not in text


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"replicating": False}, "backup of app is not replicating"),
        ({"lag_seconds": 185.0}, "backup lag 3m5s on app"),
        ({"replica_down": True}, "backup of app is down"),
        ({"db_exists": False}, "database app is missing"),
    ],
)
def test_backup_problems_are_critical_and_not_ready(
    tmp_path: Path, changes: dict[str, object], reason: str
) -> None:
    """Backup down or lagging past lag_alert_after: CRITICAL with the reason, and not ready."""
    builder = make_builder(tmp_path, [db_status(**changes)])
    overall = builder.snapshot()["overall"]
    assert overall["state"] == "CRITICAL"
    assert any(r.startswith(reason) for r in overall["reasons"]), overall
    assert any(r.startswith(reason) for r in builder.not_ready())


def test_lag_under_the_threshold_is_ok(tmp_path: Path) -> None:
    """A lag below backup.lag_alert_after is normal replication, not a problem."""
    builder = make_builder(tmp_path, [db_status(lag_seconds=30.0)])
    assert builder.snapshot()["overall"]["state"] == "OK"
    assert builder.not_ready() == []


def test_app_down_is_critical_and_not_ready(tmp_path: Path) -> None:
    """A supervised app that is down makes the state CRITICAL and /ready fail."""
    app = {
        "command": "node bot.js",
        "up": False,
        "last_exit": {"code": 137, "signal": None, "at": None},
        "gave_up": False,
    }
    builder = make_builder(tmp_path, [db_status()], app=app)
    doc = builder.snapshot()
    assert doc["app"] == app
    assert doc["overall"]["reasons"] == ["app down (exited with code 137)"]
    assert builder.not_ready() == ["app down (exited with code 137)"]


def test_a_firing_condition_warns_with_its_duration(tmp_path: Path) -> None:
    """A WARN/ERROR condition makes the state WARN with its message; CRITICAL ones, CRITICAL."""
    builder = make_builder(tmp_path, [db_status()])
    builder.engine.fire("check:http:gateway", "check gateway failing", Level.ERROR)
    overall = builder.snapshot()["overall"]
    assert overall["state"] == "WARN"
    assert overall["reasons"][0].startswith("check gateway failing (for ")
    builder.engine.fire("backup.verify.app", "Restore drill of app failed", Level.CRITICAL)
    assert builder.snapshot()["overall"]["state"] == "CRITICAL"


def test_a_late_heartbeat_warns(tmp_path: Path) -> None:
    """A heartbeat source's late entry is rendered and makes the state WARN."""
    beats = [{"name": "nightly", "state": "late", "every_seconds": 86400, "grace_seconds": 600}]
    builder = make_builder(tmp_path, [db_status()], heartbeats=beats)
    doc = builder.snapshot()
    assert doc["heartbeats"] == beats
    assert doc["overall"] == {"state": "WARN", "reasons": ["heartbeat nightly is late"]}


@pytest.mark.asyncio
async def test_ready_answers_503_with_the_backup_reason(tmp_path: Path) -> None:
    """/ready through the app: 503 naming the lagging database."""
    builder = make_builder(tmp_path, [db_status(lag_seconds=600.0)])
    app = create_app(
        parse_config("service: {name: x}"),
        registry=CollectorRegistry(),
        readiness=builder.not_ready,
    )
    reply = await call(app, "/ready")
    assert reply.status == 503
    assert json.loads(reply.body)["problems"] == ["backup lag 10m on app"]


def _app(tmp_path: Path, listen: str, registry: CollectorRegistry | None = None) -> object:
    builder = make_builder(tmp_path, [db_status()])
    config = parse_config(f"http: {{listen: '{listen}', token: {TOKEN}}}")
    routes = dashboard_routes(
        builder.snapshot,
        lambda span: {"span": span, "points": []},
        token=config.http.token,
        auth_required=not config.http.listen.is_loopback,
    )
    registry = registry if registry is not None else CollectorRegistry()
    return create_app(config, registry=registry, routes=routes, unmeasured=DASHBOARD_PATHS)


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ["/", "/api/status", "/api/history", "/static/app.js"])
async def test_beyond_loopback_everything_needs_the_token(tmp_path: Path, path: str) -> None:
    """Beyond loopback: 401 with a Basic challenge without credentials; 200 with the token as
    basic auth password or as a bearer token; 401 with a wrong one."""
    app = _app(tmp_path, "0.0.0.0:9321")
    denied = await call(app, path)
    assert denied.status == 401
    assert denied.headers["www-authenticate"].startswith("Basic")
    basic = base64.b64encode(f"me:{TOKEN}".encode()).decode()
    assert (await call(app, path, headers={"Authorization": f"Basic {basic}"})).status == 200
    assert (await call(app, path, headers={"Authorization": f"Bearer {TOKEN}"})).status == 200
    wrong = base64.b64encode(b"me:nope").decode()
    assert (await call(app, path, headers={"Authorization": f"Basic {wrong}"})).status == 401


@pytest.mark.asyncio
async def test_page_carries_the_security_headers_and_no_inline_script(tmp_path: Path) -> None:
    """On loopback the page is open; CSP without inline script, nosniff, no referrer."""
    reply = await call(_app(tmp_path, "127.0.0.1:9321"), "/")
    assert reply.status == 200
    for name, value in SECURITY_HEADERS.items():
        assert reply.headers[name.lower()] == value
    assert "'unsafe-inline'" not in reply.headers["content-security-policy"]
    assert b'<script src="/static/app.js"' in reply.body
    assert b"<script>" not in reply.body


@pytest.mark.asyncio
async def test_bad_requests_get_4xx(tmp_path: Path) -> None:
    """An unknown static file is 404, an unknown history span 400."""
    app = _app(tmp_path, "127.0.0.1:9321")
    assert (await call(app, "/static/../../etc/passwd")).status == 404
    assert (await call(app, "/static/nope.js")).status == 404
    assert (await call(app, "/api/history", query=b"span=7y")).status == 400


@pytest.mark.asyncio
async def test_the_dashboards_polling_is_not_the_services_traffic(tmp_path: Path) -> None:
    """/api/status requests are left out of the HTTP metrics the latency chart reads."""
    registry = CollectorRegistry()
    app = _app(tmp_path, "127.0.0.1:9321", registry)
    assert (await call(app, "/api/status")).status == 200
    assert (await call(app, "/nope")).status == 404
    count = "khronos_http_request_duration_seconds_count"
    assert registry.get_sample_value(count, {"method": "GET", "route": "/api/status",
                                             "status": "200"}) is None  # fmt: skip
    total = sum(s.value for m in registry.collect() for s in m.samples if s.name == count)
    assert total == 1  # the 404 only
