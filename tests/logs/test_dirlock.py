"""One process per log folder: a second writer is refused with the holder's pid."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from khronos import logs
from khronos.errors import KhronosError
from tests.logs.helpers import Setup, read_lines

_HOLDER = textwrap.dedent(
    """
    import sys
    from khronos import logs
    logs.configure(log_dir=sys.argv[1], console="off")
    logs.get_logger().info("holder line")
    print("ready", flush=True)
    sys.stdin.read()  # hold the folder until the test closes stdin
    """
)


@pytest.fixture(name="holder")
def fixture_holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process that has configured logging into tmp_path/logs (stopped by PID)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(tmp_path / "logs")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
        yield proc
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()


@pytest.mark.integration
def test_second_process_is_refused_with_the_holders_pid(
    holder: subprocess.Popen[str], tmp_path: Path
) -> None:
    """configure() for a folder another process writes raises KhronosError naming dir and pid."""
    directory = tmp_path / "logs"
    with pytest.raises(KhronosError) as info:
        logs.configure(log_dir=directory, console="off", handle_sigterm=False)
    message = str(info.value)
    assert str(directory) in message
    assert f"pid {holder.pid}" in message
    assert info.value.hint is not None
    assert "logs/worker-1" in info.value.hint


@pytest.mark.integration
def test_refusal_keeps_the_current_configuration(
    holder: subprocess.Popen[str], setup_logs: Setup, tmp_path: Path
) -> None:
    """A refused reconfiguration leaves the previous folder in use."""
    setup_logs(log_dir=tmp_path / "mine")
    with pytest.raises(KhronosError):
        setup_logs(log_dir=tmp_path / "logs")
    logs.get_logger().info("still here")
    logs.shutdown()
    assert [r["message"] for r in read_lines(tmp_path / "mine/combined.log")] == ["still here"]
    assert [r["message"] for r in read_lines(tmp_path / "logs/combined.log")] == ["holder line"]
    del holder


@pytest.mark.integration
def test_folder_is_free_once_the_holder_exits(
    holder: subprocess.Popen[str], tmp_path: Path
) -> None:
    """When the other process ends (here by SIGKILL, no cleanup) the folder can be taken."""
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=30)
    assert (tmp_path / "logs/.khronos-logs.lock").exists()
    logs.configure(log_dir=tmp_path / "logs", console="off", handle_sigterm=False)
    assert logs.is_configured()


@pytest.mark.integration
def test_shutdown_and_reset_release_the_folder(setup_logs: Setup, tmp_path: Path) -> None:
    """After shutdown() another process can write the folder; reconfiguring it here works."""
    setup_logs()
    setup_logs()  # the same folder again: this process keeps its own lock
    logs.shutdown()
    script = "import sys; from khronos import logs; logs.configure(log_dir=sys.argv[1])"
    proc = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "logs")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def test_unwritable_folder_is_a_clear_error(tmp_path: Path) -> None:
    """A log folder that cannot be created is a KhronosError with a hint, not a traceback."""
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    with pytest.raises(KhronosError, match="cannot write the log folder") as info:
        logs.configure(log_dir=blocker / "logs", console="off", handle_sigterm=False)
    assert info.value.hint is not None
