"""Secrets stay out of reprs and of errors quoting Litestream; AWS_CA_BUNDLE is logged when dropped.

The leak tests run a stand-in ``litestream`` (``backup.litestream: <script>``) that fails with
the replica's credentials in its stderr, the worst case of an S3 error quoting a request: the
errors Khronos raises from it must quote the line with the credentials masked.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import structlog
from click.testing import CliRunner

from khronos.backup import BackupService, Invocation, RecordingAlertSink, litestream_env
from khronos.backup._restore import restore_database
from khronos.backup._status import replica_status
from khronos.backup._sync import replicate_once
from khronos.backup._verify import verify_database
from khronos.cli import cli
from khronos.config import KhronosConfig
from khronos.errors import KhronosError
from khronos.redact import MASK, get_redactor
from tests.backup.conftest import S3_KEY, S3_SECRET, MakeConfig, make_db, s3_replica_yaml

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
        asyncio.run(replica_status(config.backup))
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


def test_invocation_repr_has_no_secret(leaky_config: KhronosConfig, tmp_path: Path) -> None:
    """An Invocation holds the secrets in env; its repr does not show them."""
    assert leaky_config.backup is not None
    run = Invocation.prepare(leaky_config.backup, tmp_path / "litestream.yml")
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
    asyncio.run(replica_status(config.backup))


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
    """`khronos verify --json` at debug level: JSON on stdout, the log lines on stderr."""
    config = make_config()
    monkeypatch.setenv("AWS_CA_BUNDLE", "/nonexistent/ca-bundle.pem")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    result = CliRunner().invoke(cli, ["-c", str(config.source), "verify", "--json"])
    assert result.exit_code == 1  # an empty replica fails the drill
    assert json.loads(result.stdout)["databases"][0]["ok"] is False
    assert "AWS_CA_BUNDLE" in result.stderr


def _two_databases(tmp_path: Path) -> Path:
    for name in ("a.db", "b.db"):
        make_db(tmp_path / name)
    path = tmp_path / "two.yml"
    path.write_text(
        f"state_dir: {tmp_path}/state\n"
        "backup:\n  dbs:\n"
        f"    - {{path: a.db, replica: {{url: 'file://{tmp_path}/ra'}}}}\n"
        f"    - {{path: b.db, replica: {{url: 'file://{tmp_path}/rb'}}}}\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize(("level", "times"), [(None, 0), ("debug", 1)])
def test_one_shot_commands_mention_the_dropped_ca_bundle_once_at_debug(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, level: str | None, times: int
) -> None:
    """verify over two databases: silent at the default level, one line at debug."""
    monkeypatch.setenv("AWS_CA_BUNDLE", "/nonexistent/ca-bundle.pem")
    if level:
        monkeypatch.setenv("LOG_LEVEL", level)
    result = CliRunner().invoke(cli, ["-c", str(_two_databases(tmp_path)), "verify", "--json"])
    assert len(json.loads(result.stdout)["databases"]) == 2
    assert result.stderr.count("dropped AWS_CA_BUNDLE") == times


def test_litestream_env_keeps_only_what_litestream_reads() -> None:
    """PATH, HOME, TZ, locale, TMPDIR, TLS/proxy and cloud credential variables; nothing else."""
    base = {
        "PATH": "/usr/bin",
        "HOME": "/root",
        "TZ": "Asia/Tokyo",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TMPDIR": "/tmp",
        "SSL_CERT_FILE": "/etc/ssl/ca.pem",
        "HTTPS_PROXY": "http://proxy:3128",
        "AWS_ACCESS_KEY_ID": "AKIA",
        "AWS_SECRET_ACCESS_KEY": "s",
        "AWS_PROFILE": "backup",
        "GOOGLE_APPLICATION_CREDENTIALS": "/k.json",
        "AZURE_STORAGE_KEY": "z",
        "LITESTREAM_SECRET_ACCESS_KEY": "l",
        "AWS_CA_BUNDLE": "/etc/ca.pem",
        "KHRONOS_HTTP_TOKEN": "http-token",
        "TELEGRAM_BOT_TOKEN": "123:abc",
        "DATABASE_URL": "postgres://u:p@h/db",
        "KHRONOS_LS_0_SECRET_ACCESS_KEY": "from-a-parent-khronos",
        "LOG_LEVEL": "debug",
    }
    env, dropped = litestream_env(base)
    gone = {
        "AWS_CA_BUNDLE",
        "KHRONOS_HTTP_TOKEN",
        "TELEGRAM_BOT_TOKEN",
        "DATABASE_URL",
        "KHRONOS_LS_0_SECRET_ACCESS_KEY",
        "LOG_LEVEL",
    }
    assert set(env) == set(base) - gone
    assert dropped == ["AWS_CA_BUNDLE"]


@pytest.mark.asyncio
async def test_the_litestream_child_does_not_inherit_khronos_secrets(
    make_config: MakeConfig,
) -> None:
    """The running Litestream's /proc environ has PATH but not the HTTP token or AWS_CA_BUNDLE."""
    config = make_config()
    environ = {
        "PATH": os.environ["PATH"],
        "KHRONOS_HTTP_TOKEN": "http-token-4f1c9a",
        "AWS_CA_BUNDLE": "/nonexistent/ca.pem",
    }
    service = BackupService(config, alerts=RecordingAlertSink(), environ=environ)
    await service.start()
    try:
        assert service.supervisor is not None
        pid = service.supervisor.pid
        assert pid is not None
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    finally:
        await service.stop()
    names = {entry.split(b"=", 1)[0].decode() for entry in raw.split(b"\0") if entry}
    assert "PATH" in names
    assert "KHRONOS_HTTP_TOKEN" not in names
    assert "AWS_CA_BUNDLE" not in names
    assert b"http-token-4f1c9a" not in raw
