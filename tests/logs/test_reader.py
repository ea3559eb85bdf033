"""Reading the files back: history then follow, with nothing lost in between."""

from __future__ import annotations

import json
import time
from pathlib import Path

from khronos.logs._reader import LogQuery, ReadStats, follow, log_files, read_history


def _line(n: int) -> bytes:
    return json.dumps({"level": "info", "message": "m", "n": n}).encode() + b"\n"


def _append(path: Path, data: bytes) -> None:
    with path.open("ab") as handle:
        handle.write(data)


def _history(directory: Path, stats: ReadStats) -> list[int]:
    files = log_files(directory)
    return [r["n"] for _, r in read_history(files, LogQuery(), stats, leave_partial=True)]


def _follow(directory: Path, stats: ReadStats, count: int) -> list[int]:
    """Follow from where the history stopped until ``count`` records came (or 30 s passed)."""
    seen: list[int] = []
    deadline = time.monotonic() + 30
    for _, record in follow(
        directory / "combined.log",
        LogQuery(),
        stats,
        start=stats.position,
        stop=lambda: len(seen) >= count or time.monotonic() > deadline,
        poll_interval=0.01,
    ):
        seen.append(record["n"])
    return seen


def test_lines_written_between_history_and_follow_are_kept(tmp_path: Path) -> None:
    """Follow resumes at the history's offset, and a half-written last line is completed."""
    live = tmp_path / "combined.log"
    _append(live, _line(0) + _line(1) + _line(2)[:10])
    stats = ReadStats()
    assert _history(tmp_path, stats) == [0, 1]
    _append(live, _line(2)[10:] + _line(3))
    assert _follow(tmp_path, stats, 2) == [2, 3]
    assert stats.malformed == 0


def test_rotation_between_history_and_follow_loses_nothing(tmp_path: Path) -> None:
    """Lines added to the file just before it was rotated away are still followed."""
    live = tmp_path / "combined.log"
    _append(live, _line(0))
    stats = ReadStats()
    assert _history(tmp_path, stats) == [0]
    _append(live, _line(1))
    live.rename(tmp_path / "combined.log.1")
    _append(live, _line(2))
    assert _follow(tmp_path, stats, 2) == [1, 2]


def test_rotation_during_history_reads_each_file_once(tmp_path: Path) -> None:
    """Files renamed while the history is read are found under their new names."""
    _append(tmp_path / "combined.log.1", _line(0) + _line(1))
    _append(tmp_path / "combined.log", _line(2) + _line(3))
    stats = ReadStats()
    history = read_history(log_files(tmp_path), LogQuery(), stats, leave_partial=True)
    seen = [next(history)[1]["n"]]
    (tmp_path / "combined.log.1").rename(tmp_path / "combined.log.2")
    (tmp_path / "combined.log").rename(tmp_path / "combined.log.1")
    _append(tmp_path / "combined.log", _line(4))
    seen += [record["n"] for _, record in history]
    assert seen == [0, 1, 2, 3]
    assert _follow(tmp_path, stats, 1) == [4]


def test_without_history_follow_reads_a_new_file_from_its_start(tmp_path: Path) -> None:
    """No file at all at first: the live file that appears is read from its first line."""
    stats = ReadStats()
    assert _history(tmp_path, stats) == []
    assert stats.position is None
    _append(tmp_path / "combined.log", _line(0) + _line(1))
    assert _follow(tmp_path, stats, 2) == [0, 1]


def test_history_alone_reads_an_unterminated_last_line(tmp_path: Path) -> None:
    """Without following, a last line with no newline is still shown (or counted as broken)."""
    _append(tmp_path / "combined.log", _line(0) + _line(1).rstrip(b"\n"))
    stats = ReadStats()
    files = log_files(tmp_path)
    assert [r["n"] for _, r in read_history(files, LogQuery(), stats)] == [0, 1]
