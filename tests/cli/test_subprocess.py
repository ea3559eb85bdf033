"""End-to-end: the real `khronos` process, as a user or a service manager runs it."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def khronos(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `python -m khronos ARGS` and capture its output."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("KHRONOS_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "khronos", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_version_runs(tmp_path: Path) -> None:
    """The installed command starts and reports its version."""
    result = khronos("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith("khronos, version ")


def test_default_config_path_is_cwd(tmp_path: Path) -> None:
    """Without -c or $KHRONOS_CONFIG, ./khronos.yml is read."""
    (tmp_path / "khronos.yml").write_text("service: cwd-bot\n")
    result = khronos("config", "show", cwd=tmp_path)
    assert result.returncode == 0
    assert "name: cwd-bot" in result.stdout


def test_bad_config_exits_2_without_traceback(tmp_path: Path) -> None:
    """A broken file: exit 2, located message on stderr, no traceback, nothing on stdout."""
    (tmp_path / "khronos.yml").write_text("http:\n  listen: [\n")
    result = khronos("config", "check", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: khronos.yml:")
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_unknown_command_is_a_usage_error(tmp_path: Path) -> None:
    """A mistyped command exits 2 with click's usage message."""
    result = khronos("confgi", cwd=tmp_path)
    assert result.returncode == 2
    assert "No such command 'confgi'" in result.stderr


def test_demo_runs_and_is_repeatable(tmp_path: Path) -> None:
    """`khronos demo` runs the daemon on its embedded config and proves the backup, twice."""
    for _ in range(2):
        result = khronos("demo", "--dir", "demo", "--duration", "1s", "--port", "0", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stdout + result.stderr
        assert result.stdout.startswith("Khronos demo: open the dashboard at http://127.0.0.1:")
        assert "restore drill passed" in result.stdout
        assert "nothing is waiting to be backed up" in result.stdout
    assert khronos("config", "check", "demo/khronos.yml", cwd=tmp_path).returncode == 0
    with closing(sqlite3.connect(tmp_path / "demo" / "app.db")) as conn:
        (count,) = conn.execute("SELECT count(*) FROM messages").fetchone()
    assert count > 10  # the seed rows plus what the simulated service wrote
    assert (tmp_path / "demo" / "replica").is_dir()
    assert not (tmp_path / "demo" / ".khronos" / "daemon.json").exists()
