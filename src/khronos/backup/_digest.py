"""Proof that a restored copy holds every committed row: the live database and the restored copy
compared at the same transaction.

A restore drill that only checks integrity passes for a replica that silently misses rows (the
crash window of :mod:`khronos.backup._continuity`: ``verify`` said ok while rows were missing).
So the daemon's drill also compares contents:

1. :func:`take_reference` asks the running Litestream for the local txid (``POST /sync``),
   opens a read transaction on the live database, and asks again: when the txid did not move,
   nothing was committed in between, so that read transaction *is* the database at that txid -
   unless a commit was in flight (in the WAL file Litestream reads, not yet in the WAL index a
   reader's snapshot uses), so a second snapshot at the same txid must agree.  It computes
   :func:`content_digest` inside each.  A database that never stands still for the
   few milliseconds this takes (after ``attempts`` tries) is not compared, and the drill says so.
2. The drill restores exactly that txid (``litestream restore -txid``) and computes the same
   digest of the copy; :func:`differences` names each table whose rows differ.

The digest is per table: the number of rows and an order-independent sum of a hash of each row
(its rowid, when it has one, and every column), plus the schema.  Reading every row costs about
what the integrity check already costs.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "Digest",
    "Reference",
    "content_digest",
    "differences",
    "file_digest",
    "take_reference",
]

Digest = dict[str, tuple[int, int]]
"""Table name -> (rows, order-independent sum of row hashes); ``sqlite_schema`` for the schema."""
_MOD = 1 << 128
_SCHEMA = "sqlite_schema"


@dataclass(frozen=True, slots=True)
class Reference:
    """The live database's digest at a txid."""

    txid: int
    digest: Digest


def _row_hash(row: tuple[object, ...]) -> int:
    return int.from_bytes(hashlib.blake2b(repr(row).encode(), digest_size=16).digest(), "big")


def _table_digest(conn: sqlite3.Connection, name: str) -> tuple[int, int]:
    quoted = '"' + name.replace('"', '""') + '"'
    try:
        cursor = conn.execute(f"SELECT rowid, * FROM {quoted}")  # noqa: S608 - a quoted name
    except sqlite3.OperationalError:  # WITHOUT ROWID: the primary key identifies the row
        cursor = conn.execute(f"SELECT * FROM {quoted}")  # noqa: S608 - a quoted name
    count = total = 0
    for row in cursor:
        count += 1
        total = (total + _row_hash(row)) % _MOD
    return count, total


def content_digest(conn: sqlite3.Connection) -> Digest:
    """The digest of everything ``conn`` sees (call it inside a read transaction)."""
    schema = conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
    ).fetchall()
    digest: Digest = {_SCHEMA: (len(schema), _row_hash(tuple(schema)) % _MOD)}
    for kind, name, _table, sql in schema:
        virtual = str(sql or "").upper().startswith("CREATE VIRTUAL")
        if kind == "table" and not virtual:  # a virtual table's data is in its shadow tables
            digest[name] = _table_digest(conn, name)
    return digest


def file_digest(path: Path) -> Digest:
    """The digest of a database file (opened read-only)."""
    with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as c:
        return content_digest(c)


def differences(live: Digest, restored: Digest) -> list[str]:
    """What differs, table by table (empty: the same rows)."""
    out = []
    for name in sorted(set(live) | set(restored)):
        mine, theirs = live.get(name), restored.get(name)
        if mine == theirs:
            continue
        if name == _SCHEMA:
            out.append("the schema differs")
        elif theirs is None:
            out.append(f"table {name} is missing from the backup")
        elif mine is None:
            out.append(f"table {name} is in the backup but not in the database")
        elif mine[0] != theirs[0]:
            out.append(f"table {name}: {mine[0]} rows in the database, {theirs[0]} in the backup")
        else:
            out.append(f"table {name}: same row count ({mine[0]}), different contents")
    return out


TxidReader = Callable[[], Awaitable[int]]


async def take_reference(
    db_path: Path, txid: TxidReader, *, attempts: int = 20
) -> Reference | None:
    """The live database's digest at the txid Litestream reports (see the module docstring);
    None when the database kept changing through ``attempts`` tries."""
    for attempt in range(attempts):
        before = await txid()
        first = await _stable_digest(db_path, txid, before)
        # Litestream reads the WAL file itself: a commit whose frames are written (and being
        # fsynced) but not yet published in the WAL index is in its txid and not in a reader's
        # snapshot.  A second snapshot at the same txid that agrees proves the first was not
        # taken inside that window (the commit is visible to it otherwise).
        if first is not None and await _stable_digest(db_path, txid, before) == first:
            return Reference(before, first)
        await asyncio.sleep(0.02 * (attempt + 1))
    return None


async def _stable_digest(db_path: Path, txid: TxidReader, expected: int) -> Digest | None:
    """The digest of a read snapshot taken while Litestream's txid stayed ``expected``."""
    conn = sqlite3.connect(
        f"{db_path.resolve().as_uri()}?mode=ro",
        uri=True,
        isolation_level=None,
        check_same_thread=False,
    )
    try:
        await asyncio.to_thread(_begin, conn)
        if await txid() != expected:
            return None
        return await asyncio.to_thread(content_digest, conn)
    finally:
        conn.close()


def _begin(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN")
    conn.execute("SELECT count(*) FROM sqlite_master").fetchall()
