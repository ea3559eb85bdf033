"""One writer per log folder: an exclusive ``flock`` on ``DIR/.khronos-logs.lock``.

Two processes writing the same files would each rotate them under the other (one renames
``combined.log`` while the other still appends to it), losing and mixing lines.  That happens
easily: an app calling ``khronos.logs.configure(log_dir="logs")`` next to ``khronos run`` with
``logging.dir: logs``.  So the process that writes a folder holds a lock on it, and a second
process is refused with an error naming the folder and the holder's pid.

``flock`` locks belong to the open file, so the lock disappears with the process (a ``kill -9``
leaves no stale lock: the file stays, the lock does not), and the descriptor is not inherited
by programs started with ``exec`` (it is opened close-on-exec).  A child made by ``os.fork()``
shares the parent's open file; it must not unlock it, only close its copy (:meth:`abandon`).
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

from khronos.errors import KhronosError

__all__ = ["LOCK_NAME", "DirLock"]

LOCK_NAME = ".khronos-logs.lock"
_OP = "configure logging"
_HINT = (
    "give each process its own logging.dir, e.g. logs/worker-1; "
    "for gunicorn/uvicorn workers see 'Several processes' in docs/logs.md"
)
_UNSUPPORTED = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS}


class DirLock:
    """The exclusive lock of this process on a log folder (``None`` descriptor: not lockable)."""

    def __init__(self, directory: Path, fd: int | None) -> None:
        self.directory = directory
        self._fd = fd

    @classmethod
    def acquire(cls, directory: Path) -> DirLock:
        """Lock ``directory`` (created if missing) for this process, or raise KhronosError.

        On a filesystem without ``flock`` the folder is used unlocked.
        """
        path = directory / LOCK_NAME
        try:
            directory.mkdir(parents=True, exist_ok=True)
            for _ in range(5):  # the file may be deleted and recreated while we lock it
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
                if not _lock(fd, directory):
                    return cls(directory, None)
                if _same_file(fd, path):
                    _write_pid(fd)
                    return cls(directory, fd)
                os.close(fd)
        except OSError as exc:
            raise KhronosError(
                f"cannot write the log folder {directory}: {exc.strerror or exc}",
                op=_OP,
                hint="check logging.dir and the permissions of that folder",
            ) from exc
        raise KhronosError(  # pragma: no cover - the lock file kept being replaced
            f"cannot lock the log folder {directory}: {LOCK_NAME} keeps being replaced",
            op=_OP,
            hint=_HINT,
        )

    def is_current(self) -> bool:
        """Whether the lock file is still the one locked (someone may have deleted it)."""
        return self._fd is None or _same_file(self._fd, self.directory / LOCK_NAME)

    def release(self) -> None:
        """Unlock and close (in the process that took the lock)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)

    def abandon(self) -> None:
        """Close this copy without unlocking: in a forked child, the lock stays the parent's."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


def _lock(fd: int, directory: Path) -> bool:
    """Take the lock (True), find locks unsupported (False), or raise: another process has it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read_pid(fd)
        os.close(fd)
        who = f"pid {holder}" if holder else "another process"
        raise KhronosError(
            f"the log folder {directory} is already written by another process ({who})",
            op=_OP,
            hint=_HINT,
        ) from None
    except OSError as exc:
        if exc.errno in _UNSUPPORTED:
            os.close(fd)
            return False
        os.close(fd)
        raise
    return True


def _write_pid(fd: int) -> None:
    """Note our pid for the error a second process gets; on a full disk, lock without it."""
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    except OSError as exc:
        if exc.errno not in {errno.ENOSPC, errno.EDQUOT}:
            raise


def _same_file(fd: int, path: Path) -> bool:
    try:
        current = path.stat()
    except FileNotFoundError:
        return False
    opened = os.fstat(fd)
    return (current.st_ino, current.st_dev) == (opened.st_ino, opened.st_dev)


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
