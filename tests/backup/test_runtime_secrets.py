"""Secrets stay out of reprs and of errors quoting Litestream; AWS_CA_BUNDLE is logged when dropped.

The leak tests run a stand-in ``litestream`` (``backup.litestream: <script>``) that fails with
the replica's credentials in its stderr, the worst case of an S3 error quoting a request: the
errors Khronos raises from it must quote the line with the credentials masked.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import structlog
from click.testing import CliRunner

from khronos.backup._offline import offline_status, replicate_once
from khronos.backup._restore import restore_database
from khronos.backup._restore_run import LitestreamRun
from khronos.backup._verify import verify_database
from khronos.cli import cli
from khronos.config import KhronosConfig
from khronos.errors import KhronosError
from khronos.logs import MASK, get_redactor
from tests.backup.conftest import S3_KEY, S3_SECRET, MakeConfig, s3_replica_yaml

pytestmark = pytest.mark.integration

_LEAKY = """#!/bin/sh
echo "Error: PUT http://$KHRONOS_LS_0_ACCESS_KEY_ID:$KHRONOS_LS_0_SECRET_ACCESS_KEY@127.0.0.1:9/b \
failed" >&2
exit 1
"""


@pytest.fixture(autouse=True)
def _fresh_redactor() -> Iterator[None]:
    """Each test starts with no registered secrets: Khronos itself must register them."""
    get_redactor().clear_secrets()
    yield
    get_redactor().clear_secrets()


@pytest.fixture(name="leaky_config")
def fixture_leaky_config(make_config: MakeConfig, tmp_path: Path) -> KhronosConfig:
    """An S3 replica with the test credentials, run by a litestream that prints them."""
    script = tmp_path / "litestream"
    script.write_text(_LEAKY, encoding="utf-8")
    script.chmod(0o755)
    replica = s3_replica_yaml("khronos-bucket", "http://127.0.0.1:9")
    return make_config(replica, extra=f"  litestream: {script}\n")


def _restore_text(config: KhronosConfig) -> str:
    with pytest.raises(KhronosError) as info:
        restore_database(config)
    return "\n".join([*info.value.lines(), info.value.hint or ""])


def _verify_text(config: KhronosConfig) -> str:
    assert config.backup is not None
    report = verify_database(config, config.backup.dbs[0])
    assert not report.ok
    return f"{report.error}\n{report.hint}"


def _status_text(config: KhronosConfig) -> str:
    assert config.backup is not None
    with pytest.raises(KhronosError) as info:
        asyncio.run(offline_status(config.backup))
    return str(info.value)


def _backup_now_text(config: KhronosConfig) -> str:
    assert config.backup is not None
    with pytest.raises(KhronosError) as info:
        asyncio.run(replicate_once(config.backup, list(config.backup.dbs)))
    return str(info.value)


@pytest.mark.parametrize(
    "failing",
    [_restore_text, _verify_text, _status_text, _backup_now_text],
    ids=lambda f: f.__name__,
)
def test_litestream_output_is_quoted_with_secrets_masked(
    leaky_config: KhronosConfig, failing: Callable[[KhronosConfig], str]
) -> None:
    """restore, verify, status and backup now quote Litestream's error without the keys."""
    text = failing(leaky_config)
    assert MASK in text  # the line was quoted...
    assert S3_KEY not in text  # ...without the access key id
    assert S3_SECRET not in text  # ...or the secret


def test_cli_restore_error_has_no_secret(leaky_config: KhronosConfig) -> None:
    """`khronos restore` prints the failure (exit 1) without the access key id or the secret."""
    result = CliRunner().invoke(cli, ["-c", str(leaky_config.source), "restore", "-y"])
    assert result.exit_code == 1
    assert "127.0.0.1:9" in result.output
    assert S3_KEY not in result.output
    assert S3_SECRET not in result.output


def test_litestream_run_repr_has_no_secret(leaky_config: KhronosConfig, tmp_path: Path) -> None:
    """LitestreamRun holds the secrets in env; its repr does not show them."""
    assert leaky_config.backup is not None
    run = LitestreamRun.prepare(leaky_config.backup, leaky_config.backup.dbs[0], tmp_path, 5.0)
    assert S3_SECRET in run.env.values()
    assert S3_SECRET not in repr(run)
    assert S3_KEY not in repr(run)


def _restore(config: KhronosConfig) -> None:
    with pytest.raises(KhronosError):
        restore_database(config)


def _verify(config: KhronosConfig) -> None:
    assert config.backup is not None
    verify_database(config, config.backup.dbs[0])


def _status(config: KhronosConfig) -> None:
    assert config.backup is not None
    asyncio.run(offline_status(config.backup))


def _backup_now(config: KhronosConfig) -> None:
    assert config.backup is not None
    asyncio.run(replicate_once(config.backup, list(config.backup.dbs)))


@pytest.mark.parametrize(
    "command", [_restore, _verify, _status, _backup_now], ids=lambda f: f.__name__
)
def test_aws_ca_bundle_drop_is_logged(
    make_config: MakeConfig, monkeypatch: pytest.MonkeyPatch, command: Callable[..., None]
) -> None:
    """Outside khronos run too, dropping AWS_CA_BUNDLE from Litestream's environment is logged."""
    config = make_config()
    monkeypatch.setenv("AWS_CA_BUNDLE", "/nonexistent/ca-bundle.pem")
    with structlog.testing.capture_logs() as logs:
        command(config)
    dropped = [e for e in logs if e.get("variable") == "AWS_CA_BUNDLE"]
    assert dropped
    assert "RootCAs" in dropped[0]["reason"]


def test_cli_logs_go_to_stderr_not_into_json(
    make_config: MakeConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`khronos verify --json` with AWS_CA_BUNDLE set: JSON on stdout, the log line on stderr."""
    config = make_config()
    monkeypatch.setenv("AWS_CA_BUNDLE", "/nonexistent/ca-bundle.pem")
    result = CliRunner().invoke(cli, ["-c", str(config.source), "verify", "--json"])
    assert result.exit_code == 1  # an empty replica fails the drill
    assert json.loads(result.stdout)["databases"][0]["ok"] is False
    assert "AWS_CA_BUNDLE" in result.stderr
