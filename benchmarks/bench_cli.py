"""CLI start-up: ``khronos --version``, ``--help`` and ``status`` beside a Go CLI.

Each command is run as a new process, as a user runs it, and timed from spawn to exit (median
of several runs).  The anchor is a Go CLI on the same machine: the Litestream binary Khronos
ships, ``litestream version``.  ``khronos status`` asks a running ``khronos run`` (one database
on a file replica).
"""

from __future__ import annotations

import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks._daemon import KHRONOS, QUICK, khronos_run
from khronos.backup import find_litestream

RUNS = 5 if QUICK else 15
TARGETS = {"--version": 0.25, "--help": 0.25, "status": 0.5}


def _median_s(command: list[str]) -> float:
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def measure() -> dict[str, float]:
    """Median seconds per command, the anchor's under ``"anchor"``."""
    out = {"anchor": _median_s([str(find_litestream()), "version"])}
    out["--version"] = _median_s([str(KHRONOS), "--version"])
    out["--help"] = _median_s([str(KHRONOS), "--help"])
    with (
        tempfile.TemporaryDirectory(prefix="khronos-bench-cli-") as tmp,
        khronos_run(Path(tmp)) as run,
    ):
        out["status"] = _median_s([str(KHRONOS), "-c", str(run.config), "status"])
    return out


def run() -> str:
    """The Markdown section."""
    m = measure()
    anchor = m["anchor"]
    rows = [
        "| command | median s | vs the Go CLI | target | |",
        "|---|---:|---:|---:|---|",
        f"| `litestream version` (Go) | {anchor:.3f} | 1.0x | | |",
    ]
    verdicts = []
    for name, target in TARGETS.items():
        seconds = m[name]
        met = seconds <= target
        command = f"khronos {name}"
        rows.append(
            f"| `{command}` | {seconds:.3f} | {seconds / anchor:.0f}x | ≤ {target:g} s | "
            f"{'met' if met else 'missed'} |"
        )
        verdicts.append(f"- `{command}` ≤ {target:g} s: **{'met' if met else 'missed'}**")
    return "\n".join(
        [
            "## CLI start-up",
            "",
            (
                f"Each command run as a new process, spawn to exit, median of {RUNS} runs; "
                "`khronos status` asks a running `khronos run` (one database, file replica). "
                "`--version` and `--help` import no command module (the commands load when they "
                "run); `status` imports the configuration model (pydantic), the logging setup and "
                "the backup package, and asks Litestream's control socket."
            ),
            "",
            *rows,
            "",
            "Targets:",
            "",
            *verdicts,
            "",
            (
                "A Python CLI cannot start in a Go binary's ~10 ms: the interpreter alone takes "
                "~15 ms, and whatever a command imports adds to it."
            ),
        ]
    )


if __name__ == "__main__":
    print(run())  # noqa: T201
