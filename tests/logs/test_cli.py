"""`khronos logs`: filters, garbage lines, following across rotation."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from khronos import logs
from khronos.cli import cli
from khronos.config import parse_config
from tests.logs.helpers import Setup


def _write(directory: Path, name: str, records: list[dict[str, object]]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(r) if isinstance(r, dict) else str(r) for r in records]
    (directory / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _record(n: int, level: str = "info", **extra: object) -> dict[str, object]:
    stamp = f"2030-01-01T00:00:{n:02d}.000Z"
    return {
        "@timestamp": stamp,
        "level": level,
        "message": f"m{n}",
        "correlationId": None,
        "userId": "SYSTEM",
        **extra,
    }


def _run(*args: str) -> tuple[int, list[str], str]:
    result = CliRunner().invoke(cli, ["logs", *args])
    return result.exit_code, result.stdout.splitlines(), result.stderr


def test_reads_rotated_files_oldest_first(tmp_path: Path) -> None:
    """combined.log.2, .1, then combined.log: records come out in time order."""
    _write(tmp_path, "combined.log.2", [_record(1)])
    _write(tmp_path, "combined.log.1", [_record(2)])
    _write(tmp_path, "combined.log", [_record(3)])
    code, out, _ = _run("--dir", str(tmp_path), "--json")
    assert code == 0
    assert [json.loads(line)["message"] for line in out] == ["m1", "m2", "m3"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--level", "error"], ["m2", "m3"]),
        (["--user", "42"], ["m3"]),
        (["--correlation", "abc"], ["m2"]),
        (["--grep", "DISK"], ["m2"]),
    ],
)
def test_filters(tmp_path: Path, args: list[str], expected: list[str]) -> None:
    """--level, --user, --correlation and --grep each narrow the records."""
    _write(
        tmp_path,
        "combined.log",
        [
            _record(1),
            _record(2, "error", correlationId="abc", detail="disk full"),
            _record(3, "critical", userId="42"),
        ],
    )
    code, out, _ = _run("--dir", str(tmp_path), "--json", *args)
    assert code == 0
    assert [json.loads(line)["message"] for line in out] == expected


def test_since_keeps_recent_records(setup_logs: Setup, tmp_path: Path) -> None:
    """--since 10m shows what was just logged and not an old record."""
    setup_logs()
    logs.get_logger().info("fresh")
    logs.shutdown()
    with (tmp_path / "logs/combined.log").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(_record(1) | {"@timestamp": "2001-01-01T00:00:00.000Z"}) + "\n")
    code, out, _ = _run("--dir", str(tmp_path / "logs"), "--since", "10m")
    assert code == 0
    assert len(out) == 1
    assert "fresh" in out[0]


def test_garbage_lines_are_skipped_and_counted(tmp_path: Path) -> None:
    """Malformed lines do not stop the reader; their count goes to stderr."""
    _write(tmp_path, "combined.log", [_record(1), "not json", "[1, 2]", '{"broken', _record(2)])  # type: ignore[list-item]
    code, out, err = _run("--dir", str(tmp_path))
    assert code == 0
    assert len(out) == 2
    assert "m1" in out[0]
    assert "skipped 3 malformed line(s)" in err


def test_missing_dir_is_a_clear_error(tmp_path: Path) -> None:
    """A folder that does not exist exits 1 with a hint."""
    code, _, err = _run("--dir", str(tmp_path / "nope"))
    assert code == 1
    assert "no log folder" in err


def test_dir_defaults_to_the_config(tmp_path: Path, write_config: object) -> None:
    """Without --dir the folder is logging.dir of khronos.yml."""
    _write(tmp_path / "var", "combined.log", [_record(1)])
    (tmp_path / "khronos.yml").write_text("logging: {dir: var}\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["logs", "-c", str(tmp_path / "khronos.yml"), "--json"])
    assert result.exit_code == 0
    assert "m1" in result.stdout


def test_bad_since_is_a_usage_error(tmp_path: Path) -> None:
    """--since without a unit exits 2."""
    code, _, err = _run("--dir", str(tmp_path), "--since", "10")
    assert code == 2
    assert "unit" in err


@pytest.mark.integration
def test_follow_stops_on_sigint_even_when_started_with_sigint_ignored(
    setup_logs: Setup, tmp_path: Path
) -> None:
    """A script that runs ``khronos logs -f &`` hands it SIGINT ignored; Ctrl-C (SIGINT) still
    ends the follow, with exit 0."""
    setup_logs(console="off")
    logs.get_logger().info("line", n=0)
    logs.shutdown()
    command = [sys.executable, "-m", "khronos", "logs", "--dir", str(tmp_path / "logs"), "-f"]
    with subprocess.Popen(
        [*command, "--json", "--follow-timeout", "120"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),  # noqa: PLW1509
    ) as proc:
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True).start()
        try:
            _wait_for(lines, [], 0)  # following now
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _reader(stream: object, lines: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        lines.put(line)


def _wait_for(lines: queue.Queue[str], seen: list[int], number: int) -> None:
    deadline = time.monotonic() + 30
    while number not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"follower never printed {number}; saw {seen[-5:]}"
        try:
            seen.append(json.loads(lines.get(timeout=remaining))["n"])
        except queue.Empty:
            continue


@pytest.mark.integration
def test_follow_survives_rotation_and_stops_on_ctrl_c(setup_logs: Setup, tmp_path: Path) -> None:
    """-f prints every record across several rotations in order, and SIGINT exits 0.

    Deterministic whatever the timing: a batch may be written while the follower still reads
    the history, between the history and the follow, or while it follows; the follower resumes
    where the history stopped (same file, same offset), so every line comes out exactly once.
    """
    files = parse_config("logging: {files: {combined: {max_size: 2kB, keep: 20}}}").logging.files
    setup_logs(files=files, console="off")
    log = logs.get_logger()
    log.info("line", n=0)
    logs.shutdown()
    directory = tmp_path / "logs"
    command = [sys.executable, "-m", "khronos", "logs", "--dir", str(directory), "-f", "--json"]
    with subprocess.Popen(
        [*command, "--follow-timeout", "120"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ) as proc:
        lines: queue.Queue[str] = queue.Queue()
        reader = threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True)
        reader.start()
        seen: list[int] = []
        try:
            _wait_for(lines, seen, 0)
            for batch in range(8):
                for i in range(1, 11):
                    log.info("line", n=batch * 10 + i, pad="y" * 60)
                logs.shutdown()
                _wait_for(lines, seen, batch * 10 + 10)
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=30) == 0
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
            reader.join(timeout=30)
    assert len(list(directory.glob("combined.log.*"))) >= 3
    assert seen == list(range(81))
