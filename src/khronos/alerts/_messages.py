"""Which Telegram message shows which alert: ``messages`` in the outbox file.

When Telegram accepts an alert it answers with the message's ``message_id``; the delivery worker
records it here (alert id, channel, chat, message id, the HTML sent), so the Ack button can edit
the message it sits on, and a resolved condition can edit its alert and reply to it.  The table
lives in ``alerts-outbox.db`` beside the outbox (its own connection), so it survives a restart;
rows older than 30 days are pruned (Telegram does not let a bot edit them after 48 hours
anyway).  A failed write (a full disk) loses only the link, never an alert: the edit then falls
back to a new message.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import structlog

__all__ = ["MessageLinks", "Resolved", "SentMessages"]

_KEEP_S = 30 * 86400.0
_MAX_REPLIES = 1000
_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    alert_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    chat TEXT NOT NULL,
    message_id INTEGER NOT NULL,
    html TEXT NOT NULL,
    sent_at REAL NOT NULL,
    PRIMARY KEY (channel, chat, message_id)
);
CREATE INDEX IF NOT EXISTS messages_by_alert ON messages (alert_id);
"""
_log = structlog.get_logger("khronos.alerts")


class SentMessages:
    """The ``messages`` table (thread-safe)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._ready = False

    @contextlib.contextmanager
    def _conn(self) -> Iterator[sqlite3.Connection]:
        """A connection for one operation (a few per alert: no file descriptor held between)."""
        db = sqlite3.connect(self.path, isolation_level=None, timeout=10.0)
        try:
            if not self._ready:
                db.executescript(_SCHEMA)
                self._ready = True
            yield db
        finally:
            db.close()

    def record(self, alert_id: str, channel: str, chat: str, message_id: int, html: str) -> None:
        """Telegram accepted ``alert_id`` in ``chat`` as ``message_id``; never raises."""
        now = time.time()
        try:
            with self._lock, self._conn() as db:
                db.execute(
                    "INSERT OR REPLACE INTO messages VALUES (?, ?, ?, ?, ?, ?)",
                    (alert_id, channel, chat, message_id, html, now),
                )
                db.execute("DELETE FROM messages WHERE sent_at < ?", (now - _KEEP_S,))
        except (sqlite3.Error, OSError) as exc:
            _log.warning("could not record a sent message's id", alert_id=alert_id, error=str(exc))

    def of_alert(self, alert_id: str) -> list[tuple[str, str, int, str]]:
        """``(channel, chat, message_id, html)`` of every message that showed ``alert_id``."""
        with self._lock, contextlib.suppress(sqlite3.Error, OSError), self._conn() as db:
            return [
                (str(r[0]), str(r[1]), int(r[2]), str(r[3]))
                for r in db.execute(
                    "SELECT channel, chat, message_id, html FROM messages WHERE alert_id = ?",
                    (alert_id,),
                )
            ]
        return []

    def message(self, chat: str, message_id: int) -> tuple[str, str] | None:
        """``(alert_id, html)`` of the message ``message_id`` in ``chat``."""
        with self._lock, contextlib.suppress(sqlite3.Error, OSError), self._conn() as db:
            row = db.execute(
                "SELECT alert_id, html FROM messages WHERE chat = ? AND message_id = ?",
                (chat, message_id),
            ).fetchone()
            return None if row is None else (str(row[0]), str(row[1]))
        return None


@dataclass(frozen=True, slots=True)
class Resolved:
    """A condition resolved whose alert Telegram showed: edit those messages."""

    key: str
    origin: str
    """The id of the condition's last alert."""
    lasted: float
    messages: tuple[tuple[str, str, int, str], ...]
    """``(channel, chat, message_id, html)`` that showed it."""
    reply: bool
    """A resolved notice replies to them too (``resolve_mode`` reply or both)."""


class MessageLinks:
    """The engine's side of message lifecycles: records message ids, remembers which resolved
    notice replies to which alert, and tells the listeners (the Telegram console) what to edit.

    ``resolve_mode``: ``edit`` (edit the alert, no new message - unless the edit fails),
    ``reply`` (a resolved notice replying to the alert), ``both``.  Without a listener (commands
    off) nothing edits, so the notice is always sent.
    """

    def __init__(self, messages: SentMessages, resolve_mode: str = "both") -> None:
        self.messages = messages
        self.resolve_mode = resolve_mode
        self._listeners: list[Callable[[Resolved], None]] = []
        self._reply_origin: OrderedDict[str, str] = OrderedDict()

    def on_resolved(self, listener: Callable[[Resolved], None]) -> None:
        """Call ``listener`` for every resolved condition whose alert has messages."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[Resolved], None]) -> None:
        """Stop calling ``listener``."""
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def sent(self, channel: str, alert_id: str, chat: str, html: str, answer: object) -> None:
        """The worker delivered a message; record Telegram's ``message_id``."""
        if isinstance(answer, dict) and isinstance(answer.get("message_id"), int):
            self.messages.record(alert_id, channel, chat, int(answer["message_id"]), html)

    def resolving(self, key: str, origin: str, lasted: float) -> list[str] | None:
        """A condition resolves; the channels its notice skips (None: send it everywhere)."""
        if not origin or not self._listeners:
            return None
        shown = tuple(self.messages.of_alert(origin))
        if not shown:
            return None
        reply = self.resolve_mode != "edit"
        if self.resolve_mode != "reply":
            event = Resolved(key, origin, lasted, shown, reply)
            for listener in list(self._listeners):
                try:
                    listener(event)
                except Exception:  # noqa: BLE001 - a listener must not fail the resolve
                    _log.exception("resolve listener failed", key=key)
        return None if reply else sorted({channel for channel, *_ in shown})

    def replies_to(self, notice_id: str, origin: str) -> None:
        """The resolved notice ``notice_id`` replies to the messages of ``origin``."""
        if origin and self.resolve_mode != "edit":
            self._reply_origin[notice_id] = origin
            while len(self._reply_origin) > _MAX_REPLIES:
                self._reply_origin.popitem(last=False)

    def reply_target(self, alert_id: str, chat: str) -> int | None:
        """The message a notice to ``chat`` replies to, if any."""
        origin = self._reply_origin.get(alert_id)
        if origin is None:
            return None
        for _channel, shown_chat, message_id, _html in self.messages.of_alert(origin):
            if shown_chat == chat:
                return message_id
        return None
