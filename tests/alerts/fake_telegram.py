"""A fake Telegram Bot API server: a real HTTP server on 127.0.0.1, port 0, in a thread.

It implements ``/bot<TOKEN>/getMe``, ``getChat`` and ``sendMessage`` like Telegram does (401 for a
wrong token, 400 "chat not found", 400 "can't parse entities" from a strict parser that allows
only Telegram's tags, 400 for texts over 4096 characters), records accepted messages with the
time from an injectable clock, and can be scripted to answer 429 with ``retry_after``, 500, or to
hang, or to answer one chat with a standing error (``chat_answers``).  Every sendMessage request
is recorded too (``tried``: chat and time; ``bodies``: the raw JSON), accepted or not.  With
``enforce_limits`` it answers 429 like Telegram when a chat gets more than 1 message
per second (20 per minute for groups) and counts those violations.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "123456:TEST-token_abcdefghijklmnopqrstuvwxyz"
ALLOWED_TAGS = {
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a",
    "code", "pre", "blockquote", "tg-emoji",
}  # fmt: skip
_TAG_RE = re.compile(r"<(/?)([a-z][a-z-]*)((?:\s+[a-z-]+(?:=\"[^\"<>]*\")?)*)\s*>")
_ENTITY_RE = re.compile(r"&(lt|gt|amp|quot|#\d{1,7}|#x[0-9a-fA-F]{1,6});")
_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def parse_telegram_html(text: str) -> str:  # noqa: PLR0912 - one branch per token kind
    """The visible text of Telegram HTML; ValueError for anything Telegram would refuse."""
    out: list[str] = []
    stack: list[str] = []
    pos = 0
    while pos < len(text):
        char = text[pos]
        if char == "<":
            match = _TAG_RE.match(text, pos)
            if match is None or match.group(2) not in ALLOWED_TAGS:
                raise ValueError(f"can't parse entities: unsupported start tag at byte {pos}")
            closing, name = match.group(1), match.group(2)
            if closing:
                if not stack or stack[-1] != name:
                    raise ValueError(f"can't parse entities: unexpected end tag at byte {pos}")
                stack.pop()
            else:
                stack.append(name)
            pos = match.end()
        elif char == "&":
            match = _ENTITY_RE.match(text, pos)
            if match is None:
                raise ValueError(f"can't parse entities: bad entity at byte {pos}")
            name = match.group(1)
            if name.startswith("#"):
                code = int(name[2:], 16) if name[1:2] == "x" else int(name[1:])
                out.append(chr(code))
            else:
                out.append(_ENTITIES[name])
            pos = match.end()
        elif char == ">":
            raise ValueError(f"can't parse entities: unescaped '>' at byte {pos}")
        else:
            out.append(char)
            pos += 1
    if stack:
        raise ValueError(f"can't parse entities: unclosed tag <{stack[-1]}>")
    return "".join(out)


def utf16_len(text: str) -> int:
    """Telegram's length measure."""
    return len(text.encode("utf-16-le")) // 2


@dataclass
class Sent:
    """One accepted message."""

    chat_id: int | str
    text: str
    parse_mode: str | None
    at: float
    visible: str


@dataclass
class FakeTelegram:
    """State and scripts of the fake server; ``url`` is the Bot API base URL."""

    token: str = TOKEN
    chats: set[str] = field(default_factory=lambda: {"111", "-1001", "-1002", "@alerts_chan"})
    clock: Callable[[], float] = time.monotonic
    enforce_limits: bool = False
    url: str = ""
    sent: list[Sent] = field(default_factory=list)
    requests: int = 0
    violations: int = 0
    scripted: list[tuple[int, dict[str, Any]] | str] = field(default_factory=list)
    chat_answers: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    tried: list[tuple[str, float]] = field(default_factory=list)
    bodies: list[str] = field(default_factory=list)
    answered: int = 0
    """Requests the server has finished answering (or found the client gone)."""
    failing: Callable[[], int | None] | None = None
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def script(self, *responses: tuple[int, dict[str, Any]] | str) -> None:
        """Answer the next sendMessage calls with these (``"hang"`` never answers in time)."""
        with self.lock:
            self.scripted.extend(responses)

    def attempts(self, chat: str) -> list[float]:
        """Clock times of every sendMessage request to ``chat``, accepted or not."""
        with self.lock:
            return [at for c, at in self.tried if c == chat]

    def texts(self) -> list[str]:
        """Visible text of every accepted message, in order."""
        with self.lock:
            return [s.visible for s in self.sent]

    def handle(self, path: str, body: bytes) -> tuple[int, dict[str, Any]] | str:
        """Answer one request (runs in the server thread)."""
        match = re.fullmatch(r"/bot([^/]+)/(\w+)", path)
        if match is None:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        if match.group(1) != self.token:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        with self.lock:
            self.requests += 1
        if match.group(2) == "getMe":
            return 200, {"ok": True, "result": {"id": 123456, "is_bot": True, "username": "k_bot"}}
        if match.group(2) == "getChat":
            return self._get_chat(json.loads(body or b"{}"))
        if match.group(2) != "sendMessage":
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        payload = json.loads(body)
        chat = str(payload.get("chat_id"))
        with self.lock:
            self.tried.append((chat, self.clock()))
            self.bodies.append(body.decode("utf-8"))
            if chat in self.chat_answers:
                return self.chat_answers[chat]
            if self.scripted:
                return self.scripted.pop(0)
        status = self.failing() if self.failing else None
        if status is not None:
            return "hang" if status == 0 else (status, _error(status, "Internal Server Error"))
        return self._send_message(payload)

    def _get_chat(self, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        chat = str(payload.get("chat_id"))
        if chat not in self.chats:
            return 400, _error(400, "Bad Request: chat not found")
        kind = (
            "private" if chat.isdigit() else ("channel" if chat.startswith("@") else "supergroup")
        )
        return 200, {"ok": True, "result": {"id": chat, "type": kind, "title": f"chat {chat}"}}

    def _send_message(self, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        chat = str(payload.get("chat_id"))
        if chat not in self.chats:
            return 400, _error(400, "Bad Request: chat not found")
        text = str(payload.get("text", ""))
        mode = payload.get("parse_mode")
        try:
            visible = parse_telegram_html(text) if mode == "HTML" else text
        except ValueError as exc:
            return 400, _error(400, f"Bad Request: {exc}")
        if not visible.strip() or utf16_len(visible) > 4096:
            return 400, _error(400, "Bad Request: message is too long")
        with self.lock:
            now = self.clock()
            if self.enforce_limits and self._too_fast(payload["chat_id"], now):
                self.violations += 1
                return 429, {**_error(429, "Too Many Requests"), "parameters": {"retry_after": 3}}
            self.sent.append(Sent(payload["chat_id"], text, mode, now, visible))
        return 200, {"ok": True, "result": {"message_id": len(self.sent)}}

    def _too_fast(self, chat: int | str, now: float) -> bool:
        times = [s.at for s in self.sent if s.chat_id == chat]
        if times and now - times[-1] < 1.0:
            return True
        group = str(chat).startswith(("-", "@"))
        return group and len(times) >= 20 and now - times[-20] < 60.0


def _error(code: int, description: str) -> dict[str, Any]:
    return {"ok": False, "error_code": code, "description": description}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        answer = self.server.fake.handle(self.path, body)
        if answer == "hang":
            self.server.fake.release.wait(10)
            answer = (500, _error(500, "hung"))
        assert not isinstance(answer, str)
        status, data = answer
        raw = json.dumps(data).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (a timed-out "hang"): nobody to answer
        finally:
            with self.server.fake.lock:
                self.server.fake.answered += 1

    do_GET = do_POST  # noqa: N815 - http.server's naming

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's API
        """Quiet."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeTelegram

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away is not an error (the default prints a traceback)."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class FakeTelegramServer:
    """Context manager running a :class:`FakeTelegram` on 127.0.0.1:<free port>."""

    def __init__(self, fake: FakeTelegram | None = None) -> None:
        self.fake = fake or FakeTelegram()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self.fake
        self.fake.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    def __enter__(self) -> FakeTelegram:
        self._thread.start()
        return self.fake

    def __exit__(self, *exc: object) -> None:
        self.fake.release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
