"""Rendering khronos.yml's backup: section into the Litestream 0.5 config, checked by the binary."""

from __future__ import annotations

import json
import sqlite3
import stat
import subprocess
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from khronos.backup import find_litestream, litestream_env, render_config
from khronos.backup._litestream import RenderedConfig, go_duration
from khronos.config import parse_config
from khronos.config._backup import BackupConfig
from tests.backup.conftest import S3Server, make_db, s3_replica_yaml

SECRETS = {
    "KEY_ID": "AKIA-render-test-id",
    "SECRET": "render-test-secret-value",
    "SSE_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
    "SAS": "sv=2024&sig=render-test-sas",
    "DAV_PW": "render-test-dav-password",
}


def _backup(replica: str, base: Path, db_extra: str = "") -> BackupConfig:
    """The backup: section for base/app.db with this replica (flow-style YAML)."""
    text = f"backup:\n  dbs:\n    - path: app.db\n{db_extra}      replica: {replica}\n"
    config = parse_config(text, base_dir=base, environ=SECRETS)
    assert config.backup is not None
    return config.backup


def _replica_doc(rendered: RenderedConfig) -> dict[str, Any]:
    """The rendered replica: mapping of the first database."""
    document = yaml.safe_load(rendered.text)
    return dict(document["dbs"][0]["replica"])


def _litestream(
    rendered: RenderedConfig, conf: Path, *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Write the config and run the real binary on it, with the env the renderer asks for."""
    rendered.write(conf)
    env, _ = litestream_env()
    env.update(rendered.env)
    return subprocess.run(
        [str(find_litestream()), *args, "-config", str(conf)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# ------------------------------------------------------------------------------- secrets


def test_rendered_file_is_0600_and_holds_no_secret(tmp_path: Path) -> None:
    """Every secret travels as an env var: the file (mode 0600) only holds ${KHRONOS_LS_...}."""
    backup = _backup(
        "{url: 's3://bk/a', access-key-id: '${KEY_ID}', secret-access-key: '${SECRET}', "
        "sse-customer-key: '${SSE_KEY}'}",
        tmp_path,
    )
    rendered = render_config(backup)
    conf = tmp_path / "state" / "litestream.yml"
    rendered.write(conf)
    text = conf.read_text()
    assert stat.S_IMODE(conf.stat().st_mode) == 0o600
    for secret in ("KEY_ID", "SECRET", "SSE_KEY"):
        assert SECRETS[secret] not in text
        assert SECRETS[secret] in rendered.env.values()
    assert _replica_doc(rendered)["secret-access-key"] == "${KHRONOS_LS_0_SECRET_ACCESS_KEY}"
    assert "render-test" not in repr(rendered)


@pytest.mark.parametrize(
    ("replica", "key", "secret"),
    [
        ("{url: 'abs://acct@box/a', sas-token: '${SAS}'}", "sas-token", "SAS"),
        (
            "{url: 'webdavs://dav.example.com/b', webdav-password: '${DAV_PW}'}",
            "webdav-password",
            "DAV_PW",
        ),
    ],
)
def test_abs_and_webdav_secrets_travel_by_env(
    tmp_path: Path, replica: str, key: str, secret: str
) -> None:
    """sas-token and webdav-password are rendered as env references, never as values."""
    rendered = render_config(_backup(replica, tmp_path))
    assert SECRETS[secret] not in rendered.text
    reference = _replica_doc(rendered)[key]
    assert rendered.env[reference.removeprefix("${").removesuffix("}")] == SECRETS[secret]


@pytest.mark.integration
def test_s3_credentials_reach_litestream_only_through_env(
    tmp_path: Path, s3_server: S3Server, bucket: str
) -> None:
    """A replicate -once to the loopback S3 server works with keys that are only in the env."""
    make_db(tmp_path / "app.db")
    backup = _backup(s3_replica_yaml(bucket, s3_server.endpoint, "render"), tmp_path)
    rendered = render_config(backup)
    assert "test-secret-key-not-real" not in rendered.text
    result = _litestream(rendered, tmp_path / "ls.yml", "replicate", "-once")
    assert result.returncode == 0, result.stderr[-2000:]
    listing = s3_server.client().list_objects_v2(Bucket=bucket, Prefix="render/")
    assert listing.get("KeyCount", 0) > 0


# ------------------------------------------------------------------------------ providers


def test_b2_renders_the_s3_settings_b2_needs(tmp_path: Path) -> None:
    """b2:// renders type s3, B2's endpoint, its region, path style and signed payloads."""
    doc = _replica_doc(
        render_config(_backup("{url: 'b2://bk/app', region: us-west-004}", tmp_path))
    )
    assert doc == {
        "type": "s3",
        "path": "app",
        "bucket": "bk",
        "region": "us-west-004",
        "endpoint": "https://s3.us-west-004.backblazeb2.com",
        "force-path-style": True,
        "sign-payload": True,
        "sync-interval": "1s",
    }


def test_r2_renders_the_account_endpoint_and_no_account_id(tmp_path: Path) -> None:
    """r2:// renders s3 at the account's endpoint, region auto; account-id stays in Khronos."""
    account = "0123456789abcdef0123456789abcdef"
    doc = _replica_doc(
        render_config(_backup(f"{{url: 'r2://bk/a', account-id: {account}}}", tmp_path))
    )
    assert (doc["type"], doc["region"]) == ("s3", "auto")
    assert doc["endpoint"] == f"https://{account}.r2.cloudflarestorage.com"
    assert "account-id" not in doc


def test_every_replica_setting_is_rendered(tmp_path: Path) -> None:
    """Each s3 key a user sets appears, kebab-case, in the rendered replica (none dropped)."""
    replica = (
        "{url: 's3://bk/a', region: r, endpoint: 'https://s3.example.com', force-path-style: true, "
        "sign-payload: false, sign-accept-encoding: false, skip-verify: true, "
        "require-content-md5: false, storage-class: STANDARD_IA, part-size: 10MiB, concurrency: 3, "
        "access-key-id: '${KEY_ID}', secret-access-key: '${SECRET}', sse-kms-key-id: kms-1, "
        "sync-interval: 2s}"
    )
    doc = _replica_doc(render_config(_backup(replica, tmp_path)))
    expected = set(yaml.safe_load(replica)) - {"url"} | {"type", "bucket", "path"}
    assert set(doc) == expected
    assert (doc["part-size"], doc["concurrency"], doc["sign-accept-encoding"]) == (
        "10MiB",
        3,
        False,
    )


# ------------------------------------------------------------------ accepted by the binary


@pytest.mark.integration
@pytest.mark.parametrize(
    ("replica", "kind"),
    [
        ("{url: 'b2://bk/app', region: us-west-004, secret-access-key: '${SECRET}'}", "s3"),
        ("{url: 'r2://bk/app', account-id: 0123456789abcdef0123456789abcdef}", "s3"),
        ("{url: 's3://bk/a', sse-kms-key-id: 'arn:aws:kms:us-east-1:1:key/k'}", "s3"),
        ("{url: 's3://bk/a', sse-customer-key: '${SSE_KEY}'}", "s3"),
        ("{url: 'abs://acct@box/a', sas-token: '${SAS}'}", "abs"),
        (
            "{url: 'webdavs://dav.example.com/b', webdav-password: '${DAV_PW}'}",
            "webdav",
        ),
        ("{url: 'oss://bk/a', region: cn-hangzhou}", "oss"),
        (
            "{url: 'sftp://u@h.example:22/srv', host-key: 'ssh-ed25519 A', concurrent-writes: no}",
            "sftp",
        ),
    ],
)
def test_litestream_builds_every_rendered_replica_type(
    tmp_path: Path, replica: str, kind: str
) -> None:
    """`litestream databases` (which builds each replica client) accepts the rendered config."""
    result = _litestream(
        render_config(_backup(replica, tmp_path)), tmp_path / "ls.yml", "databases"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == [str(tmp_path / "app.db"), kind]


@pytest.mark.integration
def test_sse_customer_key_path_is_resolved_against_the_config_folder(tmp_path: Path) -> None:
    """Litestream reads sse-customer-key-path itself: it must get the config-relative file."""
    conf_dir = tmp_path / "etc"
    (conf_dir / "keys").mkdir(parents=True)
    (conf_dir / "keys" / "sse.b64").write_text(SECRETS["SSE_KEY"] + "\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    backup = _backup("{url: 's3://bk/a', sse-customer-key-path: keys/sse.b64}", conf_dir)
    result = _litestream(render_config(backup), tmp_path / "ls.yml", "databases", cwd=elsewhere)
    assert result.returncode == 0, result.stderr


# ------------------------------------------------------------- file replicas, durations


def _replicate_once(backup: BackupConfig, tmp_path: Path, cwd: Path) -> list[dict[str, Any]]:
    """Run `litestream replicate -once` on the rendered config; its JSON log records."""
    result = _litestream(
        render_config(backup), tmp_path / "state" / "ls.yml", "replicate", "-once", cwd=cwd
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]


@pytest.mark.integration
def test_relative_file_replica_lands_in_the_config_folder(tmp_path: Path) -> None:
    """A relative file replica path is rendered absolute: Litestream's cwd does not matter."""
    make_db(tmp_path / "app.db")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    _replicate_once(_backup("{type: file, path: backups/app}", tmp_path), tmp_path, elsewhere)
    assert any((tmp_path / "backups" / "app").rglob("*.ltx"))
    assert not (elsewhere / "backups").exists()


@pytest.mark.integration
def test_a_dollar_in_a_path_is_not_expanded_by_litestream(tmp_path: Path) -> None:
    """Litestream expands $VARS in its file: a literal $ in a path travels by env, unexpanded."""
    make_db(tmp_path / "app.db")
    _replicate_once(_backup("{type: file, path: 'rep$HOME'}", tmp_path), tmp_path, tmp_path)
    assert any((tmp_path / "rep$HOME").rglob("*.ltx"))


@pytest.mark.integration
def test_go_durations_are_read_back_exactly_by_litestream(tmp_path: Path) -> None:
    """sync-interval 1m30s500ms renders in Go syntax and Litestream reads 90.5 seconds."""
    make_db(tmp_path / "app.db")
    backup = _backup("{type: file, path: r, sync-interval: 1m30s500ms}", tmp_path)
    records = _replicate_once(backup, tmp_path, tmp_path)
    replicating = [r for r in records if r.get("msg") == "replicating to"]
    assert [r["sync-interval"] for r in replicating] == [90_500_000_000]


@pytest.mark.integration
def test_restore_if_db_not_exists_restores_a_missing_database(tmp_path: Path) -> None:
    """restore-if-db-not-exists is rendered at db level, and Litestream restores the db."""
    db = make_db(tmp_path / "app.db")
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("INSERT INTO rows (id, body) VALUES (7, 'kept')")
    backup = _backup("{type: file, path: r}", tmp_path, "      restore-if-db-not-exists: true\n")
    _replicate_once(backup, tmp_path, tmp_path)
    for file in tmp_path.glob("app.db*"):
        file.unlink()
    _replicate_once(backup, tmp_path, tmp_path)
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT id, body FROM rows").fetchall() == [(7, "kept")]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(seconds=1), "1s"),
        (timedelta(hours=168), "168h"),
        (timedelta(days=7, minutes=1), "168h1m"),
        (timedelta(minutes=1, seconds=30), "1m30s"),
        (timedelta(milliseconds=250), "250ms"),
        (timedelta(microseconds=400), "400us"),
        (timedelta(seconds=2, microseconds=1500), "2s1ms500us"),
        (timedelta(0), "0s"),
    ],
)
def test_go_duration_writes_what_go_parses(value: timedelta, text: str) -> None:
    """Go's units only (no d), exact to the microsecond: a positive duration never renders 0s."""
    assert go_duration(value) == text
