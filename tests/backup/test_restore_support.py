"""Helpers for the restore and verify tests: a bare ``litestream replicate`` run, file hashes."""

from __future__ import annotations

import contextlib
import hashlib
import json
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from khronos.backup import find_litestream, litestream_env, render_config
from khronos.config import KhronosConfig
from tests.backup.conftest import insert_rows


class Replicator:
    """``litestream replicate`` for a config's databases, with its control socket."""

    def __init__(self, config: KhronosConfig, workdir: Path, sock: Path | None = None) -> None:
        assert config.backup is not None
        self.db = config.backup.dbs[0].path
        self.socket = sock or workdir / "ls.sock"
        rendered = render_config(config.backup, socket_path=self.socket)
        self.config = conf = workdir / "ls-test.yml"
        rendered.write(conf)
        env, _ = litestream_env()
        env.update(rendered.env)
        self.log = (workdir / "ls-test.log").open("wb")
        self.proc = subprocess.Popen(
            [str(find_litestream()), "replicate", "-config", str(conf)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
        )

    def _post_sync(self) -> dict[str, Any]:
        body = json.dumps({"path": str(self.db), "wait": True, "timeout": 30}).encode()
        head = f"POST /sync HTTP/1.0\r\nHost: ls\r\nContent-Length: {len(body)}\r\n\r\n"
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(40)
            conn.connect(str(self.socket))
            conn.sendall(head.encode() + body)
            chunks = []
            while chunk := conn.recv(65536):
                chunks.append(chunk)
        data: dict[str, Any] = json.loads(b"".join(chunks).partition(b"\r\n\r\n")[2])
        return data

    def sync(self, timeout: float = 60) -> dict[str, Any]:
        """Force a sync and wait until the replica has everything committed so far."""
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc.poll() is None, "litestream exited"
            with contextlib.suppress(OSError, ValueError):
                data = self._post_sync()
                if data.get("txid") and data.get("replicated_txid") == data.get("txid"):
                    return data
            assert time.monotonic() < deadline, "replica did not catch up"
            time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM by pid, wait."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@contextlib.contextmanager
def replicating(
    config: KhronosConfig, workdir: Path, sock: Path | None = None
) -> Iterator[Replicator]:
    """A running Replicator (its control socket at ``sock``), stopped on exit."""
    rep = Replicator(config, workdir, sock)
    try:
        yield rep
    finally:
        rep.stop()


def digests(db: Path) -> dict[str, str | None]:
    """sha256 of the database and its WAL (the -shm is an index SQLite rewrites on any read)."""
    out: dict[str, str | None] = {}
    for suffix in ("", "-wal"):
        path = Path(f"{db}{suffix}")
        out[suffix] = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None
    return out


_WAL_ONLY = """
import os, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA wal_autocheckpoint=0")
for i in range(int(sys.argv[2]), int(sys.argv[3])):
    conn.execute("INSERT INTO rows (id, body) VALUES (?, ?)", (i, f"row {i}"))
os._exit(0)  # no close: the rows stay in the WAL, as after a crash
"""


def insert_wal_only(db: Path, start: int, stop: int) -> None:
    """Commit rows start..stop-1 that end up only in the WAL (the writer dies without closing)."""
    subprocess.run([sys.executable, "-c", _WAL_ONLY, str(db), str(start), str(stop)], check=True)
    assert Path(f"{db}-wal").stat().st_size > 0


_HOLD = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
conn.execute("INSERT INTO rows (id, body) VALUES (-1, 'uncommitted')")
print("locked", flush=True)
sys.stdin.read()
"""


@contextlib.contextmanager
def writer_holding(db: Path) -> Iterator[subprocess.Popen[str]]:
    """A subprocess with an open write transaction on ``db`` until the block ends."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "locked"
        yield proc
    finally:
        proc.kill()
        proc.communicate()


def ids(db: Path) -> list[int]:
    """Row ids of ``db`` (read-only)."""
    with contextlib.closing(sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)) as c:
        return [r[0] for r in c.execute("SELECT id FROM rows ORDER BY id")]


def backed_up(
    make_config: Callable[..., KhronosConfig], tmp_path: Path, rows: int = 50
) -> tuple[KhronosConfig, Path]:
    """A config whose file replica holds rows 0..rows-1, and its database."""
    config = make_config()
    assert config.backup is not None
    db = config.backup.dbs[0].path
    insert_rows(db, rows)
    with replicating(config, tmp_path) as rep:
        rep.sync()
    return config, db
