"""The report's charts (PNG, matplotlib: a bench-only dependency): RPO and logging throughput.

The RPO chart is drawn from the backup benchmark's samples; the logging chart from the Logs
section's own table (its *lines/s to disk* column), so that section's code stays its own.
"""

from __future__ import annotations

import re
from pathlib import Path

CHART_DIR = "bench"
"""Folder of the PNGs, beside BENCHMARKS.md in docs/."""


def _pyplot():  # type: ignore[no-untyped-def]
    import matplotlib  # noqa: PLC0415 - a bench-only dependency

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt


def rpo_chart(samples: dict[str, list[float]], out: Path) -> None:
    """The distribution of RPO (seconds) per replica: an empirical CDF in milliseconds."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    for name, values in samples.items():
        ordered = sorted(v * 1000 for v in values)
        share = [(i + 1) / len(ordered) for i in range(len(ordered))]
        ax.step(ordered, share, where="post", label=f"{name} ({len(ordered)} commits)")
    ax.set_xlabel("RPO: COMMIT to replica (ms)")
    ax.set_ylabel("share of commits at or below")
    ax.set_title("Backup RPO under Khronos (Litestream 0.5, sync-interval 1s)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)


def table_column(section: str, header: str) -> list[tuple[str, float]]:
    """(first cell, number) of each row of the first Markdown table with a ``header`` column."""
    lines = section.splitlines()
    for i, line in enumerate(lines):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or header not in cells:
            continue
        column = cells.index(header)
        rows = []
        for row in lines[i + 2 :]:
            if not row.startswith("|"):
                break
            values = [c.strip() for c in row.strip().strip("|").split("|")]
            number = re.sub(r"[^\d.]", "", values[column]) if column < len(values) else ""
            if number:
                rows.append((values[0], float(number)))
        return rows
    return []


def throughput_chart(rows: list[tuple[str, float]], out: Path) -> None:
    """Horizontal bars: lines/s to disk per logging pipeline."""
    plt = _pyplot()
    names = [name for name, _ in rows][::-1]
    values = [value for _, value in rows][::-1]
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(rows) + 1.5), dpi=110)
    bars = ax.barh(names, values, color="#4c78a8")
    ax.bar_label(bars, labels=[f"{v:,.0f}" for v in values], padding=3, fontsize=8)
    ax.set_xlabel("lines/s written to disk (higher is better)")
    ax.set_title("Logging throughput, full pipelines")
    ax.margins(x=0.15)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
