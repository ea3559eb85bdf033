"""The rotated files: which records go where, rotation, flushing."""

from __future__ import annotations

import logging
from pathlib import Path

from khronos import logs
from khronos.config import parse_config
from tests.logs.helpers import Setup, read_lines


def test_levels_are_routed_to_their_files(setup_logs: Setup, tmp_path: Path) -> None:
    """combined: all; errors: error+; critical: critical and error with critical=True."""
    setup_logs()
    log = logs.get_logger()
    log.info("i")
    log.error("e")
    log.error("ec", critical=True)
    log.critical("c")
    logging.getLogger("lib").error("fe", extra={"critical": True})
    logs.shutdown()

    def messages(name: str) -> list[str]:
        return [r["message"] for r in read_lines(tmp_path / "logs" / name)]

    assert messages("combined.log") == ["i", "e", "ec", "c", "fe"]
    assert messages("errors.log") == ["e", "ec", "c", "fe"]
    assert messages("critical.log") == ["ec", "c", "fe"]
    assert messages("exceptions.log") == []


def test_rotation_keeps_counts_and_sizes_and_every_line(setup_logs: Setup, tmp_path: Path) -> None:
    """Writing past max_size rotates to .1 .. .keep; each file is under the limit, no line split."""
    files = parse_config("logging: {files: {combined: {max_size: 2kB, keep: 3}}}").logging.files
    setup_logs(files=files)
    log = logs.get_logger()
    for n in range(60):
        log.info("line", n=n, pad="x" * 40)
    logs.shutdown()
    directory = tmp_path / "logs"
    names = sorted(p.name for p in directory.glob("combined.log*"))
    assert names == ["combined.log", "combined.log.1", "combined.log.2", "combined.log.3"]
    assert all((directory / name).stat().st_size <= 2000 for name in names)
    ordered = [directory / f"combined.log.{i}" for i in (3, 2, 1)] + [directory / "combined.log"]
    numbers = [r["n"] for path in ordered for r in read_lines(path)]
    assert numbers == list(range(numbers[0], 60))


def test_rotation_without_overflow_loses_nothing(setup_logs: Setup, tmp_path: Path) -> None:
    """With enough kept files every one of the lines is present exactly once."""
    files = parse_config("logging: {files: {combined: {max_size: 2kB, keep: 50}}}").logging.files
    setup_logs(files=files)
    log = logs.get_logger()
    for n in range(300):
        log.info("line", n=n)
    logs.shutdown()
    numbers = sorted(
        r["n"] for p in (tmp_path / "logs").glob("combined.log*") for r in read_lines(p)
    )
    assert numbers == list(range(300))


def test_no_files_when_dir_is_none(tmp_path: Path, setup_logs: Setup) -> None:
    """log_dir=None writes only the console."""
    console = setup_logs(log_dir=None)
    logs.get_logger().info("only console")
    logs.shutdown()
    assert not (tmp_path / "logs").exists()
    assert "only console" in console.getvalue()


def test_records_after_shutdown_are_still_written(setup_logs: Setup, tmp_path: Path) -> None:
    """After shutdown() a late record is written synchronously, not lost."""
    setup_logs()
    logs.shutdown()
    logs.get_logger().info("late")
    logs.shutdown()
    assert [r["message"] for r in read_lines(tmp_path / "logs/combined.log")] == ["late"]
    assert not logs.is_configured()


def test_reconfigure_closes_the_old_files(setup_logs: Setup, tmp_path: Path) -> None:
    """configure() twice writes to the new directory only."""
    setup_logs()
    setup_logs(log_dir=tmp_path / "second")
    logs.get_logger().info("where")
    logs.shutdown()
    assert read_lines(tmp_path / "logs/combined.log") == []
    assert len(read_lines(tmp_path / "second/combined.log")) == 1
