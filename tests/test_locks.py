"""``khronos.locks.FileLock``: refused while held, or waited for with ``wait=``."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from khronos.errors import LockedError
from khronos.locks import FileLock


def _take(path: Path, wait: float = 0.0) -> FileLock:
    return FileLock.acquire(path, what="the test file", op="test", hint="wait", wait=wait)


def test_a_held_lock_is_refused_naming_the_holder(tmp_path: Path) -> None:
    held = _take(tmp_path / "lock")
    try:
        with pytest.raises(LockedError, match=r"the test file is already in use by pid \d+"):
            _take(tmp_path / "lock")
    finally:
        held.release()


def test_wait_takes_the_lock_once_its_holder_lets_go(tmp_path: Path) -> None:
    """A lock held for a moment (a file edit) is waited for, not refused."""
    held = _take(tmp_path / "lock")
    releaser = threading.Timer(0.3, held.release)
    releaser.start()
    try:
        lock = _take(tmp_path / "lock", wait=30.0)
    finally:
        releaser.join()
    assert lock.locked
    lock.release()
