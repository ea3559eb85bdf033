"""The restore drill (khronos verify), verify.json, the scheduler, and the restore/verify CLI."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from rich.console import Console

from khronos.backup._verify import VerifyReport, VerifyScheduler, verify_all
from khronos.cli import cli
from khronos.cli.status import local_time
from khronos.cli.verify import _table as verify_table
from tests.backup.conftest import MakeConfig, assert_zoned_times, insert_rows
from tests.backup.test_restore_support import backed_up, digests, ids, replicating

pytestmark = pytest.mark.integration


def test_verify_passes_on_a_good_backup(make_config: MakeConfig, tmp_path: Path) -> None:
    """A good backup: ok, newest txid and age reported, replica not behind."""
    config, _db = backed_up(make_config, tmp_path, 20)
    [report] = verify_all(config)
    assert report.ok
    assert report.error is None
    assert report.txid is not None
    assert report.backup_age_seconds is not None
    assert report.replica_behind is False


def test_verify_reports_a_replica_behind(make_config: MakeConfig, tmp_path: Path) -> None:
    """Local changes that never reached this replica make it 'behind'."""
    backed_up(make_config, tmp_path, 20)
    other = make_config(f"{{url: 'file://{tmp_path}/elsewhere'}}")
    with replicating(other, tmp_path) as rep:
        insert_rows(other.backup.dbs[0].path, 3, start=100)
        rep.sync()
    [report] = verify_all(make_config())
    assert report.ok
    assert report.replica_behind is True
    assert report.local_txid is not None
    assert report.txid is not None
    assert report.behind_txids == int(report.local_txid, 16) - int(report.txid, 16) >= 1
    assert report.behind_seconds is not None
    assert report.to_json()["behind_txids"] == report.behind_txids


def test_verify_table_fits_80_columns_and_says_how_far_behind() -> None:
    """On an 80-column terminal every value is whole; "behind" says by how much."""
    report = VerifyReport(
        db="state",
        path=Path("/srv/app/state.db"),
        replica="s3://my-bucket/khronos/state.db (https://s3.us-west-004.backblazeb2.com)",
        ok=True,
        at=datetime.now(UTC),
        txid="00000000000000a1",
        backup_time=datetime(2026, 12, 2, 1, 10, 39, tzinfo=UTC),
        backup_age_seconds=3.2,
        local_txid="00000000000000a4",
        replica_behind=True,
        behind_txids=3,
        behind_seconds=2.4,
        size_bytes=4096000,
    )
    console = Console(width=80, record=True, file=io.StringIO())
    verify_table(console, [report])
    text = console.export_text()
    assert max(len(line.rstrip()) for line in text.splitlines()) <= 80
    assert local_time(report.backup_time) in text  # type: ignore[arg-type]
    assert "by 3 txids (the oldest change 2s old)" in text
    assert "00000000000000a1" in text


def test_verify_fails_on_a_corrupted_replica(make_config: MakeConfig, tmp_path: Path) -> None:
    """A damaged LTX file in the replica fails the drill with an error."""
    config, _db = backed_up(make_config, tmp_path, 20)
    for ltx in (tmp_path / "replica").rglob("*.ltx"):
        data = bytearray(ltx.read_bytes())
        data[120:] = b"\xff" * (len(data) - 120)
        ltx.write_bytes(bytes(data))
    [report] = verify_all(config)
    assert not report.ok
    assert report.error


def test_verify_fails_on_an_empty_replica(make_config: MakeConfig) -> None:
    """No backup at all fails the drill, with the 'is khronos run replicating?' hint."""
    config = make_config()
    [report] = verify_all(config)
    assert not report.ok
    assert "no backups yet" in (report.error or "")
    assert "replicating" in (report.hint or "")


def test_verify_writes_verify_json(make_config: MakeConfig, tmp_path: Path) -> None:
    """verify.json gets one entry per label with the documented keys."""
    config, _db = backed_up(make_config, tmp_path, 20)
    verify_all(config)
    data = json.loads((Path(config.state_dir) / "verify.json").read_text())
    keys = {"ok", "at", "txid", "backup_age_seconds", "replica_behind", "error", "last_success_at"}
    assert set(data["app"]) == keys | {"behind_txids", "behind_seconds", "duration_seconds"}
    assert data["app"]["ok"] is True
    assert data["app"]["last_success_at"] == data["app"]["at"]


def test_scheduler_runs_and_stops(make_config: MakeConfig, tmp_path: Path) -> None:
    """The scheduler runs the drill on its interval, reports each db, and stops cleanly."""
    config, _db = backed_up(make_config, tmp_path, 20)
    seen: list[VerifyReport] = []

    async def main() -> None:
        scheduler = VerifyScheduler(config, on_result=seen.append, interval=0.2, initial_delay=0)
        await scheduler.start()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while len(seen) < 2 and loop.time() < deadline:
            await asyncio.sleep(0.05)
        await scheduler.stop()
        assert not scheduler.running

    asyncio.run(main())
    assert len(seen) >= 2
    assert all(r.ok for r in seen)


def _cli(config_path: Path, *args: str) -> tuple[int, str]:
    """Exit code and everything printed (stdout and stderr)."""
    result = CliRunner().invoke(cli, ["-c", str(config_path), *args])
    return result.exit_code, result.output


def _cli_json(config_path: Path, *args: str) -> tuple[int, Any]:
    """Exit code and stdout parsed as JSON (logs go to stderr and must not mix in)."""
    result = CliRunner().invoke(cli, ["-c", str(config_path), *args])
    return result.exit_code, json.loads(result.stdout)


def test_cli_verify_exit_codes(make_config: MakeConfig, tmp_path: Path) -> None:
    """khronos verify exits 0 on a good backup and 1 on an empty replica."""
    make_config()
    code, document = _cli_json(tmp_path / "khronos.yml", "verify", "--json")
    assert code == 1
    assert document["databases"][0]["ok"] is False
    backed_up(make_config, tmp_path, 20)
    code, output = _cli(tmp_path / "khronos.yml", "verify")
    assert code == 0, output


def test_cli_verify_times_carry_their_zone(make_config: MakeConfig, tmp_path: Path) -> None:
    """verify --json and verify.json write every time with its zone."""
    config, _db = backed_up(make_config, tmp_path, 5)
    code, document = _cli_json(tmp_path / "khronos.yml", "verify", "--json")
    assert code == 0, document
    assert assert_zoned_times(document) >= 2  # at, backup_time
    saved = json.loads((config.state_dir / "verify.json").read_text(encoding="utf-8"))
    assert assert_zoned_times(saved) >= 2  # at, last_success_at


def test_cli_restore_json(make_config: MakeConfig, tmp_path: Path) -> None:
    """khronos restore -y --json restores and prints the result."""
    _config, db = backed_up(make_config, tmp_path, 20)
    code, document = _cli_json(tmp_path / "khronos.yml", "restore", "-y", "--json")
    assert code == 0, document
    assert document["safety_copy_method"] == "kept"
    assert assert_zoned_times(document) == 1  # backup_time
    assert ids(db) == list(range(20))


def test_cli_restore_no_backup_exit_1(make_config: MakeConfig, tmp_path: Path) -> None:
    """No backup: exit 1 with the error and its hint, the db untouched."""
    config = make_config()
    db = config.backup.dbs[0].path
    before = digests(db)
    code, output = _cli(tmp_path / "khronos.yml", "restore", "-y")
    assert code == 1
    assert "no backups yet" in output
    assert "khronos run" in output
    assert digests(db) == before


def test_cli_restore_refused_exit_3(make_config: MakeConfig, tmp_path: Path) -> None:
    """A running replicate: exit 3 naming Litestream."""
    config = make_config()
    insert_rows(config.backup.dbs[0].path, 2)
    with replicating(config, tmp_path) as rep:
        rep.sync()
        code, output = _cli(tmp_path / "khronos.yml", "restore", "-y")
    assert code == 3
    assert "Litestream is replicating" in output


def test_cli_restore_into_a_fifo_is_refused_without_hanging(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    """-o on a FIFO: exit 3 at once (no hang), and no work folder left beside it."""
    backed_up(make_config, tmp_path, 3)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    argv = [sys.executable, "-m", "khronos", "-c", str(tmp_path / "khronos.yml"), "restore"]
    try:
        proc = subprocess.run(
            [*argv, "-o", str(fifo), "--force", "-y"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("khronos restore -o FIFO hangs")
    assert proc.returncode == 3, proc.stderr
    assert "is a FIFO" in proc.stderr
    assert list(tmp_path.glob(".fifo.khronos-restore-*")) == []


@pytest.mark.parametrize(
    ("option", "value"),
    [("--timestamp", "yesterday"), ("--timestamp", "2025-01-01T00:00:00"), ("--txid", "xyz")],
)
def test_cli_restore_bad_point_is_a_usage_error(
    make_config: MakeConfig, tmp_path: Path, option: str, value: str
) -> None:
    """A bad --timestamp or --txid exits 2 (usage), naming the option and how to write it."""
    make_config()
    code, output = _cli(tmp_path / "khronos.yml", "restore", "-y", option, value)
    assert code == 2, output
    assert f"Invalid value for '{option}'" in output


def test_cli_restore_help_lists_every_exit_code() -> None:
    """restore --help and the root --help list exit code 3 beside 0, 1 and 2."""
    restore_help = CliRunner().invoke(cli, ["restore", "--help"]).output
    root_help = CliRunner().invoke(cli, ["--help"]).output
    assert "3 refused" in restore_help
    assert "3 refused" in root_help


def test_cli_restore_dry_run_subprocess(make_config: MakeConfig, tmp_path: Path) -> None:
    """A real `khronos restore --dry-run` prints the plan and changes nothing."""
    _config, db = backed_up(make_config, tmp_path, 20)
    before = digests(db)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "khronos",
            "-c",
            str(tmp_path / "khronos.yml"),
            "restore",
            "--dry-run",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Restore plan" in proc.stdout
    assert "pre-restore-" in proc.stdout
    assert digests(db) == before
