"""Helpers every test area shares: system binaries, fault repetitions.

Fault and race tests repeat their fault :func:`fault_repeat` times: a small count by default
(``make test``), 20 under ``make reliability`` (``KHRONOS_FAULT_REPEAT=20``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

__all__ = ["REQUIRE_INTEGRATION", "WriteConfig", "fault_repeat", "require_binary"]

REQUIRE_INTEGRATION = "KHRONOS_REQUIRE_INTEGRATION"
WriteConfig = Callable[[str], Path]
"""The ``write_config`` fixture: text to tmp_path/khronos.yml, its path."""


def require_binary(name: str) -> str:
    """The path of a system binary, or skip with a one-line reason (a failure in CI)."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (run `make system-deps` as root)")
    return path


def fault_repeat(default: int = 2) -> int:
    """Repetitions for fault and race tests: ``$KHRONOS_FAULT_REPEAT``, else ``default``."""
    raw = os.environ.get("KHRONOS_FAULT_REPEAT", "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        pytest.fail(f"KHRONOS_FAULT_REPEAT must be a whole number >= 1, not {raw!r}")
    return int(raw)
