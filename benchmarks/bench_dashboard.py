"""Dashboard: latency of ``GET /`` and ``/api/status``, the page's weight, and what one open tab
costs an idle daemon.

``khronos run`` with one database on a file replica and the default checks, as in the
footprint section.  Latency: the median (and p95) of 100 sequential requests on one keep-alive
connection over loopback.  Transferred bytes: everything headless Chromium fetched for the first
load (headers and bodies).  CPU: the daemon's scheduler time over the same window length, first
with no client, then with one headless Chromium tab open on the page (it polls ``/api/status``
every 2 s and ``/api/history`` every 10 s).
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks._daemon import QUICK, cpu_ns, khronos_run

WINDOW_S = 15.0 if QUICK else 60.0
REQUESTS = 100
CHROMIUM = "/usr/bin/chromium"


def _latency(url: str) -> tuple[float, float]:
    with httpx.Client() as client:
        client.get(url)
        times = []
        for _ in range(REQUESTS):
            started = time.perf_counter()
            client.get(url).raise_for_status()
            times.append(time.perf_counter() - started)
    times.sort()
    return statistics.median(times) * 1000, times[int(len(times) * 0.95) - 1] * 1000


def _cpu_ms(pid: int, seconds: float, wait: Any) -> float:
    before = cpu_ns(pid)
    wait(seconds)
    return (cpu_ns(pid) - before) / 1e6


def measure() -> dict[str, Any]:
    """The figures of one run."""
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - only this bench needs it

    with (
        tempfile.TemporaryDirectory(prefix="khronos-bench-dashboard-") as tmp,
        khronos_run(Path(tmp)) as run,
    ):
        url = str(json.loads((run.root / "state" / "daemon.json").read_text())["url"])
        out: dict[str, Any] = {
            "page": _latency(f"{url}/"),
            "status": _latency(f"{url}/api/status"),
        }
        time.sleep(2)
        out["idle_ms"] = _cpu_ms(run.pid, WINDOW_S, time.sleep)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM)
            page = browser.new_page()
            sizes: dict[str, int] = {}

            def finished(request: Any) -> None:
                s = request.sizes()
                sizes[request.url] = s["responseBodySize"] + s["responseHeadersSize"]

            page.on("requestfinished", finished)
            page.goto(f"{url}/")
            page.wait_for_selector("#databases article.db")
            page.wait_for_timeout(1000)
            out["bytes"] = sum(sizes.values())
            out["requests"] = len(sizes)
            out["tab_ms"] = _cpu_ms(run.pid, WINDOW_S, lambda s: page.wait_for_timeout(s * 1000))
            browser.close()
    return out


def run() -> str:
    """The Markdown section."""
    m = measure()

    def pct(ms: float) -> str:
        return f"{ms / (WINDOW_S * 1000) * 100:.3f}%"

    quick = " (`QUICK=1`: a short window)" if QUICK else ""
    return "\n".join(
        [
            "## Dashboard",
            "",
            (
                "`khronos run` with one database on a file replica and the default checks. "
                f"Latency: {REQUESTS} sequential requests on one keep-alive connection over "
                "loopback. Bytes: the first load in headless Chromium (headers and bodies, "
                f"uncompressed). CPU: the daemon over {WINDOW_S:.0f} s{quick} without a "
                "client, then with one tab open on the page (it polls `/api/status` every 2 s, "
                "`/api/history` every 10 s)."
            ),
            "",
            "| figure | value |",
            "|---|---:|",
            f"| `GET /` median (p95) | {m['page'][0]:.2f} ms ({m['page'][1]:.2f} ms) |",
            (
                f"| `GET /api/status` median (p95) | {m['status'][0]:.2f} ms "
                f"({m['status'][1]:.2f} ms) |"
            ),
            f"| first load: requests, bytes | {m['requests']}, {m['bytes'] / 1024:.1f} KiB |",
            f"| daemon CPU, no client | {m['idle_ms']:.0f} ms ({pct(m['idle_ms'])} of a core) |",
            f"| daemon CPU, one tab open | {m['tab_ms']:.0f} ms ({pct(m['tab_ms'])} of a core) |",
        ]
    )
