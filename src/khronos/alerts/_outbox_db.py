"""The outbox's SQLite file: its schema, opening it, and a failed write told in plain words.

``state_dir/alerts-outbox.db`` holds two tables: ``outbox`` (one row per alert, channel and
chat, deleted once delivered) and ``conditions`` (the conditions firing now, so they survive a
restart), plus ``meta`` (one row rewritten to probe whether the file is writable again).
:class:`~khronos.alerts.Outbox` is the only user.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from khronos.alerts._catalog import Text, from_json, to_json
from khronos.alerts._model import Condition, Level
from khronos.errors import OutboxError

__all__ = [
    "WRITE_ERRORS",
    "OutboxError",
    "OutboxRow",
    "StoredRow",
    "WriteProblem",
    "connect",
    "describe_write_error",
    "insert_rows",
    "load_conditions",
    "rollback_quietly",
    "write_condition",
]


WRITE_ERRORS = (sqlite3.Error, OSError)
"""What a write to the outbox file can raise: a full disk, no file descriptors left, an I/O
error, a lock held too long by another process, a closed connection."""

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
CREATE TABLE IF NOT EXISTS conditions (
    key TEXT PRIMARY KEY,
    message TEXT NOT NULL,
    notified_message TEXT NOT NULL,
    level INTEGER NOT NULL,
    started REAL NOT NULL,
    last_notified REAL NOT NULL,
    worst TEXT NOT NULL DEFAULT '',
    worst_value REAL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value);
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
class StoredRow:
    """A row to insert, with its history (a row that waited in memory may have been tried)."""

    alert_id: str
    row: OutboxRow
    created_at: float
    attempts: int = 0
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class WriteProblem:
    """Why the outbox file cannot be written now, since when (wall time), for people."""

    path: Path
    reason: str
    """The operating system's words: ``No space left on device``, ``Too many open files``."""
    full: bool
    error: str
    """The error as SQLite or the OS raised it."""
    since: float

    @property
    def message(self) -> str:
        """``state_dir full: cannot write PATH (No space left on device)``."""
        what = "state_dir.full" if self.full else "state_dir.unwritable"
        return Text(what, path=self.path, reason=self.reason)


def connect(path: Path) -> sqlite3.Connection:
    """Open (or create) the outbox file: WAL, ``synchronous=FULL``, temporary data in memory.

    ``temp_store=MEMORY`` keeps SQLite from opening temporary files (sorts, statement
    journals), which would fail once the process is out of file descriptors.
    """
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10.0)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA temp_store=MEMORY")
        db.executescript(_SCHEMA)
        columns = {row[1] for row in db.execute("PRAGMA table_info(conditions)")}
        for column in ("acked_by", "alert_id", "texts"):  # a file written before these existed
            if column not in columns:
                db.execute(f"ALTER TABLE conditions ADD COLUMN {column} TEXT NOT NULL DEFAULT ''")
    except BaseException:
        db.close()
        raise
    return db


def rollback_quietly(db: sqlite3.Connection) -> None:
    """Roll back the open transaction, if there still is one.

    After ``SQLITE_FULL`` or an I/O error SQLite may already have rolled the transaction back,
    and a second ``ROLLBACK`` raises "cannot rollback - no transaction is active".
    """
    if db.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")


def describe_write_error(exc: BaseException, path: Path, since: float) -> WriteProblem:
    """A failed write as a :class:`WriteProblem` naming the operating system's reason.

    SQLite reports ``SQLITE_FULL`` as "database or disk is full" and hides the errno of other
    failures; for those the folder is probed (opening it fails with ``EMFILE`` when no file
    descriptor is left; ``statvfs`` tells a full filesystem).
    """
    error = str(exc) or type(exc).__name__
    if isinstance(exc, OSError):
        return WriteProblem(path, exc.strerror or error, exc.errno == errno.ENOSPC, error, since)
    name = str(getattr(exc, "sqlite_errorname", "") or "")
    if name.startswith("SQLITE_FULL"):
        return WriteProblem(path, os.strerror(errno.ENOSPC), True, error, since)
    try:
        fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as probe:
        reason = probe.strerror or str(probe)
        return WriteProblem(path, reason, probe.errno == errno.ENOSPC, error, since)
    try:
        free = os.fstatvfs(fd).f_bavail
    except OSError:
        free = 1
    finally:
        os.close(fd)
    if free == 0:
        return WriteProblem(path, os.strerror(errno.ENOSPC), True, error, since)
    return WriteProblem(path, error, False, error, since)


def load_conditions(db: sqlite3.Connection) -> list[Condition]:
    """The conditions stored by a previous run, oldest first."""
    rows = db.execute(
        "SELECT key, message, notified_message, level, started, last_notified, worst,"
        " worst_value, acked_by, alert_id, texts FROM conditions ORDER BY started"
    ).fetchall()
    return [
        Condition(
            key=row[0],
            message=_text(row[10], "message", row[1]),
            notified_message=_text(row[10], "notified_message", row[2]),
            level=Level(row[3]),
            started=float(row[4]),
            last_notified=float(row[5]),
            worst=_text(row[10], "worst", row[6]),
            worst_value=None if row[7] is None else float(row[7]),
            restored=True,
            acked_by=row[8] or "",
            alert_id=row[9] or "",
        )
        for row in rows
    ]


def write_condition(db: sqlite3.Connection, key: str, cond: Condition | None) -> None:
    """Store ``cond`` under ``key``, or delete ``key`` when ``cond`` is None (in a transaction)."""
    if cond is None:
        db.execute("DELETE FROM conditions WHERE key = ?", (key,))
        return
    db.execute(
        "INSERT OR REPLACE INTO conditions (key, message, notified_message, level, started,"
        " last_notified, worst, worst_value, acked_by, alert_id, texts)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            key,
            cond.message,
            cond.notified_message,
            int(cond.level),
            cond.started,
            cond.last_notified,
            cond.worst,
            cond.worst_value,
            cond.acked_by,
            cond.alert_id,
            _texts(cond),
        ),
    )


def _texts(cond: Condition) -> str:
    """The condition's catalog texts as JSON (``''`` when all are plain strings), so a restart
    keeps them translatable."""
    found = {
        name: to_json(value)
        for name, value in (
            ("message", cond.message),
            ("notified_message", cond.notified_message),
            ("worst", cond.worst),
        )
        if isinstance(value, Text)
    }
    return json.dumps(found, ensure_ascii=False) if found else ""


def _text(texts: str | None, name: str, plain: str) -> str:
    """The stored text ``name``: the :class:`Text` stored with it, else the plain string."""
    if not texts:
        return plain
    try:
        value = from_json(json.loads(texts).get(name))
    except (ValueError, AttributeError, TypeError):
        return plain
    return value if isinstance(value, Text) else plain


def insert_rows(
    db: sqlite3.Connection, rows: Iterable[StoredRow], max_pending: int, busy: str
) -> list[Level]:
    """Insert rows in order (in a transaction), first dropping the oldest INFO/WARN row - else
    the oldest of any level - whenever the table holds ``max_pending``; rows whose ids are in
    the JSON list ``busy`` (being sent) are never dropped.  The levels of the dropped rows."""
    dropped: list[Level] = []
    (count,) = db.execute("SELECT COUNT(*) FROM outbox").fetchone()
    for stored in rows:
        while count >= max_pending:
            victim = (
                db.execute(
                    "SELECT id, level FROM outbox WHERE level <= ? AND id NOT IN"
                    " (SELECT value FROM json_each(?)) ORDER BY id LIMIT 1",
                    (int(Level.WARN), busy),
                ).fetchone()
                or db.execute(
                    "SELECT id, level FROM outbox WHERE id NOT IN"
                    " (SELECT value FROM json_each(?)) ORDER BY id LIMIT 1",
                    (busy,),
                ).fetchone()
            )
            if victim is None:
                break
            db.execute("DELETE FROM outbox WHERE id = ?", (victim[0],))
            dropped.append(Level(victim[1]))
            count -= 1
        r = stored.row
        db.execute(
            "INSERT INTO outbox (alert_id, channel, chat, level, html, plain, created_at,"
            " attempts, last_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (stored.alert_id, r.channel, r.chat, int(r.level), r.html, r.plain,
             stored.created_at, stored.attempts, stored.last_error),
        )  # fmt: skip
        count += 1
    return dropped
