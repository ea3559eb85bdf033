"""The HTTP API of a real ``khronos run``: POST /api/alerts to the Bot API, and a missed
heartbeat's deadline to its alert.

One daemon (no backup), the fake Bot API on loopback timestamping with wall time.  Alerts are
spaced 1.2 s apart so Telegram's 1 message/s per chat (which the daemon honours) never delays
one: the figures are Khronos' own path (HTTP, engine, outbox fsync, worker, Bot API call).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
from tests.alerts.fake_telegram import TOKEN, FakeTelegram, FakeTelegramServer, Sent

QUICK = os.environ.get("QUICK", "") not in {"", "0"}
ALERTS = 5 if QUICK else 15
MISSES = 3 if QUICK else 7
HTTP_TOKEN = "bench-http-token-0123456789"  # noqa: S105 - a loopback test daemon's token
EVERY, GRACE = 1.0, 1.0

CONFIG = """\
service: {{name: bench}}
state_dir: state
http: {{listen: "127.0.0.1:0", token: "{token}"}}
logging: {{dir: logs, console: "off"}}
alerts:
  telegram: {{bot_token: "{bot}", chat_id: "111", api_url: "{api}"}}
checks: {{memory: null, disk: null, heartbeats: [{{name: job, every: 1s, grace: 1s}}]}}
"""


@contextlib.contextmanager
def _daemon(root: Path, fake: FakeTelegram) -> Iterator[str]:
    config = root / "khronos.yml"
    config.write_text(CONFIG.format(token=HTTP_TOKEN, bot=TOKEN, api=fake.url), encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "khronos", "-c", str(config), "run"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError, ValueError):
                info = json.loads((root / "state" / "daemon.json").read_text(encoding="utf-8"))
                if info.get("pid") == proc.pid:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"khronos run did not start (see {root}/logs)")
            time.sleep(0.05)
        yield str(info["url"])
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


def _arrival(fake: FakeTelegram, needle: str, timeout: float = 30.0) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with fake.lock:
            for sent in fake.sent:
                if needle in sent.visible:
                    return sent.at
        time.sleep(0.001)
    raise RuntimeError(f"no message with {needle!r}")


def _alert_latencies(url: str, fake: FakeTelegram, client: httpx.Client) -> list[float]:
    out = []
    for i in range(ALERTS):
        body = {"level": "ERROR", "message": f"api probe {i}", "key": f"probe-{i}"}
        started = time.time()
        client.post(f"{url}/api/alerts", json=body).raise_for_status()
        out.append(_arrival(fake, f"api probe {i}") - started)
        time.sleep(1.2)
    return out


def _miss_latencies(url: str, fake: FakeTelegram, client: httpx.Client) -> list[float]:
    out = []
    for i in range(MISSES):
        with fake.lock:
            before = len(_late(fake))
        answer = client.post(f"{url}/api/heartbeats/job").json()
        due = datetime.fromisoformat(answer["last_ping_at"]).timestamp() + EVERY + GRACE
        deadline = time.monotonic() + 30
        while True:
            with fake.lock:
                late = _late(fake)
            if len(late) > before:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"no late alert in round {i}")
            time.sleep(0.001)
        out.append(late[-1].at - due)
        time.sleep(1.2)  # the resolved notice of the next ping is not held by the chat's limit
    return out


def _late(fake: FakeTelegram) -> list[Sent]:
    """The late alerts so far (not their resolved notices)."""
    return [
        s
        for s in fake.sent
        if ("is late" in s.visible or "never pinged" in s.visible) and "Resolved" not in s.visible
    ]


def run() -> str:
    """The Markdown section."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeTelegramServer(FakeTelegram(clock=time.time)) as fake,
    ):
        root = Path(tmp)
        headers = {"Authorization": f"Bearer {HTTP_TOKEN}"}
        with _daemon(root, fake) as url, httpx.Client(headers=headers, timeout=10) as client:
            _arrival(fake, "has never pinged")  # the first deadline, from the start
            time.sleep(1.2)
            misses = _miss_latencies(url, fake, client)
            alerts = _alert_latencies(url, fake, client)
    return f"""\
## HTTP API: alerts and heartbeats (a real `khronos run`)

| measure | median | max | samples |
|---|---|---|---|
| `POST /api/alerts` → message at the Bot API | {_ms(statistics.median(alerts))} | \
{_ms(max(alerts))} | {len(alerts)} |
| missed heartbeat deadline → alert at the Bot API | {_ms(statistics.median(misses))} | \
{_ms(max(misses))} | {len(misses)} |

The daemon runs with a fake Bot API on loopback; each alert is sent alone (1.2 s apart), so
Telegram's rate limit, which the daemon honours, plays no part. A heartbeat's deadline is its
last ping + `every` + `grace` (1 s + 1 s here); the monitor sleeps until the next deadline.
"""


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    print(run())  # noqa: T201
