"""A log dir that cannot be written: reported once, nothing lost silently, resumes by itself.

The faults are real: a 512 kB tmpfs filled to the last byte, a process out of descriptors.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from khronos import logs
from khronos.logs import _files
from tests.logs.helpers import Setup, read_lines, wait_until
from tests.smallfs import SmallFilesystem

ENOSPC_TEXT = "No space left on device"


def _console_records(console: Any) -> list[dict[str, Any]]:
    return [json.loads(line) for line in console.getvalue().splitlines()]


def _lost_since(before: dict[tuple[str, str], int]) -> dict[tuple[str, str], int]:
    now = logs.records_lost()
    return {
        key: count - before.get(key, 0) for key, count in now.items() if count != before.get(key, 0)
    }


@pytest.mark.integration
def test_full_disk_is_reported_once_and_loses_nothing(
    setup_logs: Setup, small_disk: SmallFilesystem
) -> None:
    """Lines logged while the disk is full wait in memory and are written once space returns."""
    before = logs.records_lost()
    console = setup_logs(log_dir=small_disk.root)
    log = logs.get_logger()
    log.info("before")
    logs.flush()
    small_disk.fill()
    for n in range(100):
        log.info("line", n=n)
    logs.flush()
    combined = small_disk.root / "combined.log"
    assert logs.failing_files() == {combined: ENOSPC_TEXT}
    reports = [r["message"] for r in _console_records(console) if "log dir full" in r["message"]]
    assert reports == [f"log dir full: cannot write {combined} ({ENOSPC_TEXT})"]
    small_disk.free()
    wait_until(lambda: not logs.failing_files(), "writing resumed")  # no new record needed
    logs.shutdown()
    records = read_lines(combined)
    assert [r.get("n") for r in records if r["message"] == "line"] == list(range(100))
    (notice,) = [r for r in records if r["level"] == "warning"]
    assert (notice["lost"], notice["reason"]) == (0, "disk_full")
    assert records[0]["message"] == "before"
    assert any("writable again" in r["message"] for r in _console_records(console))
    assert _lost_since(before) == {}


@pytest.mark.integration
def test_lines_beyond_the_memory_bound_are_counted(
    setup_logs: Setup, small_disk: SmallFilesystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past MAX_PENDING_BYTES the oldest waiting lines are dropped, counted and said in the file."""
    monkeypatch.setattr(_files, "MAX_PENDING_BYTES", 20_000)
    before = logs.records_lost()
    setup_logs(log_dir=small_disk.root, console="off")
    log = logs.get_logger()
    small_disk.fill()
    for n in range(500):
        log.info("line", n=n, pad="p" * 100)
    logs.flush()
    small_disk.free()
    wait_until(lambda: not logs.failing_files(), "writing resumed")
    logs.shutdown()
    records = read_lines(small_disk.root / "combined.log")
    (notice,) = [r for r in records if r["level"] == "warning"]
    kept = [r["n"] for r in records if r["message"] == "line"]
    assert notice["lost"] > 0
    assert kept == list(range(notice["lost"], 500))  # the newest lines, in order
    assert _lost_since(before) == {("combined.log", "disk_full"): notice["lost"]}


_FULL_AT_START = textwrap.dedent(
    """
    import sys
    from khronos import logs
    logs.configure(log_dir=sys.argv[1], console="off", handle_sigterm=False)
    log = logs.get_logger()
    for n in range(200):
        log.error("line", n=n)
    logs.flush()
    print(sorted(str(p) for p in logs.failing_files()), flush=True)
    """
)


@pytest.mark.integration
def test_full_disk_never_prints_tracebacks(small_disk: SmallFilesystem) -> None:
    """Started on a full disk: stderr gets one line per file and the count lost at exit."""
    small_disk.fill()
    done = subprocess.run(
        [sys.executable, "-c", _FULL_AT_START, str(small_disk.root)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "Logging error" not in done.stderr
    combined, errors = small_disk.root / "combined.log", small_disk.root / "errors.log"
    assert done.stdout.strip() == str(sorted([str(combined), str(errors)]))
    lines = done.stderr.splitlines()
    assert lines[:2] == [
        f"khronos: log dir full: cannot write {combined} ({ENOSPC_TEXT})",
        f"khronos: log dir full: cannot write {errors} ({ENOSPC_TEXT})",
    ]
    assert lines[2:] == [
        f"khronos: 200 log line(s) lost: {combined} still cannot be written ({ENOSPC_TEXT})",
        f"khronos: 200 log line(s) lost: {errors} still cannot be written ({ENOSPC_TEXT})",
    ]


_NO_DESCRIPTORS = textwrap.dedent(
    """
    import os, resource, sys, time
    from khronos import logs
    logs.configure(log_dir=sys.argv[1], console="off", handle_sigterm=False)
    log = logs.get_logger()
    log.info("combined.log is open")
    logs.flush()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
    held = []
    try:
        while True:
            held.append(os.open(os.devnull, os.O_RDONLY))
    except OSError:
        pass
    log.error("first error", n=1)  # errors.log is opened now: no descriptor left
    logs.flush()
    print(sorted(str(p) for p in logs.failing_files()), flush=True)
    for fd in held:
        os.close(fd)
    deadline = time.monotonic() + 30
    while logs.failing_files() and time.monotonic() < deadline:
        time.sleep(0.01)
    logs.shutdown()
    """
)


@pytest.mark.integration
def test_no_descriptor_left_keeps_the_line_until_one_is_free(tmp_path: Path) -> None:
    """EMFILE opening errors.log: reported once, the line waits and is written afterwards."""
    done = subprocess.run(
        [sys.executable, "-c", _NO_DESCRIPTORS, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    errors = tmp_path / "errors.log"
    assert done.stdout.strip() == str([str(errors)])
    assert done.stderr.splitlines()[0] == (
        f"khronos: log file unwritable: cannot write {errors} (Too many open files)"
    )
    assert "Traceback" not in done.stderr
    records = read_lines(errors)
    assert [r["message"] for r in records][1:] == ["first error"]
    assert (records[0]["reason"], records[0]["lost"]) == ("too_many_open_files", 0)
    assert [r["message"] for r in read_lines(tmp_path / "combined.log")] == [
        "combined.log is open",
        "first error",
    ]
