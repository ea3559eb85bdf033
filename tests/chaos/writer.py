"""A write load for the chaos suite: one row per transaction, SQLite's default autocheckpoint.

Run as ``python writer.py DB COMMITTED STOP [PAUSE]``: commits rows until the file STOP exists,
appending each committed id to COMMITTED (after the commit returned), then exits 0.  A commit
that fails (the database briefly gone, a full disk) is retried; an id is only listed once
committed.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from pathlib import Path


def main() -> int:
    db, committed, stop = sys.argv[1:4]
    pause = float(sys.argv[4]) if len(sys.argv) > 4 else 0.005
    with Path(committed).open("a", encoding="utf-8") as out:
        conn = sqlite3.connect(db, timeout=30, isolation_level=None)
        conn.execute("CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, body TEXT)")
        row = conn.execute("SELECT coalesce(max(id), 0) FROM rows").fetchone()[0]
        while not Path(stop).exists():
            try:
                conn.execute("INSERT INTO rows (id, body) VALUES (?, ?)", (row + 1, "x" * 100))
            except sqlite3.Error:
                time.sleep(0.05)
                continue
            row += 1
            out.write(f"{row}\n")
            out.flush()
            time.sleep(pause)
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
