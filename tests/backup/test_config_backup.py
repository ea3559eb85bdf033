"""The ``backup:`` section of khronos.yml: every replica key checked against Litestream 0.5."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from khronos.config import parse_config
from khronos.config._backup import ReplicaConfig
from khronos.errors import ConfigError, ConfigProblem

B2_ENDPOINT = "https://s3.us-west-004.backblazeb2.com"
R2_ACCOUNT = "0123456789abcdef0123456789abcdef"
ENV = {
    "KEY_ID": "kid-from-env",
    "SECRET": "secret-from-env",
    "SSE": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
}


def _text(replica: str, db_extra: str = "") -> str:
    return f"backup:\n  dbs:\n    - path: app.db\n{db_extra}      replica: {replica}\n"


def _replica(replica: str, base: Path = Path("/etc/khronos")) -> ReplicaConfig:
    """The validated replica of a one-database backup: section (flow-style YAML)."""
    config = parse_config(_text(replica), base_dir=base, environ=ENV)
    assert config.backup is not None
    return config.backup.dbs[0].replica


def _problem(replica: str, db_extra: str = "") -> ConfigProblem:
    """The one problem khronos.yml validation reports for this replica."""
    with pytest.raises(ConfigError) as info:
        parse_config(_text(replica, db_extra), base_dir=Path("/etc/khronos"), environ=ENV)
    assert len(info.value.problems) == 1, info.value.lines()
    return info.value.problems[0]


# ------------------------------------------------------------------------- provider sugar


def test_b2_url_becomes_s3_with_b2_endpoint_and_settings() -> None:
    """b2://bucket/path with a region: type s3, the B2 endpoint, path style, signed payloads."""
    replica = _replica("{url: 'b2://bk/app/state.db', region: us-west-004}")
    assert (replica.type, replica.bucket, replica.path) == ("s3", "bk", "app/state.db")
    assert (replica.endpoint, replica.region) == (B2_ENDPOINT, "us-west-004")
    assert (replica.force_path_style, replica.sign_payload) == (True, True)


def test_b2_type_takes_the_region_from_the_endpoint() -> None:
    """type: b2 with only an endpoint signs for the endpoint's region, not us-east-1."""
    replica = _replica(f"{{type: b2, bucket: bk, path: app, endpoint: '{B2_ENDPOINT}'}}")
    assert (replica.type, replica.region, replica.endpoint) == ("s3", "us-west-004", B2_ENDPOINT)


def test_b2_explicit_path_style_and_signing_are_kept() -> None:
    """The b2 defaults do not override a force-path-style or sign-payload the user wrote."""
    replica = _replica("{url: 'b2://bk/a', region: eu-central-003, force_path_style: false}")
    assert (replica.force_path_style, replica.sign_payload) == (False, True)


@pytest.mark.parametrize(
    ("replica", "path", "words"),
    [
        ("{url: 'b2://bk/a'}", "backup.dbs[0].replica", "region or endpoint"),
        (
            f"{{url: 'b2://bk/a', endpoint: '{B2_ENDPOINT}', region: us-east-1}}",
            "backup.dbs[0].replica.region",
            "contradicts",
        ),
        (
            "{url: 'b2://bk/a', endpoint: 'https://b2.example.com'}",
            "backup.dbs[0].replica.endpoint",
            "cannot tell the b2 region",
        ),
    ],
)
def test_b2_without_a_usable_region_is_refused(replica: str, path: str, words: str) -> None:
    """No region, a region contradicting the endpoint, or a foreign endpoint: a clear error."""
    problem = _problem(replica)
    assert (problem.path, words in problem.problem) == (path, True)
    assert problem.hint


def test_r2_url_with_account_id_gets_the_account_endpoint_and_region_auto() -> None:
    """r2://bucket/path + account-id: s3 at https://<id>.r2.cloudflarestorage.com, region auto."""
    replica = _replica(f"{{url: 'r2://bk/app', account-id: {R2_ACCOUNT}}}")
    assert (replica.type, replica.bucket, replica.path, replica.region) == (
        "s3",
        "bk",
        "app",
        "auto",
    )
    assert replica.endpoint == f"https://{R2_ACCOUNT}.r2.cloudflarestorage.com"
    assert replica.account_id is None


def test_r2_type_with_an_endpoint_needs_no_account_id() -> None:
    """type: r2 with an explicit (e.g. EU jurisdiction) endpoint is taken as given."""
    endpoint = f"https://{R2_ACCOUNT}.eu.r2.cloudflarestorage.com"
    replica = _replica(f"{{type: r2, bucket: bk, endpoint: '{endpoint}'}}")
    assert (replica.type, replica.endpoint, replica.region) == ("s3", endpoint, "auto")


@pytest.mark.parametrize(
    ("replica", "path", "words"),
    [
        ("{url: 'r2://bk/app'}", "backup.dbs[0].replica", "account-id or endpoint"),
        ("{url: 'r2://bk/app', account-id: my-account}", "backup.dbs[0].replica.account-id", "32"),
    ],
)
def test_r2_without_a_valid_account_is_refused(replica: str, path: str, words: str) -> None:
    """r2 needs account-id (32 hex digits) or endpoint, and says where to find it."""
    problem = _problem(replica)
    assert (problem.path, words in problem.problem) == (path, True)
    assert problem.hint
    assert "Cloudflare" in problem.hint


# --------------------------------------------------------------- Litestream 0.5 replica keys


@pytest.mark.parametrize(
    ("replica", "field", "value"),
    [
        ("{url: 's3://bk/a', sse-kms-key-id: 'arn:aws:kms:k'}", "sse_kms_key_id", "arn:aws:kms:k"),
        (
            "{url: 's3://bk/a', sse-customer-algorithm: AES256, sse-customer-key: '${SSE}'}",
            "sse_customer_algorithm",
            "AES256",
        ),
        ("{url: 's3://bk/a', sign-accept-encoding: false}", "sign_accept_encoding", False),
        ("{url: 'abs://acct@box/a'}", "account_name", "acct"),
        ("{url: 'sftp://bk@h.example:22/srv', host-key: 'ssh-ed25519 AAA'}", "user", "bk"),
        ("{url: 'sftp://bk@h.example:22/srv', concurrent-writes: false}", "path", "/srv"),
        ("{url: 'webdavs://dav.example.com/b'}", "webdav_url", "https://dav.example.com"),
        (
            "{url: 'webdav://dav.example.com/b', webdav-username: u}",
            "webdav_url",
            "http://dav.example.com",
        ),
        ("{url: 'oss://bk/a', region: cn-hangzhou}", "type", "oss"),
    ],
)
def test_litestream_05_keys_and_types_are_accepted(replica: str, field: str, value: object) -> None:
    """Keys and replica types Litestream 0.5 really reads validate and keep their value."""
    assert getattr(_replica(replica), field) == value


@pytest.mark.parametrize(
    ("field", "key"),
    [("sse_customer_key", "sse-customer-key"), ("sas_token", "sas-token")],
)
def test_secret_keys_are_accepted_and_masked(field: str, key: str) -> None:
    """sse-customer-key and sas-token are secrets: the value is kept but never shown."""
    kind, name = ("abs://acct@box/a", "SECRET") if key == "sas-token" else ("s3://bk/a", "SSE")
    replica = _replica(f"{{url: '{kind}', {key}: '${{{name}}}'}}")
    assert getattr(replica, field).get_secret_value() == ENV[name]
    assert ENV[name] not in repr(replica)


def test_restore_if_db_not_exists_is_a_database_setting() -> None:
    """restore-if-db-not-exists (Litestream 0.5, db level) validates."""
    text = _text("{url: 'file:///r'}", "      restore-if-db-not-exists: true\n")
    config = parse_config(text, base_dir=Path("/etc/khronos"))
    assert config.backup is not None
    assert config.backup.dbs[0].restore_if_db_not_exists is True


@pytest.mark.parametrize(
    ("kebab", "snake", "value"),
    [
        ("sync-interval", "sync_interval", "5s"),
        ("force-path-style", "force_path_style", "true"),
        ("sse-kms-key-id", "sse_kms_key_id", "kms-key"),
        ("access-key-id", "access_key_id", "'${KEY_ID}'"),
    ],
)
def test_kebab_and_snake_case_keys_mean_the_same(kebab: str, snake: str, value: str) -> None:
    """Each replica key may be written as in Litestream's files or in Python style."""
    one = _replica(f"{{url: 's3://bk/a', {kebab}: {value}}}")
    two = _replica(f"{{url: 's3://bk/a', {snake}: {value}}}")
    assert one == two
    assert getattr(one, snake) is not None


def test_a_key_given_in_both_spellings_is_refused() -> None:
    """sync-interval and sync_interval together: one of them would be dropped silently."""
    problem = _problem("{url: 'file:///r', sync-interval: 1s, sync_interval: 5s}")
    assert problem.path == "backup.dbs[0].replica.sync_interval"
    assert "same setting" in problem.problem


# ------------------------------------------------------------------------------ refusals


@pytest.mark.parametrize(
    ("replica", "key", "hint_word"),
    [
        ("{url: 's3://bk/a', sync-intervall: 1s}", "sync-intervall", "sync_interval"),
        ("{url: 's3://bk/a', retention: 168h}", "retention", "backup.snapshot.retention"),
        ("{url: 's3://bk/a', snapshot-interval: 1h}", "snapshot-interval", "backup.snapshot"),
        ("{url: 's3://bk/a', validation-interval: 1h}", "validation-interval", "verify"),
        ("{url: 's3://bk/a', retention_check_interval: 1h}", "retention_check_interval", "0.5"),
        ("{type: b2, bucket: bk, key-id: x}", "key-id", "access-key-id"),
        ("{url: 's3://bk/a', age: {}}", "age", "sse-"),
        ("{url: 's3://bk/a', auto-recover: true}", "auto-recover", "remove"),
    ],
)
def test_unknown_and_legacy_keys_are_refused_with_path_and_hint(
    replica: str, key: str, hint_word: str
) -> None:
    """Typos, 0.3-era and unsupported keys name their key path and say what to write."""
    problem = _problem(replica)
    assert problem.path == f"backup.dbs[0].replica.{key}"
    assert problem.hint
    assert hint_word in problem.hint


def test_litestream_key_not_supported_by_khronos_says_so() -> None:
    """A real 0.5 key Khronos does not render is refused as such, not as unknown."""
    problem = _problem("{url: 'file:///r'}", "      dir: /var/lib/app\n")
    assert problem.path == "backup.dbs[0].dir"
    assert "not supported by Khronos yet" in problem.problem


@pytest.mark.parametrize("replica", ["{url: 'nats://127.0.0.1:4222/bk'}", "{type: nats}"])
def test_nats_replicas_are_refused_as_not_supported_yet(replica: str) -> None:
    """NATS is a 0.5 type Khronos does not render yet: a clear refusal, not a type error."""
    problem = _problem(replica)
    assert "not supported by Khronos yet" in problem.problem
    assert problem.hint


def test_a_key_of_another_replica_type_is_refused() -> None:
    """account-name on an s3 replica would be ignored by Litestream: refused with the valid keys."""
    problem = _problem("{url: 's3://bk/a', account-name: acct}")
    assert problem.path == "backup.dbs[0].replica.account-name"
    assert problem.hint
    assert "sse-kms-key-id" in problem.hint


@pytest.mark.parametrize(
    ("replica", "words"),
    [
        ("{url: 's3://bk/a', sync-interval: 0s}", "greater than 0"),
        ("{url: 's3://bk/a', sync-interval: 0ms}", "greater than 0"),
    ],
)
def test_zero_sync_interval_is_refused(replica: str, words: str) -> None:
    """sync-interval 0 (Litestream refuses it at start) fails validation on its key path."""
    problem = _problem(replica)
    assert problem.path == "backup.dbs[0].replica.sync-interval"
    assert words in problem.problem


@pytest.mark.parametrize(
    ("section", "path"),
    [
        ("  snapshot: {interval: 0s}\n", "backup.snapshot.interval"),
        ("  snapshot: {retention: 0s}\n", "backup.snapshot.retention"),
        ("  verify: {interval: 0s}\n", "backup.verify.interval"),
    ],
)
def test_zero_snapshot_and_verify_intervals_are_refused(section: str, path: str) -> None:
    """Litestream refuses a zero snapshot interval/retention; a zero drill interval would spin."""
    with pytest.raises(ConfigError) as info:
        parse_config(_text("{url: 'file:///r'}").replace("backup:\n", "backup:\n" + section))
    assert [p.path for p in info.value.problems] == [path]


def test_zero_monitor_interval_is_refused() -> None:
    """monitor-interval 0 turns Litestream's WAL monitor off: nothing would replicate."""
    problem = _problem("{url: 'file:///r'}", "      monitor-interval: 0s\n")
    assert problem.path == "backup.dbs[0].monitor-interval"


@pytest.mark.parametrize(
    ("replica", "path", "words"),
    [
        ("{url: 's3://bk/a', bucket: other}", "backup.dbs[0].replica.bucket", "contradicts"),
        ("{url: 's3://bk/a', path: b}", "backup.dbs[0].replica.path", "contradicts"),
        ("{url: 's3://bk/a', type: s3}", "backup.dbs[0].replica", "either url or type"),
        ("{bucket: bk}", "backup.dbs[0].replica", "either url or type"),
        ("{url: 'file://host/dir'}", "backup.dbs[0].replica", "has a host"),
        ("{url: 's3://bk/a?region=x'}", "backup.dbs[0].replica", "query string"),
        ("{url: 'gcs://bk/a'}", "backup.dbs[0].replica", "scheme"),
        ("{url: 'https://bk.example/a'}", "backup.dbs[0].replica", "scheme"),
        ("{type: s3, path: a}", "backup.dbs[0].replica", "needs bucket"),
        ("{url: 'sftp://h.example/srv'}", "backup.dbs[0].replica", "needs user"),
        (
            "{url: 's3://bk/a', endpoint: 's3.example.com'}",
            "backup.dbs[0].replica.endpoint",
            "http",
        ),
    ],
)
def test_url_and_key_conflicts_are_refused(replica: str, path: str, words: str) -> None:
    """A url contradicted by its keys, both url and type, or an incomplete replica: one error."""
    problem = _problem(replica)
    assert problem.path == path
    assert words in problem.problem


@pytest.mark.parametrize(
    ("replica", "words"),
    [
        ("{url: 's3://bk/a', sse-customer-algorithm: AES256}", "does nothing"),
        ("{url: 's3://bk/a', sse-customer-key: k, sse-customer-key-path: k.b64}", "not both"),
        ("{url: 's3://bk/a', sse-kms-key-id: kms, sse-customer-key: '${SSE}'}", "combined"),
        ("{url: 's3://bk/a', sse-customer-key: c2hvcnQ=}", "not 32 bytes"),
        ("{url: 's3://bk/a', sse-customer-key: '${SECRET}'}", "not 32 bytes"),
    ],
)
def test_sse_settings_litestream_would_ignore_or_s3_refuse_are_refused(
    replica: str, words: str
) -> None:
    """An SSE-C algorithm without a key, two SSE-C keys, or SSE-KMS with SSE-C: one error."""
    assert words in _problem(replica).problem


def test_credentials_in_a_url_are_refused_without_echoing_them() -> None:
    """A password in the replica URL is refused, and the error does not repeat it."""
    problem = _problem("{url: 'webdavs://me:hunter2-pw@dav.example.com/b'}")
    assert "password" in problem.problem
    assert "hunter2-pw" not in f"{problem.problem} {problem.hint}"


def test_unsupported_scheme_hint_shows_the_s3_endpoint_form() -> None:
    """An unknown provider scheme says how to write any S3-compatible store."""
    problem = _problem("{url: 'minio://bk/a'}")
    assert problem.hint
    assert "s3://bucket/path with endpoint" in problem.hint


# ----------------------------------------------------------------------------------- paths


def test_relative_file_replica_path_is_resolved_against_the_config_folder(tmp_path: Path) -> None:
    """type: file with a relative path, and ~, become absolute from the config file's folder."""
    assert _replica("{type: file, path: backups/app}", tmp_path).path == str(
        tmp_path / "backups/app"
    )
    assert _replica("{type: file, path: ~/b}", tmp_path).path == str(Path("~/b").expanduser())


def test_key_files_are_resolved_against_the_config_folder(tmp_path: Path) -> None:
    """sse-customer-key-path and key-path are files: relative to the config, like every path."""
    s3 = _replica("{url: 's3://bk/a', sse-customer-key-path: keys/sse.b64}", tmp_path)
    sftp = _replica("{url: 'sftp://u@h.example/d', key-path: id_ed25519}", tmp_path)
    assert (s3.sse_customer_key_path, sftp.key_path) == (
        tmp_path / "keys/sse.b64",
        tmp_path / "id_ed25519",
    )


def test_display_names_the_replica_without_secrets() -> None:
    """display (status output) shows where the replica is, never a key."""
    replica = _replica("{url: 'b2://bk/a', region: us-west-004, secret-access-key: '${SECRET}'}")
    assert replica.display == f"s3://bk/a ({B2_ENDPOINT})"
    assert _replica("{url: 'webdavs://dav.example.com/b'}").display == "https://dav.example.com/b"


def test_sync_interval_defaults_to_one_second() -> None:
    """Without sync-interval, Litestream's 1s default is used (the upper bound of data at risk)."""
    assert _replica("{url: 'file:///r'}").sync_interval == timedelta(seconds=1)


# ------------------------------------------------------------------------------------ CLI


@pytest.mark.integration
@pytest.mark.parametrize(
    ("replica", "words"),
    [
        ("{url: 'r2://bk/a'}", "account-id"),
        ("{url: 's3://bk/a', sync-interval: 0s}", "backup.dbs[0].replica.sync-interval"),
        ("{url: 's3://bk/a', retention: 7d}", "backup.dbs[0].replica.retention"),
    ],
)
def test_config_check_exits_2_without_a_traceback(tmp_path: Path, replica: str, words: str) -> None:
    """`khronos config check` on a bad backup: section: exit 2, the key path, no traceback."""
    path = tmp_path / "khronos.yml"
    path.write_text(_text(replica), encoding="utf-8")
    khronos = Path(sys.executable).parent / "khronos"
    result = subprocess.run(
        [str(khronos), "config", "check", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert words in output
    assert "Traceback" not in output
