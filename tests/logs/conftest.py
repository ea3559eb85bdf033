"""Every log test starts from, and leaves, a clean logging state."""

from __future__ import annotations

import io
import json
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from khronos import logs
from tests.polling import poll
from tests.smallfs import SmallFilesystem, small_filesystem


@pytest.fixture(autouse=True)
def _reset_logging() -> Iterator[None]:
    """Restore root handlers and levels, structlog, hooks and the redactor after each test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    hooks = (sys.excepthook, threading.excepthook)
    yield
    logs.reset()
    root.handlers[:] = handlers
    root.setLevel(level)
    sys.excepthook, threading.excepthook = hooks
    structlog.reset_defaults()


Setup = Callable[..., io.StringIO]


@pytest.fixture(name="setup_logs")
def fixture_setup_logs(tmp_path: Path) -> Setup:
    """configure() into tmp_path/logs with JSON on a StringIO console; returns the console."""

    def setup(**kwargs: Any) -> io.StringIO:
        console = io.StringIO()
        options: dict[str, Any] = {
            "log_dir": tmp_path / "logs",
            "console": "json",
            "console_stream": console,
            "service": "test-bot",
            "environment": "test",
            "handle_sigterm": False,
        }
        options.update(kwargs)
        logs.configure(**options)
        return console

    return setup


def read_lines(path: Path) -> list[dict[str, Any]]:
    """Every JSON record of a log file (each line must parse)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(name="small_disk")
def fixture_small_disk(tmp_path: Path) -> Iterator[SmallFilesystem]:
    """A real small filesystem (a 512 kB tmpfs, mounted as root); skips with the reason
    otherwise."""
    with small_filesystem(tmp_path / "disk", "512k") as disk:
        yield disk


def wait_until(condition: Callable[[], bool], what: str = "condition") -> None:
    """:func:`tests.polling.poll` with the logs tests' 30 s deadline."""
    poll(condition, timeout=30, what=what, every=0.01)


def fault_repeat(default: int = 2) -> int:
    """Repetitions for fault and race tests: ``$KHRONOS_FAULT_REPEAT`` (20 in reliability)."""
    raw = os.environ.get("KHRONOS_FAULT_REPEAT", "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        pytest.fail(f"KHRONOS_FAULT_REPEAT must be a whole number >= 1, not {raw!r}")
    return int(raw)
