"""Helpers of the heartbeat and API daemon tests: a config, an outside monitor, the docs' code."""

from __future__ import annotations

import re
import sqlite3
import threading
from contextlib import closing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.alerts.fake_telegram import FakeTelegram

__all__ = ["DOCS", "Receiver", "doc_block", "write_config"]

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def write_config(
    tmp_path: Path,
    telegram: FakeTelegram,
    *,
    heartbeats: str = "[]",
    heartbeat: str = "",
    backup: bool = False,
) -> Path:
    """A khronos.yml with the alert API, ``checks.heartbeats`` and optionally ``heartbeat:``
    and a backup whose Litestream is given up on at its first crash."""
    text = f"""\
service: {{name: test-bot, shutdown_timeout: 20s}}
state_dir: state
http: {{listen: "127.0.0.1:0", token: "${{KHRONOS_HTTP_TOKEN}}"}}
logging: {{dir: logs, console: json}}
alerts:
  cooldown: 1h
  telegram:
    bot_token: "${{TELEGRAM_BOT_TOKEN}}"
    chat_id: "111"
    api_url: "{telegram.url}"
checks: {{memory: null, disk: null, heartbeats: {heartbeats}}}
"""
    if heartbeat:
        text += f"heartbeat: {heartbeat}\n"
    if backup:
        with closing(sqlite3.connect(tmp_path / "app.db")) as conn, conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY)")
        text += f"""\
backup:
  restart: {{delay: 200ms, min_uptime: 1h, max_restarts: 0}}
  dbs:
    - path: app.db
      replica: {{url: "file://{tmp_path}/replica", sync-interval: 200ms}}
"""
    path = tmp_path / "khronos.yml"
    path.write_text(text, encoding="utf-8")
    return path


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _answer(self) -> None:
        with self.server.lock:
            self.server.calls.append((self.command, self.path))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(b"OK")

    do_GET = do_POST = do_HEAD = _answer  # noqa: N815 - http.server's names

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002, ARG002 - http.server's API
        return


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    calls: list[tuple[str, str]]
    lock: threading.Lock


class Receiver:
    """An outside heartbeat monitor on loopback: records every call (method, path)."""

    def __init__(self) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.calls = []
        self._server.lock = threading.Lock()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def count(self) -> int:
        """Calls received so far."""
        with self._server.lock:
            return len(self._server.calls)

    def calls(self) -> list[tuple[str, str]]:
        """(method, path) of every call so far."""
        with self._server.lock:
            return list(self._server.calls)


def doc_block(language: str, first_line: str) -> str:
    """The fenced ``language`` block of docs/api.md whose first line starts with
    ``first_line``."""
    text = DOCS.read_text(encoding="utf-8")
    for block in re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL):
        if block.startswith(first_line):
            return str(block)
    raise AssertionError(f"no {language} block starting with {first_line!r} in {DOCS}")
