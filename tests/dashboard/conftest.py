"""Dashboard test fixtures: headless Chromium, a probed HTTP server, a running daemon."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from tests.daemon.harness import Running, start, stop
from tests.dashboard.browser import Gateway
from tests.support import require_binary


@pytest.fixture(name="browser", scope="module")
def fixture_browser() -> Iterator[Any]:
    """Headless Chromium (the system's /usr/bin/chromium) through Playwright."""
    require_binary("chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(name="gateway", scope="module")
def fixture_gateway() -> Iterator[Gateway]:
    """A local HTTP server the daemon's http check probes; stop it to make the check fail."""
    gateway = Gateway()
    gateway.start()
    try:
        yield gateway
    finally:
        gateway.stop()


@pytest.fixture(name="daemon", scope="module")
def fixture_daemon(tmp_path_factory: pytest.TempPathFactory, gateway: Gateway) -> Iterator[Running]:
    """`khronos run` with a backed-up database and an http check on ``gateway``."""
    tmp = tmp_path_factory.mktemp("daemon")
    write_daemon_config(tmp, gateway.url)
    running = start(tmp, dict(os.environ))
    try:
        yield running
    finally:
        stop(running.proc)


def write_daemon_config(tmp: Path, gateway_url: str) -> Path:
    """khronos.yml: one database on a file replica, an http check every second."""
    with closing(sqlite3.connect(tmp / "app.db")) as conn, conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, body TEXT)")
    path = tmp / "khronos.yml"
    path.write_text(
        f"""\
service: {{name: dash-bot}}
state_dir: state
http: {{listen: "127.0.0.1:0"}}
logging: {{dir: logs, console: "off"}}
backup:
  dbs:
    - path: app.db
      replica: {{url: "file://{tmp}/replica", sync-interval: 200ms}}
checks:
  http: [{{name: gateway, url: "{gateway_url}", timeout: 1s, every: 1s, failures: 1}}]
""",
        encoding="utf-8",
    )
    return path
