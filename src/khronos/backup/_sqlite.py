"""SQLite helpers for restore and the restore drill: integrity checks, safety copies, and who has
a database open.

**Who has it open.**  Two cheap, exact sources, both from the kernel, no SQLite connection needed
(opening one would rewrite the ``-shm`` index and, on close, checkpoint the WAL):

- ``/proc/locks``: every SQLite connection holds POSIX locks on its database: in WAL mode a shared
  lock on the ``-shm`` "dead man switch" byte for as long as it is open, and a write lock on the
  ``-shm`` WAL_WRITE byte while it writes; in rollback mode locks on the database's lock bytes
  during transactions.  The kernel lists them by inode and pid for every user and every container
  on the host, so this sees writers we could not see otherwise.
- ``/proc/<pid>/fd``: which processes hold the database, ``-wal`` or ``-shm`` open (named, for the
  message); processes of other users are skipped when we may not read their fds.

Our own process is ignored (a library user must close its own connections first).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = [
    "SIDECARS",
    "DbHolder",
    "backup_copy",
    "db_holders",
    "fsync_dir",
    "integrity_problems",
    "raw_copy",
    "remove_sidecars",
    "reserve_path",
]

SIDECARS = ("-wal", "-shm", "-journal")
_MAX_CMDLINE = 400
IntegrityMode = Literal["quick", "full", "none"]


@dataclass(frozen=True, slots=True)
class DbHolder:
    """A process that has a database (or its -wal/-shm) open."""

    pid: int
    name: str
    cmdline: str

    @property
    def is_litestream(self) -> bool:
        """True when the process is a Litestream binary (replicating the database)."""
        return "litestream" in self.name or self.cmdline.split(" ", 1)[0].endswith("litestream")

    def describe(self) -> str:
        """``pid 123 (python3 app.py)``: the whole command line, or whole words of a long one."""
        text = self.cmdline or self.name
        cut = text.rfind(" ", 0, _MAX_CMDLINE) if len(text) > _MAX_CMDLINE else -1
        if cut > 0:
            text = f"{text[:cut]} …"
        return f"pid {self.pid} ({text})"


def _files(path: Path) -> list[Path]:
    return [path, *(Path(f"{path}{suffix}") for suffix in SIDECARS)]


def _proc_info(pid: int) -> tuple[str, str]:
    try:
        name = Path(f"/proc/{pid}/comm").read_text(encoding="utf-8").strip()
    except OSError:
        name = "?"
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        cmdline = raw.replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        cmdline = ""
    return name, cmdline


def _lock_pids(paths: list[Path]) -> set[int]:
    """Pids holding POSIX/OFD locks on any of ``paths`` (by device and inode)."""
    keys: set[tuple[int, int, int]] = set()
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            continue
        keys.add((os.major(st.st_dev), os.minor(st.st_dev), st.st_ino))
    if not keys:
        return set()
    pids: set[int] = set()
    try:
        lines = Path("/proc/locks").read_text(encoding="utf-8").splitlines()
    except OSError:
        return pids
    for line in lines:
        fields = line.split()
        # "1: POSIX  ADVISORY  READ 30039 fe:00:2171910 124 124" ("->" marks blocked waiters)
        if "->" in fields:
            fields.remove("->")
        if len(fields) < 6:
            continue
        try:
            pid = int(fields[4])
            major, minor, inode = fields[5].split(":")
            key = (int(major, 16), int(minor, 16), int(inode))
        except ValueError:
            continue
        if key in keys and pid > 0:
            pids.add(pid)
    return pids


def _fd_pids(paths: list[Path]) -> set[int]:
    """Pids with an open file descriptor on any of ``paths`` (those we may inspect)."""
    wanted = {str(p.resolve()) for p in paths if p.exists()}
    if not wanted:
        return set()
    pids: set[int] = set()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fds = os.scandir(f"/proc/{entry.name}/fd")
        except OSError:
            continue
        with fds:
            for fd in fds:
                try:
                    if str(Path(fd.path).readlink()) in wanted:
                        pids.add(int(entry.name))
                        break
                except OSError:
                    continue
    return pids


def db_holders(path: Path) -> list[DbHolder]:
    """Other processes that have the database open (by /proc/locks and /proc/*/fd)."""
    paths = _files(path)
    pids = (_lock_pids(paths) | _fd_pids(paths)) - {os.getpid()}
    return [DbHolder(pid, *_proc_info(pid)) for pid in sorted(pids)]


def integrity_problems(path: Path, mode: IntegrityMode = "full") -> list[str]:
    """The problems ``PRAGMA integrity_check`` (or ``quick_check``) finds; empty when ok.

    The database is opened read-only; an unreadable file is one problem.
    """
    if mode == "none":
        return []
    pragma = "quick_check" if mode == "quick" else "integrity_check"
    try:
        with contextlib.closing(
            sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        ) as c:
            rows = [str(r[0]) for r in c.execute(f"PRAGMA {pragma}")]
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    return [] if rows == ["ok"] else rows


def backup_copy(source: Path, target: Path) -> None:
    """Copy a live database, WAL included, with SQLite's online backup API.

    The source is opened read-only, so its database and WAL files are not modified (SQLite may
    rewrite the ``-shm`` index, which holds no data).  Raises sqlite3.Error.
    """
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            dst.close()
    finally:
        src.close()


def raw_copy(source: Path, target: Path) -> list[Path]:
    """Copy the database file and its sidecars as they are (for a database SQLite cannot read)."""
    copied = []
    for suffix in ("", *SIDECARS):
        src = Path(f"{source}{suffix}")
        if src.exists():
            dst = Path(f"{target}{suffix}")
            shutil.copy2(src, dst)
            copied.append(dst)
    return copied


def reserve_path(base: Path, *, attempts: int = 1000) -> Path:
    """Create ``base`` (or ``base-2``, ``base-3``...) exclusively, empty, mode 0600; its path.

    Two restores in the same second must not share a safety copy's name: the second would
    overwrite the first.  ``O_CREAT | O_EXCL`` makes the claim atomic; the caller then writes
    into the empty file it owns.
    """
    for n in range(1, attempts + 1):
        candidate = base if n == 1 else base.with_name(f"{base.name}-{n}")
        try:
            fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        os.close(fd)
        return candidate
    raise FileExistsError(f"{base} and {attempts - 1} numbered variants already exist")


def remove_sidecars(path: Path) -> None:
    """Delete ``path``'s -wal, -shm and -journal (a half-written copy's leftovers)."""
    for suffix in SIDECARS:
        with contextlib.suppress(FileNotFoundError):
            Path(f"{path}{suffix}").unlink()


def fsync_dir(path: Path) -> None:
    """Make renames in a folder durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
