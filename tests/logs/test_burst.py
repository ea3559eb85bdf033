"""A burst never loses a line: the callers wait for the writer instead (checked by count)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from khronos import logs
from khronos.logs._sink import DEFAULT_MAX_QUEUED
from tests.logs.helpers import Setup, read_lines

THREADS = 4
PER_THREAD = 10_000


def _all_records(directory: Path) -> list[dict[str, object]]:
    rotated = sorted(directory.glob("combined.log.*"), key=lambda p: -int(p.suffix[1:]))
    return [r for path in [*rotated, directory / "combined.log"] for r in read_lines(path)]


@pytest.mark.parametrize("max_queued", [DEFAULT_MAX_QUEUED, 64])
def test_burst_from_several_threads_keeps_every_line_in_order(
    setup_logs: Setup, tmp_path: Path, max_queued: int
) -> None:
    """4 threads x 10,000 lines, far more than the queue holds: all there, in order per thread."""
    lost_before = logs.records_lost()
    setup_logs(console="off", max_queued=max_queued)
    log = logs.get_logger()

    def burst(thread: int) -> None:
        for n in range(PER_THREAD):
            log.info("burst", thread=thread, n=n)

    threads = [threading.Thread(target=burst, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    logs.shutdown()
    records = _all_records(tmp_path / "logs")
    assert len(records) == THREADS * PER_THREAD
    for thread_number in range(THREADS):
        numbers = [r["n"] for r in records if r["thread"] == thread_number]
        assert numbers == list(range(PER_THREAD))
    assert logs.records_lost() == lost_before


_WRITER_LOGS_ITSELF = textwrap.dedent(
    """
    import logging, sys, threading
    from khronos import logs

    class LogsWhenPrinted:  # its str() logs through logging, on the writer thread
        def __str__(self):
            logging.getLogger("lib").warning("printed")
            return "value"

    logs.configure(log_dir=sys.argv[1], console="off", handle_sigterm=False, max_queued=2)
    log = logging.getLogger("lib")
    burst = threading.Thread(target=lambda: [log.warning("w %d", n) for n in range(300)])
    burst.start()
    for _ in range(100):
        logs.get_logger().info("object", value=LogsWhenPrinted())
    burst.join()
    logs.shutdown()
    """
)


def test_writer_logging_itself_while_callers_wait_does_not_deadlock(tmp_path: Path) -> None:
    """A record the writer logs while rendering goes through even when the queue is full.

    Run in its own process: a deadlock would hang it (the timeout ends it).
    """
    subprocess.run(
        [sys.executable, "-c", _WRITER_LOGS_ITSELF, str(tmp_path)], timeout=120, check=True
    )
    messages = [r["message"] for r in read_lines(tmp_path / "combined.log")]
    assert (messages.count("object"), messages.count("printed")) == (100, 100)
    assert [m for m in messages if m.startswith("w ")] == [f"w {n}" for n in range(300)]
