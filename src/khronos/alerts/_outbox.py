"""The durable outbox: alerts are written to SQLite before sending, removed once delivered.

One row per alert, channel and chat, in ``state_dir/alerts-outbox.db`` (WAL, ``synchronous=FULL``
so a row that :meth:`Outbox.add` wrote survives a kill -9 and a power cut).  Row ids only grow
(``AUTOINCREMENT``), so delivery in id order is delivery in the order alerts were raised, across
restarts too.  Order is kept per (channel, chat): :meth:`Outbox.head` with a chat gives that
chat's oldest row, so a chat Telegram refuses cannot hold up the alerts for another chat.  The
outbox is bounded: when full, the oldest INFO/WARN row is dropped first, then the oldest of any
level; the caller counts the drops.

**No method raises because the file cannot be written** (a full disk, no file descriptors left,
an I/O error, a lock held too long).  Then:

- new rows wait *in memory*, in order, behind the chat's rows on disk, bounded by
  ``max_pending`` with the same drop policy; they are delivered from memory all the same, and
  moved to the file as soon as it is writable again (:meth:`flush`, at the latest when the
  engine stops).  A memory row being sent (:meth:`claim`) is never moved: its chat's rows stay
  in memory until the send is over, so nothing is sent twice or out of order.
- a row that was delivered but cannot be deleted is remembered as delivered: it is skipped by
  :meth:`head`, :meth:`count`, :meth:`chats` and :meth:`pending`, and deleted later.  It is
  sent again only if the process ends (a stop or a kill -9) before the file is writable again.
- :attr:`write_problem` says what is wrong, for the engine's ``state_dir`` alert.

The same holds for the firing conditions stored in the ``conditions`` table
(:meth:`save_condition`).

Only one process delivers at a time: :meth:`Outbox.acquire_delivery` takes an exclusive
``flock`` on ``alerts-outbox.lock``.  Others (``khronos alert test`` beside a running daemon)
only add rows and watch them disappear.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog

from khronos.alerts._memory import MemoryQueue, MemoryRow
from khronos.alerts._model import Condition, Level
from khronos.alerts._notifier import OutgoingMessage
from khronos.alerts._outbox_db import (
    WRITE_ERRORS,
    OutboxError,
    OutboxRow,
    WriteProblem,
    connect,
    describe_write_error,
    insert_rows,
    load_conditions,
    rollback_quietly,
    write_condition,
)
from khronos.errors import LockedError
from khronos.locks import FileLock
from khronos.state import StateDir

__all__ = ["Outbox", "OutboxError", "OutboxRow", "PendingInfo", "WriteProblem"]

_log = structlog.get_logger("khronos.alerts")
_RETRY_S = 1.0
"""While the file is not writable, a caller's write tries it again at most this often (the
engine's maintenance loop retries on its own schedule)."""
_LAZY_S = 30.0
"""Condition changes that need no notice (a new worst value) are written at most this late."""


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
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)  # state_dir: private
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))  # alert texts: owner only
            with contextlib.suppress(OSError):
                self.path.chmod(0o600)  # a file from an older version; SQLite's -wal/-shm follow
            self._db = connect(self.path)
        except WRITE_ERRORS as exc:
            problem = describe_write_error(exc, self.path, time.time())
            raise OutboxError(
                problem.message,
                op="open the alert outbox",
                hint="free space (or file descriptors) for Khronos, or fix the permissions of "
                "state_dir, then start again",
                recoverable=True,
            ) from exc
        self._lock = threading.Lock()
        self._delivery: FileLock | None = None
        self._closed = False
        self._memory = MemoryQueue()
        self._claimed: set[int] = set()
        self._delivered: set[int] = set()
        self._failures: dict[int, tuple[int, str]] = {}
        self._dirty: dict[str, Condition | None] = {}
        self._urgent = False
        self._dirty_since = 0.0
        self._problem: WriteProblem | None = None
        self._failed_at = 0.0

    @classmethod
    def in_state_dir(cls, state_dir: str | Path, *, max_pending: int = 10_000) -> Outbox:
        """The outbox file in Khronos' ``state_dir``."""
        return cls(StateDir(state_dir).outbox, max_pending=max_pending)

    def __repr__(self) -> str:
        return f"Outbox({str(self.path)!r}, max_pending={self.max_pending})"

    @property
    def write_problem(self) -> WriteProblem | None:
        """Why the last write failed; None once a write succeeded again."""
        return self._problem

    @property
    def in_memory(self) -> int:
        """Rows waiting in memory for the file to be writable."""
        return len(self._memory)

    def waiting_in_memory(self) -> list[tuple[str, OutgoingMessage]]:
        """(channel, message) of every row waiting in memory, oldest first."""
        with self._lock:
            return [(m.row.channel, m.message()) for m in self._memory.movable(())]

    @property
    def unsaved_deliveries(self) -> int:
        """Delivered rows still in the file because deleting them failed."""
        return len(self._delivered)

    # ------------------------------------------------------------------ writing

    def add(self, alert_id: str, rows: Iterable[OutboxRow], created_at: float) -> list[Level]:
        """Queue rows (to the file, or to memory while it cannot be written); the levels of rows
        dropped to stay bounded.  Never raises for an unwritable file."""
        with self._lock:
            if self._closed:
                _log.warning("alert raised after the outbox was closed", alert_id=alert_id)
            dropped: list[Level] = []
            for row in rows:
                dropped.extend(self._remember(alert_id, row, created_at))
            dropped.extend(self._flush(retry_wait=True))
            return dropped

    def flush(self, *, everything: bool = False) -> list[Level]:
        """Write what waits in memory (rows, deletions, conditions) to the file, if it can be
        written now; the levels of rows dropped to stay bounded.  ``everything`` also writes
        condition changes that could wait (at stop)."""
        with self._lock:
            return self._flush(retry_wait=False, everything=everything)

    def delete(self, message_id: int) -> None:
        """Remove a delivered (or given-up) message; remembered until the file is writable."""
        with self._lock:
            self._failures.pop(message_id, None)
            if message_id < 0:
                self._memory.remove(message_id)
                return
            self._delivered.add(message_id)
            self._flush(retry_wait=True)

    def note_failure(self, message_id: int, error: str) -> int:
        """Count a failed attempt; the number of attempts so far (0: the row is gone)."""
        error = error[:500]
        with self._lock:
            memory = self._memory.get(message_id)
            if memory is not None:
                memory.attempts += 1
                memory.last_error = error
                return memory.attempts
            if message_id < 0 or message_id in self._delivered:
                return 0
            known = self._failures.get(message_id)
            if known is None:
                try:
                    row = self._db.execute(
                        "SELECT attempts FROM outbox WHERE id = ?", (message_id,)
                    ).fetchone()
                except WRITE_ERRORS:
                    row = (0,)
                if row is None:
                    return 0
                attempts = int(row[0])
            else:
                attempts = known[0]
            self._failures[message_id] = (attempts + 1, error)
            self._flush(retry_wait=True)
            return attempts + 1

    def _remember(self, alert_id: str, row: OutboxRow, created_at: float) -> list[Level]:
        dropped: list[Level] = []
        if len(self._memory) >= self.max_pending:
            victim = self._memory.victim(self._claimed)
            if victim is not None:
                self._memory.remove(victim.id)
                dropped.append(victim.row.level)
        self._memory.append(alert_id, row, created_at)
        return dropped

    def _flush(self, *, retry_wait: bool, everything: bool = False) -> list[Level]:
        if self._closed:
            return []
        if retry_wait and self._problem and time.monotonic() - self._failed_at < _RETRY_S:
            return []
        rows = self._memory.movable(self._claimed)
        lazy_due = everything or time.monotonic() - self._dirty_since >= _LAZY_S
        conditions = bool(self._dirty) and bool(self._urgent or lazy_due or rows or self._delivered)
        if not (rows or self._delivered or self._failures or conditions or self._problem):
            return []
        try:
            dropped = self._write(rows, conditions=conditions)
        except WRITE_ERRORS as exc:
            rollback_quietly(self._db)
            self._write_failed(exc)
            return []
        for memory in rows:
            self._memory.remove(memory.id)
        self._delivered.clear()
        self._failures.clear()
        if conditions:
            self._dirty.clear()
            self._urgent = False
        if self._problem is not None:
            _log.info(
                "alert outbox writable again",
                path=str(self.path),
                written_from_memory=len(rows),
                still_in_memory=len(self._memory),
            )
            self._problem = None
        return dropped

    def _write(self, rows: Sequence[MemoryRow], *, conditions: bool) -> list[Level]:
        """One transaction: delete delivered rows, save attempts and conditions, insert the
        memory rows (or, with nothing to write, probe with a one-row update)."""
        self._db.execute("BEGIN IMMEDIATE")
        if self._delivered:
            self._db.execute(
                "DELETE FROM outbox WHERE id IN (SELECT value FROM json_each(?))",
                (self._delivered_json(),),
            )
        for message_id, (attempts, error) in self._failures.items():
            self._db.execute(
                "UPDATE outbox SET attempts = ?, last_error = ? WHERE id = ?",
                (attempts, error, message_id),
            )
        for key, cond in self._dirty.items() if conditions else ():
            write_condition(self._db, key, cond)
        dropped: list[Level] = []
        if rows:
            busy = json.dumps(sorted(i for i in self._claimed if i > 0))
            dropped = insert_rows(self._db, [m.stored() for m in rows], self.max_pending, busy)
        elif not (self._delivered or self._failures or conditions):
            self._db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('last_write', ?)", (time.time(),)
            )
        self._db.execute("COMMIT")
        return dropped

    def _write_failed(self, exc: BaseException) -> None:
        first = self._problem is None
        since = time.time() if self._problem is None else self._problem.since
        self._problem = describe_write_error(exc, self.path, since)
        self._failed_at = time.monotonic()
        if first:
            _log.warning(
                "cannot write the alert outbox; alerts wait in memory and are delivered from there",
                path=str(self.path),
                reason=self._problem.reason,
                error=self._problem.error,
                in_memory=len(self._memory),
            )

    # ------------------------------------------------------------------ conditions

    def load_conditions(self) -> list[Condition]:
        """The firing conditions a previous run stored ([] when they cannot be read)."""
        with self._lock:
            try:
                return load_conditions(self._db)
            except WRITE_ERRORS as exc:
                _log.warning(
                    "cannot read the stored alert conditions", path=str(self.path), error=str(exc)
                )
                return []

    def save_condition(self, cond: Condition, *, urgent: bool = True) -> None:
        """Store a firing condition (a copy); ``urgent=False`` lets it wait up to 30 s for the
        next write (a change that sent no notice)."""
        with self._lock:
            if not self._dirty:
                self._dirty_since = time.monotonic()
            self._dirty[cond.key] = dataclasses.replace(cond, restored=False)
            if urgent:
                self._urgent = True
                self._flush(retry_wait=True)

    def forget_condition(self, key: str) -> None:
        """Delete a stored condition (it was resolved)."""
        with self._lock:
            if not self._dirty:
                self._dirty_since = time.monotonic()
            self._dirty[key] = None
            self._urgent = True
            self._flush(retry_wait=True)

    # ------------------------------------------------------------------ reading

    def _delivered_json(self) -> str:
        """The ids of delivered rows not yet deleted, for ``json_each`` (``[]`` when none)."""
        return json.dumps(sorted(self._delivered)) if self._delivered else "[]"

    def head(self, channel: str, chat: str | None = None) -> OutgoingMessage | None:
        """The oldest message for a channel, or for one chat of it (rows in memory come after
        the chat's rows in the file: they were raised later)."""
        with self._lock:
            if chat is None:
                row = self._db.execute(
                    "SELECT id, alert_id, chat, level, html, plain FROM outbox WHERE channel = ?"
                    " AND id NOT IN (SELECT value FROM json_each(?)) ORDER BY id LIMIT 1",
                    (channel, self._delivered_json()),
                ).fetchone()
            else:
                row = self._db.execute(
                    "SELECT id, alert_id, chat, level, html, plain FROM outbox WHERE channel = ?"
                    " AND chat = ? AND id NOT IN (SELECT value FROM json_each(?))"
                    " ORDER BY id LIMIT 1",
                    (channel, chat, self._delivered_json()),
                ).fetchone()
            if row is not None:
                return OutgoingMessage(row[0], row[1], row[2], Level(row[3]), row[4], row[5])
            memory = self._memory.head(channel, chat)
            return memory.message() if memory is not None else None

    def claim(self, message_id: int) -> bool:
        """Mark a message as being sent (its chat's memory rows stay put meanwhile); False when
        it is no longer queued (moved to the file or dropped: take the head again)."""
        with self._lock:
            if message_id < 0 and self._memory.get(message_id) is None:
                return False
            if message_id in self._delivered:
                return False
            self._claimed.add(message_id)
            return True

    def release(self, message_id: int) -> None:
        """The send of a claimed message is over (delivered, failed or given up)."""
        with self._lock:
            self._claimed.discard(message_id)

    def count(self, channel: str | None = None) -> int:
        """Pending messages (file and memory), for one channel or all."""
        with self._lock:
            try:
                (n,) = self._db.execute(
                    "SELECT COUNT(*) FROM outbox WHERE (? IS NULL OR channel = ?)"
                    " AND id NOT IN (SELECT value FROM json_each(?))",
                    (channel, channel, self._delivered_json()),
                ).fetchone()
            except WRITE_ERRORS:
                n = 0
            memory = self._memory.count(channel)
        return int(n) + memory

    def pending(self, alert_id: str) -> PendingInfo:
        """How many rows of an alert are left, and the last error of the most-tried one."""
        with self._lock:
            found = [
                self._failures.get(r[0], (int(r[1]), r[2]))
                for r in self._db.execute(
                    "SELECT id, attempts, last_error FROM outbox WHERE alert_id = ?"
                    " AND id NOT IN (SELECT value FROM json_each(?))",
                    (alert_id, self._delivered_json()),
                )
            ]
            found += [(m.attempts, m.last_error) for m in self._memory.of_alert(alert_id)]
        if not found:
            return PendingInfo(0, 0, None)
        attempts, error = max(found, key=lambda f: f[0])
        return PendingInfo(len(found), attempts, error)

    def chats(self, channel: str) -> Sequence[str]:
        """Chats of a channel with pending messages (each is delivered on its own)."""
        with self._lock:
            found = {
                r[0]
                for r in self._db.execute(
                    "SELECT DISTINCT chat FROM outbox WHERE channel = ?"
                    " AND id NOT IN (SELECT value FROM json_each(?))",
                    (channel, self._delivered_json()),
                )
            }
            found.update(self._memory.chats(channel))
        return sorted(found)

    def channels(self) -> Sequence[str]:
        """Channels with pending messages."""
        with self._lock:
            found = {
                r[0]
                for r in self._db.execute(
                    "SELECT DISTINCT channel FROM outbox"
                    " WHERE id NOT IN (SELECT value FROM json_each(?))",
                    (self._delivered_json(),),
                )
            }
            found.update(self._memory.channels())
        return sorted(found)

    # ------------------------------------------------------------------ maintenance at start

    def readdress(self, channel: str, chats_for: Callable[[Level], Sequence[str]]) -> int:
        """Point rows queued for a chat the channel no longer sends to at today's chat for
        their level (``chats_for``); their order and attempts history are kept.  The number
        of rows moved (0 when the file cannot be written now: they are moved at the next start).

        A corrected ``chat_id`` (or a removed ``critical_chat_id``) must not strand the alerts
        queued for the old one: they would be retried, and refused, forever.
        """
        current = {chat for level in Level for chat in chats_for(level)}
        moved = 0
        with self._lock:
            try:
                rows = self._db.execute(
                    "SELECT id, level, chat FROM outbox WHERE channel = ? ORDER BY id", (channel,)
                ).fetchall()
                self._db.execute("BEGIN IMMEDIATE")
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
            except WRITE_ERRORS as exc:
                rollback_quietly(self._db)
                self._write_failed(exc)
                return 0
        return moved

    def drop_channel(self, channel: str) -> int:
        """Delete every row of a channel that is no longer configured; how many (0 when the
        file cannot be written now)."""
        with self._lock:
            try:
                cursor = self._db.execute("DELETE FROM outbox WHERE channel = ?", (channel,))
            except WRITE_ERRORS as exc:
                rollback_quietly(self._db)
                self._write_failed(exc)
                return 0
        return int(cursor.rowcount)

    # ------------------------------------------------------------------ delivery lock

    def acquire_delivery(self) -> bool:
        """Take the exclusive right to deliver (non-blocking); False when another process has it.

        Raises ``OSError`` when the lock file cannot be opened (no descriptor left)."""
        if self._delivery is not None:
            return True
        try:
            self._delivery = FileLock.acquire(
                self.path.with_suffix(".lock"),
                what=f"the alert outbox {self.path}",
                op="deliver alerts",
                hint="another Khronos process delivers these alerts",
            )
        except LockedError:
            return False
        return True

    def release_delivery(self) -> None:
        """Give the delivery right back."""
        if self._delivery is not None:
            self._delivery.release()
            self._delivery = None

    def close(self) -> None:
        """Write what waits in memory if possible, then close the database (and release the
        delivery lock)."""
        self.release_delivery()
        with self._lock:
            if self._closed:
                return
            self._flush(retry_wait=False, everything=True)
            self._closed = True
            self._db.close()
