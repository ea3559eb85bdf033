"""Helpers of the dashboard tests: a status builder on fake database statuses, a served app."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from khronos.alerts import AlertEngine, LogNotifier, Outbox
from khronos.backup import DbStatus
from khronos.config import HostPort, KhronosConfig, parse_config
from khronos.dashboard import History, StatusBuilder, StatusSources, dashboard_routes
from khronos.server import HttpServer, create_app

__all__ = ["TOKEN", "Served", "db_status", "make_builder", "serve_dashboard"]

TOKEN = "dashboard-token-0123456789abcdef"


def db_status(name: str = "app", **changes: Any) -> DbStatus:
    """A healthy, replicating database status (fields overridable)."""
    values: dict[str, Any] = {
        "name": name,
        "path": Path(f"/srv/{name}.db"),
        "replica": "s3://bucket/app",
        "local_txid": 12,
        "replica_txid": 12,
        "lag_seconds": 0.0,
        "last_sync_at": datetime.now(UTC),
        "replicating": True,
    }
    values.update(changes)
    return DbStatus(**values)


def make_builder(
    tmp_path: Path,
    dbs: Sequence[DbStatus] = (),
    *,
    config: KhronosConfig | None = None,
    app: Any = None,
    heartbeats: Any = None,
    snapshots: Any = None,
) -> StatusBuilder:
    """A StatusBuilder over a real alert engine (log channel only) and fixed statuses."""
    config = config or parse_config("backup: {dbs: [{path: app.db, replica: {url: 'file:///r'}}]}")
    engine = AlertEngine(Outbox(tmp_path / "outbox.db"), [LogNotifier()], poll_interval=0.05)
    sources = StatusSources(
        databases=lambda: list(dbs),
        checks=list,
        app=(lambda: app) if app is not None else None,
        heartbeats=(lambda: heartbeats) if heartbeats is not None else None,
        snapshots=(lambda: snapshots) if snapshots is not None else None,
    )
    return StatusBuilder(config, engine, sources)


@dataclass
class Served:
    """A dashboard served on loopback from a background thread."""

    url: str
    builder: StatusBuilder


@contextmanager
def serve_dashboard(
    builder: StatusBuilder, config_text: str, points: Sequence[dict[str, Any]] = ()
) -> Iterator[Served]:
    """Serve the dashboard of ``builder`` with ``config_text``'s auth rules on 127.0.0.1:0,
    whatever ``http.listen`` says (so "beyond loopback" is tested without leaving it)."""
    config = parse_config(config_text)
    history = History()
    for point in points:
        history.add(point)
    routes = dashboard_routes(
        builder.snapshot,
        lambda span: {"span": span, "step_seconds": 10, "points": history.series(span)},
        token=config.http.token,
        auth_required=not config.http.listen.is_loopback,
    )
    app = create_app(config, registry=CollectorRegistry(), routes=routes)
    loop = asyncio.new_event_loop()
    server = HttpServer(app, HostPort("127.0.0.1", 0))
    started = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    if not started.wait(30):
        raise RuntimeError("the dashboard server did not start")
    try:
        yield Served(server.url, builder)
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()
        builder.engine.outbox.close()
