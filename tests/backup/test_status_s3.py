"""`status` and `backup now` against S3 errors: the words restore/verify use, never a key.

A wrong bucket (moto), rejected credentials (moto checking keys), and a third-party S3 server
that quotes the access key id in its 403 message (a stand-in: some servers do).
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from khronos.backup import BackupService, RecordingAlertSink
from khronos.config import KhronosConfig
from tests.backup.conftest import S3_KEY, S3_SECRET, MakeConfig, S3Server, s3_replica_yaml

pytestmark = pytest.mark.integration

_RAW = ("RequestID", "HostID", "StatusCode")


class _EchoKeyHandler(BaseHTTPRequestHandler):
    """Answers every request 403 InvalidAccessKeyId, quoting the key id it was signed with."""

    def _refuse(self) -> None:
        auth = self.headers.get("Authorization", "")
        key = auth.partition("Credential=")[2].partition("/")[0] or "?"
        body = (
            '<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidAccessKeyId</Code>'
            f"<Message>The access key id {key} does not exist in our records.</Message>"
            "<RequestId>r1</RequestId></Error>"
        ).encode()
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(403)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _refuse  # noqa: N815 - http.server names

    def log_message(self, *_args: object) -> None:
        return None


@pytest.fixture(name="echo_key_s3")
def fixture_echo_key_s3() -> Iterator[str]:
    """An S3 endpoint on 127.0.0.1 that refuses every key and quotes it (port from the OS)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoKeyHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


async def _khronos(config: KhronosConfig, *args: str) -> tuple[int, str]:
    """A real ``python -m khronos`` run: exit code and everything it printed."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "khronos",
        "-c",
        str(config.source),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=dict(os.environ),
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 180)
    return int(proc.returncode or 0), out.decode()


def _no_raw_s3_error(output: str) -> None:
    for raw in _RAW:
        assert raw not in output, output
    assert S3_KEY not in output
    assert S3_SECRET not in output


@pytest.mark.parametrize("command", [("backup", "now", "--timeout", "30s"), ("status",)])
def test_wrong_bucket_without_a_daemon_says_so(
    make_config: MakeConfig, s3_server: S3Server, command: tuple[str, ...]
) -> None:
    """backup now and status (no daemon) name the missing bucket, as restore and verify do."""
    config = make_config(s3_replica_yaml("no-such-bucket-khronos", s3_server.endpoint))
    code, output = asyncio.run(_khronos(config, *command))
    assert code == 1, output
    assert f"bucket 'no-such-bucket-khronos' does not exist at {s3_server.endpoint}" in output
    assert "check backup.dbs[].replica.bucket" in output
    _no_raw_s3_error(output)


@pytest.mark.parametrize("endpoint", ["auth_s3", "echo_key_s3"])
@pytest.mark.asyncio
async def test_backup_now_through_the_daemon_never_prints_the_access_key(
    make_config: MakeConfig, request: pytest.FixtureRequest, endpoint: str, tmp_path: Path
) -> None:
    """403 InvalidAccessKeyId while khronos run replicates: translated, the key id masked."""
    config = make_config(s3_replica_yaml("some-bucket", request.getfixturevalue(endpoint)))
    service = BackupService(config, alerts=RecordingAlertSink())
    await service.start()
    try:
        code, output = await _khronos(config, "backup", "now", "--timeout", "10s")
    finally:
        await service.stop()
    assert code == 1, output
    assert "backup now: app: the replica s3://some-bucket/app" in output
    assert "rejected the credentials" in output
    assert "check access-key-id and secret-access-key" in output
    _no_raw_s3_error(output)
