"""Reading the files back: history then follow, with nothing lost or repeated in between."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from khronos.logs import _reader
from khronos.logs._reader import LogReader


def _line(n: int) -> bytes:
    return json.dumps({"level": "info", "message": "m", "n": n}).encode() + b"\n"


def _append(path: Path, data: bytes) -> None:
    with path.open("ab") as handle:
        handle.write(data)


def _history(reader: LogReader) -> list[int]:
    return [r["n"] for _, r in reader.history(leave_partial=True)]


def _follow(reader: LogReader, count: int) -> list[int]:
    """Follow until ``count`` records came (or 30 s passed)."""
    seen: list[int] = []
    deadline = time.monotonic() + 30
    for _, record in reader.follow(
        stop=lambda: len(seen) >= count or time.monotonic() > deadline, poll_interval=0.01
    ):
        seen.append(record["n"])
    return seen


def test_lines_written_between_history_and_follow_are_kept(tmp_path: Path) -> None:
    """Follow resumes where the history stopped, and a half-written last line is completed."""
    live = tmp_path / "combined.log"
    _append(live, _line(0) + _line(1) + _line(2)[:10])
    with LogReader(tmp_path) as reader:
        assert _history(reader) == [0, 1]
        _append(live, _line(2)[10:] + _line(3))
        assert _follow(reader, 2) == [2, 3]
        assert reader.malformed == 0


def test_rotation_between_history_and_follow_loses_nothing(tmp_path: Path) -> None:
    """Lines added to the file just before it was rotated away are still followed."""
    live = tmp_path / "combined.log"
    _append(live, _line(0))
    with LogReader(tmp_path) as reader:
        assert _history(reader) == [0]
        _append(live, _line(1))
        live.rename(tmp_path / "combined.log.1")
        _append(live, _line(2))
        assert _follow(reader, 2) == [1, 2]


def test_rotation_during_history_reads_each_file_once(tmp_path: Path) -> None:
    """Files renamed while the history is read are found under their new names."""
    _append(tmp_path / "combined.log.1", _line(0) + _line(1))
    _append(tmp_path / "combined.log", _line(2) + _line(3))
    with LogReader(tmp_path) as reader:
        history = reader.history(leave_partial=True)
        seen = [next(history)[1]["n"]]
        (tmp_path / "combined.log.1").rename(tmp_path / "combined.log.2")
        (tmp_path / "combined.log").rename(tmp_path / "combined.log.1")
        _append(tmp_path / "combined.log", _line(4))
        seen += [record["n"] for _, record in history]
        assert seen == [0, 1, 2, 3, 4]
        _append(tmp_path / "combined.log", _line(5))
        assert _follow(reader, 1) == [5]


def test_a_missing_name_between_two_files_is_stepped_over(tmp_path: Path) -> None:
    """combined.log.1 deleted by hand: the history goes from .2 straight to the live file."""
    _append(tmp_path / "combined.log.2", _line(0))
    _append(tmp_path / "combined.log", _line(1))
    with LogReader(tmp_path) as reader:
        assert _history(reader) == [0, 1]


def test_a_name_missing_for_a_moment_is_waited_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name below the current file is empty while a rotation passes: never step over it.

    Probing names one after the other, the reader can see the empty name of a rotation under
    way together with a name below it that the rotation has already refilled with a newer file.
    """
    _append(tmp_path / "combined.log.3", _line(0))
    _append(tmp_path / "moving", _line(1))  # on its way to combined.log.2
    _append(tmp_path / "combined.log.1", _line(2))
    _append(tmp_path / "combined.log", _line(3))

    def rotation_goes_on(_seconds: float) -> None:
        if (tmp_path / "moving").exists():
            (tmp_path / "moving").rename(tmp_path / "combined.log.2")

    monkeypatch.setattr(_reader, "_pause", rotation_goes_on)
    with LogReader(tmp_path) as reader:
        assert _history(reader) == [0, 1, 2, 3]


def test_without_history_follow_reads_a_new_file_from_its_start(tmp_path: Path) -> None:
    """No file at all at first: the live file that appears is read from its first line."""
    with LogReader(tmp_path) as reader:
        assert _history(reader) == []
        _append(tmp_path / "combined.log", _line(0) + _line(1))
        assert _follow(reader, 2) == [0, 1]


def test_history_alone_reads_an_unterminated_last_line(tmp_path: Path) -> None:
    """Without following, a last line with no newline is still shown (or counted as broken)."""
    _append(tmp_path / "combined.log", _line(0) + _line(1).rstrip(b"\n"))
    with LogReader(tmp_path) as reader:
        assert [r["n"] for _, r in reader.history()] == [0, 1]


def test_truncated_live_file_is_read_again_from_its_start(tmp_path: Path) -> None:
    """copytruncate: the live file shrinks under the follower, which starts it over."""
    live = tmp_path / "combined.log"
    _append(live, _line(0) + _line(1))
    with LogReader(tmp_path) as reader:
        assert _history(reader) == [0, 1]
        live.write_bytes(_line(2))
        assert _follow(reader, 1) == [2]
