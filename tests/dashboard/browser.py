"""Helpers of the browser tests: a stoppable HTTP server to probe, page watchers."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Gateway", "PageErrors", "watch"]


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        return


class Gateway:
    """An HTTP server on a fixed loopback port that can be stopped and started again."""

    def __init__(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}/"
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Listen (again) on the port."""
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _Ok)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop listening (connections are refused)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None


@dataclass
class PageErrors:
    """Console errors, failed requests, HTTP errors and dialogs seen on a page."""

    console: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def all(self) -> list[str]:
        """Everything that went wrong."""
        return [*self.console, *self.failed, *self.dialogs]


def watch(page: Any) -> PageErrors:
    """Record what goes wrong on ``page`` from now on."""
    errors = PageErrors()
    page.on("console", lambda m: errors.console.append(m.text) if m.type == "error" else None)
    page.on("requestfailed", lambda r: errors.failed.append(f"{r.url}: {r.failure}"))
    page.on(
        "response",
        lambda r: errors.failed.append(f"{r.url}: HTTP {r.status}") if r.status >= 400 else None,
    )

    def on_dialog(dialog: Any) -> None:
        errors.dialogs.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return errors
