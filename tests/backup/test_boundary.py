"""One Litestream boundary: every command picks its database the same way, and every Litestream
run is bounded and fails with an error of the tree (``except BackupError`` catches them all)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from khronos.backup import Invocation, restore_database
from khronos.backup._status import replica_status
from khronos.backup._sync import force_snapshot, replicate_once
from khronos.cli import cli
from khronos.config import KhronosConfig, parse_config
from khronos.errors import BackupError, ConfigError, LitestreamNotFoundError, ReplicaAccessError
from tests.backup.conftest import MakeConfig, make_db

# ------------------------------------------------------------------ picking the database


def _two(tmp_path: Path) -> KhronosConfig:
    for name in ("a.db", "b.db"):
        make_db(tmp_path / name)
    text = (
        "backup:\n  dbs:\n"
        f"    - {{path: a.db, replica: {{url: 'file://{tmp_path}/ra'}}}}\n"
        f"    - {{path: b.db, name: bee, replica: {{url: 'file://{tmp_path}/rb'}}}}\n"
    )
    return parse_config(text, base_dir=tmp_path)


def test_select_finds_a_database_by_name_or_path(tmp_path: Path) -> None:
    """A label, or a path (relative to the working folder, or absolute), names a database."""
    backup = _two(tmp_path).require_backup()
    assert backup.select("bee").path == tmp_path / "b.db"
    assert backup.select(tmp_path / "a.db").label == "a"
    assert backup.select(str(tmp_path / "b.db")).label == "bee"


def test_select_without_a_name_needs_exactly_one_database(
    tmp_path: Path, make_config: MakeConfig
) -> None:
    """None picks the only database; with two it is a ConfigError asking to name one."""
    assert make_config().require_backup().select().label == "app"
    with pytest.raises(ConfigError, match="2 databases are configured") as info:
        _two(tmp_path).require_backup().select()
    assert info.value.exit_code == 2


def test_an_unknown_name_is_a_config_error_naming_the_known_ones(tmp_path: Path) -> None:
    """An unknown name: ConfigError (exit 2) with the known names in its hint."""
    with pytest.raises(ConfigError, match="no database named 'nope'") as info:
        _two(tmp_path).require_backup().select("nope")
    assert "known: a (" in (info.value.hint or "")
    assert "bee (" in (info.value.hint or "")


@pytest.mark.parametrize(
    "args",
    [["status"], ["backup", "now"], ["verify"], ["restore", "-y"]],
    ids=" ".join,
)
def test_every_command_exits_2_without_a_backup_section(tmp_path: Path, args: list[str]) -> None:
    """status, backup now, verify and restore: the same usage error for a missing backup:."""
    path = tmp_path / "khronos.yml"
    path.write_text(f"state_dir: {tmp_path}/state\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["-c", str(path), *args])
    assert result.exit_code == 2, result.output
    assert "no backup: section" in result.output


@pytest.mark.parametrize(
    "args",
    [["backup", "now", "--db", "nope"], ["verify", "--db", "nope"], ["restore", "nope", "-y"]],
    ids=lambda a: a[0],
)
def test_every_command_exits_2_for_an_unknown_database(
    make_config: MakeConfig, args: list[str]
) -> None:
    """backup now, verify and restore: the same usage error naming the known databases."""
    config = make_config()
    result = CliRunner().invoke(cli, ["-c", str(config.source), *args])
    assert result.exit_code == 2, result.output
    assert "no database named 'nope'" in result.output
    assert "known: app" in result.output


# ------------------------------------------------------------------- running Litestream

_HANGS = """#!/bin/sh
echo $$ > {pidfile}
exec sleep 120
"""


@pytest.fixture(name="hanging_config")
def fixture_hanging_config(make_config: MakeConfig, tmp_path: Path) -> Iterator[KhronosConfig]:
    """A config whose litestream writes its pid to tmp_path/pid and never answers (stopped by
    its pid at the end, should Khronos have left it running)."""
    script = tmp_path / "litestream"
    pidfile = tmp_path / "pid"
    script.write_text(_HANGS.format(pidfile=pidfile), encoding="utf-8")
    script.chmod(0o755)
    yield make_config(extra=f"  litestream: {script}\n")
    with contextlib.suppress(OSError, ValueError):
        os.kill(int(pidfile.read_text()), signal.SIGKILL)


def _gone(pid: int) -> bool:
    """The process has exited and was waited for (not even a zombie is left)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _status(config: KhronosConfig) -> object:
    return asyncio.run(replica_status(config.require_backup(), timeout=1))


def _backup_now(config: KhronosConfig) -> object:
    backup = config.require_backup()
    return asyncio.run(replicate_once(backup, list(backup.dbs), timeout=1))


def _snapshot(config: KhronosConfig) -> object:
    backup = config.require_backup()
    return asyncio.run(force_snapshot(backup, list(backup.dbs), timeout=1))


def _restore(config: KhronosConfig) -> object:
    return restore_database(config, probe_timeout=1)


@pytest.mark.integration
@pytest.mark.parametrize(
    "command", [_status, _backup_now, _snapshot, _restore], ids=lambda f: f.__name__
)
def test_a_litestream_that_never_answers_is_the_same_error_everywhere(
    hanging_config: KhronosConfig, tmp_path: Path, command: Callable[[KhronosConfig], object]
) -> None:
    """status, backup now, the repair's snapshot and restore: ReplicaAccessError after the
    timeout, in the same words, and the child is killed."""
    with pytest.raises(ReplicaAccessError, match="took longer than 1s: no answer from") as info:
        command(hanging_config)
    assert info.value.recoverable
    assert _gone(int((tmp_path / "pid").read_text()))


@pytest.mark.integration
def test_a_cancelled_run_kills_its_litestream(
    hanging_config: KhronosConfig, tmp_path: Path
) -> None:
    """Cancelling the task that runs Litestream leaves no Litestream behind."""
    backup = hanging_config.require_backup()
    pidfile = tmp_path / "pid"

    async def scenario() -> int:
        with Invocation.temporary(backup) as ls:
            task = asyncio.create_task(ls.run("ltx", "-json", timeout=60, op="status"))
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 30
            while not (pidfile.exists() and pidfile.read_text().strip()):
                assert loop.time() < deadline, "the stand-in litestream never started"
                await asyncio.sleep(0.05)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        return int(pidfile.read_text())

    assert _gone(asyncio.run(scenario()))


@pytest.mark.integration
def test_a_binary_that_cannot_run_is_litestream_not_found(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    """An executable file that is no program: LitestreamNotFoundError, not an OSError."""
    script = tmp_path / "litestream"
    script.write_text("not a program\n", encoding="utf-8")
    script.chmod(0o755)
    config = make_config(extra=f"  litestream: {script}\n")
    with pytest.raises(LitestreamNotFoundError, match="cannot run") as info:
        _status(config)
    assert isinstance(info.value, BackupError)


_FAILS = """#!/bin/sh
echo "Error: something Khronos does not know" >&2
exit 1
"""


@pytest.mark.integration
@pytest.mark.parametrize("command", [_status, _backup_now, _snapshot], ids=lambda f: f.__name__)
def test_an_unexplained_failure_is_a_backup_error(
    make_config: MakeConfig, tmp_path: Path, command: Callable[[KhronosConfig], object]
) -> None:
    """A failure explain_litestream_error does not know: a BackupError quoting Litestream."""
    script = tmp_path / "litestream"
    script.write_text(_FAILS, encoding="utf-8")
    script.chmod(0o755)
    config = make_config(extra=f"  litestream: {script}\n")
    with pytest.raises(BackupError, match="something Khronos does not know") as info:
        command(config)
    assert "check the replica" in (info.value.hint or "")
