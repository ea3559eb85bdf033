"""Snapshot of a ~200 MB database to the loopback S3 (moto): time per step, size, compression
ratio, memory, and the app's commits/s while a snapshot runs vs while none runs.

The app is a separate process committing one row per transaction (SQLite defaults: WAL,
``synchronous=FULL``, autocheckpoint), as a bot would; the snapshot runs in this process
(``take_snapshot``: its own low-priority thread).  The database holds chat-bot-like rows: short
texts from a small vocabulary, JSON metadata and a random token per row (so it compresses like
app data, not like zeros).  Run with ``make bench BENCH=snapshot`` (``QUICK=1``: 50 MB).

The anchor, in the same run and under the same writer: what a careful owner would script by
hand with the reference tools — ``sqlite3 app.db "VACUUM INTO 'copy.db'"`` (one consistent
read), ``PRAGMA integrity_check``, ``zstd -3 | age -r RECIPIENT``, and boto3's ``upload_file``
(its default multipart transfer) — at normal priority, with no read-back.
"""

from __future__ import annotations

import contextlib
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._daemon import QUICK
from benchmarks._s3 import S3_KEY, S3_SECRET, s3_client, start_moto
from khronos.config import KhronosConfig, parse_config
from khronos.snapshots import fetch_snapshot, take_snapshot

SIZE_MB = int(os.environ.get("KHRONOS_BENCH_SNAPSHOT_MB", "50" if QUICK else "200"))
WINDOW_S = 5.0 if QUICK else 15.0
"""How long the writer's rate is measured without a snapshot."""

_FILL = """
WITH RECURSIVE n(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1 + ?2 - 1)
INSERT INTO messages (id, chat_id, user_id, body, meta, token)
SELECT i, abs(random()) % 500, abs(random()) % 20000,
       printf('%s %s %s, %s %s the %s %d?',
              CASE abs(random()) % 6 WHEN 0 THEN 'hello' WHEN 1 THEN 'please' WHEN 2 THEN 'can you'
                   WHEN 3 THEN 'thanks for' WHEN 4 THEN 'remind me about' ELSE 'what is' END,
              CASE abs(random()) % 5 WHEN 0 THEN 'the weather' WHEN 1 THEN 'my order'
                   WHEN 2 THEN 'the meeting' WHEN 3 THEN 'this photo' ELSE 'the invoice' END,
              CASE abs(random()) % 4 WHEN 0 THEN 'tomorrow' WHEN 1 THEN 'today'
                   WHEN 2 THEN 'next week' ELSE 'tonight' END,
              CASE abs(random()) % 3 WHEN 0 THEN 'and' WHEN 1 THEN 'or' ELSE 'but' END,
              CASE abs(random()) % 3 WHEN 0 THEN 'check' WHEN 1 THEN 'send' ELSE 'translate' END,
              CASE abs(random()) % 3 WHEN 0 THEN 'report' WHEN 1 THEN 'list' ELSE 'answer' END,
              abs(random()) % 1000),
       json_object('ts', 1733390000 + i, 'lang', 'en', 'kind', 'text', 'reply_to', i - 1),
       hex(randomblob(16))
FROM n
"""

_WRITER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], timeout=30)
n, last = 10**9, time.monotonic()
while True:
    with conn:
        conn.execute("INSERT INTO messages (id, chat_id, user_id, body, meta, token) "
                     "VALUES (?, 1, 1, 'live message', '{}', 'x')", (n,))
    n += 1
    now = time.monotonic()
    if now - last >= 0.05:
        print(f"{now:.4f} {n - 10**9}", flush=True)
        last = now
"""


def _make_db(path: Path, size_mb: int) -> None:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(
            "CREATE TABLE messages (id INTEGER PRIMARY KEY, chat_id INT, user_id INT, "
            "body TEXT, meta TEXT, token TEXT)"
        )
        conn.execute("CREATE INDEX messages_chat ON messages (chat_id, id)")
        start, batch = 0, 50_000
        while path.stat().st_size + _wal(path) < size_mb * 1_000_000:
            with conn:
                conn.execute(_FILL, (start, batch))
            start += batch
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _wal(path: Path) -> int:
    with contextlib.suppress(FileNotFoundError):
        return Path(f"{path}-wal").stat().st_size
    return 0


def _config(root: Path, endpoint: str, recipient: str) -> KhronosConfig:
    text = (
        f"state_dir: {root}/state\nbackup:\n  dbs:\n    - path: {root}/app.db\n"
        f"      replica: {{url: 'file://{root}/replica'}}\n"
        "      snapshots:\n"
        f"        - {{url: 's3://bench/snaps', endpoint: '{endpoint}', region: us-east-1, "
        f"force-path-style: true, access-key-id: {S3_KEY}, secret-access-key: {S3_SECRET}, "
        f"encrypt: {{recipients: [{recipient}]}}}}\n"
    )
    return parse_config(text, source=str(root / "khronos.yml"), base_dir=root)


class _Writer:
    """The app: a subprocess committing single rows; its progress read as (time, count)."""

    def __init__(self, db: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(db)], stdout=subprocess.PIPE, text=True
        )
        self.samples: list[tuple[float, int]] = []

    def read_until(self, moment: float) -> None:
        if self.proc.stdout is None:
            raise RuntimeError("the writer has no stdout")
        while not self.samples or self.samples[-1][0] < moment:
            when, count = self.proc.stdout.readline().split()
            self.samples.append((float(when), int(count)))

    def rate(self, start: float, end: float) -> float:
        inside = [(t, c) for t, c in self.samples if start <= t <= end]
        if len(inside) < 2:
            return float("nan")
        (t0, c0), (t1, c1) = inside[0], inside[-1]
        return (c1 - c0) / (t1 - t0)

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


def _measure() -> dict[str, Any]:
    import pyrage  # noqa: PLC0415

    root = Path(tempfile.mkdtemp(prefix="khronos-bench-snapshot-"))
    moto, endpoint = start_moto(root)
    writer = None
    try:
        db_path = root / "app.db"
        _make_db(db_path, SIZE_MB)
        identity = pyrage.x25519.Identity.generate()
        key_file = root / "snapshots.key"
        key_file.write_text(f"{identity}\n", encoding="utf-8")
        config = _config(root, endpoint, str(identity.to_public()))
        db = config.require_backup().dbs[0]
        dest = db.snapshots[0]
        writer = _Writer(db_path)
        idle_start = time.monotonic() + 1.0  # the writer warmed up
        writer.read_until(idle_start + WINDOW_S)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        snap_start = time.monotonic()
        report = take_snapshot(db, dest, tmp_dir=root)
        snap_end = time.monotonic()
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        writer.read_until(snap_end)
        idle = writer.rate(idle_start, idle_start + WINDOW_S)
        during = writer.rate(snap_start, snap_end)
        anchor_start = time.monotonic()
        anchor = _anchor(root, db_path, str(identity.to_public()), endpoint)
        anchor_end = time.monotonic()
        writer.read_until(anchor_end)
        during_anchor = writer.rate(anchor_start, anchor_end)
        writer.stop()
        writer = None
        fetch_start = time.perf_counter()
        fetch_snapshot(db, dest, report.info, identity=key_file, out=root / "back.db")
        fetched = time.perf_counter() - fetch_start
        return {
            "db_bytes": float(report.info.db_bytes or 0),
            "size": float(report.info.size),
            "total": report.duration,
            "steps": report.steps,
            "idle": idle,
            "during": during,
            "rss_growth_mb": max(0, rss_after - rss_before) / 1024,
            "rss_peak_mb": rss_after / 1024,
            "fetch": fetched,
            "anchor": anchor,
            "during_anchor": during_anchor,
        }
    finally:
        if writer is not None:
            writer.stop()
        moto.terminate()
        moto.wait(timeout=30)
        subprocess.run(["rm", "-rf", str(root)], check=False)


def _anchor(root: Path, db: Path, recipient: str, endpoint: str) -> float:
    """Seconds for the hand-written pipeline (see the module docstring)."""
    work = root / "anchor"
    work.mkdir()
    copy, stored = work / "copy.db", work / "copy.db.zst.age"
    client = s3_client(endpoint)
    started = time.perf_counter()
    subprocess.run(["sqlite3", str(db), f"VACUUM INTO '{copy}'"], check=True)
    subprocess.run(
        ["sqlite3", str(copy), "PRAGMA integrity_check"], check=True, capture_output=True
    )
    with stored.open("wb") as out:
        zstd = subprocess.Popen(["zstd", "-3", "-q", "-c", str(copy)], stdout=subprocess.PIPE)
        subprocess.run(["age", "-r", recipient], stdin=zstd.stdout, stdout=out, check=True)
        if zstd.stdout is not None:
            zstd.stdout.close()
        if zstd.wait() != 0:
            raise RuntimeError("zstd failed")
    client.upload_file(str(stored), "bench", "anchor/copy.db.zst.age")
    return time.perf_counter() - started


def run() -> str:
    """Markdown section with the measurements."""
    m = _measure()
    steps: dict[str, float] = m["steps"]
    db_mb = m["db_bytes"] / 1e6
    size_mb = m["size"] / 1e6
    names = {
        "copy": "online copy (backup API, 4 MiB steps, read transaction held)",
        "check": "`PRAGMA integrity_check` of the copy",
        "compress": "zstd level 3 (streamed)",
        "encrypt": "age encryption + writing the object (streamed)",
        "upload": "upload to moto S3 (boto3 multipart, 16 MiB parts)",
        "verify": "read-back: size + SHA-256, then the manifest",
        "prune": "listing + retention",
    }
    rows = [f"| {text} | {steps.get(key, 0.0):.2f} |" for key, text in names.items()]
    idle, during = m["idle"], m["during"]
    return "\n".join(
        [
            "## Snapshots",
            "",
            f"`take_snapshot` of a {db_mb:.0f} MB chat-bot-like database (texts, JSON, a random "
            "token per row) to moto S3 on loopback, while the app (another process) commits "
            "single-row transactions; one run" + (" (`QUICK=1`)." if QUICK else "."),
            "",
            "| step | seconds |",
            "|---|---:|",
            *rows,
            f"| **total** | **{m['total']:.2f}** |",
            "",
            (
                f"- stored: {size_mb:.1f} MB for {db_mb:.0f} MB: compression ratio "
                f"**{db_mb / size_mb:.2f}x**"
            ),
            (
                f"- memory: peak RSS of the process {m['rss_peak_mb']:.0f} MB, grown by "
                f"{m['rss_growth_mb']:.0f} MB during the snapshot (streamed: the database is "
                "never held in memory)"
            ),
            (
                f"- the app's commits/s: **{idle:.0f}** with no snapshot running, "
                f"**{during:.0f}** while the snapshot runs ({during / idle:.0%} of it; moto, "
                "the S3 server receiving the upload, runs on the same 2 cores)"
            ),
            (
                "- `fetch_snapshot` (download, checksum, decrypt, decompress, quick_check): "
                f"{m['fetch']:.2f} s"
            ),
            "",
            (
                "Anchor, same run, same writer: the pipeline an owner would script with the "
                "reference tools (`sqlite3 VACUUM INTO`, `integrity_check`, `zstd -3 | age -r`, "
                "boto3 `upload_file`; normal priority, no read-back):"
            ),
            "",
            "| | Khronos `take_snapshot` | anchor script | ratio |",
            "|---|---:|---:|---:|",
            (
                f"| time | {m['total']:.2f} s | {m['anchor']:.2f} s | "
                f"{m['total'] / m['anchor']:.2f}x |"
            ),
            (
                f"| the app's commits/s meanwhile | {during:.0f} | {m['during_anchor']:.0f} | "
                f"{during / m['during_anchor']:.2f}x |"
            ),
        ]
    )


if __name__ == "__main__":
    print(run())  # noqa: T201
