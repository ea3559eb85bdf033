"""Property tests: random documents never crash the loader, and invalid ones never pass."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from khronos.cli import cli
from khronos.config import parse_config
from khronos.errors import ConfigError

KNOWN_KEYS = [
    "service",
    "name",
    "http",
    "listen",
    "token",
    "metrics",
    "namespace",
    "state_dir",
    "environment",
    "shutdown_timeout",
    "backup",
    "logging",
    "alerts",
    "checks",
]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)
)
keys = st.one_of(st.sampled_from(KNOWN_KEYS), st.text(min_size=1, max_size=10))
documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=5)
    ),
    max_leaves=20,
)

valid_documents = st.fixed_dictionaries(
    {},
    optional={
        "service": st.one_of(
            st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True),
            st.fixed_dictionaries(
                {}, optional={"shutdown_timeout": st.sampled_from(["1s", "5m", "1h30m", "2d"])}
            ),
        ),
        "environment": st.sampled_from(["production", "staging", "dev"]),
        "http": st.fixed_dictionaries(
            {},
            optional={
                "listen": st.integers(0, 65535).map(lambda p: f"127.0.0.1:{p}"),
                "token": st.from_regex(r"[A-Za-z0-9]{8,30}", fullmatch=True),
            },
        ),
        "metrics": st.fixed_dictionaries(
            {}, optional={"namespace": st.from_regex(r"[a-z_][a-z0-9_]{0,15}", fullmatch=True)}
        ),
    },
)


def _outcome(text: str) -> str:
    """'ok' or 'config-error'; anything else propagates and fails the test."""
    try:
        parse_config(text, source="fuzz.yml", base_dir=Path("/tmp"), environ={})
    except ConfigError as exc:
        lines = exc.lines()
    else:
        return "ok"
    assert lines, "a ConfigError must say something"
    return "config-error"


@given(st.text(max_size=200))
def test_random_text_only_ever_raises_config_error(text: str) -> None:
    """Arbitrary text is either a valid config or a ConfigError, never another exception."""
    _outcome(text)


@given(documents)
def test_random_yaml_documents_only_ever_raise_config_error(data: Any) -> None:
    """Arbitrary YAML structures are either valid or a ConfigError."""
    _outcome(yaml.safe_dump(data))


@given(valid_documents)
def test_valid_documents_pass(data: dict[str, Any]) -> None:
    """Documents built only from valid keys and values are accepted."""
    assert _outcome(yaml.safe_dump(data) if data else "{}") == "ok"


@given(valid_documents, st.data())
def test_an_unknown_key_anywhere_is_rejected(data: dict[str, Any], draw: st.DataObject) -> None:
    """Adding one unknown key to any mapping of a valid document makes it invalid."""
    mappings = [data] + [v for v in data.values() if isinstance(v, dict)]
    target = draw.draw(st.sampled_from(mappings))
    target["zz_" + draw.draw(st.text("abcxyz", min_size=1, max_size=6))] = 1
    assert _outcome(yaml.safe_dump(data)) == "config-error"


@given(
    st.sampled_from(["service", "http", "metrics"]),
    st.one_of(st.integers(), st.lists(st.integers(), max_size=2), st.booleans()),
)
def test_a_wrong_type_for_a_section_is_rejected(section: str, value: object) -> None:
    """A section given a number, list or boolean is invalid."""
    assert _outcome(yaml.safe_dump({section: value})) == "config-error"


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(documents)
def test_cli_check_never_prints_a_traceback(tmp_path: Path, data: Any) -> None:
    """Through the CLI: exit 0 exactly when the loader accepts, else 2; never a traceback."""
    path = tmp_path / "fuzz.yml"
    text = yaml.safe_dump(data)
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["config", "check", str(path)], env={})
    assert "Traceback" not in result.output
    try:
        parse_config(text, base_dir=tmp_path, environ={})
        expected = 0
    except ConfigError:
        expected = 2
    assert result.exit_code == expected, result.output
