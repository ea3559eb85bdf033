"""`khronos logs -f` against a writer rotating as fast as it can: every line exactly once.

The reader used to list the file names and open them afterwards; a rotation in between skipped
whole files (or, between the history and the follow, the rest of the file being read).  These
tests repeat the dance until such a window would have been hit: with the old reader about half
of the rounds lost a file.
"""

from __future__ import annotations

import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from khronos import logs
from khronos.config import parse_config
from khronos.logs._reader import LogReader
from tests.logs.helpers import Setup
from tests.support import fault_repeat

LINES = 400


def _write_unthrottled(count: int) -> threading.Thread:
    log = logs.get_logger()
    writer = threading.Thread(target=lambda: [log.info("line", n=n) for n in range(1, count)])
    writer.start()
    return writer


def _follow_all(directory: Path, count: int) -> list[int]:
    """History then follow until line ``count - 1`` came (60 s at most)."""
    seen: list[int] = []
    deadline = time.monotonic() + 60
    with LogReader(directory) as reader:
        seen.extend(r["n"] for _, r in reader.history(leave_partial=True))
        for _, record in reader.follow(
            stop=lambda: (bool(seen) and seen[-1] == count - 1) or time.monotonic() > deadline,
            poll_interval=0.001,
        ):
            seen.append(record["n"])
    return seen


def test_follow_during_unthrottled_rotation_keeps_every_line(
    setup_logs: Setup, tmp_path: Path
) -> None:
    """1 kB files, the reader starting at a random moment: no line lost or repeated, ever."""
    rounds = 10 * fault_repeat()
    files = parse_config("logging: {files: {combined: {max_size: 1kB, keep: 500}}}").logging.files
    chance = random.Random(20_301)  # noqa: S311 - only picks when the reader starts
    for attempt in range(rounds):
        directory = tmp_path / f"round-{attempt}"
        setup_logs(log_dir=directory, files=files, console="off")
        logs.get_logger().info("line", n=0)
        logs.flush()
        writer = _write_unthrottled(LINES)
        time.sleep(chance.random() / 50)  # start somewhere in the burst (any moment is fine)
        seen = _follow_all(directory, LINES)
        writer.join(timeout=60)
        logs.shutdown()
        assert len(list(directory.glob("combined.log.*"))) > 20
        assert seen == list(range(LINES)), f"round {attempt}"


def _reader(stream: object, lines: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        lines.put(line)


@pytest.mark.integration
def test_logs_follow_command_keeps_every_line_of_an_unthrottled_writer(
    setup_logs: Setup, tmp_path: Path
) -> None:
    """The CLI started while 4 kB files rotate under it prints each line once, in order."""
    count = 3000
    files = parse_config("logging: {files: {combined: {max_size: 4kB, keep: 500}}}").logging.files
    for attempt in range(fault_repeat()):
        directory = tmp_path / f"round-{attempt}"
        setup_logs(log_dir=directory, files=files, console="off")
        logs.get_logger().info("line", n=0)
        logs.flush()
        command = [sys.executable, "-m", "khronos", "logs", "--dir", str(directory), "-f"]
        with subprocess.Popen(
            [*command, "--json", "--follow-timeout", "120"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        ) as proc:
            writer = _write_unthrottled(count)
            lines: queue.Queue[str] = queue.Queue()
            threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True).start()
            seen: list[int] = []
            try:
                deadline = time.monotonic() + 90
                while (not seen or seen[-1] != count - 1) and time.monotonic() < deadline:
                    try:
                        seen.append(json.loads(lines.get(timeout=1))["n"])
                    except queue.Empty:
                        continue
                proc.send_signal(signal.SIGINT)
                assert proc.wait(timeout=30) == 0
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(timeout=30)
                writer.join(timeout=60)
        logs.shutdown()
        assert seen == list(range(count)), f"round {attempt}"
