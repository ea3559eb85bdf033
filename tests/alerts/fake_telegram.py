"""A fake Telegram Bot API server: a real HTTP server on 127.0.0.1, port 0, in a thread.

It implements ``/bot<TOKEN>/getMe``, ``getChat`` and ``sendMessage`` like Telegram does (401 for a
wrong token, 400 "chat not found", 400 "can't parse entities" from a strict parser that allows
only Telegram's tags, 400 for texts over 4096 characters), records accepted messages with the
time from an injectable clock, and can be scripted to answer 429 with ``retry_after``, 500, or to
hang, or to answer one chat with a standing error (``chat_answers``).  Every sendMessage request
is recorded too (``tried``: chat and time; ``bodies``: the raw JSON), accepted or not.  With
``enforce_limits`` it answers 429 like Telegram when a chat gets more than 1 message
per second (20 per minute for groups) and counts those violations.

For the two-way console it also serves ``getUpdates`` from a queue the test fills
(:meth:`FakeTelegram.push_message`, :meth:`FakeTelegram.push_callback`): like Telegram, an
``offset`` confirms (drops) every earlier update, and with nothing to give the request waits up
to its ``timeout`` (capped at ``long_poll_cap`` seconds) for one to arrive.  ``conflict`` makes
getUpdates answer 409 like a second poller does, ``webhook_url`` is what ``getWebhookInfo``
reports (getUpdates then answers 409 too), and ``setMyCommands``, ``answerCallbackQuery`` and
``editMessageText`` are recorded (``my_commands``, ``callback_answers``, ``edits``).
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
    updates: list[dict[str, Any]] = field(default_factory=list)
    """Updates not yet confirmed by an offset."""
    next_update_id: int = 1000
    pushed_at: dict[int, float] = field(default_factory=dict)
    """update_id -> time.monotonic() when the test pushed it."""
    polls: int = 0
    """getUpdates requests answered (409s included)."""
    offsets: list[int | None] = field(default_factory=list)
    long_poll_cap: float = 1.0
    conflict: bool = False
    webhook_url: str = ""
    my_commands: list[dict[str, Any]] = field(default_factory=list)
    callback_answers: list[dict[str, Any]] = field(default_factory=list)
    edits: list[dict[str, Any]] = field(default_factory=list)
    sent_bodies: list[dict[str, Any]] = field(default_factory=list)
    """The JSON of every accepted sendMessage (reply_to, reply_markup...)."""
    edit_error: str | None = None
    """Answer editMessageText with 400 and this description (``message can't be edited``)."""
    sent_at: list[float] = field(default_factory=list)
    """time.monotonic() at each accepted sendMessage."""
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def push_message(
        self, chat: int | str, text: str, *, user: int = 42, reply_to: int | None = None
    ) -> int:
        """Queue a message as getUpdates delivers it; its update_id."""
        message: dict[str, Any] = {
            "message_id": 5000 + self.next_update_id,
            "from": {"id": user, "is_bot": False, "first_name": "Ana", "username": "ana"},
            "chat": {"id": chat, "type": "private" if str(chat).isdigit() else "supergroup"},
            "date": int(time.time()),
            "text": text,
        }
        if reply_to is not None:
            message["reply_to_message"] = {"message_id": reply_to, "chat": {"id": chat}}
        return self._push({"message": message})

    def push_callback(
        self, chat: int | str, data: str, *, user: int = 42, message_id: int = 1
    ) -> int:
        """Queue a button press (callback_query); its update_id."""
        query = {
            "id": f"cb{self.next_update_id}",
            "from": {"id": user, "is_bot": False, "first_name": "Ana"},
            "message": {"message_id": message_id, "chat": {"id": chat}, "text": "alert"},
            "data": data,
        }
        return self._push({"callback_query": query})

    def push_raw(self, update: dict[str, Any]) -> int:
        """Queue any update body (``update_id`` is added)."""
        return self._push(dict(update))

    def _push(self, update: dict[str, Any]) -> int:
        with self.arrived:
            with self.lock:
                update_id = self.next_update_id
                self.next_update_id += 1
                self.updates.append({"update_id": update_id, **update})
                self.pushed_at[update_id] = time.monotonic()
            self.arrived.notify_all()
        return update_id

    def replies(self, chat: int | str | None = None) -> list[dict[str, Any]]:
        """Accepted sendMessage bodies (to ``chat``)."""
        with self.lock:
            return [b for b in self.sent_bodies if chat is None or str(b["chat_id"]) == str(chat)]

    def _get_updates(self, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.polls += 1
            self.offsets.append(payload.get("offset"))
            if self.conflict or self.webhook_url:
                what = (
                    "can't use getUpdates method while webhook is active; use deleteWebhook "
                    "to delete the webhook first"
                    if self.webhook_url
                    else "terminated by other getUpdates request; make sure that only one bot "
                    "instance is running"
                )
                return 409, _error(409, f"Conflict: {what}")
            offset = payload.get("offset")
            if isinstance(offset, int):
                self.updates = [u for u in self.updates if u["update_id"] >= offset]
        wait = min(float(payload.get("timeout") or 0), self.long_poll_cap)
        deadline = time.monotonic() + wait
        with self.arrived:
            while True:
                with self.lock:
                    ready = list(self.updates[: int(payload.get("limit") or 100)])
                left = deadline - time.monotonic()
                if ready or left <= 0:
                    break
                self.arrived.wait(left)
        return 200, {"ok": True, "result": ready}

    def _other(self, method: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        if method == "getUpdates":
            return self._get_updates(payload)
        if method == "getWebhookInfo":
            return 200, {"ok": True, "result": {"url": self.webhook_url, "pending_update_count": 0}}
        if method == "setMyCommands":
            with self.lock:
                self.my_commands = list(payload.get("commands") or [])
            return 200, {"ok": True, "result": True}
        if method == "answerCallbackQuery":
            with self.lock:
                self.callback_answers.append(payload)
            return 200, {"ok": True, "result": True}
        if method == "editMessageText":
            if self.edit_error is not None:
                return 400, _error(400, f"Bad Request: {self.edit_error}")
            text = str(payload.get("text", ""))
            try:
                if payload.get("parse_mode") == "HTML":
                    parse_telegram_html(text)
            except ValueError as exc:
                return 400, _error(400, f"Bad Request: {exc}")
            with self.lock:
                self.edits.append(payload)
            return 200, {"ok": True, "result": {"message_id": payload.get("message_id")}}
        return None

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
        other = self._other(match.group(2), json.loads(body or b"{}"))
        if other is not None:
            return other
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
            self.sent_bodies.append(payload)
            self.sent_at.append(time.monotonic())
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
