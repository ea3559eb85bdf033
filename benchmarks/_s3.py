"""A loopback S3 (moto's server) for the benchmarks: started, its bucket ``bench`` created.

Shared by the backup (RPO) and snapshot benchmarks.  The caller stops the process by its handle.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["S3_KEY", "S3_SECRET", "free_port", "s3_client", "start_moto"]

S3_KEY, S3_SECRET = "bench-key", "bench-secret-not-real"


def free_port() -> int:
    """A free TCP port on the loopback address."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def s3_client(endpoint: str) -> Any:
    """A boto3 client of the loopback S3 (boto3 is a dev dependency, imported here only)."""
    import boto3  # noqa: PLC0415

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=S3_KEY,
        aws_secret_access_key=S3_SECRET,
        region_name="us-east-1",
        verify=False,
    )


def start_moto(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    """moto's S3 server on a free loopback port (its log in ``root/moto.log``) with the bucket
    ``bench``; the process and its endpoint."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    with (root / "moto.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.05)
    endpoint = f"http://127.0.0.1:{port}"
    s3_client(endpoint).create_bucket(Bucket="bench")
    return proc, endpoint
