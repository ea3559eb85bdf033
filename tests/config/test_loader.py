"""Loading khronos.yml: defaults, ${VAR} expansion, paths, secrets and precise errors."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from khronos import logs
from khronos.config import load_config, parse_config, resolve_config_path
from khronos.errors import ConfigError
from tests.support import WriteConfig


def problems(text: str, **kwargs: object) -> list[str]:
    """The formatted problems parse_config reports for text."""
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="k.yml", **kwargs)  # type: ignore[arg-type]
    return info.value.lines()


def test_defaults_fill_every_section(tmp_path: Path) -> None:
    """A minimal file gets the documented defaults."""
    config = parse_config("{}", base_dir=tmp_path)
    assert config.service.name == "khronos"
    assert str(config.http.listen) == "127.0.0.1:9321"
    assert config.metrics.namespace == "khronos"
    assert config.state_dir == tmp_path / ".khronos"
    assert config.service.shutdown_timeout == timedelta(seconds=30)


def test_service_shorthand() -> None:
    """`service: my-bot` is short for `service: {name: my-bot}`."""
    assert parse_config("service: my-bot").service.name == "my-bot"


def test_relative_paths_resolve_against_config_folder(write_config: WriteConfig) -> None:
    """state_dir is taken from the config file's folder, not the working directory."""
    path = write_config("state_dir: data/state\n")
    assert load_config(path).state_dir == path.parent / "data" / "state"


def test_tilde_expands_in_paths(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """~ in a path is the user's home folder."""
    monkeypatch.setenv("HOME", str(tmp_path))
    assert parse_config("state_dir: ~/kh").state_dir == tmp_path / "kh"


def test_env_var_expands() -> None:
    """${VAR} takes the variable's value."""
    config = parse_config("service: ${NAME}", environ={"NAME": "bot-1"})
    assert config.service.name == "bot-1"


def test_env_var_default_when_unset_or_empty() -> None:
    """${VAR:-default} falls back when VAR is unset or empty."""
    assert parse_config("service: ${NAME:-fallback}", environ={}).service.name == "fallback"
    assert parse_config("service: ${NAME:-fb}", environ={"NAME": ""}).service.name == "fb"


def test_unset_env_var_names_variable_and_key() -> None:
    """An unset ${VAR} is an error naming VAR and the key, with line and column."""
    (line,) = problems("http:\n  token: ${KH_TOKEN}\n", environ={})
    assert line.startswith("k.yml:2:10: http.token: environment variable KH_TOKEN is not set")


def test_dollar_dollar_is_a_literal() -> None:
    """$${ writes a literal ${ (for values that need it)."""
    config = parse_config("environment: a$${b}", environ={})
    assert config.environment == "a${b}"


def test_env_value_cannot_change_structure() -> None:
    """A variable holding YAML stays a plain string."""
    config = parse_config("environment: ${X}", environ={"X": "a: [1, 2]\nb: c"})
    assert config.environment == "a: [1, 2]\nb: c"


def test_malformed_reference_is_reported() -> None:
    """${1BAD} and an unclosed ${ are errors, not silent text."""
    assert "malformed variable reference" in problems("environment: ${1BAD}", environ={})[0]
    assert "unclosed ${" in problems("environment: ${OOPS", environ={})[0]


def test_unknown_key_names_path_position_and_suggestion() -> None:
    """A typo is rejected with its line/column and the likely intended key."""
    (line,) = problems("http:\n  listn: 127.0.0.1:1\n")
    assert line == (
        "k.yml:2:3: http.listn: unknown key 'listn' "
        "(did you mean 'listen'? valid keys here: idle_timeout, listen, max_connections, "
        "request_timeout, token)"
    )


def test_unknown_top_level_section() -> None:
    """An unknown section is rejected too (Litestream would ignore it)."""
    (line,) = problems("monitoring:\n  addr: ':9090'\n")
    assert "monitoring: unknown key 'monitoring'" in line


def test_wrong_type_is_reported() -> None:
    """A list where a mapping belongs is named as such."""
    (line,) = problems("http: [1, 2]\n")
    assert line.startswith("k.yml:1:7: http: expected a mapping")


def test_bad_duration_is_reported_with_hint() -> None:
    """A malformed duration names the key and how to write it."""
    (line,) = problems("service:\n  shutdown_timeout: 30\n")
    assert line.startswith("k.yml:2:21: service.shutdown_timeout: a duration needs a unit")
    assert "1m30s" in line


def test_every_problem_is_reported_at_once() -> None:
    """Several mistakes give several lines, not one at a time."""
    lines = problems("service: {name: '!!'}\nmetrics: {namespace: 9x}\nhttp: {port: 1}\n")
    assert len(lines) == 3


def test_repeated_key_is_an_error() -> None:
    """YAML keeps the last of two equal keys silently; Khronos refuses."""
    (line,) = problems("service: a\nservice: b\n")
    assert line.startswith("k.yml:2:1: service: this key appears twice")


def test_non_loopback_listen_requires_token() -> None:
    """Listening beyond loopback without http.token is refused."""
    (line,) = problems("http: {listen: '0.0.0.0:9321'}\n")
    assert "http.token" in line
    assert "beyond loopback" in line


def test_non_loopback_listen_with_token_is_accepted() -> None:
    """With a token, any address is allowed."""
    config = parse_config("http: {listen: '0.0.0.0:9321', token: s3cr3t-t0ken}\n")
    assert not config.http.listen.is_loopback


def test_secret_is_masked_in_repr_and_dump() -> None:
    """A secret never shows in repr, str or a JSON dump."""
    config = parse_config("http: {token: hunter2-very-secret}\n")
    assert config.http.token is not None
    assert config.http.token.get_secret_value() == "hunter2-very-secret"
    for text in (repr(config), str(config), config.model_dump_json()):
        assert "hunter2-very-secret" not in text


def test_secret_never_in_errors() -> None:
    """Error messages do not echo secret values, even from a secret env var in a wrong place."""
    env = {"MY_TOKEN": "tok-4242-secret"}
    lines = problems(
        "http:\n  listen: ${MY_TOKEN}\n  tokn: tok-4242-secret\n  token: [tok-4242-secret]\n",
        environ=env,
    )
    assert len(lines) == 3
    assert not any("tok-4242-secret" in line for line in lines)


def test_secret_env_var_never_in_errors() -> None:
    """A secret-named variable expanded into a non-secret key is not echoed by its error."""
    (line,) = problems("http:\n  listen: ${BOT_TOKEN}\n", environ={"BOT_TOKEN": "12345:abcdef"})
    assert "not a listen address" in line
    assert "12345:abcdef" not in line


def test_config_path_resolution_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """--config beats $KHRONOS_CONFIG, which beats ./khronos.yml."""
    assert resolve_config_path(None, {}) == Path("khronos.yml")
    assert resolve_config_path(None, {"KHRONOS_CONFIG": "/e.yml"}) == Path("/e.yml")
    assert resolve_config_path("/x.yml", {"KHRONOS_CONFIG": "/e.yml"}) == Path("/x.yml")


def test_load_records_source(write_config: WriteConfig) -> None:
    """The loaded config knows the file it came from."""
    path = write_config("service: a\n")
    assert load_config(path).source == path.resolve()


# ------------------------------------------------- reading commands and unset variables

_READER = (
    "http: {token: '${HTTP_TOKEN}'}\n"
    "alerts: {telegram: {bot_token: '${TG_TOKEN}', chat_id: '${TG_CHAT}'}}\n"
    "checks:\n  http:\n"
    "    - {name: bot, url: 'http://127.0.0.1:8080/health?token=${HTTP_TOKEN}'}\n"
    "    - {name: web, url: 'http://127.0.0.1:8081/health'}\n"
    "backup:\n  dbs:\n"
    "    - path: /srv/app.db\n"
    "      replica: {url: 's3://b/app', access-key-id: '${AWS_ID}', secret-access-key: "
    "'${AWS_SECRET}'}\n"
)


def test_a_reading_command_loads_without_the_secrets_it_does_not_use() -> None:
    """needs=...: unset secrets stay set but unknown; unset elsewhere leaves that part out."""
    config = parse_config(_READER, environ={}, needs=("backup", "state_dir", "logging"))
    assert config.http.token is not None
    assert config.alerts is not None
    assert config.alerts.telegram is None  # its chat_id is not set: left out
    assert [c.name for c in config.checks.http] == ["web"]
    assert config.backup is not None
    assert config.backup.dbs[0].replica.secret_access_key is not None
    described = {u.describe() for u in config.unset_variables}
    assert "${TG_CHAT} is not set: alerts.telegram is left out" in described
    assert "${HTTP_TOKEN} is not set: checks.http[0] is left out" in described
    assert "${HTTP_TOKEN} is not set: http.token is unavailable to this command" in described


def test_reading_an_unset_secret_fails_with_the_key_and_the_variable() -> None:
    """A command that does use the secret gets the normal error: key path and variable."""
    config = parse_config(_READER, environ={}, needs=("backup",))
    assert config.backup is not None
    with pytest.raises(ConfigError) as info:
        config.backup.dbs[0].replica.secret_access_key.get_secret_value()  # type: ignore[union-attr]
    (line,) = info.value.lines()
    assert line.startswith(
        "backup.dbs[0].replica.secret-access-key: environment variable AWS_SECRET is not set"
    )


def test_an_unset_variable_a_reading_command_needs_is_still_an_error() -> None:
    """A non-secret value in a section the command reads must be set."""
    text = "backup: {dbs: [{path: '${APP_DIR}/app.db', replica: {url: 'file:///r'}}]}\n"
    with pytest.raises(ConfigError, match="APP_DIR is not set"):
        parse_config(text, environ={}, needs=("backup",))


def test_every_command_that_does_not_say_what_it_reads_needs_every_variable() -> None:
    """Without needs (khronos run, verify, restore...), each unset variable is reported."""
    found = problems(_READER, environ={})
    assert sum("is not set" in line for line in found) == 6


def test_a_secret_inside_a_part_left_out_is_noted_with_it() -> None:
    """The bot token of a left-out alerts.telegram is noted as left out with it."""
    config = parse_config(_READER, environ={}, needs=("backup",))
    notes = {u.variable: u.left_out for u in config.unset_variables}
    assert notes["TG_TOKEN"] == "alerts.telegram"


def test_a_reading_command_logs_without_an_unset_redact_secret() -> None:
    """logging.redact with an unset ${VAR}: the logs still configure (nothing to mask for it)."""
    config = parse_config(
        "logging: {redact: ['${KHRONOS_TEST_UNSET}'], dir: null}\n", environ={}, needs=("logging",)
    )
    logs.configure_from_config(config, handle_sigterm=False, exception_hooks=False)
    logs.reset()
    assert [u.variable for u in config.unset_variables] == ["KHRONOS_TEST_UNSET"]
