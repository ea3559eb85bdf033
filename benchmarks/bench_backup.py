"""Backup RPO: time from COMMIT to the row being in the replica (file and S3 via moto).

Run with ``.venv/bin/python benchmarks/run.py backup``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import statistics
import tempfile
import time
from contextlib import closing
from pathlib import Path

from benchmarks._s3 import S3_KEY, S3_SECRET, start_moto
from khronos.backup import BackupService, ControlClient, NullAlertSink
from khronos.config import KhronosConfig, parse_config

QUICK = os.environ.get("QUICK", "") not in {"", "0"}
COMMITS = 40 if QUICK else 200
GAP_S = 0.2
RESULTS: dict[str, list[float]] = {}
"""The last run's RPO samples (seconds) per replica, for the chart."""
_METHOD = (
    "{commits} single-row commits, {gap:.0f} ms apart, Litestream 0.5.17 with "
    "`sync-interval: 1s` under `BackupService`. After each COMMIT the benchmark asks "
    "the control socket (`POST /sync`, no wait) for the local txid that covers it; a "
    "poller asks the same endpoint every 5 ms for the replica's txid (Litestream's "
    "in-memory replica position, advanced only after an upload succeeds). RPO of a "
    "commit = first poll where replica txid >= its txid, minus the COMMIT time. "
    "Khronos' own status poller makes the same local sync (woken by the commit through "
    "inotify, then every 0.5 s until the replica has it), so this is the RPO under Khronos; "
    "bare Litestream adds up to `monitor-interval` (1 s) before it even sees the WAL. "
    "Chart: [the RPO distribution](bench/rpo.png)."
)


def _config(root: Path, replica: str) -> KhronosConfig:
    db = root / "app.db"
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE rows (id INTEGER PRIMARY KEY, body TEXT)")
    text = f"state_dir: {root}/state\nbackup:\n  dbs:\n    - path: {db}\n      replica: {replica}\n"
    return parse_config(text, base_dir=root)


async def _measure(config: KhronosConfig) -> list[float]:
    """RPO of each commit: COMMIT -> first poll where the replica's txid covers it."""
    if config.backup is None:
        raise ValueError("no backup section")
    db = config.backup.dbs[0].path
    service = BackupService(config, alerts=NullAlertSink())
    await service.start()
    client = ControlClient(service.socket_path)
    pending: list[tuple[int, float]] = []
    rpo: list[float] = []
    done = asyncio.Event()

    async def poll() -> None:
        while not (done.is_set() and not pending):
            result = await client.sync(db)
            now = time.perf_counter()
            while pending and result.replicated_txid >= pending[0][0]:
                rpo.append(now - pending.pop(0)[1])
            await asyncio.sleep(0.005)

    poller = asyncio.create_task(poll())
    try:
        await service.sync_now(timeout=30)
        with closing(sqlite3.connect(db)) as conn:
            for i in range(COMMITS):
                with conn:
                    conn.execute("INSERT INTO rows (body) VALUES (?)", (f"row {i}",))
                committed = time.perf_counter()
                txid = (await client.sync(db)).txid
                pending.append((txid, committed))
                await asyncio.sleep(GAP_S)
        done.set()
        await asyncio.wait_for(poller, 60)
    finally:
        poller.cancel()
        await client.aclose()
        await service.stop()
    return rpo


def _row(name: str, rpo: list[float]) -> str:
    qs = statistics.quantiles(rpo, n=100)
    return (
        f"| {name} | {len(rpo)} | {statistics.median(rpo) * 1000:.0f} | {qs[98] * 1000:.0f} | "
        f"{max(rpo) * 1000:.0f} |"
    )


def run() -> str:
    """Markdown section with RPO p50/p99 for a file replica and an S3 (moto) replica."""
    with tempfile.TemporaryDirectory(prefix="khronos-bench-") as tmp:
        root = Path(tmp)
        (root / "file").mkdir()
        file_rpo = asyncio.run(
            _measure(_config(root / "file", f"{{url: 'file://{root}/file/replica'}}"))
        )
        moto, endpoint = start_moto(root)
        try:
            (root / "s3").mkdir()
            replica = (
                f"{{url: 's3://bench/app', endpoint: '{endpoint}', region: us-east-1, "
                f"force-path-style: true, access-key-id: {S3_KEY}, secret-access-key: {S3_SECRET}}}"
            )
            s3_rpo = asyncio.run(_measure(_config(root / "s3", replica)))
        finally:
            moto.send_signal(signal.SIGTERM)
            moto.wait(timeout=10)
    RESULTS.clear()
    RESULTS.update({"file": file_rpo, "S3 (moto on loopback)": s3_rpo})
    return "\n".join(
        [
            "## Backup: RPO (COMMIT to replica)",
            "",
            _METHOD.format(commits=COMMITS, gap=GAP_S * 1000),
            "",
            "| replica | commits | p50 ms | p99 ms | max ms |",
            "|---|---|---|---|---|",
            _row("file", file_rpo),
            _row("S3 (moto on loopback)", s3_rpo),
        ]
    )


if __name__ == "__main__":
    print(run())  # noqa: T201
