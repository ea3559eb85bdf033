"""Run every benchmark and write docs/BENCHMARKS.md (`make bench`).

Each ``benchmarks/bench_<area>.py`` has a ``run() -> str`` returning a Markdown section that
measures Khronos beside the anchor libraries in the same run and reports ratios.  ``QUICK=1``
(``make bench QUICK=1``) asks every module for a short run (the whole bench under 2 minutes).
The charts (docs/bench/*.png) are drawn last and linked from a Charts section.
"""

from __future__ import annotations

import importlib
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "docs" / "BENCHMARKS.md"


def main(selected: list[str]) -> int:
    """Run the selected (default: all) benchmark modules, write the report."""
    sys.path.insert(0, str(HERE.parent))
    names = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if selected:
        names = [n for n in names if n.removeprefix("bench_") in selected or n in selected]
    if not names:
        print("no benchmarks yet")  # noqa: T201
        return 0
    sections = []
    modules = {}
    began = time.perf_counter()
    for name in names:
        started = time.perf_counter()
        print(f"running {name} ...", flush=True)  # noqa: T201
        module = importlib.import_module(f"benchmarks.{name}")
        modules[name] = module
        sections.append(module.run().strip())
        print(f"  done in {time.perf_counter() - started:.1f}s", flush=True)  # noqa: T201
    what = f"`make bench BENCH={' '.join(selected)}` (other sections from an earlier run)"
    header = (
        "# Benchmarks\n\n"
        f"Written by {what if selected else '`make bench`'} on "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; "
        f"Python {platform.python_version()}, {platform.machine()}, "
        f"{_cpus()} CPUs. Numbers are from one run on a shared 2-core machine: compare the "
        "ratios, which are measured side by side in the same process, more than the absolute "
        "values.\n"
    )
    if selected:
        sections = _merge(_existing_sections(), sections)
    sections = [s for s in sections if _title(s) != _CHARTS_TITLE]
    sections.append(_charts(sections, modules))
    quick = os.environ.get("QUICK", "") not in {"", "0"}
    took = time.perf_counter() - began
    short = " (`QUICK=1`: short windows, fewer rounds)" if quick else ""
    header += f"\nThis run took {took:.0f} s{short}.\n"
    OUT.write_text(header + "\n" + "\n\n".join(sections) + "\n", encoding="utf-8")
    print(f"wrote {OUT} in {took:.0f}s")  # noqa: T201
    return 0


_CHARTS_TITLE = "## Charts"


def _charts(sections: list[str], modules: dict[str, Any]) -> str:
    """Draw the charts this run has data for; a section linking every chart there is."""
    from benchmarks._charts import (  # noqa: PLC0415 - matplotlib only when writing the report
        CHART_DIR,
        rpo_chart,
        table_column,
        throughput_chart,
    )

    folder = OUT.parent / CHART_DIR
    backup = modules.get("bench_backup")
    if backup is not None and getattr(backup, "RESULTS", None):
        rpo_chart(backup.RESULTS, folder / "rpo.png")
    logs = next((s for s in sections if _title(s) == "## Logs"), None)
    rows = table_column(logs, "lines/s to disk") if logs else []
    if rows and ("bench_logs" in modules or not (folder / "logs.png").exists()):
        throughput_chart(rows, folder / "logs.png")
    links = [
        f"- [{text}]({CHART_DIR}/{file})"
        for file, text in (
            ("rpo.png", "Backup RPO: distribution of COMMIT-to-replica times"),
            ("logs.png", "Logging throughput: lines/s to disk per pipeline"),
        )
        if (folder / file).exists()
    ]
    return "\n".join([_CHARTS_TITLE, "", *links]) if links else f"{_CHARTS_TITLE}\n\nnone yet"


def _title(section: str) -> str:
    return section.split("\n", 1)[0].strip()


def _existing_sections() -> list[str]:
    """The ``## ...`` sections of the current report (empty when there is none)."""
    try:
        text = OUT.read_text(encoding="utf-8")
    except OSError:
        return []
    return ["## " + part.strip() for part in text.split("\n## ")[1:]]


def _merge(old: list[str], new: list[str]) -> list[str]:
    """``make bench BENCH=logs``: the new sections replace theirs, the others are kept."""
    fresh = {_title(s): s for s in new}
    merged = [fresh.pop(_title(s), s) for s in old]
    return merged + list(fresh.values())


def _cpus() -> int:
    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
