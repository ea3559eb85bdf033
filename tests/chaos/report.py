"""docs/RELIABILITY.md from the chaos suite's results (never typed by hand).

``make reliability`` runs the whole suite with ``KHRONOS_FAULT_REPEAT=20`` and
``KHRONOS_RELIABILITY_REPORT=docs/RELIABILITY.md``; ``make test`` runs it with fewer repetitions
and writes the same table to ``.khronos-chaos/RELIABILITY.md``.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HEADER = """\
# Reliability

Produced by the chaos suite (`tests/chaos/`): each fault is injected for real while a writer
process commits one row per transaction with SQLite's default autocheckpoint, next to a real
`khronos run`, a real Litestream, a loopback Telegram Bot API and, for S3, moto behind a cuttable
TCP proxy.  After each run every committed row is restored and compared, and the alerts the fake
Bot API received are counted.  **Do not edit by hand: run `make reliability`.**

Targets: 0 committed rows missing, 0 alerts lost, 0 duplicates, 0 5xx, the daemon healthy again
without a restart.
"""


def _seconds(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):.1f} s (max {max(values):.1f} s)"


def _verdict(row: dict[str, Any]) -> str:
    ok = (
        row["rows_restored"] >= row["rows_committed"]
        and row["alerts_delivered"] >= row["alerts_expected"]
        and row["duplicates"] == 0
        and row["http_5xx"] == 0
    )
    return "met" if ok else "**missed**"


def render(rows: list[dict[str, Any]], repeat: str) -> str:
    """The markdown report."""
    from khronos.backup import find_litestream

    litestream = subprocess.run(
        [str(find_litestream()), "version"],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    ).stdout.strip()
    run = (
        f"Run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, `KHRONOS_FAULT_REPEAT={repeat}`, "
        f"Litestream {litestream or 'unknown'}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs.\n"
    )
    columns = (
        "| fault | repetitions | rows committed | rows restored | missing | alerts expected "
        "| delivered | duplicates | 5xx | time to recover | targets |"
    )
    lines = [HEADER, run, columns, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for row in rows:
        missing = max(0, row["rows_committed"] - row["rows_restored"])
        lines.append(
            f"| {row['fault']} | {row['repetitions']} | {row['rows_committed']} "
            f"| {row['rows_restored']} | {missing} | {row['alerts_expected']} "
            f"| {row['alerts_delivered']} | {row['duplicates']} | {row['http_5xx']} "
            f"| {_seconds(row['recover_seconds'])} | {_verdict(row)} |"
        )
    notes = [f"- **{r['fault']}**: {r['notes']}" for r in rows if r.get("notes")]
    if notes:
        lines += ["", "## What each fault does", "", *notes]
    return "\n".join(lines) + "\n"


def write_report(results: Path, target: Path) -> None:
    """Render ``results`` (JSON lines) into ``target``."""
    rows = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines() if line]
    order = {name: i for i, name in enumerate(FAULT_ORDER)}
    rows.sort(key=lambda r: order.get(r["fault"], len(order)))
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render(rows, os.environ.get("KHRONOS_FAULT_REPEAT", "default")))


FAULT_ORDER = [
    "kill -9 of Litestream",
    "kill -9 of khronos",
    "object-store outage",
    "Telegram outage, 429 storm and kill -9",
    "state_dir on a full filesystem",
    "log dir on a full filesystem",
    "descriptor exhaustion (prlimit --nofile=256)",
    "database deleted and restored",
]
