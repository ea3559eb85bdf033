"""Screenshots of the dashboard from a real `khronos demo` run: docs/img/dashboard-{light,dark}.png.

Starts the demo (its own folder under a temporary directory, any free port), waits until the
history holds a few points of traffic, takes a full-page screenshot in each colour scheme with
the system's headless Chromium (Playwright), then stops the demo with SIGINT (its clean stop)
and waits for it.  ``make screenshots`` runs it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "img"
CHROMIUM = "/usr/bin/chromium"
MIN_POINTS = int(os.environ.get("SCREENSHOT_POINTS", "6"))
"""History points (10 s apart) to wait for before the screenshots."""


def _wait(what: str, check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise SystemExit(f"timed out waiting for {what}")


def _url(state_dir: Path) -> str | None:
    try:
        return str(json.loads((state_dir / "daemon.json").read_text())["url"])
    except (OSError, ValueError, KeyError):
        return None


def _points(url: str) -> int:
    with urllib.request.urlopen(f"{url}/api/history", timeout=10) as reply:  # noqa: S310 - loopback
        points = json.loads(reply.read())["points"]
    return sum(1 for p in points if p.get("messages_per_s") is not None)


def main() -> int:
    """Run the demo, take the screenshots, stop the demo."""
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="khronos-shots-") as tmp:
        folder = Path(tmp) / "demo"
        env = {k: v for k, v in os.environ.items() if k not in ("TELEGRAM_BOT_TOKEN",)}
        proc = subprocess.Popen(
            [sys.executable, "-m", "khronos", "demo", "--dir", str(folder), "--port", "0"],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        try:
            url = _wait("the demo's daemon", lambda: _url(folder / ".khronos"), 60)
            print(f"demo running at {url}; waiting for {MIN_POINTS} chart points")
            _wait("chart points", lambda: _points(url) >= MIN_POINTS, 30 + 12 * MIN_POINTS)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM)
                for scheme in ("light", "dark"):
                    page = browser.new_page(
                        viewport={"width": 1100, "height": 900}, color_scheme=scheme
                    )
                    page.goto(f"{url}/")
                    page.wait_for_selector("#databases article.db")
                    page.wait_for_selector("#charts svg polyline")
                    target = OUT / f"dashboard-{scheme}.png"
                    page.screenshot(path=str(target), full_page=True)
                    print(f"wrote {target.relative_to(ROOT)}")
                    page.close()
                browser.close()
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
