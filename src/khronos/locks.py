"""One exclusive lock per resource, held by a process for as long as it lives: ``flock`` on a file.

A :class:`FileLock` is an open file with an exclusive ``flock`` and the holder's pid written in
it, so a second process is refused with :class:`LockedError` naming the first one's pid.
``flock`` locks belong to the open file: the lock disappears with the process (a ``kill -9``
leaves no stale lock, only the file), and the descriptor is opened close-on-exec so programs the
holder starts do not inherit it.  On a filesystem without ``flock`` the resource is used
unlocked (:attr:`FileLock.locked` is False).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from pathlib import Path

from khronos.errors import LockedError

__all__ = ["FileLock", "LockedError"]

_UNSUPPORTED = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS}


class FileLock:
    """This process's exclusive lock on ``path``."""

    def __init__(self, path: Path, fd: int | None) -> None:
        self.path = path
        self._fd = fd

    @property
    def locked(self) -> bool:
        """Whether the lock is held (False on a filesystem without ``flock``, or released)."""
        return self._fd is not None

    @classmethod
    def acquire(
        cls,
        path: Path,
        *,
        what: str,
        op: str,
        hint: str,
        mode: int = 0o600,
        note: str = "",
        wait: float = 0.0,
    ) -> FileLock:
        """Lock ``path`` (its folder created if missing) or raise :class:`LockedError`.

        ``what`` names the resource in the refusal ("the database /srv/app.db"); ``note`` is
        written after the pid (a state_dir, say) for the next holder's error message.  ``wait``
        seconds: try again every 10 ms while another process holds it (a lock held for a moment
        around a file edit), then refuse.
        """
        deadline = time.monotonic() + wait
        while True:
            try:
                return cls._acquire(path, what=what, op=op, hint=hint, mode=mode, note=note)
            except LockedError:
                if time.monotonic() >= deadline:
                    raise
            time.sleep(0.01)  # real time: the other process holds it for milliseconds

    @classmethod
    def _acquire(
        cls, path: Path, *, what: str, op: str, hint: str, mode: int, note: str
    ) -> FileLock:
        path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(5):  # the file may be deleted and recreated while we lock it
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, mode)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder, extra = _read_holder(fd)
                os.close(fd)
                who = f"pid {holder}" if holder else "another process"
                if extra:
                    who += f", {extra}"
                raise LockedError(
                    f"{what} is already in use by {who}", holder=holder, op=op, hint=hint
                ) from None
            except OSError as exc:
                os.close(fd)
                if exc.errno in _UNSUPPORTED:
                    return cls(path, None)
                raise
            if _same_file(fd, path):
                with contextlib.suppress(OSError):  # the pid is a courtesy: a full disk says no
                    os.ftruncate(fd, 0)
                    os.pwrite(fd, f"{os.getpid()} {note}".strip().encode() + b"\n", 0)
                return cls(path, fd)
            os.close(fd)
        raise LockedError(  # pragma: no cover - the lock file kept being replaced
            f"cannot lock {what}: {path} keeps being replaced", holder=None, op=op, hint=hint
        )

    def is_current(self) -> bool:
        """Whether ``path`` is still the file locked (someone may have deleted or replaced it;
        an unlocked lock on a filesystem without ``flock`` is always current)."""
        return self._fd is None or _same_file(self._fd, self.path)

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

    def __repr__(self) -> str:
        return f"FileLock({str(self.path)!r}, locked={self.locked})"


def _same_file(fd: int, path: Path) -> bool:
    try:
        current = path.stat()
    except FileNotFoundError:
        return False
    opened = os.fstat(fd)
    return (current.st_ino, current.st_dev) == (opened.st_ino, opened.st_dev)


def _read_holder(fd: int) -> tuple[int | None, str]:
    try:
        text = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip()
    except OSError:
        return None, ""
    pid, _, note = text.partition(" ")
    return (int(pid) if pid.isdigit() else None), note.strip()
