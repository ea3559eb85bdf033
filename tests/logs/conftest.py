"""Every log test starts from, and leaves, a clean logging state."""

from __future__ import annotations

import io
import logging
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from khronos import logs
from tests.logs.helpers import Setup
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


@pytest.fixture(name="small_disk")
def fixture_small_disk(tmp_path: Path) -> Iterator[SmallFilesystem]:
    """A real small filesystem (a 512 kB tmpfs, mounted as root); skips with the reason
    otherwise."""
    with small_filesystem(tmp_path / "disk", "512k") as disk:
        yield disk
