"""Restore time and MB/s for a 200 MB database: Khronos' restore_database vs bare litestream.

Khronos is measured twice: as the CLI runs it (safety copy of the current database with the
SQLite backup API + PRAGMA integrity_check on the restored copy + atomic swap) and with those
two steps off (``safety_copy=False, integrity="none"``), which isolates the wrapper's own cost
(rendering the config, the dry-run plan, the swap).  File replica; each variant runs
``ROUNDS`` times in the same process, and the median is reported.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from khronos.backup import find_litestream, litestream_env, render_config, restore_database
from khronos.config import parse_config

SIZE_MB = int(os.environ.get("KHRONOS_BENCH_RESTORE_MB", "200"))
ROUNDS = 3


def _make_db(path: Path) -> None:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE rows (id INTEGER PRIMARY KEY, body BLOB)")
        blob = 1000
        for start in range(0, SIZE_MB * 1000, 10_000):
            with conn:
                conn.executemany(
                    "INSERT INTO rows (id, body) VALUES (?, randomblob(?))",
                    ((i, blob) for i in range(start, start + 10_000)),
                )
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _replicate(config_text: Path, env: dict[str, str], sock: Path, db: Path) -> None:
    proc = subprocess.Popen(
        [str(find_litestream()), "replicate", "-config", str(config_text)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        body = f'{{"path": "{db}", "wait": true, "timeout": 300}}'.encode()
        head = f"POST /sync HTTP/1.0\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as conn:
                conn.settimeout(320)
                conn.connect(str(sock))
                conn.sendall(head + body)
                answer = b""
                while chunk := conn.recv(65536):
                    answer += chunk
                if b'"replicated_txid"' in answer and b'"replicated_txid":0' not in answer:
                    return
            time.sleep(0.2)
        raise RuntimeError("litestream did not replicate the benchmark database")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)


def _median(fn: Callable[[], None], before: Callable[[], None]) -> float:
    times = []
    for _ in range(ROUNDS):
        before()
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run() -> str:
    """Markdown section with the measurements."""
    work = Path(tempfile.mkdtemp(prefix="khronos-bench-restore-"))
    try:
        db = work / "app.db"
        _make_db(db)
        size = db.stat().st_size
        text = f"state_dir: {work}/state\nbackup:\n  dbs:\n    - path: {db}\n      replica: {{url: 'file://{work}/replica'}}\n"
        config = parse_config(text, source=str(work / "khronos.yml"), base_dir=work)
        if config.backup is None:
            raise RuntimeError("no backup section")
        sock = work / "ls.sock"
        rendered = render_config(config.backup, socket_path=sock)
        conf = work / "ls.yml"
        rendered.write(conf)
        env, _ = litestream_env()
        env.update(rendered.env)
        _replicate(conf, env, sock, db)
        pristine = work / "pristine.db"
        shutil.copy2(db, pristine)
        out = work / "bare.db"

        def reset_out() -> None:
            out.unlink(missing_ok=True)

        def reset_target() -> None:
            for p in work.glob("app.db.pre-restore-*"):
                p.unlink()
            shutil.copy2(pristine, db)

        bare = _median(
            lambda: subprocess.run(
                [str(find_litestream()), "restore", "-config", str(conf), "-o", str(out), str(db)],
                env=env,
                check=True,
                capture_output=True,
            ),
            reset_out,
        )
        full = _median(lambda: restore_database(config), reset_target)
        lean = _median(
            lambda: restore_database(config, safety_copy=False, integrity="none"), reset_target
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    mb = size / 1e6

    def row(name: str, seconds: float) -> str:
        return f"| {name} | {seconds:.2f} | {mb / seconds:.0f} | {seconds / bare:.2f}x |"

    return "\n".join(
        [
            "## Restore",
            "",
            (
                f"A {mb:.0f} MB SQLite database (1 KB random rows) restored from a file "
                f"replica; median of {ROUNDS} runs each, same process, same machine."
            ),
            "",
            "| variant | seconds | MB/s | vs bare litestream |",
            "|---|---:|---:|---:|",
            row("bare `litestream restore -o OUT`", bare),
            row("Khronos `restore_database` (safety copy + integrity_check + swap)", full),
            row("Khronos `restore_database` without safety copy and integrity check", lean),
            "",
            (
                "The difference between the last two rows is the price of safety: copying the "
                "current database with the SQLite backup API and a full `PRAGMA integrity_check` "
                "of the restored copy. S3 (moto) was not measured here: its in-memory server, "
                "not Litestream, would dominate the time."
            ),
        ]
    )
