"""One replicator per database and per replica: a second one is refused, naming the first."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from khronos.backup import BackupService, RecordingAlertSink, litestream_env, render_config
from khronos.backup._sqlite import db_holders
from khronos.config import parse_config
from khronos.errors import BackupError
from tests.backup.conftest import MakeConfig, find_litestream, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


def _second_config(tmp_path: Path, replica: str) -> str:
    return (
        f"state_dir: {tmp_path}/state-2\n"
        "backup:\n"
        "  dbs:\n"
        f"    - path: {tmp_path}/app.db\n"
        f"      replica: {{url: '{replica}'}}\n"
    )


async def test_a_second_service_on_the_same_database_is_refused(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    """Another state_dir, the same database: refused, naming the Litestream that replicates it."""
    first = BackupService(make_config(), alerts=RecordingAlertSink())
    await first.start()
    try:
        assert first.supervisor is not None
        pid = first.supervisor.pid
        other = parse_config(_second_config(tmp_path, f"file://{tmp_path}/replica-2"))
        with pytest.raises(BackupError, match=rf"already replicated by Litestream \(pid {pid}"):
            await BackupService(other, alerts=RecordingAlertSink()).start()
    finally:
        await first.stop()


async def test_a_second_service_on_the_same_replica_is_refused(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    """Another database, the same replica path: refused by the host-wide replica lock."""
    first = BackupService(make_config(), alerts=RecordingAlertSink())
    await first.start()
    try:
        text = _second_config(tmp_path, f"file://{tmp_path}/replica").replace("app.db", "b.db")
        other = parse_config(text)
        with pytest.raises(BackupError, match=rf"in use by pid {os.getpid()}, state_dir"):
            await BackupService(other, alerts=RecordingAlertSink()).start()
    finally:
        await first.stop()


async def test_a_bare_litestream_on_the_database_is_refused(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    """A `litestream replicate` started by hand on the database: refused, naming its pid."""
    config = make_config()
    assert config.backup is not None
    rendered = render_config(config.backup)
    conf = tmp_path / "bare.yml"
    rendered.write(conf)
    env, _ = litestream_env()
    env.update(rendered.env)
    proc = subprocess.Popen(
        [str(find_litestream()), "replicate", "-config", str(conf)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await wait_for(lambda: db_holders(tmp_path / "app.db"), what="litestream opened the db")
        with pytest.raises(BackupError, match=rf"pid {proc.pid}"):
            await BackupService(config, alerts=RecordingAlertSink()).start()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
