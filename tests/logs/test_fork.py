"""Forked children: their records reach the parent's files; rotation stays the parent's job."""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from khronos import logs
from khronos.config import parse_config
from khronos.errors import KhronosError
from tests.logs.helpers import Setup, read_lines


def _log_lines(count: int) -> None:
    log = logs.get_logger()
    for n in range(count):
        log.info("from child", n=n, pad="z" * 80)


def _configure_same_dir(directory: str, replies: multiprocessing.connection.Connection) -> None:
    try:
        logs.configure(log_dir=directory, console="off", handle_sigterm=False)
    except KhronosError as exc:
        replies.send(str(exc))
    else:
        replies.send("configured")


def _run_forked(target: Callable[..., None], *args: Any) -> int | None:
    """Run ``target`` in a child made by fork; stop it by PID if it does not end."""
    process = multiprocessing.get_context("fork").Process(target=target, args=args)
    process.start()
    try:
        process.join(timeout=60)
    finally:
        if process.is_alive():
            process.kill()
            process.join(timeout=30)
    return process.exitcode


def test_forked_child_records_reach_the_files(setup_logs: Setup, tmp_path: Path) -> None:
    """A multiprocessing 'fork' child (it ends with os._exit) writes every one of its lines."""
    setup_logs(console="off")
    logs.get_logger().info("parent before")
    assert _run_forked(_log_lines, 50) == 0
    logs.get_logger().info("parent after")
    logs.shutdown()
    records = read_lines(tmp_path / "logs/combined.log")
    child = [r for r in records if r["message"] == "from child"]
    assert [r["n"] for r in child] == list(range(50))
    assert os.getpid() not in {r["pid"] for r in child}
    assert [r["message"] for r in records].count("parent before") == 1


def test_forked_child_does_not_rotate_the_parents_files(setup_logs: Setup, tmp_path: Path) -> None:
    """The child appends past max_size without rotating; the parent rotates on its next write."""
    files = parse_config("logging: {files: {combined: {max_size: 2kB, keep: 5}}}").logging.files
    setup_logs(console="off", files=files)
    assert _run_forked(_log_lines, 40) == 0
    directory = tmp_path / "logs"
    assert [p.name for p in directory.glob("combined.log*")] == ["combined.log"]
    assert len(read_lines(directory / "combined.log")) == 40
    logs.get_logger().info("parent rotates", pad="p" * 200)
    logs.shutdown()
    assert [r["n"] for r in read_lines(directory / "combined.log.1")] == list(range(40))
    assert [r["message"] for r in read_lines(directory / "combined.log")] == ["parent rotates"]


def test_forked_child_cannot_take_over_the_parents_folder(
    setup_logs: Setup, tmp_path: Path
) -> None:
    """configure() in the child for the parent's folder is refused, naming the parent's pid."""
    setup_logs(console="off")
    receiver, sender = multiprocessing.get_context("fork").Pipe(duplex=False)
    assert _run_forked(_configure_same_dir, str(tmp_path / "logs"), sender) == 0
    assert receiver.poll(30)
    reply = receiver.recv()
    assert "already written by another process" in reply
    assert f"pid {os.getpid()}" in reply
    logs.get_logger().info("parent still writes")
    logs.shutdown()
    assert read_lines(tmp_path / "logs/combined.log")[-1]["message"] == "parent still writes"


def test_child_with_its_own_folder_writes_there(setup_logs: Setup, tmp_path: Path) -> None:
    """A forked child that calls configure() for another folder logs into that one."""
    setup_logs(console="off")
    own = tmp_path / "worker-1"

    def child() -> None:
        logs.configure(log_dir=own, console="off", handle_sigterm=False)
        logs.get_logger().info("worker line")
        logs.shutdown()

    assert _run_forked(child) == 0
    assert [r["message"] for r in read_lines(own / "combined.log")] == ["worker line"]
    logs.shutdown()
    assert read_lines(tmp_path / "logs/combined.log") == []


class _NoEvents:
    """A LogFile's owner that expects nothing to fail."""

    def failed(self, _output: object, failure: object) -> None:
        raise AssertionError(failure)

    def recovered(self, _output: object, failure: object) -> None:
        raise AssertionError(failure)

    def rotate_failed(self, _output: object, exc: OSError) -> None:
        raise AssertionError(exc)

    def notice(self, _output: object, _failure: object) -> bytes:
        return b""


def test_a_fork_during_a_write_leaves_the_guest_able_to_append(tmp_path: Path) -> None:
    """Forked while the parent's writer held a view of the buffer (mid os.write): the child's
    file drops that buffer instead of resizing it (BufferError), and its lines are written."""
    from khronos.logs._files import LogFile

    file = LogFile(tmp_path / "combined.log", max_size=10_000, keep=2, events=_NoEvents())
    file.append(b"parent line\n")
    held = memoryview(file._buf)  # the writer thread's view; in the child nobody releases it
    file.become_guest()
    file.append(b"child line\n")
    file.flush()
    held.release()
    assert (tmp_path / "combined.log").read_bytes() == b"child line\n"
