"""Logs: caller-side µs per call and lines/s to files, beside structlog and python-json-logger.

(a) Khronos' full pipeline: contextvars, correlation ID, redaction, three rotated files through
the queue; (b) bare structlog + orjson writing to one file; (c) python-json-logger to one file.
"""

from __future__ import annotations

import logging
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import structlog
from pythonjsonlogger.json import JsonFormatter

from khronos import logs

CALLS = 20_000
ROUNDS = 5


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


def run() -> str:
    """The Markdown section for docs/BENCHMARKS.md."""
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        results: dict[str, Any] = {
            "Khronos (context, redaction, 3 files via queue)": _khronos(base / "k"),
            "bare structlog + orjson, one file": _structlog(base),
            "python-json-logger, one file": _json_logger(base),
        }
    bare_us, bare_rate = results["bare structlog + orjson, one file"]
    rows = [
        "| pipeline | caller µs/call | vs bare | lines/s to disk | vs bare |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, (micros, rate) in results.items():
        rows.append(
            f"| {name} | {micros:.2f} | {micros / bare_us:.2f}x | {rate:,.0f} | "
            f"{rate / bare_rate:.2f}x |"
        )
    khronos_us = results["Khronos (context, redaction, 3 files via queue)"][0]
    verdict = "met" if khronos_us <= 2 * bare_us else "missed"
    return (
        "## Logs\n\n"
        f"{CALLS:,} `log.info` calls with two fields and a bound value, median of {ROUNDS} rounds. "
        "*Caller µs/call* is what the calling code waits for; *lines/s to disk* runs until every "
        "line is written and flushed (for Khronos: the queue drained into combined.log, "
        "with errors.log and critical.log filtering each record).\n\n"
        + "\n".join(rows)
        + f"\n\nTarget (Khronos caller cost ≤ 2x bare structlog+orjson): **{verdict}** "
        f"({khronos_us / bare_us:.2f}x).\n"
    )
