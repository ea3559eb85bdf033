"""Run every benchmark and write docs/BENCHMARKS.md (`make bench`).

Each ``benchmarks/bench_<area>.py`` has a ``run() -> str`` returning a Markdown section that
measures Khronos beside the anchor libraries in the same run and reports ratios.
"""

from __future__ import annotations

import importlib
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

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
    for name in names:
        started = time.perf_counter()
        print(f"running {name} ...", flush=True)  # noqa: T201
        module = importlib.import_module(f"benchmarks.{name}")
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
    OUT.write_text(header + "\n" + "\n\n".join(sections) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")  # noqa: T201
    return 0


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
