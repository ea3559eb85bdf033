"""Helpers for snapshot tests: age keys, configurations, a writer that commits meanwhile."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from khronos.config import DatabaseConfig, KhronosConfig, SnapshotDestination, parse_config
from tests.backup.conftest import REGION, S3_KEY, S3_SECRET, make_db

SENTINEL = "PLAINTEXT-SENTINEL-7f3a9c"
"""A value planted in the database that must never appear in a stored snapshot."""


@dataclass(frozen=True)
class AgeKey:
    """An age identity file and its public key (recipient)."""

    identity: Path
    recipient: str


def make_key(path: Path) -> AgeKey:
    """A fresh age key pair written as age-keygen writes it (pyrage generates it)."""
    import pyrage

    identity = pyrage.x25519.Identity.generate()
    recipient = str(identity.to_public())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"# public key: {recipient}\n{identity}\n", encoding="utf-8")
    path.chmod(0o600)
    return AgeKey(path, recipient)


def file_dest(folder: Path, key: AgeKey, **extra: str) -> str:
    """A folder destination (flow-style YAML)."""
    folder.mkdir(parents=True, exist_ok=True)
    more = "".join(f", {k}: {v}" for k, v in extra.items())
    return f"{{url: 'file://{folder}', encrypt: {{recipients: [{key.recipient}]}}{more}}}"


def s3_dest(bucket: str, endpoint: str, key: AgeKey, **extra: str) -> str:
    """An S3 destination on the moto server behind ``endpoint`` (flow-style YAML)."""
    more = "".join(f", {k}: {v}" for k, v in extra.items())
    return (
        f"{{url: 's3://{bucket}/snaps', endpoint: '{endpoint}', region: {REGION}, "
        f"force-path-style: true, access-key-id: {S3_KEY}, secret-access-key: {S3_SECRET}, "
        f"encrypt: {{recipients: [{key.recipient}]}}{more}}}"
    )


MakeSnapConfig = Callable[..., KhronosConfig]


def snap_config(tmp_path: Path, dests: list[str]) -> KhronosConfig:
    """tmp_path/khronos.yml for tmp_path/app.db (WAL, a ``rows`` table) with ``dests``."""
    make_db(tmp_path / "app.db")
    listed = "".join(f"        - {dest}\n" for dest in dests) or "        []\n"
    text = (
        f"state_dir: {tmp_path}/state\n"
        "service: {name: test}\n"
        "backup:\n"
        "  dbs:\n"
        "    - path: app.db\n"
        f"      replica: {{url: 'file://{tmp_path}/replica'}}\n"
        "      snapshots:\n"
        f"{listed}"
    )
    (tmp_path / "khronos.yml").write_text(text, encoding="utf-8")
    return parse_config(text, source=str(tmp_path / "khronos.yml"), base_dir=tmp_path)


def first(config: KhronosConfig) -> tuple[DatabaseConfig, list[SnapshotDestination]]:
    """The only database and its destinations."""
    assert config.backup is not None
    db = config.backup.dbs[0]
    return db, list(db.snapshots)


def plant_sentinel(db: Path, copies: int = 50) -> None:
    """Rows holding :data:`SENTINEL` (compressible: it must still not show through)."""
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("CREATE TABLE IF NOT EXISTS secrets (body TEXT)")
        conn.executemany("INSERT INTO secrets VALUES (?)", [(SENTINEL,)] * copies)


def row_ids(path: Path) -> list[int]:
    """Every row id (after PRAGMA integrity_check says ok)."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return [r[0] for r in conn.execute("SELECT id FROM rows ORDER BY id")]


@dataclass
class Writer:
    """A thread committing one row per transaction (default autocheckpoint) until stopped."""

    db: Path
    start: int = 0
    committed: list[int] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    error: list[BaseException] = field(default_factory=list)

    def wrote(self, count: int) -> bool:
        """Whether ``count`` rows are committed (or the writer failed: the block reports it)."""
        return bool(self.error) or len(self.committed) >= count

    def run(self) -> None:
        try:
            with contextlib.closing(sqlite3.connect(self.db, timeout=30)) as conn:
                n = self.start
                while not self.stop.is_set():
                    with conn:
                        conn.execute(
                            "INSERT INTO rows (id, body) VALUES (?, randomblob(200))", (n,)
                        )
                    self.committed.append(n)  # after COMMIT returned
                    n += 1
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error.append(exc)


@contextlib.contextmanager
def writing(db: Path, start: int = 0) -> Iterator[Writer]:
    """A :class:`Writer` (ids from ``start``) running for the block; stopped and joined after."""
    writer = Writer(db, start)
    thread = threading.Thread(target=writer.run, name="test-writer", daemon=True)
    thread.start()
    try:
        yield writer
    finally:
        writer.stop.set()
        thread.join(timeout=30)
    assert not writer.error, writer.error


__all__ = [
    "SENTINEL",
    "AgeKey",
    "MakeSnapConfig",
    "Writer",
    "file_dest",
    "first",
    "make_key",
    "plant_sentinel",
    "row_ids",
    "s3_dest",
    "snap_config",
    "writing",
]
