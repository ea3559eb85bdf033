"""Helpers of the logs tests: reading the files, waiting for them."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.polling import poll

__all__ = ["Setup", "read_lines", "wait_until"]

Setup = Callable[..., io.StringIO]
"""The ``setup_logs`` fixture: configure() with overrides; returns the console."""


def read_lines(path: Path) -> list[dict[str, Any]]:
    """Every JSON record of a log file (each line must parse)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def wait_until(condition: Callable[[], bool], what: str = "condition") -> None:
    """:func:`tests.polling.poll` with the logs tests' 30 s deadline."""
    poll(condition, timeout=30, what=what, every=0.01)
