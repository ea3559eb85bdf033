"""The durable outbox: alerts are written to SQLite before sending, removed once delivered.

One row per alert, channel and chat, in ``state_dir/alerts-outbox.db`` (WAL, ``synchronous=FULL``
so a row that :meth:`Outbox.add` returned survives a kill -9 and a power cut).  Row ids only grow
(``AUTOINCREMENT``), so delivery in id order is delivery in the order alerts were raised, across
restarts too.  Order is kept per (channel, chat): :meth:`Outbox.head` with a chat gives that
chat's oldest row, so a chat Telegram refuses cannot hold up the alerts for another chat.  The
outbox is bounded: when full, the oldest INFO/WARN row is dropped first, then the oldest of any
level; the caller counts the drops.

Only one process delivers at a time: :meth:`Outbox.acquire_delivery` takes an exclusive
``flock`` on ``alerts-outbox.lock``.  Others (``khronos alert test`` beside a running daemon)
only add rows and watch them disappear.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from khronos.alerts._model import Level
from khronos.alerts._notifier import OutgoingMessage

__all__ = ["OUTBOX_FILE", "Outbox", "OutboxRow", "PendingInfo"]

OUTBOX_FILE = "alerts-outbox.db"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    chat TEXT NOT NULL,
    level INTEGER NOT NULL,
    html TEXT NOT NULL,
    plain TEXT NOT NULL,
    created_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS outbox_by_channel ON outbox (channel, id);
CREATE INDEX IF NOT EXISTS outbox_by_chat ON outbox (channel, chat, id);
CREATE INDEX IF NOT EXISTS outbox_by_alert ON outbox (alert_id);
"""


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """What to add: one message for one channel and chat."""

    channel: str
    chat: str
    level: Level
    html: str
    plain: str


@dataclass(frozen=True, slots=True)
class PendingInfo:
    """Why an alert is still in the outbox."""

    rows: int
    attempts: int
    last_error: str | None


class Outbox:
    """A bounded, ordered, durable queue of outgoing alert messages (thread-safe)."""

    def __init__(self, path: str | Path, *, max_pending: int = 10_000) -> None:
        self.path = Path(path)
        self.max_pending = max_pending
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)  # state_dir: private
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))  # alert texts: owner only
        with contextlib.suppress(OSError):
            self.path.chmod(0o600)  # a file from an older version; SQLite's -wal/-shm follow it
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            self.path, check_same_thread=False, isolation_level=None, timeout=10.0
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._lock_fd: int | None = None

    @classmethod
    def in_state_dir(cls, state_dir: str | Path, *, max_pending: int = 10_000) -> Outbox:
        """The outbox file in Khronos' ``state_dir``."""
        return cls(Path(state_dir) / OUTBOX_FILE, max_pending=max_pending)

    def __repr__(self) -> str:
        return f"Outbox({str(self.path)!r}, max_pending={self.max_pending})"

    def add(self, alert_id: str, rows: Iterable[OutboxRow], created_at: float) -> list[Level]:
        """Append rows in one transaction; return the levels of rows dropped to stay bounded."""
        dropped: list[Level] = []
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for row in rows:
                    dropped.extend(self._make_room())
                    self._db.execute(
                        "INSERT INTO outbox (alert_id, channel, chat, level, html, plain,"
                        " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (alert_id, row.channel, row.chat, int(row.level), row.html, row.plain,
                         created_at),
                    )  # fmt: skip
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return dropped

    def _make_room(self) -> list[Level]:
        (count,) = self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()
        dropped: list[Level] = []
        while count >= self.max_pending:
            victim = (
                self._db.execute(
                    "SELECT id, level FROM outbox WHERE level <= ? ORDER BY id LIMIT 1",
                    (int(Level.WARN),),
                ).fetchone()
                or self._db.execute("SELECT id, level FROM outbox ORDER BY id LIMIT 1").fetchone()
            )
            self._db.execute("DELETE FROM outbox WHERE id = ?", (victim[0],))
            dropped.append(Level(victim[1]))
            count -= 1
        return dropped

    def head(self, channel: str, chat: str | None = None) -> OutgoingMessage | None:
        """The oldest message for a channel, or for one chat of it."""
        with self._lock:
            if chat is None:
                row = self._db.execute(
                    "SELECT id, alert_id, chat, level, html, plain FROM outbox"
                    " WHERE channel = ? ORDER BY id LIMIT 1",
                    (channel,),
                ).fetchone()
            else:
                row = self._db.execute(
                    "SELECT id, alert_id, chat, level, html, plain FROM outbox"
                    " WHERE channel = ? AND chat = ? ORDER BY id LIMIT 1",
                    (channel, chat),
                ).fetchone()
        if row is None:
            return None
        return OutgoingMessage(row[0], row[1], row[2], Level(row[3]), row[4], row[5])

    def delete(self, message_id: int) -> None:
        """Remove a delivered (or given-up) message."""
        with self._lock:
            self._db.execute("DELETE FROM outbox WHERE id = ?", (message_id,))

    def note_failure(self, message_id: int, error: str) -> int:
        """Count a failed attempt; the number of attempts so far."""
        with self._lock:
            row = self._db.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?"
                " RETURNING attempts",
                (error[:500], message_id),
            ).fetchone()
        return int(row[0]) if row else 0

    def count(self, channel: str | None = None) -> int:
        """Pending messages, for one channel or all."""
        with self._lock:
            if channel is None:
                (n,) = self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()
            else:
                (n,) = self._db.execute(
                    "SELECT COUNT(*) FROM outbox WHERE channel = ?", (channel,)
                ).fetchone()
        return int(n)

    def pending(self, alert_id: str) -> PendingInfo:
        """How many rows of an alert are left, and the last error of the most-tried one."""
        with self._lock:
            rows = self._db.execute(
                "SELECT attempts, last_error FROM outbox WHERE alert_id = ? ORDER BY attempts DESC",
                (alert_id,),
            ).fetchall()
        if not rows:
            return PendingInfo(0, 0, None)
        return PendingInfo(len(rows), int(rows[0][0]), rows[0][1])

    def chats(self, channel: str) -> Sequence[str]:
        """Chats of a channel with pending messages (each is delivered on its own)."""
        with self._lock:
            return [
                r[0]
                for r in self._db.execute(
                    "SELECT DISTINCT chat FROM outbox WHERE channel = ?", (channel,)
                )
            ]

    def channels(self) -> Sequence[str]:
        """Channels with pending messages."""
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT DISTINCT channel FROM outbox")]

    def readdress(self, channel: str, chats_for: Callable[[Level], Sequence[str]]) -> int:
        """Point rows queued for a chat the channel no longer sends to at today's chat for
        their level (``chats_for``); their order and attempts history are kept.  The number
        of rows moved.

        A corrected ``chat_id`` (or a removed ``critical_chat_id``) must not strand the alerts
        queued for the old one: they would be retried, and refused, forever.
        """
        current = {chat for level in Level for chat in chats_for(level)}
        moved = 0
        with self._lock:
            rows = self._db.execute(
                "SELECT id, level, chat FROM outbox WHERE channel = ? ORDER BY id", (channel,)
            ).fetchall()
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for row_id, level, chat in rows:
                    targets = list(chats_for(Level(level)))
                    if chat in current or not targets:
                        continue
                    self._db.execute(
                        "UPDATE outbox SET chat = ?, last_error = NULL WHERE id = ?",
                        (targets[0], row_id),
                    )
                    moved += 1
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return moved

    def drop_channel(self, channel: str) -> int:
        """Delete every row of a channel that is no longer configured; how many."""
        with self._lock:
            cursor = self._db.execute("DELETE FROM outbox WHERE channel = ?", (channel,))
        return int(cursor.rowcount)

    def acquire_delivery(self) -> bool:
        """Take the exclusive right to deliver (non-blocking); False when another process has it."""
        if self._lock_fd is not None:
            return True
        fd = os.open(self.path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._lock_fd = fd
        return True

    def release_delivery(self) -> None:
        """Give the delivery right back."""
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def close(self) -> None:
        """Close the database (and release the delivery lock)."""
        self.release_delivery()
        with self._lock:
            self._db.close()
