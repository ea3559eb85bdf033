"""The drill's reference: the live database's digest at the txid Litestream reports."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from khronos.backup._digest import content_digest, take_reference

pytestmark = pytest.mark.asyncio


def _make_db(path: Path, rows: int) -> None:
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE rows (id INTEGER PRIMARY KEY, body TEXT)")
        conn.executemany("INSERT INTO rows (body) VALUES (?)", [("x",)] * rows)


def _digest(path: Path) -> dict[str, tuple[int, int]]:
    with closing(sqlite3.connect(path)) as conn:
        return content_digest(conn)


def _insert(path: Path) -> None:
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("INSERT INTO rows (body) VALUES ('late')")


async def test_a_still_database_is_its_own_reference(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    _make_db(db, 30)

    async def txid() -> int:
        return 7

    reference = await take_reference(db, txid)
    assert reference is not None
    assert reference.txid == 7
    assert reference.digest == _digest(db)
    assert reference.digest["rows"][0] == 30


async def test_a_commit_litestream_counted_before_readers_saw_it_is_not_left_out(
    tmp_path: Path,
) -> None:
    """Litestream reads the WAL file, so its txid can include a commit still being published
    to readers: the reference taken in that window must not be the snapshot without it (the
    drill then reported the backup "missing" data it had, one row more than the reference)."""
    db = tmp_path / "app.db"
    _make_db(db, 30)
    calls = 0

    async def txid() -> int:
        nonlocal calls
        calls += 1
        if calls == 2:  # the first snapshot is open: the in-flight commit becomes visible now
            _insert(db)
        return 7  # Litestream's txid already covered it, before and after

    reference = await take_reference(db, txid)
    assert reference is not None
    assert reference.digest == _digest(db)
    assert reference.digest["rows"][0] == 31


async def test_a_database_that_never_stands_still_has_no_reference(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    _make_db(db, 1)
    counter = 0

    async def txid() -> int:
        nonlocal counter
        counter += 1
        return counter

    assert await take_reference(db, txid, attempts=3) is None
