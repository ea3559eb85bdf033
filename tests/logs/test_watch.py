"""LogFilesWatch: the daemon hears when the set of unwritable log files changes, and only then."""

from __future__ import annotations

from pathlib import Path

import pytest

from khronos.logs import LogFilesWatch, describe_failing

COMBINED = Path("/var/log/bot/combined.log")
ERRORS = Path("/var/log/bot/errors.log")
FULL = "No space left on device"


def test_on_change_is_called_when_the_failing_files_change_and_only_then() -> None:
    state: dict[Path, str] = {}
    seen: list[dict[Path, str]] = []
    watch = LogFilesWatch(seen.append, read=lambda: dict(state))
    watch.check()
    assert seen == []  # all writable from the start: nothing to say
    state[COMBINED] = FULL
    watch.check()
    watch.check()
    assert seen == [{COMBINED: FULL}]
    state[ERRORS] = FULL
    watch.check()
    assert seen[-1] == {COMBINED: FULL, ERRORS: FULL}
    state.clear()
    watch.check()
    watch.check()
    assert seen[-1] == {}
    assert len(seen) == 3


def test_a_failing_listener_is_called_again_at_the_next_look() -> None:
    calls: list[dict[Path, str]] = []

    def listener(failing: dict[Path, str]) -> None:
        calls.append(failing)
        if len(calls) == 1:
            raise RuntimeError("alert engine hiccup")

    watch = LogFilesWatch(listener, read=lambda: {COMBINED: FULL})
    with pytest.raises(RuntimeError):
        watch.check()
    watch.check()
    assert calls == [{COMBINED: FULL}, {COMBINED: FULL}]


def test_describe_failing_names_the_path_and_the_reason() -> None:
    assert describe_failing({COMBINED: FULL}) == (f"log dir full: cannot write {COMBINED} ({FULL})")
    assert describe_failing({COMBINED: FULL, ERRORS: FULL}).endswith("(+ 1 more)")
    assert describe_failing({COMBINED: "Too many open files"}).startswith(
        "log files not writable: "
    )
    assert describe_failing({}) == "the log files can be written"
