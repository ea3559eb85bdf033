"""`khronos config check|show|reference` through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from khronos.cli import cli
from tests.support import WriteConfig


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    """Invoke the CLI in-process."""
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_check_valid_file_exits_0(write_config: WriteConfig) -> None:
    """A valid file passes with exit 0 and says so."""
    path = write_config("service: bot\n")
    result = run("config", "check", str(path))
    assert result.exit_code == 0
    assert "is valid" in result.output


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("http:\n  listn: x\n", "khronos.yml:2:3: http.listn: unknown key 'listn'"),
        ("http: 5\n", "khronos.yml:1:7: http: expected a mapping"),
        ("service: {shutdown_timeout: 5 minutes}\n", "service.shutdown_timeout: not a duration"),
        ("service: [a\n", "khronos.yml:2:1: YAML syntax error"),
        ("", "khronos.yml: the file is empty"),
        ("# only a comment\n", "khronos.yml: the file is empty"),
        ("just text\n", "the top level must be a mapping"),
        ("a: 1\n---\nb: 2\n", "more than one YAML document"),
        ("x: \x07\n", "not a valid YAML text file"),
    ],
)
def test_check_invalid_file_exits_2_and_names_the_spot(
    write_config: WriteConfig, text: str, expected: str
) -> None:
    """Unknown keys, wrong types, bad durations, syntax errors and empty files exit 2, located."""
    path = write_config(text)
    result = run("config", "check", str(path))
    assert result.exit_code == 2
    assert expected in result.stderr
    assert "Traceback" not in result.output


def test_check_binary_file_exits_2(tmp_path: Path) -> None:
    """A binary file is recognised as such."""
    path = tmp_path / "k.yml"
    path.write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00garbage\xff\xfe")
    result = run("config", "check", str(path))
    assert result.exit_code == 2
    assert "binary file" in result.stderr


def test_check_non_utf8_file_exits_2(tmp_path: Path) -> None:
    """Latin-1 text is reported with the offending byte's offset."""
    path = tmp_path / "k.yml"
    path.write_bytes("service: caf\xe9\n".encode("latin-1"))
    result = run("config", "check", str(path))
    assert result.exit_code == 2
    assert "not UTF-8 text (bad byte 0xe9 at offset 12)" in result.stderr


def test_check_missing_file_exits_2(tmp_path: Path) -> None:
    """A missing file says how to point Khronos at one."""
    result = run("config", "check", str(tmp_path / "nope.yml"))
    assert result.exit_code == 2
    assert "nope.yml: file not found" in result.stderr
    assert "--config" in result.stderr


def test_check_directory_exits_2(tmp_path: Path) -> None:
    """A directory is not a config file."""
    result = run("config", "check", str(tmp_path))
    assert result.exit_code == 2
    assert "is a directory" in result.stderr


def test_config_path_from_environment(write_config: WriteConfig) -> None:
    """$KHRONOS_CONFIG is used when no path is given."""
    path = write_config("service: from-env\n")
    result = run("config", "show", env={"KHRONOS_CONFIG": str(path)})
    assert result.exit_code == 0
    assert "name: from-env" in result.output


def test_config_option_before_and_after_subcommand(write_config: WriteConfig) -> None:
    """-c works as `khronos -c F config show` and as `khronos config show -c F`."""
    path = write_config("service: opt\n")
    assert "name: opt" in run("-c", str(path), "config", "show").output
    assert "name: opt" in run("config", "show", "-c", str(path)).output


def test_show_masks_secrets(write_config: WriteConfig) -> None:
    """config show prints every secret as ********** in YAML and JSON."""
    path = write_config("http:\n  token: ${TOK}\n")
    env = {"TOK": "super-secret-value-123"}
    for args in (("config", "show", str(path)), ("config", "show", "--json", str(path))):
        result = run(*args, env=env)
        assert result.exit_code == 0
        assert "super-secret-value-123" not in result.output
        assert "**********" in result.output


def test_show_masks_secrets_inside_urls(write_config: WriteConfig) -> None:
    """The http.token inside a check URL's query and a URL's password are masked, host kept."""
    path = write_config(
        "http:\n  token: ${TOK}\n"
        "checks:\n  http:\n    - name: bot\n"
        "      url: http://admin:hunter2-url-pass@127.0.0.1:8080/health?token=${TOK}&v=1\n"
    )
    env = {"TOK": "super-secret-value-123"}
    for args in (("config", "show", str(path)), ("config", "show", "--json", str(path))):
        result = run(*args, env=env)
        assert result.exit_code == 0
        for secret in ("super-secret-value-123", "hunter2-url-pass"):
            assert secret not in result.output
        assert "http://admin:**********@127.0.0.1:8080/health?token=**********&v=1" in result.output


def test_show_json_is_the_effective_config(write_config: WriteConfig) -> None:
    """--json prints the whole effective configuration with defaults filled in."""
    path = write_config("service: bot\n")
    data = json.loads(run("config", "show", "--json", str(path)).output)
    assert data["service"] == {"name": "bot", "shutdown_timeout": "30s"}
    assert data["http"]["listen"] == "127.0.0.1:9321"
    assert data["state_dir"] == str(path.parent / ".khronos")


def test_errors_never_show_secret(write_config: WriteConfig) -> None:
    """A config error output carries no secret value."""
    path = write_config("http:\n  token: [abc-secret-999]\n  listen: nope\n")
    result = run("config", "check", str(path))
    assert result.exit_code == 2
    assert "abc-secret-999" not in result.output


def test_unexpected_exception_is_one_line(
    monkeypatch: pytest.MonkeyPatch, write_config: WriteConfig
) -> None:
    """An unexpected error prints one line and exits 1; --debug adds the traceback."""
    import khronos.cli.config as config_cli

    def boom(_config: object) -> list[tuple[str, str]]:
        raise RuntimeError("kaboom\nsecond line")

    monkeypatch.setattr(config_cli, "_summary", boom)
    path = write_config("service: bot\n")
    result = run("config", "check", str(path))
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "error: unexpected RuntimeError: kaboom (run with --debug for the traceback)"
    ]
    debug = run("--debug", "config", "check", str(path))
    assert debug.exit_code == 1
    assert "Traceback (most recent call last)" in debug.stderr


def test_reference_lists_every_key() -> None:
    """config reference documents each key with a description."""
    output = run("config", "reference").output
    for key in ("`service.name`", "`http.listen`", "`http.token`", "`metrics.namespace`"):
        assert key in output
    rows = [r for r in output.splitlines() if r.startswith("| `")]
    assert all(not r.rstrip().endswith("|  |") for r in rows), "a key has no description"


def test_version_and_help() -> None:
    """--version prints the version; every command has help."""
    from khronos import __version__

    assert run("--version").output.strip() == f"khronos, version {__version__}"
    for args in ((), ("config",), ("config", "check"), ("config", "show"), ("demo",)):
        result = run(*args, "--help")
        assert result.exit_code == 0
        assert "Usage:" in result.output
