"""The snapshot libraries (boto3, pyrage, zstandard) load only when a snapshot is taken, listed
or fetched: not for ``khronos --help``, ``khronos status``, or by importing the package."""

from __future__ import annotations

import subprocess
import sys

_LIBRARIES = ("boto3", "botocore", "pyrage", "zstandard")
_SHOW = """
import atexit, sys
atexit.register(lambda: print("\\n".join(sys.modules), file=sys.stderr))
"""


def _loaded(code: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", f"{_SHOW}\n{code}\n"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    modules = set(done.stderr.split())
    return sorted(m for m in modules if m.split(".")[0] in _LIBRARIES)


def test_importing_the_snapshot_package_loads_no_library() -> None:
    """``import khronos.snapshots`` (what the daemon does) loads none of them."""
    assert _loaded("import khronos.snapshots") == []


def test_status_and_help_load_no_snapshot_library() -> None:
    """``khronos --help`` and ``khronos status --help`` load none of them."""
    for argv in (["--help"], ["status", "--help"], ["snapshot", "now", "--help"]):
        code = (
            f"import sys; sys.argv = ['khronos', *{argv!r}]\nfrom khronos.cli import main; main()"
        )
        assert _loaded(code) == [], argv
