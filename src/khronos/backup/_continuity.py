"""The crash window: holding a database's WAL while Litestream is away, and proving continuity.

While Litestream runs it holds a long read transaction on each database, so the application's
own checkpoints cannot reset the WAL under frames Litestream has not copied yet.  When Litestream
is *not* running (it crashed, it waits for its restart delay, Khronos gave up on it, Khronos
itself was down), nothing holds the WAL: the application's autocheckpoint (SQLite's default)
copies the unshipped frames into the database, resets the WAL, and the restarted Litestream
carries on from the new WAL without noticing — committed rows are missing from the replica, and
a restore may fail outright ("2nd reference to page N").  Measured here with Litestream 0.5.17.

Khronos closes that window in two ways:

- :class:`WalGuard` holds a read transaction (read-only connection: it never checkpoints, not
  even on close) whenever Litestream is not replicating the database; a reader on the WAL keeps
  every writer from resetting it, so the frames stay where Litestream left them.  It is released
  once Litestream has taken over (it answered a sync for that database, so it holds its own).
- :func:`continuity_gap` checks, before Litestream starts, that the WAL is still the one
  Litestream last copied from: the newest local LTX file records the WAL's salts and the offset
  it copied up to (LTX header: ``WALOffset``, ``WALSize``, ``WALSalt1/2``).  Different salts, a
  shorter or missing WAL mean the WAL was reset in between, and frames written before the reset
  may never have been shipped — the caller then takes a fresh snapshot so the replica is
  complete again.  This also covers the window no guard can: Khronos itself killed, and the few
  milliseconds between Litestream's death and the guard.  A reset by Litestream's own final
  checkpoint looks the same from here: that costs one snapshot, never a lost row.

The LTX and WAL headers are read by hand (a few big-endian integers at fixed offsets, from the
LTX format of superfly/ltx and SQLite's WAL format): no library reads them, and parsing them
needs nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
import struct
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import structlog

from khronos.backup._alerts import AlertSink
from khronos.catalog import Text
from khronos.config import DatabaseConfig
from khronos.errors import KhronosError

__all__ = [
    "CONTINUITY_ALERT",
    "ContinuityKeeper",
    "ShippedPosition",
    "WalGuard",
    "WalHeader",
    "continuity_gap",
    "shipped_position",
    "wal_header",
]

_LTX_MAGIC = b"LTX1"
_LTX_HEADER = struct.Struct(">4sIIIQQqQqqII")  # magic ... WALOffset, WALSize, WALSalt1, WALSalt2
_WAL_MAGICS = {0x377F0682, 0x377F0683}
_WAL_HEADER = struct.Struct(">IIIIII")  # magic, version, page size, checkpoint seq, salt1, salt2
_LTX_NAME = re.compile(r"([0-9a-f]{16})-([0-9a-f]{16})\.ltx")
_log = structlog.get_logger("khronos.backup")


@dataclass(frozen=True, slots=True)
class ShippedPosition:
    """Where Litestream last copied the WAL to a local LTX file."""

    txid: int
    wal_end: int
    """The WAL offset copied up to (``WALOffset + WALSize``)."""
    salt1: int
    salt2: int


@dataclass(frozen=True, slots=True)
class WalHeader:
    """A WAL file's identity (its salts change each time it is reset) and size."""

    salt1: int
    salt2: int
    size: int


def meta_dir(db_path: Path) -> Path:
    """Litestream's local state folder for a database: ``.<name>-litestream`` beside it."""
    return db_path.parent / f".{db_path.name}-litestream"


def shipped_position(db_path: Path) -> ShippedPosition | None:
    """The newest level-0 LTX file's position, or None when Litestream has none (or it is
    unreadable: then continuity cannot be proven either, see :func:`continuity_gap`)."""
    newest: tuple[int, Path] | None = None
    with contextlib.suppress(OSError):
        for path in (meta_dir(db_path) / "ltx" / "0").iterdir():
            match = _LTX_NAME.fullmatch(path.name)
            if match is not None and (newest is None or int(match[2], 16) > newest[0]):
                newest = (int(match[2], 16), path)
    if newest is None:
        return None
    try:
        with newest[1].open("rb") as handle:
            raw = handle.read(_LTX_HEADER.size)
        fields = _LTX_HEADER.unpack(raw)
    except (OSError, struct.error):
        return None
    if fields[0] != _LTX_MAGIC:
        return None
    wal_offset, wal_size, salt1, salt2 = fields[8], fields[9], fields[10], fields[11]
    return ShippedPosition(newest[0], wal_offset + wal_size, salt1, salt2)


def wal_header(db_path: Path) -> WalHeader | None:
    """The database's WAL header, or None when there is no WAL (or only part of a header)."""
    try:
        with Path(f"{db_path}-wal").open("rb") as handle:
            raw = handle.read(_WAL_HEADER.size)
            size = handle.seek(0, 2)
    except OSError:
        return None
    if len(raw) < _WAL_HEADER.size:
        return None
    magic, _version, _page, _seq, salt1, salt2 = _WAL_HEADER.unpack(raw)
    if magic not in _WAL_MAGICS:
        return None
    return WalHeader(salt1, salt2, size)


def continuity_gap(db_path: Path) -> str | None:
    """Why the WAL may have been reset since Litestream last copied it; None when it was not.

    Nothing to prove (None) when the database does not exist or Litestream never copied it
    (its first sync takes a snapshot anyway).
    """
    if not db_path.exists():
        return None
    shipped = shipped_position(db_path)
    if shipped is None:
        if meta_dir(db_path).exists() and any((meta_dir(db_path) / "ltx").glob("*/*.ltx")):
            return Text("backup.ltx_unreadable")
        return None
    wal = wal_header(db_path)
    if wal is None:
        return Text("backup.wal_gone")
    if (wal.salt1, wal.salt2) != (shipped.salt1, shipped.salt2):
        return Text(
            "backup.wal_reset",
            before=f"{shipped.salt1:08x}/{shipped.salt2:08x}",
            after=f"{wal.salt1:08x}/{wal.salt2:08x}",
        )
    if wal.size < shipped.wal_end:
        return Text("backup.wal_shorter", size=wal.size, shipped=shipped.wal_end)
    return None


class WalGuard:
    """A read transaction that keeps one database's WAL from being reset (see the module doc).

    :meth:`hold` and :meth:`release` are idempotent and cheap; :meth:`hold` returns whether the
    WAL is held now (False when the database does not exist yet, or cannot be opened: the
    caller tries again on its next pass).
    """

    def __init__(self, db_path: Path, *, busy_timeout: float = 2.0) -> None:
        self.db_path = db_path
        self.busy_timeout = busy_timeout
        self._conn: sqlite3.Connection | None = None
        self._failed: str | None = None

    @property
    def held(self) -> bool:
        """Whether the read transaction is open."""
        return self._conn is not None and self._conn.in_transaction

    def _connect(self) -> sqlite3.Connection | None:
        if self._conn is None:
            # read-only: this connection never checkpoints, not even when it closes
            self._conn = sqlite3.connect(
                f"{self.db_path.resolve().as_uri()}?mode=ro",
                uri=True,
                isolation_level=None,
                timeout=self.busy_timeout,
                check_same_thread=False,
            )
        return self._conn

    def hold(self) -> bool:
        """Open the read transaction."""
        if self.held:
            return True
        if not self.db_path.exists():
            return False
        try:
            conn = self._connect()
            assert conn is not None  # noqa: S101 - _connect returns one or raises
            conn.execute("BEGIN")
            conn.execute("SELECT count(*) FROM sqlite_master").fetchall()  # takes the read mark
        except sqlite3.Error as exc:
            self.release()
            if self._failed != str(exc):
                _log.warning(
                    "cannot hold the WAL while Litestream is not running",
                    db=str(self.db_path),
                    error=str(exc),
                )
                self._failed = str(exc)
            return False
        self._failed = None
        return True

    def release(self) -> None:
        """End the read transaction: Litestream holds its own now (or Khronos is stopping)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            conn.close()

    def truncate(self) -> bool:
        """Checkpoint the whole WAL into the database and truncate it to zero bytes (SQLite's
        ``wal_checkpoint(TRUNCATE)``, what the application's own checkpoints do, made total);
        True when it did.  Then hold the WAL again.

        Litestream, finding its WAL position beyond the end of the WAL, writes a full snapshot
        of the database as its next LTX file: the one repair that later compactions carry
        along (a separate snapshot file is not enough: a restore applies compacted files that
        overlap it, with the page versions of the broken stream).  The guard's own connection
        stays open meanwhile (without its transaction, which would block the checkpoint), so
        the checkpointing connection is never the last one: closing it cannot delete the WAL.
        False when a reader of the application kept the checkpoint from finishing within the
        busy timeout, or the database cannot be opened.
        """
        if not self.db_path.exists():
            return False
        done = False
        try:
            conn = self._connect()
            if conn is not None and conn.in_transaction:
                conn.execute("ROLLBACK")
            writer = sqlite3.connect(self.db_path, timeout=self.busy_timeout, isolation_level=None)
            try:
                busy, _frames, _done = writer.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                done = busy == 0
            finally:
                writer.close()
        except sqlite3.Error as exc:
            _log.warning("cannot checkpoint the WAL", db=str(self.db_path), error=str(exc))
        self.hold()
        return done

    def __repr__(self) -> str:
        return f"WalGuard({str(self.db_path)!r}, held={self.held})"


SnapshotTaker = Callable[[list[DatabaseConfig]], Awaitable[None]]
CONTINUITY_ALERT = "backup.continuity"
"""Alert key prefix (``backup.continuity.<db>``): continuity was lost and is not repaired yet."""
_RETRY_FIRST_S = 60.0
_RETRY_MAX_S = 1800.0


class ContinuityKeeper:
    """For every database: its :class:`WalGuard`, the continuity check before Litestream starts,
    and the repair that makes the replica complete again when continuity was lost.

    The repair happens while Litestream is stopped (before it starts, or in a planned restart
    that ``request_restart`` asks for): the WAL is checkpointed and truncated
    (:meth:`WalGuard.truncate`), so the starting Litestream writes a full snapshot as its next
    LTX file.  When the checkpoint cannot finish (a long read transaction of the application),
    ``take_snapshot`` writes a separate snapshot (``replicate -once -force-snapshot``: most
    restores use it), the ERROR alert ``backup.continuity.<db>`` stays open, and the repair is
    tried again (after 1 minute, doubling to 30).
    """

    def __init__(
        self,
        dbs: list[DatabaseConfig],
        *,
        alerts: AlertSink,
        take_snapshot: SnapshotTaker,
        request_restart: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.dbs = {db.label: db for db in dbs}
        self.guards = {db.label: WalGuard(db.path) for db in dbs}
        self.alerts = alerts
        self.take_snapshot = take_snapshot
        self.request_restart = request_restart
        self.clock = clock
        self.owed: dict[str, str] = {}
        """Databases whose replica needs repairing -> why."""
        self.repairs = dict.fromkeys(self.dbs, 0)
        """Repairs done (full snapshots), per database (a metric)."""
        self.pending: dict[str, int] = {}
        """Databases whose WAL was truncated for a repair -> the txid Litestream had shipped;
        the repair is done when Litestream reports a later one (:meth:`observed`)."""
        self._retry_at = 0.0
        self._retry_delay = _RETRY_FIRST_S

    def hold_all(self) -> None:
        """Hold every database's WAL (Litestream just exited, or is about to start)."""
        for guard in self.guards.values():
            guard.hold()

    def hold(self, label: str) -> None:
        """Hold one database's WAL (Litestream does not replicate it now)."""
        self.guards[label].hold()

    def release(self, label: str) -> None:
        """Let go of one database's WAL: Litestream answered for it, so it holds its own."""
        self.guards[label].release()

    def release_all(self) -> None:
        """Let go of every WAL (stopping)."""
        for guard in self.guards.values():
            guard.release()

    def flag(self, label: str, reason: str) -> None:
        """The replica of ``label`` may miss changes: repair it at the next chance."""
        if label not in self.owed:
            _log.warning("the backup needs a repair", db=label, reason=reason)
            self.owed[label] = reason
            self._retry_at = 0.0

    def tick(self) -> None:
        """While Litestream runs: ask for a planned restart when a repair is owed and due (not
        while one waits for Litestream's snapshot)."""
        if set(self.owed) - set(self.pending) and self.clock() >= self._retry_at:
            self._retry_at = self.clock() + self._retry_delay
            self.request_restart()

    async def before_start(self) -> None:
        """Litestream is about to start: hold the WALs, check continuity, repair what needs it."""
        self.hold_all()
        for label, db in self.dbs.items():
            reason = continuity_gap(db.path)
            if reason is not None:
                self.flag(label, reason)
        failed = []
        for label in sorted(self.owed):
            guard = self.guards[label]
            before = shipped_position(guard.db_path)
            if await asyncio.to_thread(guard.truncate):
                self.pending[label] = before.txid if before is not None else 0
                _log.warning(
                    "continuity of the WAL was lost: Litestream takes a full snapshot now, so "
                    "the replica is complete again (points in time before it may miss changes)",
                    db=label,
                    reason=self.owed[label],
                )
            else:
                failed.append(label)
        if failed:
            await self._fallback(failed)

    def observed(self, label: str, local_txid: int) -> None:
        """Litestream answered a sync of ``label`` with ``local_txid``: a repair waiting for
        its snapshot is done once Litestream wrote a transaction past the old position.  Until
        then it stays owed: a Khronos stopped before (Litestream never synced) repairs again
        at its next start (the truncated WAL fails the continuity check)."""
        before = self.pending.get(label)
        if before is None or local_txid <= before:
            return
        del self.pending[label]
        self.owed.pop(label, None)
        self.repairs[label] += 1
        self._retry_delay = _RETRY_FIRST_S
        _log.info("full snapshot taken: the replica is complete again", db=label, txid=local_txid)
        self.alerts.resolve(f"{CONTINUITY_ALERT}.{label}")

    async def _fallback(self, labels: list[str]) -> None:
        problem = Text("backup.no_checkpoint")
        try:
            await self.take_snapshot([self.dbs[label] for label in labels])
        except KhronosError as exc:
            problem = Text("backup.snapshot_failed", problem=problem, error=exc.message)
        else:
            problem = Text("backup.snapshot_taken", problem=problem)
        self._retry_at = self.clock() + self._retry_delay
        for label in labels:
            _log.error("the backup could not be repaired yet", db=label, problem=problem)
            self.alerts.fire(
                f"{CONTINUITY_ALERT}.{label}",
                Text(
                    "backup.continuity",
                    db=label,
                    reason=self.owed[label],
                    problem=problem,
                    delay=self._retry_delay,
                ),
                "ERROR",
                {"db": label, "hint": Text("backup.continuity.hint")},
            )
        self._retry_delay = min(_RETRY_MAX_S, self._retry_delay * 2)
