"""Restore from an S3 replica (moto on loopback): rows back, wrong bucket, bad keys, outage."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path

import certifi
import pytest

from khronos.backup import BackupService, RecordingAlertSink, find_litestream
from khronos.backup._restore import restore_database
from khronos.config import KhronosConfig
from khronos.errors import KhronosError, ReplicaAccessError
from tests.backup.conftest import (
    S3_KEY,
    S3_SECRET,
    MakeConfig,
    S3Server,
    insert_rows,
    read_ids,
    s3_replica_yaml,
)
from tests.backup.test_restore_support import digests, ids, insert_wal_only, replicating
from tests.proxy import TcpProxy
from tests.support import require_binary

pytestmark = pytest.mark.integration


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


_README_START = "<!-- restore-without-khronos:start -->"
_README_END = "<!-- restore-without-khronos:end -->"


def _readme_restore_script(config: KhronosConfig, out: Path) -> str:
    """README's bare-litestream commands, with the quick start's paths replaced by the test's."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    block = readme[readme.index(_README_START) : readme.index(_README_END)]
    script = block.split("```bash\n", 1)[1].split("```", 1)[0]
    assert config.backup is not None
    for placeholder, real in (
        ("/var/lib/khronos", str(config.state_dir)),
        ("/srv/my-bot/state.db", str(config.backup.dbs[0].path)),
        ("/tmp/state-restored.db", str(out)),
        ("/opt/khronos/bin/litestream", str(find_litestream())),
    ):
        assert placeholder in script
        script = script.replace(placeholder, real)
    return script


async def _replicated_by_the_daemon(config: KhronosConfig, rows: int) -> list[int]:
    """Rows written and synced by khronos run's backup (which leaves state_dir/litestream.yml)."""
    assert config.backup is not None
    service = BackupService(config, alerts=RecordingAlertSink())
    await service.start()
    try:
        ids = insert_rows(config.backup.dbs[0].path, rows)
        await service.sync_now(timeout=60)
    finally:
        await service.stop()
    return ids


def test_readme_restore_without_khronos_works_as_written(
    make_config: MakeConfig, tmp_path: Path, s3_server: S3Server, bucket: str
) -> None:
    """The README's commands restore every row with the bare binary; AWS_CA_BUNDLE must go."""
    require_binary("sqlite3")
    config = make_config(s3_replica_yaml(bucket, s3_server.endpoint))
    ids = asyncio.run(_replicated_by_the_daemon(config, 25))
    out = tmp_path / "restored.db"
    script = _readme_restore_script(config, out)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "AWS_ACCESS_KEY_ID": S3_KEY,
        "AWS_SECRET_ACCESS_KEY": S3_SECRET,
        "AWS_CA_BUNDLE": certifi.where(),  # a real bundle, as on the machines that set it
    }
    run = [shutil.which("bash") or "bash", "-euo", "pipefail", "-c"]
    proc = subprocess.run(
        [*run, script], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "KHRONOS_LS_0_SECRET_ACCESS_KEY" in proc.stdout  # the grep line lists the variables
    assert proc.stdout.strip().endswith("ok")
    assert read_ids(out) == ids
    out.unlink()
    kept = script.replace("env -u AWS_CA_BUNDLE ", "")
    proc = subprocess.run(
        [*run, kept], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode != 0
    assert "RootCAs" in proc.stderr  # why the README says to unset it
