"""The consistent copy: SQLite's online backup API, in small steps, at low priority.

- **Consistent while the app writes.**  The source is opened read-only and, for a WAL database,
  a read transaction is held for the whole copy: every step then reads the same snapshot of the
  database, so a commit by the app neither restarts the copy (SQLite restarts a backup whose
  source changed between steps) nor shows in it.  Readers do not block writers in WAL mode; the
  price is that the WAL cannot be reset past that snapshot until the copy ends (it grows by what
  the app writes meanwhile, and shrinks at the next checkpoint).  A database in rollback-journal
  mode (Litestream needs WAL, so only outside Khronos' backup) is copied in one step: its shared
  lock holds the app's commits back for the copy's duration, but a copy in steps would start
  over at every commit and might never end.
- **Bounded I/O.**  :data:`STEP_PAGES` pages per step, a short sleep between steps.
- **Waits for the app's locks.**  A commit holds the database locked for a moment; an app that
  commits back to back (in rollback-journal mode, or at a WAL checkpoint) leaves a reader only
  short gaps.  SQLite's own busy handler polls ever more slowly (every 100 ms after a few tries)
  and gives up after its timeout, so under such a writer the copy could fail with "database is
  locked" although gaps came by all the time.  The copy polls every millisecond instead, for
  up to :data:`LOCK_WAIT` seconds, and only then fails (the schedule tries again later).
- **Low priority.**  The copy, compression, encryption and upload run in a thread of their own
  whose CPU niceness is 19 and whose I/O class is best-effort 7 (the lowest that cannot starve:
  the idle class may wait forever on a busy disk, holding the WAL open); threads it starts
  (boto3's transfer threads) inherit both.  The priorities are set back when it ends.

``tmp_dir`` must have room for the copy: a database larger than its free space is refused
before anything is written.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from khronos.errors import SnapshotError

__all__ = ["STEP_PAGES", "STEP_SLEEP", "check_room", "db_bytes", "low_priority", "online_copy"]

STEP_PAGES = 1024
"""Pages per backup step (4 MiB with 4 KiB pages)."""
STEP_SLEEP = 0.002
"""Seconds between steps: the app's I/O goes first."""
LOCK_WAIT = 120.0
"""Seconds the copy waits for the app's write lock to leave it a gap before it fails."""
_BUSY_POLL = 0.001
_NICE = 19
_T = TypeVar("_T")


def db_bytes(path: Path) -> int:
    """The database's size on disk: the file and its WAL (what a copy may need)."""
    total = 0
    for suffix in ("", "-wal"):
        with contextlib.suppress(FileNotFoundError):
            total += Path(f"{path}{suffix}").stat().st_size
    return total


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{count} B"  # pragma: no cover


_WHERE = "khronos run copies into state_dir/snapshots-tmp, khronos snapshot now into TMPDIR"


def check_room(db: Path, tmp_dir: Path) -> int:
    """The database's size; SnapshotError when it does not exist or ``tmp_dir`` lacks room."""
    if not db.is_file():
        raise SnapshotError(
            f"the database {db} does not exist", hint="check backup.dbs[].path (or restore it)"
        )
    size = db_bytes(db)
    try:
        free = shutil.disk_usage(tmp_dir).free
    except OSError as exc:
        raise SnapshotError(
            f"cannot use the temp folder {tmp_dir}: {exc.strerror or exc}",
            hint=f"create it, or give a folder with room ({_WHERE})",
        ) from None
    if size > free:
        raise SnapshotError(
            f"the database {db} ({_size(size)}) is larger than the free space in the temp "
            f"folder {tmp_dir} ({_size(free)})",
            hint=f"free at least {_size(size - free)} there ({_WHERE})",
            recoverable=True,
        )
    return size


@contextlib.contextmanager
def _priority() -> Iterator[None]:
    """This thread at CPU niceness 19 and I/O best-effort 7, restored afterwards (best effort:
    where the OS refuses a change, the thread runs as it was)."""
    tid = threading.get_native_id()
    nice = ionice = None
    proc = None
    with contextlib.suppress(OSError):
        nice = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, _NICE)
    try:
        import psutil  # noqa: PLC0415

        proc = psutil.Process(tid)
        ionice = proc.ionice()
        proc.ionice(psutil.IOPRIO_CLASS_BE, 7)
    except Exception:  # noqa: BLE001 - psutil.Error, OSError, no ioprio here: run unchanged
        proc = None
    try:
        yield
    finally:
        if nice is not None:
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, tid, nice)
        if proc is not None and ionice is not None:
            with contextlib.suppress(Exception):
                proc.ionice(ionice.ioclass, ionice.value)


def low_priority(work: Callable[[], _T]) -> _T:
    """Run ``work`` in a thread of its own at low CPU and I/O priority; its result or error.

    A thread of its own: the caller's thread (often one of asyncio's shared pool) keeps its
    priority even where the OS does not let us raise it back.
    """
    box: dict[str, object] = {}

    def run() -> None:
        with _priority():
            try:
                box["value"] = work()
            except BaseException as exc:  # noqa: BLE001 - handed back to the caller below
                box["error"] = exc

    thread = threading.Thread(target=run, name="khronos-snapshot", daemon=True)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


def online_copy(source: Path, target: Path) -> None:
    """A consistent copy of a live database (see the module docstring); raises sqlite3.Error."""
    src = sqlite3.connect(
        f"{source.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None, timeout=0.02
    )
    deadline = time.monotonic() + LOCK_WAIT
    try:
        mode = _unlocked(lambda: src.execute("PRAGMA journal_mode").fetchone()[0], deadline)
        wal = str(mode).lower() == "wal"
        if wal:
            src.execute("BEGIN")
            # the read snapshot, taken in a gap between the app's commits
            _unlocked(
                lambda: src.execute("SELECT count(*) FROM sqlite_master").fetchone(), deadline
            )
        dst = sqlite3.connect(target, isolation_level=None)
        try:
            pages = STEP_PAGES if wal else -1
            src.backup(  # a busy step is retried every _BUSY_POLL seconds
                dst, pages=pages, progress=lambda *_: time.sleep(STEP_SLEEP), sleep=_BUSY_POLL
            )
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            dst.close()
        if wal:
            src.execute("COMMIT")
    finally:
        src.close()


def _unlocked(action: Callable[[], _T], deadline: float) -> _T:
    """``action()``, tried again every millisecond while the database is locked, until
    ``deadline`` (monotonic); then the busy error."""
    while True:
        try:
            return action()
        except sqlite3.OperationalError as exc:
            code = getattr(exc, "sqlite_errorcode", None)
            busy = code in {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
            if not busy or time.monotonic() >= deadline:
                raise
        time.sleep(_BUSY_POLL)
