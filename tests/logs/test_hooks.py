"""Uncaught exceptions land in exceptions.log with their stack and correlation ID."""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from khronos import logs
from tests.logs.helpers import Setup, read_lines


@pytest.mark.integration
def test_main_thread_crash_is_in_exceptions_log(tmp_path: Path) -> None:
    """A real process dying of an uncaught exception leaves it, with the stack, in the file."""
    script = textwrap.dedent(
        f"""
        from khronos import logs
        logs.configure(log_dir={str(tmp_path)!r}, console="off")
        def deep():
            raise ValueError("main thread broke")
        with logs.bind_correlation_id("crash-1"):
            deep()
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 1
    (record,) = read_lines(tmp_path / "exceptions.log")
    assert record["level"] == "critical"
    assert record["correlationId"] == "crash-1"
    assert "in deep" in record["exception"]
    assert "main thread broke" in record["exception"]
    assert read_lines(tmp_path / "critical.log") == [record]


def test_thread_crash_is_in_exceptions_log(setup_logs: Setup, tmp_path: Path) -> None:
    """threading.excepthook logs the failing thread's exception with its correlation ID."""
    setup_logs()

    def worker() -> None:
        with logs.bind_correlation_id("thread-7"):
            raise RuntimeError("worker broke")

    thread = threading.Thread(target=worker, name="worker-1")
    thread.start()
    thread.join(timeout=30)
    logs.shutdown()
    (record,) = read_lines(tmp_path / "logs/exceptions.log")
    assert record["thread"] == "worker-1"
    assert record["correlationId"] == "thread-7"
    assert "worker broke" in record["exception"]
    assert "in worker" in record["exception"]


@pytest.mark.asyncio
async def test_asyncio_task_crash_is_in_exceptions_log(setup_logs: Setup, tmp_path: Path) -> None:
    """A task whose exception is never retrieved is logged with the ID it was started under."""
    setup_logs()
    logs.install_asyncio_handler()

    async def failing() -> None:
        raise KeyError("task broke")

    with logs.bind_correlation_id("task-3"):
        task = asyncio.create_task(failing(), name="failing-task")
    await asyncio.wait({task}, timeout=30)  # waiting does not retrieve the exception
    assert task.done()
    del task
    gc.collect()
    logs.shutdown()
    (record,) = read_lines(tmp_path / "logs/exceptions.log")
    assert record["task"] == "failing-task"
    assert record["correlationId"] == "task-3"
    assert "task broke" in record["exception"]
    assert "in failing" in record["exception"]


def test_uninstall_restores_the_previous_hooks(setup_logs: Setup) -> None:
    """uninstall_exception_hooks puts back the hooks that were there."""
    before = (sys.excepthook, threading.excepthook)
    setup_logs()
    assert sys.excepthook is not before[0]
    logs.uninstall_exception_hooks()
    assert (sys.excepthook, threading.excepthook) == before
