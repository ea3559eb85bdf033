"""`khronos config check` on a raw Litestream file, and `khronos config migrate`."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from khronos.backup._lint import lint_litestream, migrate_litestream
from khronos.cli import cli
from khronos.config import parse_config

SEED = Path(__file__).parent / "data" / "litestream-0.3-seed.yml"


def _lint(text: str) -> dict[str, tuple[int | None, int | None]]:
    return {p.path: (p.line, p.column) for p in lint_litestream(text)}


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
