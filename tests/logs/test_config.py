"""The ``logging:`` section and what configure() takes from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from khronos import logs, redact
from khronos.config import parse_config
from khronos.errors import ConfigError
from tests.logs.helpers import Setup, read_lines


def test_defaults_match_the_issue() -> None:
    """Level info, dir logs, console auto, 20MBx7 / 20MBx30 / 10MBx90."""
    cfg = parse_config("service: bot").logging
    assert (cfg.level, cfg.dir.name if cfg.dir else None, cfg.console) == ("info", "logs", "auto")
    files = cfg.files
    assert files.combined is not None
    assert files.errors is not None
    assert files.critical is not None
    assert (files.combined.max_size, files.combined.keep) == (20_000_000, 7)
    assert (files.errors.max_size, files.errors.keep) == (20_000_000, 30)
    assert (files.critical.max_size, files.critical.keep) == (10_000_000, 90)


def test_dir_is_relative_to_the_config_file(tmp_path: Path) -> None:
    """A relative logging.dir resolves against the config file's folder."""
    cfg = parse_config("logging: {dir: var/log}", base_dir=tmp_path).logging
    assert cfg.dir == tmp_path / "var/log"


def test_null_dir_and_null_file_disable_files() -> None:
    """dir: null writes no files; files.errors: null drops one file only."""
    cfg = parse_config("logging: {dir: null, files: {errors: null, combined: {keep: 3}}}").logging
    assert cfg.dir is None
    assert cfg.files.errors is None
    assert cfg.files.combined is not None
    assert cfg.files.combined.max_size == 20_000_000


@pytest.mark.parametrize(
    "text",
    [
        "logging: {level: loud}",
        "logging: {console: colour}",
        "logging: {files: {combined: {max_size: 10B}}}",
        "logging: {files: {combined: {keep: 0}}}",
        "logging: {files: {combined: {size: 1MB}}}",
    ],
)
def test_bad_values_are_config_errors(text: str) -> None:
    """Unknown levels, modes, tiny sizes, zero keep and unknown keys are refused."""
    with pytest.raises(ConfigError):
        parse_config(text)


def test_level_is_case_insensitive() -> None:
    """`level: WARNING` is accepted as warning."""
    assert parse_config("logging: {level: WARNING}").logging.level == "warning"


def test_log_level_env_overrides_config(
    setup_logs: Setup, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """LOG_LEVEL=debug beats level: info from the config."""
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    setup_logs(config=parse_config("logging: {level: info}").logging)
    logs.get_logger().debug("visible")
    logs.shutdown()
    assert [r["message"] for r in read_lines(tmp_path / "logs/combined.log")] == ["visible"]


def test_bad_log_level_env_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unknown LOG_LEVEL is a ConfigError about LOG_LEVEL."""
    monkeypatch.setenv("LOG_LEVEL", "chatty")
    with pytest.raises(ConfigError, match="chatty") as info:
        logs.configure(log_dir=None, console="off", handle_sigterm=False)
    assert info.value.problems[0].path == "LOG_LEVEL"


def test_configure_from_config_masks_every_config_secret(tmp_path: Path, setup_logs: Setup) -> None:
    """Secrets anywhere in khronos.yml (http.token) and logging.redact are masked."""
    config = parse_config(
        "service: bot\nhttp: {token: tok-en-value-1}\n"
        f"logging: {{dir: {tmp_path / 'logs'}, console: off, redact: [extra-secret-2]}}"
    )
    logs.configure_from_config(config, handle_sigterm=False)
    logs.get_logger().info("tok-en-value-1 and extra-secret-2")
    logs.shutdown()
    (record,) = read_lines(tmp_path / "logs/combined.log")
    assert record["message"] == f"{redact.MASK} and {redact.MASK}"
    assert record["service"] == "bot"


def test_collect_secrets_finds_nested_secrets() -> None:
    """collect_secrets walks every section, lists included."""
    config = parse_config("http: {token: abcdef}\nlogging: {redact: [ghijkl]}")
    assert redact.collect_secrets(config) == ["abcdef", "ghijkl"]
