"""`khronos init`: the files it writes, that each tool accepts them, and that it never
overwrites a file without --force."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from khronos.cli import cli
from khronos.scaffold import TOKEN_PLACEHOLDER
from tests.support import require_binary

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
TOKEN = "123456:TEST-token_abcdefghijklmnopqrstuvwxyz"
ENV = {
    "KHRONOS_HTTP_TOKEN": "init-test-http-token",
    "AWS_ACCESS_KEY_ID": "init-test-key",
    "AWS_SECRET_ACCESS_KEY": "init-test-secret-key",
    "TELEGRAM_BOT_TOKEN": TOKEN,
    "ALERT_CHAT_ID": "-1001",
    "GRAFANA_ADMIN_PASSWORD": "init-test-grafana",
}
S3_ARGS = ("--db", "state.db", "--replica", "s3://bucket/bot", "--endpoint", "http://127.0.0.1:9")


def _init(folder: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["init", str(folder), *args], catch_exceptions=False)
    return result.exit_code, result.output


def _run(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KHRONOS_")} | ENV
    return subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_init_writes_khronos_yml_and_deploy(tmp_path: Path) -> None:
    """One run writes khronos.yml, the unit, compose, Prometheus, Alertmanager and Grafana."""
    code, output = _init(tmp_path, *S3_ARGS, "--app", "node bot.js")
    assert code == 0, output
    for name in (
        "khronos.yml",
        "deploy/khronos.service",
        "deploy/docker-compose.yml",
        "deploy/prometheus.yml",
        "deploy/alert-rules.yml",
        "deploy/alertmanager.yml",
        "deploy/grafana/provisioning/datasources/prometheus.yml",
        "deploy/grafana/provisioning/dashboards/khronos.yml",
        "deploy/grafana/dashboards/khronos-dashboard.json",
    ):
        assert (tmp_path / name).is_file(), name
        assert f"wrote {tmp_path / name}" in output
    assert "Next steps" in output
    assert "doctor" in output


def test_init_reuses_the_shipped_rules_and_dashboard(tmp_path: Path) -> None:
    """alert-rules.yml and the dashboard are Khronos' deploy/ files, byte for byte."""
    _init(tmp_path)
    assert (tmp_path / "deploy/alert-rules.yml").read_bytes() == (
        DEPLOY / "alert-rules.yml"
    ).read_bytes()
    dashboard = tmp_path / "deploy/grafana/dashboards/khronos-dashboard.json"
    assert dashboard.read_bytes() == (DEPLOY / "grafana/khronos-dashboard.json").read_bytes()


def test_init_writes_no_secret_only_references(tmp_path: Path) -> None:
    """Secrets appear as ${VARS} in khronos.yml and as a placeholder in alertmanager.yml."""
    _init(tmp_path, *S3_ARGS)
    text = (tmp_path / "khronos.yml").read_text()
    for name in (
        "TELEGRAM_BOT_TOKEN",
        "ALERT_CHAT_ID",
        "AWS_SECRET_ACCESS_KEY",
        "KHRONOS_HTTP_TOKEN",
    ):
        assert f"${{{name}}}" in text
    receivers = yaml.safe_load((tmp_path / "deploy/alertmanager.yml").read_text())["receivers"]
    tokens = {c["bot_token"] for r in receivers for c in r["telegram_configs"]}
    assert tokens == {TOKEN_PLACEHOLDER}


def test_init_twice_refuses_and_changes_nothing(tmp_path: Path) -> None:
    """A second init without --force exits 1, names the files, and writes none of them."""
    _init(tmp_path, "--service", "first")
    (tmp_path / "deploy/prometheus.yml").unlink()  # one missing: still all or nothing
    before = _snapshot(tmp_path)
    result = CliRunner().invoke(cli, ["init", str(tmp_path), "--service", "second"])
    assert result.exit_code == 1
    assert "khronos.yml" in result.output
    assert "--force" in result.output
    assert _snapshot(tmp_path) == before


def test_init_force_overwrites(tmp_path: Path) -> None:
    """With --force the files are written again, with the new answers."""
    _init(tmp_path, "--service", "first")
    code, output = _init(tmp_path, "--service", "second", "--force")
    assert code == 0, output
    assert "service: second" in (tmp_path / "khronos.yml").read_text()
    assert "(overwritten)" in output


def test_init_finds_the_databases_in_the_folder(tmp_path: Path) -> None:
    """Without --db, the SQLite files in DIR and DIR/data are the databases."""
    import sqlite3

    (tmp_path / "data").mkdir()
    for name in ("bot.db", "data/users.sqlite"):
        sqlite3.connect(tmp_path / name).execute("CREATE TABLE t (x)").connection.close()
    (tmp_path / "notes.db").write_text("not sqlite")
    _init(tmp_path)
    dbs = yaml.safe_load((tmp_path / "khronos.yml").read_text())["backup"]["dbs"]
    assert [db["path"] for db in dbs] == ["bot.db", "data/users.sqlite"]


def test_init_interactive_asks(tmp_path: Path) -> None:
    """--interactive takes the answers from prompts."""
    answers = "my-bot\nstate.db\nfile:///var/backups/bot\nn\nabc\n-1002\nnode bot.js\n\n"
    result = CliRunner().invoke(cli, ["init", str(tmp_path), "-i"], input=answers)
    assert result.exit_code == 0, result.output
    config = yaml.safe_load((tmp_path / "khronos.yml").read_text())
    assert config["service"] == "my-bot"
    assert config["backup"]["dbs"][0]["replica"]["url"] == "file:///var/backups/bot/state"
    assert "alerts" not in config
    assert "run -- node bot.js" in (tmp_path / "deploy/khronos.service").read_text()
    assert "chat_id: -1002" in (tmp_path / "deploy/alertmanager.yml").read_text()
    assert "a Telegram chat id is a number" in result.output  # "abc" was asked again


def test_init_rejects_a_replica_that_is_not_a_url(tmp_path: Path) -> None:
    """--replica bucket/path is a usage error (exit 2), nothing written."""
    result = CliRunner().invoke(cli, ["init", str(tmp_path), "--replica", "bucket/path"])
    assert result.exit_code == 2
    assert list(tmp_path.iterdir()) == []


# --- the tools accept what init writes -------------------------------------------------------


@pytest.fixture(name="initialized")
def fixture_initialized(tmp_path: Path) -> Path:
    """A folder after `khronos init` with an S3 replica, an app and its metrics."""
    code, output = _init(
        tmp_path, *S3_ARGS, "--app", "node bot.js", "--app-metrics", "127.0.0.1:3000"
    )
    assert code == 0, output
    return tmp_path


@pytest.mark.integration
def test_khronos_config_check_accepts_khronos_yml(initialized: Path) -> None:
    """`khronos config check` passes on the generated khronos.yml (variables exported)."""
    result = _run(sys.executable, "-m", "khronos", "config", "check", cwd=initialized)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.integration
def test_khronos_config_check_accepts_the_defaults(tmp_path: Path) -> None:
    """With no answers at all (file replica, Telegram), the file is valid too."""
    _init(tmp_path)
    result = _run(sys.executable, "-m", "khronos", "config", "check", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.integration
def test_promtool_accepts_prometheus_yml_and_rules(initialized: Path) -> None:
    """`promtool check config` (which loads the rules) and `check rules` pass."""
    promtool = require_binary("promtool")
    config = _run(promtool, "check", "config", "deploy/prometheus.yml", cwd=initialized)
    assert config.returncode == 0, config.stdout + config.stderr
    rules = _run(promtool, "check", "rules", "deploy/alert-rules.yml", cwd=initialized)
    assert rules.returncode == 0, rules.stdout + rules.stderr


@pytest.mark.integration
def test_amtool_accepts_alertmanager_yml(initialized: Path) -> None:
    """`amtool check-config` passes on the generated alertmanager.yml (0.25: no token file)."""
    amtool = require_binary("amtool")
    result = _run(amtool, "check-config", "deploy/alertmanager.yml", cwd=initialized)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.integration
def test_amtool_accepts_alertmanager_yml_with_the_token_in_place(initialized: Path) -> None:
    """The compose entrypoint's sed, run here, yields a valid config holding the token."""
    amtool = require_binary("amtool")
    compose = yaml.safe_load((initialized / "deploy/docker-compose.yml").read_text())
    script = compose["services"]["alertmanager"]["command"][0].replace("$$", "$")
    sed = script.split("&&")[1].replace("/etc/alertmanager/", "deploy/")
    sed = sed.replace("/tmp/alertmanager.yml", "filled.yml")
    done = _run("sh", "-c", sed, cwd=initialized)
    assert done.returncode == 0, done.stderr
    filled = (initialized / "filled.yml").read_text()
    assert TOKEN in filled
    assert TOKEN_PLACEHOLDER not in filled
    result = _run(amtool, "check-config", "filled.yml", cwd=initialized)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.integration
def test_docker_compose_accepts_the_compose_file(initialized: Path) -> None:
    """`docker-compose -f deploy/docker-compose.yml config` validates it (no engine needed)."""
    compose = require_binary("docker-compose")
    result = _run(compose, "-f", "deploy/docker-compose.yml", "config", cwd=initialized)
    assert result.returncode == 0, result.stdout + result.stderr
    assert {"prometheus", "alertmanager", "grafana"} <= set(
        yaml.safe_load(result.stdout)["services"]
    )


def test_compose_mounts_name_files_init_wrote(initialized: Path) -> None:
    """Every ./ bind mount of the compose file names a file or folder that exists."""
    compose = yaml.safe_load((initialized / "deploy/docker-compose.yml").read_text())
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (initialized / "deploy" / source).exists(), source


def test_env_example_lists_every_variable_the_files_read(initialized: Path) -> None:
    """Each ${VAR} of khronos.yml and docker-compose.yml is in khronos.env.example, and no
    line carries a trailing comment (systemd would keep it as part of the value)."""
    import re

    example = (initialized / "deploy/khronos.env.example").read_text().splitlines()
    assignments = [line for line in example if line and not line.startswith("#")]
    assert all(re.fullmatch(r"[A-Z_]+=", line) for line in assignments), assignments
    listed = {line.removesuffix("=") for line in assignments}
    used = set()
    for name in ("khronos.yml", "deploy/docker-compose.yml"):
        lines = (initialized / name).read_text().splitlines()
        text = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
        used |= set(re.findall(r"(?<!\$)\$\{([A-Z_]+)", text))
    assert used
    assert used <= listed, used - listed


@pytest.mark.integration
def test_docker_compose_reads_the_filled_env_file(initialized: Path) -> None:
    """`docker-compose --env-file FILE config` with the filled-in example, as the docs say."""
    compose = require_binary("docker-compose")
    lines = (initialized / "deploy/khronos.env.example").read_text().splitlines()
    filled = [f"{line}{ENV[line[:-1]]}" if line.endswith("=") else line for line in lines]
    env_file = initialized / "filled.env"
    env_file.write_text("\n".join(filled) + "\n")
    bare = {k: v for k, v in os.environ.items() if k not in ENV}
    result = subprocess.run(
        [compose, "--env-file", str(env_file), "-f", "deploy/docker-compose.yml", "config"],
        cwd=initialized,
        env=bare,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    grafana = yaml.safe_load(result.stdout)["services"]["grafana"]["environment"]
    assert grafana["GF_SECURITY_ADMIN_PASSWORD"] == ENV["GRAFANA_ADMIN_PASSWORD"]


@pytest.mark.integration
def test_systemd_accepts_the_unit(initialized: Path) -> None:
    """`systemd-analyze verify` passes on the unit without a warning (no unknown key, no
    unparsable value, an executable ExecStart)."""
    analyze = require_binary("systemd-analyze")
    unit = initialized / "khronos-init-test.service"
    unit.write_text((initialized / "deploy/khronos.service").read_text())
    result = _run(analyze, "verify", str(unit), cwd=initialized)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr.strip() == ""


def test_answers_that_make_an_invalid_file_write_nothing(tmp_path: Path) -> None:
    """A bad service name or listen address: exit 2 naming the key and the fix, no file."""
    target = tmp_path / "bot"
    result = CliRunner().invoke(cli, ["init", str(target), "--service", "my bot"])
    assert result.exit_code == 2
    assert "service.name: not a usable service name" in result.output
    result = CliRunner().invoke(cli, ["init", str(target), "--listen", "nonsense"])
    assert result.exit_code == 2
    assert "http.listen" in result.output
    assert not target.exists()
