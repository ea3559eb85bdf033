"""A small filesystem to fill up: a tmpfs mounted as root, and a filler file that uses its space.

Where mounting is not permitted the test is skipped with the reason (a failure under
``KHRONOS_REQUIRE_INTEGRATION=1``).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["SmallFilesystem", "small_filesystem"]


class SmallFilesystem:
    """A mounted tmpfs: :meth:`fill` it up, :meth:`free` it again."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.filler = root / "filler"

    def fill(self) -> None:
        """Write the filler until the filesystem answers ENOSPC."""
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for chunk in (65536, 4096, 512):
                with contextlib.suppress(OSError):
                    while True:
                        os.write(fd, b"\0" * chunk)
        finally:
            os.close(fd)
        assert os.statvfs(self.root).f_bavail == 0

    def free(self) -> None:
        """Delete the filler: the space is back."""
        self.filler.unlink(missing_ok=True)


@contextlib.contextmanager
def small_filesystem(root: Path, size: str = "2m") -> Iterator[SmallFilesystem]:
    """A tmpfs of ``size`` mounted at ``root`` (created), unmounted afterwards."""
    root.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("a full filesystem needs a tmpfs mounted as root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.strip()}")
    try:
        yield SmallFilesystem(root)
    finally:
        if subprocess.run(["umount", str(root)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(root)], check=False)
