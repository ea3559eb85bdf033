"""The live status of one database inside ``khronos run``: :class:`DbTracker`, updated by each
poll of Litestream's control socket and by Litestream's log records.  Its
:meth:`~DbTracker.snapshot` is the :class:`~._status.DbStatus` the daemon reports (see
:mod:`._status` for where ``khronos status`` finds it).

**Lag** is the age of the oldest local change that is not in the replica yet, 0 when caught up.
Litestream numbers every local transaction (txid); :class:`DbTracker` remembers when it first saw
each new local txid and forgets it once the replica's txid reaches it, so the lag is
``now - first_seen(oldest pending txid)``.  It is exact to the poll interval and drops to 0 as
soon as the replica catches up.  A replica position of 0 means "not known" (Litestream resets it
after a failed upload), so the last known one is kept.

While Litestream does not answer (it crashed, was given up on, or hangs) no txid can be read,
so the tracker watches the files instead: each answered poll records the newest modification
time of the database and its WAL; a later unanswered poll that finds a newer one knows a change
was committed that Litestream has not seen, and counts the lag from that modification time.
The lag therefore keeps growing (and the lag alert fires) while replication is down, and the
change is handed over to the txid tracking when Litestream answers again.

**Sync errors** are counted from Litestream's log records (:meth:`DbTracker.record_log`): only
the failures of a sync (``monitor error`` for the replica upload, ``sync error`` and "disk full
while staging ltx file" for the local WAL copy), not every ERROR line.  Litestream logs a
failing streak at most every 30 s but each line carries ``consecutive_errors``, and the
"sync recovered" line carries ``previous_errors``: the count is exact, not one per line.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from khronos.backup._control import parse_time
from khronos.backup._status import DbStatus, file_sizes
from khronos.config import DatabaseConfig

__all__ = ["DbTracker", "FileSignature", "change_time", "file_signature"]


FileSignature = tuple[int, int, int] | None
"""A file's (inode, size, mtime in ns), None when it does not exist."""


def file_signature(path: Path) -> FileSignature:
    """What changes when a file is written or replaced (one ``stat``)."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def change_time(path: Path) -> float | None:
    """The newest modification time of the database and its WAL; None when neither exists."""
    times = []
    for candidate in (path, Path(f"{path}-wal")):
        try:
            times.append(candidate.stat().st_mtime)
        except OSError:
            continue
    return max(times, default=None)


_SYNC_ERRORS = {
    "monitor error": "replica",
    "sync error": "db",
    "disk full while staging ltx file, replication paused until space is freed": "db",
}
"""Litestream 0.5.17's log messages for a failed sync, and which loop logs them."""
_RECOVERED = {"replica sync recovered": "replica", "sync recovered": "db"}


def _count(value: object) -> int:
    try:
        return max(1, int(str(value)))
    except ValueError:
        return 1


@dataclass(slots=True)
class DbTracker:
    """The live status of one database, updated by each control-socket poll."""

    db: DatabaseConfig
    local_txid: int | None = None
    replica_txid: int | None = None
    last_sync_at: datetime | None = None
    sync_errors: int = 0
    replicating: bool = False
    pending: dict[int, float] = field(default_factory=dict)
    """Local txids not yet in the replica -> wall time they were first seen."""
    seen_mtime: float | None = None
    """Newest db/WAL modification time when Litestream last reported the txids."""
    unseen_since: float | None = None
    """Modification time of the first change found while Litestream did not answer."""
    streaks: dict[str, int] = field(default_factory=dict)
    """Failing sync streak per loop (replica, db): the ``consecutive_errors`` counted so far."""
    last_error: str | None = None
    """The last sync error's text (as Litestream logged it; mask it before showing it)."""
    failing_since: float | None = None
    """Wall time the current streak of sync errors began."""

    def observe(
        self, local_txid: int, replica_txid: int, now: float, mtime: float | None = None
    ) -> None:
        """Record one answered poll: the txids (replica 0: unknown, keep the last known one).

        ``mtime`` is :func:`change_time` taken *before* asking Litestream, the baseline for
        :meth:`observe_files`.
        """
        if self.local_txid is not None and local_txid < self.local_txid:
            # The database was replaced (a restore): start over.
            self.pending.clear()
            self.replica_txid = None
        if replica_txid > 0:
            self.replica_txid = replica_txid
        self.local_txid = local_txid
        if local_txid > 0 and local_txid > (self.replica_txid or 0):
            first = now if self.unseen_since is None else min(now, self.unseen_since)
            self.pending[local_txid] = min(self.pending.get(local_txid, first), first)
        self.unseen_since = None
        if mtime is not None:
            self.seen_mtime = mtime
        done = self.replica_txid or 0
        for txid in [t for t in self.pending if t <= done]:
            del self.pending[txid]

    def observe_files(self, mtime: float | None) -> None:
        """Record a poll Litestream did not answer: a newer db/WAL file means a change it missed."""
        if mtime is None:
            return
        if self.seen_mtime is None:
            self.seen_mtime = mtime  # never answered yet: changes from now on are counted
        elif mtime > self.seen_mtime and self.unseen_since is None:
            self.unseen_since = mtime

    def record_log(self, record: dict[str, Any]) -> bool:
        """Count the sync errors in one Litestream log record; True when it was about syncing."""
        message = str(record.get("msg", ""))
        loop = _SYNC_ERRORS.get(message)
        if loop is not None:
            streak = _count(record.get("consecutive_errors"))
            seen = self.streaks.get(loop, 0)
            self.sync_errors += streak - seen if streak > seen else streak
            self.streaks[loop] = streak
            self.last_error = str(record.get("error") or message)
            if self.failing_since is None:
                when = parse_time(str(record.get("time") or "")) if record.get("time") else None
                self.failing_since = when.timestamp() if when is not None else time.time()
            return True
        loop = _RECOVERED.get(message)
        if loop is not None:
            total = _count(record.get("previous_errors"))
            self.sync_errors += max(0, total - self.streaks.pop(loop, 0))
            if not self.streaks:
                self.last_error = self.failing_since = None
            return True
        return False

    def lag(self, now: float) -> float:
        """Seconds since the oldest change not yet in the replica was made or seen; 0 if none."""
        starts = list(self.pending.values())
        if self.unseen_since is not None:
            starts.append(self.unseen_since)
        if not starts:
            return 0.0
        return max(0.0, now - min(starts))

    def snapshot(self, now: float | None = None) -> DbStatus:
        """The current status as an immutable :class:`DbStatus`."""
        now = time.time() if now is None else now
        exists, size, wal = file_sizes(self.db.path)
        return DbStatus(
            name=self.db.label,
            path=self.db.path,
            replica=self.db.replica.display,
            local_txid=self.local_txid,
            replica_txid=self.replica_txid,
            lag_seconds=self.lag(now),
            last_sync_at=self.last_sync_at,
            replicating=self.replicating,
            sync_errors=self.sync_errors,
            db_exists=exists,
            db_size_bytes=size,
            wal_size_bytes=wal,
            last_error=self.last_error,
            failing_since=(
                datetime.fromtimestamp(self.failing_since, UTC) if self.failing_since else None
            ),
        )
