"""`khronos config check` on a raw Litestream file, and `khronos config migrate`."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from khronos.backup import find_litestream, litestream_env
from khronos.cli import cli
from khronos.config import (
    KhronosConfig,
    is_raw_litestream,
    lint_litestream,
    migrate_litestream,
    parse_config,
)

SEED = Path(__file__).parent / "data" / "litestream-0.3-seed.yml"


def _lint(text: str) -> dict[str, tuple[int | None, int | None]]:
    return {p.path: (p.line, p.column) for p in lint_litestream(text)}


@pytest.mark.parametrize("key", sorted(set(KhronosConfig.model_fields) - {"logging"}))
def test_any_khronos_section_marks_a_khronos_file(key: str) -> None:
    """Every top-level section of the khronos.yml model (logging: is in both) says khronos.yml."""
    assert is_raw_litestream("dbs: [{path: /a.db}]\n")
    assert not is_raw_litestream(f"dbs: [{{path: /a.db}}]\n{key}: {{}}\n")


def test_seed_config_gives_one_finding_per_ignored_key() -> None:
    """The sprint seed's 0.3 config: one finding for each key 0.5 ignores, with line:column."""
    findings = _lint(SEED.read_text())
    assert findings == {
        "dbs[0].replicas": (6, 5),
        "dbs[0].replicas[0].validation-interval": (18, 9),
        "dbs[0].replicas[0].retention": (21, 9),
        "dbs[0].replicas[0].retention-check-interval": (22, 9),
        "monitoring": (33, 1),
        "logging.format": (40, 3),
    }


def test_config_check_on_the_seed_exits_2_with_positions() -> None:
    """config check prints FILE:LINE:COL for each finding and exits 2."""
    result = CliRunner().invoke(cli, ["config", "check", str(SEED)])
    assert result.exit_code == 2
    assert f"{SEED}:21:9: dbs[0].replicas[0].retention:" in result.output
    assert "backup.snapshot.retention" in result.output


@pytest.mark.parametrize(
    ("text", "path", "word"),
    [
        (
            "retention: 168h\ndbs: [{path: /a.db, replica: {url: 'file:///b'}}]\n",
            "retention",
            "fatal",
        ),
        (
            "dbs: [{path: /a.db, replicas: [{url: 's3://a/b'}, {url: 's3://c/d'}]}]\n",
            "dbs[0].replicas",
            "2 replicas",
        ),
        ("dbs: [{path: /a.db, replica: {type: b2, bucket: x}}]\n", "dbs[0].replica.type", "fatal"),
        ("dbs: [{path: /a.db, replica: {type: gcs, bucket: x}}]\n", "dbs[0].replica.type", "gs"),
        (
            "dbs: [{path: /a.db, replica: {url: 's3://a/b', age: {}}}]\n",
            "dbs[0].replica.age",
            "age",
        ),
        (
            "dbs: [{path: /a.db, replica: {url: 's3://a/b', snapshot-interval: 1h}}]\n",
            "dbs[0].replica.snapshot-interval",
            "0.3",
        ),
        (
            "dbs: [{path: /a.db, replica: {url: 's3://a/b', sync-intervall: 1s}}]\n",
            "dbs[0].replica.sync-intervall",
            "sync-interval",
        ),
        (
            (
                "addr: ':9090'\nlogging: {type: json}\n"
                "dbs: [{path: /a.db, replica: {url: 'file:///b'}}]\nfoo: 1\n"
            ),
            "foo",
            "unknown",
        ),
    ],
)
def test_each_rejected_or_ignored_key_is_reported(text: str, path: str, word: str) -> None:
    """Every 0.3-era, fatal or unknown key gives exactly one finding naming it."""
    problems = lint_litestream(text)
    assert [p.path for p in problems] == [path]
    assert word in f"{problems[0].problem} {problems[0].hint}"


def test_clean_litestream_config_passes(tmp_path: Path) -> None:
    """A clean 0.5 Litestream file: exit 0 and a pointer to migrate."""
    path = tmp_path / "litestream.yml"
    path.write_text("addr: 127.0.0.1:9090\ndbs:\n  - path: /a.db\n    replica: {url: 's3://a/b'}\n")
    result = CliRunner().invoke(cli, ["config", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert "migrate" in result.output


def test_migrated_seed_validates_and_keeps_env_references() -> None:
    """The migrated seed is a valid khronos.yml; ${VAR} references are kept as they were."""
    text = migrate_litestream(SEED.read_text(), source=str(SEED))
    assert "${AWS_ACCESS_KEY_ID}" in text
    assert "# monitoring: dropped" in text
    env = {"AWS_ACCESS_KEY_ID": "AKIA-test", "AWS_SECRET_ACCESS_KEY": "s3cr3t-value"}
    config = parse_config(text, environ=env)
    assert config.backup is not None
    assert config.backup.snapshot.retention.total_seconds() == 168 * 3600
    assert config.backup.dbs[0].replica.bucket == "seu-bucket-backup"


def test_migrate_turns_b2_keys_into_b2_sugar(tmp_path: Path) -> None:
    """A 0.3 b2 replica (key-id, application-key) becomes Khronos' b2 sugar."""
    path = tmp_path / "litestream.yml"
    path.write_text(
        "dbs:\n  - path: /a.db\n    replicas:\n      - type: b2\n        bucket: bk\n"
        "        key-id: ${B2_KEY_ID}\n        application-key: ${B2_APPLICATION_KEY}\n"
        "        endpoint: https://s3.us-west-004.backblazeb2.com\n"
    )
    result = CliRunner().invoke(cli, ["config", "migrate", str(path)])
    assert result.exit_code == 0, result.output
    config = parse_config(result.output, environ={"B2_KEY_ID": "kid", "B2_APPLICATION_KEY": "ak"})
    assert config.backup is not None
    replica = config.backup.dbs[0].replica
    assert (replica.type, replica.force_path_style, replica.sign_payload) == ("s3", True, True)
    assert replica.access_key_id is not None
    assert replica.access_key_id.get_secret_value() == "kid"


def test_migrate_refuses_a_khronos_file(tmp_path: Path) -> None:
    """migrate on something that is not a Litestream config exits 2."""
    path = tmp_path / "khronos.yml"
    path.write_text("service: x\n")
    assert CliRunner().invoke(cli, ["config", "migrate", str(path)]).exit_code == 2


# ------------------------------------------------- verdicts checked against the real binary


def _litestream_databases(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    """`litestream databases` on a raw config: it builds every replica, as replicate does."""
    path = tmp_path / "litestream.yml"
    path.write_text(text, encoding="utf-8")
    env, _ = litestream_env()
    return subprocess.run(
        [str(find_litestream()), "databases", "-config", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


FATAL = [
    pytest.param(
        "dbs: [{path: /a.db, replica: {url: 'b2://bk/x'}}]\n",
        "dbs[0].replica.url",
        "s3.REGION.backblazeb2.com",
        'unknown replica type in config: "b2"',
        id="b2-url",
    ),
    pytest.param(
        "dbs: [{path: /a.db, replica: {url: 'gcs://bk/x'}}]\n",
        "dbs[0].replica.url",
        "gs://",
        'unknown replica type in config: "gcs"',
        id="gcs-url",
    ),
    pytest.param(
        "dbs: [{path: /a.db, replica: {url: 'r2://bk/x'}}]\n",
        "dbs[0].replica.url",
        "r2.cloudflarestorage.com",
        'unknown replica type in config: "r2"',
        id="r2-url",
    ),
    pytest.param(
        "dbs: [{path: /a.db, replica: {url: 'file:///r'}, replicas: [{url: 'file:///s'}]}]\n",
        "dbs[0].replicas",
        "delete replicas",
        "cannot specify 'replica' and 'replicas'",
        id="replica-and-replicas",
    ),
    pytest.param(
        "dbs: [{path: /a.db, replica: {url: 'file:///r', sync-interval: 0s}}]\n",
        "dbs[0].replica.sync-interval",
        "1s",
        "sync interval must be greater than 0",
        id="sync-interval-0",
    ),
    pytest.param(
        "dbs: [{path: /a.db, replica: {url: 's3://bk/x', bucket: bk}}]\n",
        "dbs[0].replica.bucket",
        "in the url",
        "cannot specify url & bucket",
        id="url-and-bucket",
    ),
]


@pytest.mark.integration
@pytest.mark.parametrize(("text", "path", "fix", "litestream_says"), FATAL)
def test_fatal_settings_are_reported_with_the_fix(
    tmp_path: Path, text: str, path: str, fix: str, litestream_says: str
) -> None:
    """What makes 0.5 refuse to start is one finding with the fix; the binary does refuse it."""
    problems = lint_litestream(text)
    assert [p.path for p in problems] == [path]
    assert "fatal" in problems[0].problem
    assert problems[0].hint
    assert fix in problems[0].hint
    result = _litestream_databases(tmp_path, text)
    assert result.returncode != 0
    assert litestream_says in result.stderr + result.stdout


@pytest.mark.integration
def test_a_key_of_another_replica_type_is_reported_as_ignored(tmp_path: Path) -> None:
    """account-name on an s3 replica: Litestream starts and ignores it; lint says so."""
    text = "dbs: [{path: /a.db, replica: {url: 's3://bk/x', account-name: acct}}]\n"
    problems = lint_litestream(text)
    assert [p.path for p in problems] == ["dbs[0].replica.account-name"]
    assert "ignores it silently" in problems[0].problem
    assert _litestream_databases(tmp_path, text).returncode == 0


def test_top_level_validation_interval_points_to_validation_interval() -> None:
    """A top-level validation-interval is ignored: the hint names 0.5's validation.interval."""
    text = "validation-interval: 12h\ndbs: [{path: /a.db, replica: {url: 'file:///r'}}]\n"
    problems = lint_litestream(text)
    assert [p.path for p in problems] == ["validation-interval"]
    assert problems[0].hint
    assert "validation: {interval" in problems[0].hint
    assert "backup.verify.interval" in problems[0].hint


VALID_05 = [
    (
        "logging: {level: info, type: json, source: true}\n"
        "dbs: [{path: /a.db, restore-if-db-not-exists: true, replica: {url: 's3://bk/x', "
        "sse-kms-key-id: kms-1, sign-accept-encoding: false}}]\n"
    ),
    (
        "dbs: [{path: /a.db, replica: {url: 's3://bk/x', sse-customer-algorithm: AES256, "
        "sse-customer-key: MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=}}]\n"
    ),
    "dbs: [{path: /a.db, replica: {type: abs, bucket: box, account-name: a, sas-token: 'sv=1'}}]\n",
    "dbs: [{path: /a.db, replica: {url: 'webdavs://dav.example.com/b', webdav-username: u}}]\n",
    "dbs: [{path: /a.db, replica: {url: 'nats://127.0.0.1:4222/bk', token: t, tls: true}}]\n",
    "dbs: [{path: /a.db, replica: {url: 'oss://bk/x', region: cn-hangzhou}}]\n",
]


@pytest.mark.integration
@pytest.mark.parametrize("text", VALID_05)
def test_valid_05_keys_and_types_pass_lint(tmp_path: Path, text: str) -> None:
    """SSE, sas-token, restore-if-db-not-exists, webdav/nats/oss: no finding, and 0.5 builds it."""
    assert lint_litestream(text) == []
    result = _litestream_databases(tmp_path, text)
    assert result.returncode == 0, result.stderr


@pytest.mark.integration
def test_config_check_subprocess_exits_2_without_a_traceback(tmp_path: Path) -> None:
    """The real `khronos config check` on a b2:// Litestream file: exit 2, the finding, no trace."""
    path = tmp_path / "litestream.yml"
    path.write_text("dbs:\n  - path: /a.db\n    replica:\n      url: b2://bk/x\n")
    result = subprocess.run(
        [str(Path(sys.executable).parent / "khronos"), "config", "check", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"{path}:4:7: dbs[0].replica.url:" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


# ------------------------------------------------------------------------------- migrate


def test_migrate_keeps_replica_when_replicas_is_also_given() -> None:
    """replica + replicas (fatal in 0.5): replica is kept, replicas dropped with a note."""
    text = "dbs: [{path: /a.db, replica: {url: 'file:///r'}, replicas: [{url: 'file:///s'}]}]\n"
    out = migrate_litestream(text)
    assert "# dbs[0].replicas: dropped" in out
    config = parse_config(out)
    assert config.backup is not None
    assert config.backup.dbs[0].replica.path == "/r"


def test_migrate_moves_validation_interval_and_fixes_gcs() -> None:
    """Top-level validation-interval becomes verify.interval; gcs:// becomes gs://."""
    text = "validation-interval: 12h\ndbs: [{path: /a.db, replica: {url: 'gcs://bk/x'}}]\n"
    config = parse_config(migrate_litestream(text))
    assert config.backup is not None
    assert config.backup.verify.interval == timedelta(hours=12)
    assert (config.backup.dbs[0].replica.type, config.backup.dbs[0].replica.bucket) == ("gs", "bk")


def test_migrate_drops_keys_the_replica_type_ignores() -> None:
    """A key Litestream ignored for this type is dropped with a note, so the result validates."""
    text = (
        "access-key-id: top-id\n"
        "dbs: [{path: /a.db, restore-if-db-not-exists: true, "
        "replica: {url: 'file:///r', account-name: acct}}]\n"
    )
    out = migrate_litestream(text)
    assert "# dbs[0].replica.account-name: dropped; a file replica does not read it" in out
    config = parse_config(out)
    assert config.backup is not None
    assert config.backup.dbs[0].restore_if_db_not_exists is True
    assert config.backup.dbs[0].replica.access_key_id is None
