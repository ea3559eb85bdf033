"""Restore from an S3 replica (moto on loopback): rows back, wrong bucket, bad keys, outage."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from khronos.backup._restore import restore_database
from khronos.errors import KhronosError, ReplicaAccessError
from tests.backup.conftest import (
    S3_KEY,
    S3_SECRET,
    MakeConfig,
    S3Server,
    insert_rows,
    s3_replica_yaml,
)
from tests.backup.test_restore_support import digests, ids, insert_wal_only, replicating
from tests.proxy import TcpProxy

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", name="auth_s3")
def fixture_auth_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto server that checks credentials (it knows none, so every key is rejected)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["INITIAL_NO_AUTH_ACTION_COUNT"] = "0"
    log_path = tmp_path_factory.mktemp("moto-auth") / "moto.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        _wait_for_port(proc, port, log_path)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(proc)


def _wait_for_port(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    """Return once the server accepts connections; fail clearly when it exits or never does."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"moto exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        except OSError:
            time.sleep(0.05)
        else:
            return
    pytest.fail(f"moto did not open 127.0.0.1:{port} within 30s: {log.read_text()[-2000:]}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM by pid; SIGKILL by pid if it is still there after 10 s."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _leftovers(db: Path) -> list[Path]:
    """Safety copies and restore work folders next to ``db``."""
    return [*db.parent.glob("*.pre-restore-*"), *db.parent.glob(".*.khronos-restore-*")]


def _no_credentials(error: KhronosError) -> bool:
    text = "\n".join([*error.lines(), error.hint or ""])
    return S3_KEY not in text and S3_SECRET not in text


def _s3_backup(make_config: MakeConfig, tmp_path: Path, bucket: str, endpoint: str, rows: int):  # type: ignore[no-untyped-def]
    config = make_config(s3_replica_yaml(bucket, endpoint))
    db = config.backup.dbs[0].path
    insert_rows(db, rows)
    with replicating(config, tmp_path) as rep:
        rep.sync()
    return config, db


def test_s3_restore_every_row(
    make_config: MakeConfig, tmp_path: Path, s3_server: S3Server, bucket: str
) -> None:
    """N rows replicated to S3 come back, every one; the WAL-only rows are in the safety copy."""
    config, db = _s3_backup(make_config, tmp_path, bucket, s3_server.endpoint, 200)
    insert_wal_only(db, 1000, 1003)
    result = restore_database(config)
    assert ids(db) == list(range(200))
    assert result.safety_copy is not None
    assert ids(result.safety_copy) == [*range(200), *range(1000, 1003)]


def test_wrong_bucket(make_config: MakeConfig, s3_server: S3Server) -> None:
    """A bucket that does not exist: a clear error naming it, the db untouched."""
    config = make_config(s3_replica_yaml("no-such-bucket-khronos", s3_server.endpoint))
    db = config.backup.dbs[0].path
    insert_rows(db, 3)
    before = digests(db)
    with pytest.raises(ReplicaAccessError, match="'no-such-bucket-khronos' does not exist") as info:
        restore_database(config)
    assert digests(db) == before
    assert _no_credentials(info.value)
    assert _leftovers(db) == []


def test_bad_credentials(make_config: MakeConfig, auth_s3: str) -> None:
    """Rejected keys: a clear error with a hint on the keys, the db untouched."""
    config = make_config(s3_replica_yaml("some-bucket", auth_s3))
    db = config.backup.dbs[0].path
    insert_rows(db, 3)
    before = digests(db)
    with pytest.raises(ReplicaAccessError, match="rejected the credentials") as info:
        restore_database(config)
    assert "secret-access-key" in (info.value.hint or "")
    assert digests(db) == before
    assert _no_credentials(info.value)
    assert _leftovers(db) == []


def test_endpoint_cut(
    make_config: MakeConfig, tmp_path: Path, bucket: str, s3_proxy: TcpProxy
) -> None:
    """An unreachable endpoint fails within the probe timeout, the db untouched."""
    config, db = _s3_backup(make_config, tmp_path, bucket, s3_proxy.url, 5)
    before = digests(db)
    s3_proxy.cut()
    with pytest.raises(ReplicaAccessError, match="no answer from the replica") as info:
        restore_database(config, probe_timeout=3)
    assert info.value.recoverable
    assert digests(db) == before
    assert not list(db.parent.glob("*.pre-restore-*"))
