"""A picture of Khronos' Telegram alerts as a phone shows them: docs/img/telegram-alert.png.

The message bodies are the real thing: :func:`khronos.alerts.render_html` turns each alert into
the HTML Khronos sends to the Bot API (``parse_mode=HTML``); this script only puts them into a
chat-like page and screenshots it with the system's headless Chromium.  Telegram's HTML subset
(``b``, ``i``, ``pre``) maps onto the same tags here, so what you see is what the chat renders.
``make screenshots`` runs it (emoji need a colour emoji font: ``apt-get install
fonts-noto-color-emoji``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from playwright.sync_api import sync_playwright

from khronos.alerts import Alert, Level, human_duration, render_html

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "img" / "telegram-alert.png"
CHROMIUM = "/usr/bin/chromium"

_PAGE = """<!doctype html><html><head><meta charset="utf-8"><style>
body {{ margin: 0; background: #0e1621; font: 15px/1.4 -apple-system, "Segoe UI", Roboto,
  sans-serif; color: #f5f5f5; width: 420px; padding: 12px 10px 16px; box-sizing: border-box; }}
h1 {{ font-size: 15px; margin: 0 0 10px 4px; color: #8fa3b7; font-weight: 600; }}
.msg {{ background: #182533; border-radius: 12px 12px 12px 4px; padding: 8px 11px 18px;
  margin: 0 0 8px; white-space: pre-wrap; position: relative; word-wrap: break-word; }}
.msg pre {{ background: #0f1b26; border-radius: 6px; padding: 6px 8px; margin: 6px 0 0;
  font: 13px/1.35 ui-monospace, Menlo, monospace; white-space: pre-wrap; color: #d7e3ee; }}
.msg time {{ position: absolute; right: 10px; bottom: 4px; font-size: 12px; color: #6d8399; }}
</style></head><body><h1>Khronos alerts</h1>{messages}</body></html>"""


def _messages() -> list[tuple[str, str]]:
    at = datetime(2026, 12, 5, 14, 2, tzinfo=UTC).timestamp()
    service, env = "ai-gateway", "production"
    down = Alert(
        "Backup of app is down: the replica s3://bot-backups/app has accepted nothing for 312s "
        "(alert after 300s): bucket 'bot-backups' does not exist at https://s3.eu-west-1."
        "amazonaws.com (check backup.dbs[].replica.bucket)",
        Level.ERROR,
        {"db": "app", "lag_seconds": 312, "local_txid": 48211, "replica_txid": 47904},
    )
    check = Alert(
        "Check gateway failing: GET http://127.0.0.1:8080/health answered 503 three times",
        Level.WARN,
        {"check": "gateway", "status": 503},
    )
    # the engine's resolved notice: the message it resolves, and how long and how bad it was
    resolved = Alert(f"✅ Resolved: {down.message}", Level.INFO)
    note = f"lasted {human_duration(400)}; worst: lag {human_duration(422)}"
    return [
        (render_html(down, service=service, environment=env, at=at), "14:02"),
        (render_html(check, service=service, environment=env, at=at + 120), "14:04"),
        (render_html(resolved, service=service, environment=env, at=at + 420, note=note), "14:09"),
    ]


def main() -> None:
    """Render the page and save the screenshot."""
    body = "".join(
        f'<div class="msg">{html}<time>{clock}</time></div>' for html, clock in _messages()
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_page(viewport={"width": 420, "height": 200}, device_scale_factor=2)
            page.set_content(_PAGE.format(messages=body))
            page.screenshot(path=str(OUT), full_page=True)
        finally:
            browser.close()
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
