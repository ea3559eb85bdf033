"""Logs: caller cost, lines/s to disk and a 200,000-line burst, beside the anchor loggers.

In one run, side by side:

- Khronos' full pipeline: contextvars, correlation ID, redaction, the rotated files through
  the queue (default ``logs.configure(log_dir=..., console="off")``);
- bare structlog + orjson writing one file (the floor: no queue, no redaction, one file);
- loguru with ``enqueue=True`` and the same three files (``serialize=True``, rotation);
- winston with the original design's three-file config (``benchmarks/winston_bench.js``,
  installed from npm into a temporary folder; skipped with a note when npm is missing);
- python-json-logger writing one file.

``QUICK=1`` (``make bench QUICK=1``) runs fewer calls and a 20,000-line burst.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson
import structlog
from pythonjsonlogger.json import JsonFormatter

from benchmarks.loguru_sinks import logger as loguru_logger
from benchmarks.loguru_sinks import three_files
from khronos import logs

QUICK = os.environ.get("QUICK", "") not in {"", "0"}
CALLS = 5_000 if QUICK else 20_000
ROUNDS = 3 if QUICK else 5
BURST = 20_000 if QUICK else 200_000
WINSTON_JS = Path(__file__).resolve().parent / "winston_bench.js"
KHRONOS = "Khronos (context, redaction, 3 files via queue)"
BARE = "bare structlog + orjson, one file"
LOGURU = "loguru, enqueue=True, 3 files"
WINSTON = "winston, the original design's 3 files"
PJL = "python-json-logger, one file"


# ------------------------------------------------------------------ throughput, in process


def _rounds(call: Callable[[int], None], flush: Callable[[], None]) -> tuple[float, float]:
    """(median µs per call on the caller's side, lines/s until the lines are on disk)."""
    per_call: list[float] = []
    rates: list[float] = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for n in range(CALLS):
            call(n)
        caller = time.perf_counter() - started
        flush()
        total = time.perf_counter() - started
        per_call.append(caller / CALLS * 1e6)
        rates.append(CALLS / total)
    return statistics.median(per_call), statistics.median(rates)


def _khronos(directory: Path) -> tuple[float, float]:
    logs.configure(
        log_dir=directory,
        console="off",
        secrets=["bench-secret-value"],
        exception_hooks=False,
        handle_sigterm=False,
    )
    log = logs.get_logger().bind(component="bench")
    binding = logs.bind_correlation_id("bench-cid")
    binding.__enter__()
    try:
        result = _rounds(lambda n: log.info("request handled", n=n, status=200), logs.flush)
    finally:
        binding.__exit__(None, None, None)
        logs.reset()
    return result


def _structlog(directory: Path) -> tuple[float, float]:
    handle = (directory / "bare.log").open("wb")
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(serializer=orjson.dumps),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=structlog.BytesLoggerFactory(handle),
        cache_logger_on_first_use=False,
    )
    log = structlog.get_logger().bind(component="bench")
    try:
        return _rounds(lambda n: log.info("request handled", n=n, status=200), handle.flush)
    finally:
        structlog.reset_defaults()
        handle.close()


def _loguru(directory: Path) -> tuple[float, float]:
    directory.mkdir(parents=True, exist_ok=True)
    three_files(str(directory))
    log = loguru_logger.bind(component="bench", correlationId="bench-cid")
    try:
        return _rounds(
            lambda n: log.info("request handled", n=n, status=200), loguru_logger.complete
        )
    finally:
        loguru_logger.remove()


def _json_logger(directory: Path) -> tuple[float, float]:
    handler = logging.FileHandler(directory / "pjl.log", encoding="utf-8")
    handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(message)s"))
    log = logging.getLogger("bench.pjl")
    log.propagate = False
    log.setLevel(logging.INFO)
    log.addHandler(handler)
    try:
        return _rounds(
            lambda n: log.info("request handled", extra={"n": n, "status": 200}), handler.flush
        )
    finally:
        log.removeHandler(handler)
        handler.close()


def _winston(node_path: Path, directory: Path) -> tuple[float, float]:
    directory.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["node", str(WINSTON_JS), "throughput", str(directory), str(CALLS), str(ROUNDS)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
        env={**os.environ, "NODE_PATH": str(node_path)},
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return float(result["us_per_call"]), float(result["lines_per_s"])


# ------------------------------------------------------------ the burst, whole processes

_PY_BURSTS = {
    KHRONOS: """
        from khronos import logs
        logs.configure(log_dir=DIR, console="off")
        log = logs.get_logger(component="bench")
        with logs.bind_correlation_id("bench-cid"):
            for n in range(LINES):
                log.info("request handled", n=n, status=200)
        logs.shutdown()
        """,
    BARE: """
        import logging, orjson, structlog
        handle = open(DIR + "/combined.log", "wb")
        structlog.configure(
            processors=[
                structlog.contextvars.merge_contextvars,
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                structlog.processors.JSONRenderer(serializer=orjson.dumps),
            ],
            wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
            logger_factory=structlog.BytesLoggerFactory(handle),
        )
        log = structlog.get_logger().bind(component="bench", correlationId="bench-cid")
        for n in range(LINES):
            log.info("request handled", n=n, status=200)
        handle.close()
        """,
    LOGURU: """
        from benchmarks.loguru_sinks import logger, three_files
        three_files(DIR)
        log = logger.bind(component="bench", correlationId="bench-cid")
        for n in range(LINES):
            log.info("request handled", n=n, status=200)
        logger.complete()
        logger.remove()
        """,
    PJL: """
        import logging
        from pythonjsonlogger.json import JsonFormatter
        handler = logging.FileHandler(DIR + "/combined.log", encoding="utf-8")
        handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(message)s"))
        log = logging.getLogger("bench")
        log.setLevel(logging.INFO)
        log.addHandler(handler)
        for n in range(LINES):
            log.info("request handled", extra={"n": n, "status": 200, "component": "bench"})
        handler.close()
        """,
}


@dataclass
class Burst:
    """One whole process logging BURST lines from one thread."""

    written: int
    seconds: float
    peak_rss_mb: float


def _run_burst(command: list[str], directory: Path, env: dict[str, str]) -> Burst:
    """Run the process; it prints its own peak RSS last; count its combined lines.

    The peak RSS comes from the process itself (``VmHWM``): ``wait4``'s ``ru_maxrss`` of a
    child started from this (large) process counts this process's pages too.
    """
    directory.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{command[:2]} exited {done.returncode}: {done.stderr[-500:]}")
    peak_kb = int(done.stdout.split("VmHWM:")[-1].split()[0])
    written = sum(
        path.read_bytes().count(b"\n") for path in directory.iterdir() if "combined" in path.name
    )
    return Burst(written, seconds, peak_kb / 1024)


_PRINT_PEAK = """
import re
status = open("/proc/self/status", encoding="ascii").read()
print("VmHWM:", re.search(r"VmHWM:\\s*(\\d+)", status).group(1))
"""


def _py_burst(name: str, directory: Path) -> Burst:
    head = f"DIR = {str(directory)!r}\nLINES = {BURST}\n"
    script = head + textwrap.dedent(_PY_BURSTS[name]) + _PRINT_PEAK
    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": root}
    return _run_burst([sys.executable, "-c", script], directory, env)


def _winston_burst(node_path: Path, directory: Path) -> Burst:
    command = ["node", str(WINSTON_JS), "burst", str(directory), str(BURST)]
    return _run_burst(command, directory, {**os.environ, "NODE_PATH": str(node_path)})


_NPM_QUIET = ("--prefer-offline", "--no-audit", "--no-fund")


def _install_winston(folder: Path) -> tuple[Path | None, str]:
    """winston from npm into ``folder``: (its node_modules, or None and why not)."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        return None, "winston skipped: npm/node not installed"
    done = subprocess.run(
        [npm, "install", "--prefix", str(folder), *_NPM_QUIET, "winston@3"],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if done.returncode != 0:
        return None, f"winston skipped: npm install failed ({done.stderr.strip()[-200:]})"
    version = json.loads((folder / "node_modules/winston/package.json").read_text())["version"]
    return folder / "node_modules", f"winston {version} from npm, node {_node_version(node)}"


def _node_version(node: str) -> str:
    done = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip()


# ------------------------------------------------------------------------------- report


def run() -> str:
    """The Markdown section for docs/BENCHMARKS.md."""
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        node_path, winston_note = _install_winston(base / "npm")
        rates: dict[str, tuple[float, float]] = {
            KHRONOS: _khronos(base / "k"),
            BARE: _structlog(base),
            LOGURU: _loguru(base / "loguru"),
        }
        if node_path is not None:
            rates[WINSTON] = _winston(node_path, base / "winston")
        rates[PJL] = _json_logger(base)
        bursts = {name: _py_burst(name, base / f"burst-{i}") for i, name in enumerate(_PY_BURSTS)}
        if node_path is not None:
            bursts[WINSTON] = _winston_burst(node_path, base / "burst-winston")
    return _report(rates, bursts, winston_note)


def _report(
    rates: dict[str, tuple[float, float]], bursts: dict[str, Burst], winston_note: str
) -> str:
    bare_us, bare_rate = rates[BARE]
    rows = [
        "| pipeline | caller µs/call | vs bare | lines/s to disk | vs bare |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, (micros, rate) in rates.items():
        rows.append(
            f"| {name} | {micros:.2f} | {micros / bare_us:.2f}x | {rate:,.0f} | "
            f"{rate / bare_rate:.2f}x |"
        )
    winston_s = bursts[WINSTON].seconds if WINSTON in bursts else None
    burst_rows = [
        "| pipeline | lines written / asked | lost | whole process s | vs winston | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, burst in bursts.items():
        versus = f"{burst.seconds / winston_s:.2f}x" if winston_s else "—"
        burst_rows.append(
            f"| {name} | {burst.written:,} / {BURST:,} | {BURST - burst.written:,} | "
            f"{burst.seconds:.2f} | {versus} | {burst.peak_rss_mb:.0f} |"
        )
    k_us, k_rate = rates[KHRONOS]
    kb = bursts[KHRONOS]
    targets = [
        _target(
            "caller cost ≤ 2x bare structlog+orjson", k_us <= 2 * bare_us, f"{k_us / bare_us:.2f}x"
        ),
        _target(
            "lines/s to disk ≥ 0.5x bare", k_rate >= 0.5 * bare_rate, f"{k_rate / bare_rate:.2f}x"
        ),
        _target("0 lines lost in the burst", kb.written == BURST, f"{BURST - kb.written:,} lost"),
        _target(
            "burst process no slower than winston's",
            winston_s is not None and kb.seconds <= winston_s,
            f"{kb.seconds:.2f} s vs {winston_s:.2f} s" if winston_s else "winston not measured",
        ),
        _target("burst peak RSS ≤ 60 MB", kb.peak_rss_mb <= 60, f"{kb.peak_rss_mb:.0f} MB"),
    ]
    quick = " (`QUICK=1`: a short run)" if QUICK else ""
    return (
        f"## Logs\n\n{CALLS:,} `log.info` calls with two fields and a bound value, median of "
        f"{ROUNDS} rounds{quick}. *Caller µs/call* is what the calling code waits for (once "
        "a queue is full, that includes waiting for room); *lines/s to disk* runs until every "
        "line is written (Khronos: the queue drained into combined.log, errors.log and "
        "critical.log filtering each record; loguru: `logger.complete()`; winston: every "
        "line in combined.log, without `logger.end()`, which loses the last lines). "
        f"{winston_note}; its Console "
        'transport left out, as Khronos runs with `console="off"`.\n\n'
        + "\n".join(rows)
        + f"\n\nBurst: one process logs {BURST:,} lines from one thread as fast as it can, "
        "then ends normally (Khronos: `logs.shutdown()`); *whole process* is from start to "
        "exit, imports included; lines are counted in the files afterwards (all rotated "
        "combined files).\n\n"
        + "\n".join(burst_rows)
        + "\n\nTargets for Khronos:\n\n"
        + "\n".join(targets)
        + "\n"
    )


def _target(what: str, met: bool, figure: str) -> str:
    return f"- {what}: **{'met' if met else 'missed'}** ({figure})"
