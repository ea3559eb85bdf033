"""Nothing queued is lost on SIGTERM; a full queue makes the caller wait, never drops."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from khronos import logs
from khronos.logs import _setup
from tests.logs.helpers import Setup, read_lines, wait_until

LINES = 1000
_WRITER = textwrap.dedent(
    f"""
    import sys, time
    from khronos import logs
    logs.configure(log_dir=sys.argv[1], console="json")
    log = logs.get_logger()
    for n in range({LINES}):
        log.info("line", n=n, pad="x" * 2000)
    print("logged", flush=True)
    while True:
        time.sleep(1)
    """
)


@pytest.mark.integration
def test_sigterm_writes_every_queued_line(tmp_path: Path) -> None:
    """SIGTERM while most lines are still queued: all of them reach combined.log.

    The console (stderr) is a pipe the test does not read until after SIGTERM, so the writer
    thread is stuck on it after ~64 kB and the lines behind wait in the queue.
    """
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"logged\n"
        combined = tmp_path / "combined.log"
        # the writer may not have reached the file yet (it is created on the first write)
        written = combined.read_bytes().count(b"\n") if combined.exists() else 0
        assert written < LINES  # most lines really are still queued
        os.kill(proc.pid, signal.SIGTERM)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=30)  # reaps it and closes the pipes
    assert proc.returncode == -signal.SIGTERM
    assert [r["n"] for r in read_lines(tmp_path / "combined.log")] == list(range(LINES))
    assert stderr.count(b"\n") == LINES


class _BlockingConsole(io.StringIO):
    """A console whose first write waits until the test releases it."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def write(self, text: str) -> int:
        self.entered.set()
        if not self.release.wait(timeout=60):
            raise TimeoutError("the test never released the console")
        return super().write(text)


def test_full_queue_makes_the_caller_wait_and_loses_nothing(
    setup_logs: Setup, tmp_path: Path
) -> None:
    """Past max_queued waiting records the caller waits for the writer; every line arrives."""
    lost_before = logs.records_lost()
    console = _BlockingConsole()
    setup_logs(console_stream=console, max_queued=50)
    log = logs.get_logger()
    log.info("first")
    assert console.entered.wait(timeout=30)  # the writer thread is now stuck on "first"
    burst = threading.Thread(target=lambda: [log.info("burst", n=n) for n in range(200)])
    burst.start()
    wait_until(lambda: _queued() >= 50, "the queue filled up")
    assert burst.is_alive()  # 200 records cannot fit: the caller is waiting for room
    assert _queued() <= 51
    console.release.set()
    burst.join(timeout=60)
    logs.shutdown()
    records = read_lines(tmp_path / "logs/combined.log")
    assert [r.get("n") for r in records] == [None, *range(200)]
    assert logs.records_lost() == lost_before


def _queued() -> int:
    sink = _setup._state.sink
    assert sink is not None
    return sink.queue.qsize()
