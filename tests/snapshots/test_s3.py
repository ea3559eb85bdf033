"""Snapshots to a real S3 API (moto on loopback, behind the cuttable proxy) and a folder at once:
rows while the app writes, metadata, an outage, a missing bucket, rejected keys, no secrets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from khronos.errors import SnapshotError
from khronos.snapshots import fetch_snapshot, list_snapshots, take_snapshot
from tests.backup.conftest import S3_KEY, S3_SECRET, S3Server, insert_rows
from tests.polling import poll
from tests.proxy import TcpProxy
from tests.snapshots.helpers import (
    SENTINEL,
    AgeKey,
    file_dest,
    first,
    plant_sentinel,
    row_ids,
    s3_dest,
    snap_config,
    writing,
)
from tests.support import fault_repeat

pytestmark = pytest.mark.integration


def _no_secrets(text: str) -> bool:
    return S3_KEY not in text and S3_SECRET not in text


def test_two_destinations_while_the_app_writes_restore_every_row(
    tmp_path: Path, age_key: AgeKey, s3_server: S3Server, s3_proxy: TcpProxy, bucket: str
) -> None:
    """S3 and a folder, taken while a writer commits: each restores every row committed before."""
    config = snap_config(
        tmp_path,
        [s3_dest(bucket, s3_proxy.url, age_key), file_dest(tmp_path / "dest", age_key)],
    )
    db, dests = first(config)
    insert_rows(db.path, 500)
    with writing(db.path, start=500) as writer:
        for dest in dests:
            poll(lambda: writer.wrote(100), what="the writer to commit")
            before = set(writer.committed)
            report = take_snapshot(db, dest, tmp_dir=tmp_path)
            out = tmp_path / f"{dest.label}.db"
            fetch_snapshot(db, dest, report.info, identity=age_key.identity, out=out)
            ids = row_ids(out)
            assert before <= set(ids), dest.label
            assert ids == list(range(len(ids))), dest.label
    assert [d.label for d in dests] == [bucket, "file"]


def test_the_s3_object_is_encrypted_and_carries_its_checksum(
    tmp_path: Path, age_key: AgeKey, s3_server: S3Server, bucket: str
) -> None:
    """The stored object has no plaintext; its metadata names its SHA-256 and the db size."""
    db, (dest,) = first(snap_config(tmp_path, [s3_dest(bucket, s3_server.endpoint, age_key)]))
    plant_sentinel(db.path)
    report = take_snapshot(db, dest, tmp_dir=tmp_path)
    client = s3_server.client()
    obj = client.get_object(Bucket=bucket, Key=f"snaps/{report.info.key}")
    body = obj["Body"].read()
    assert body.startswith(b"age-encryption.org/v1\n")
    assert SENTINEL.encode() not in body
    assert obj["Metadata"] == {
        "sha256": report.info.sha256,
        "db-bytes": str(report.info.db_bytes),
    }
    assert [i.key for i in list_snapshots(db, dest)] == [report.info.key]


def test_an_outage_fails_with_the_cause_and_prunes_nothing(
    tmp_path: Path, age_key: AgeKey, s3_proxy: TcpProxy, bucket: str
) -> None:
    """The proxy cut (KHRONOS_FAULT_REPEAT times): SnapshotError 'cannot reach', recoverable, no
    keys in it or the logs, nothing deleted; once back, the next snapshot succeeds and prunes."""
    dest_yaml = s3_dest(bucket, s3_proxy.url, age_key, retention="{hourly: 1, daily: 0, weekly: 1}")
    db, (dest,) = first(snap_config(tmp_path, [dest_yaml]))
    take_snapshot(db, dest, tmp_dir=tmp_path, now=datetime.now(UTC) - timedelta(hours=2))
    for _ in range(fault_repeat()):
        before = list_snapshots(db, dest)
        s3_proxy.cut()
        try:
            with capture_logs() as logs, pytest.raises(SnapshotError) as caught:
                take_snapshot(db, dest, tmp_dir=tmp_path)
        finally:
            s3_proxy.restore()
        assert "cannot reach" in caught.value.message
        assert caught.value.recoverable
        assert _no_secrets(str(caught.value))
        assert _no_secrets(repr(logs))
        assert "RequestId" not in str(caught.value)
        assert list_snapshots(db, dest) == before
        report = take_snapshot(db, dest, tmp_dir=tmp_path)  # back: it succeeds and prunes
        assert report.pruned == tuple(info.key for info in before)
        assert [i.key for i in list_snapshots(db, dest)] == [report.info.key]


def test_a_missing_bucket_is_named(tmp_path: Path, age_key: AgeKey, s3_server: S3Server) -> None:
    """A bucket that does not exist: the error names it and the endpoint."""
    dest_yaml = s3_dest("no-such-bucket-here", s3_server.endpoint, age_key)
    db, (dest,) = first(snap_config(tmp_path, [dest_yaml]))
    with pytest.raises(SnapshotError, match="bucket 'no-such-bucket-here' does not exist") as err:
        take_snapshot(db, dest, tmp_dir=tmp_path)
    assert _no_secrets(str(err.value))


def test_rejected_keys_are_access_denied(tmp_path: Path, age_key: AgeKey, auth_s3: str) -> None:
    """A store that rejects the keys: 'denied access' with the code, never the keys."""
    db, (dest,) = first(snap_config(tmp_path, [s3_dest("any-bucket", auth_s3, age_key)]))
    with pytest.raises(SnapshotError, match="denied access") as caught:
        take_snapshot(db, dest, tmp_dir=tmp_path)
    assert _no_secrets(str(caught.value))
    assert _no_secrets(caught.value.hint or "")


def test_a_stray_aws_ca_bundle_is_not_used(
    tmp_path: Path,
    age_key: AgeKey,
    s3_server: S3Server,
    bucket: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """AWS_CA_BUNDLE naming a missing file: the client verifies with its own bundle (https) and
    the loopback http:// endpoint works."""
    from khronos.snapshots._s3 import make_client

    monkeypatch.setenv("AWS_CA_BUNDLE", str(tmp_path / "missing-ca.pem"))
    db, (dest,) = first(snap_config(tmp_path, [s3_dest(bucket, s3_server.endpoint, age_key)]))
    assert make_client(dest)._endpoint.http_session._verify is True  # type: ignore[attr-defined]
    assert take_snapshot(db, dest, tmp_dir=tmp_path).info.verified
