"""`khronos silence add|list|remove`: offline on the state file, and through a running daemon."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from khronos.cli import cli
from tests.alerts.fake_telegram import FakeTelegram, FakeTelegramServer
from tests.daemon.harness import HTTP_TOKEN, khronos, metric, start, stop, write_config
from tests.polling import poll


def run(tmp_path: Path, *args: str) -> Result:
    return CliRunner().invoke(
        cli, ["--config", str(tmp_path / "khronos.yml"), *args], catch_exceptions=False
    )


def added_id(stdout: str) -> str:
    found = re.search(r"silence (\S+) added", stdout)
    assert found, stdout
    return found.group(1)


def test_offline_add_list_remove(tmp_path: Path) -> None:
    """Without a daemon the commands edit state_dir/silences.json; a bad value exits 2."""
    (tmp_path / "khronos.yml").write_text(
        "service: {name: bot}\nstate_dir: state\nalerts:\n  timezone: America/Sao_Paulo\n"
    )
    added = run(tmp_path, "silence", "add", "--match", "backup", "--for", "2h", "--reason", "vps")
    assert added.exit_code == 0, added.output
    silence_id = added_id(added.stdout)
    listed = run(tmp_path, "silence", "list", "--json")
    (item,) = json.loads(listed.stdout)
    assert (item["id"], item["match"], item["reason"], item["by"]) == (
        silence_id, "backup", "vps", "cli"
    )  # fmt: skip
    assert str(item["ends_at"]).endswith("-03:00")
    assert silence_id in run(tmp_path, "silence", "list").output
    saved = json.loads((tmp_path / "state" / "silences.json").read_text())
    assert [s["id"] for s in saved["silences"]] == [silence_id]
    assert run(tmp_path, "silence", "remove", silence_id).exit_code == 0
    assert run(tmp_path, "silence", "list").stdout.strip() == "no silences"
    missing = CliRunner().invoke(
        cli, ["--config", str(tmp_path / "khronos.yml"), "silence", "remove", silence_id]
    )
    assert missing.exit_code != 0
    assert "no runtime silence" in missing.output
    bad = CliRunner().invoke(
        cli, ["--config", str(tmp_path / "khronos.yml"), "silence", "add", "--match", "x",
              "--for", "soon"],
    )  # fmt: skip
    assert bad.exit_code == 2
    assert "duration" in bad.output


@pytest.mark.integration
def test_through_a_running_daemon(tmp_path: Path, env: dict[str, str]) -> None:
    """With `khronos run` up, the CLI goes through its API: the daemon holds matching alerts
    back (recorded as silenced, counted); after `silence remove` they are sent again."""
    with FakeTelegramServer() as telegram:
        _through_a_running_daemon(tmp_path, env, telegram)


def _through_a_running_daemon(tmp_path: Path, env: dict[str, str], telegram: FakeTelegram) -> None:
    write_config(tmp_path, telegram, backup=False, checks="{}")
    daemon = start(tmp_path, env)
    try:
        auth = {"Authorization": f"Bearer {HTTP_TOKEN}"}
        added = khronos(
            "silence", "add", "--match", "nightly", "--for", "1h", cwd=tmp_path, env=env
        )
        assert added.returncode == 0, added.stderr
        silence_id = added_id(added.stdout)
        listed = httpx.get(f"{daemon.url}/api/silences", headers=auth, timeout=10).json()
        assert [s["id"] for s in listed["silences"]] == [silence_id]
        assert listed["silences"][0]["by"] == "cli"
        alert = {"message": "nightly export failed", "level": "ERROR"}
        httpx.post(f"{daemon.url}/api/alerts", json=alert, headers=auth, timeout=10)
        status = httpx.get(f"{daemon.url}/api/status", headers=auth, timeout=10).json()
        assert [s["id"] for s in status["silences"]] == [silence_id]
        assert [a["state"] for a in status["alerts"] if "nightly" in a["message"]] == ["silenced"]
        assert metric(daemon.url, 'khronos_alerts_silenced_total{level="ERROR"}') == 1
        removed = khronos("silence", "remove", silence_id, cwd=tmp_path, env=env)
        assert removed.returncode == 0, removed.stderr
        alert["message"] = "nightly export failed again"
        httpx.post(f"{daemon.url}/api/alerts", json=alert, headers=auth, timeout=10)
        poll(lambda: any("failed again" in t for t in telegram.texts()), timeout=60)
        assert not any(t.endswith("nightly export failed") for t in telegram.texts())
        assert all("export failed again" in t for t in telegram.texts() if "nightly" in t)
    finally:
        assert stop(daemon.proc) == 0
    offline = khronos("silence", "list", "--json", cwd=tmp_path, env=env)
    assert json.loads(offline.stdout) == []
