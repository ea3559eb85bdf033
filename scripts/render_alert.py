"""Pictures of Khronos' Telegram alerts as a phone shows them: docs/img/telegram-alert.png
(English, UTC) and docs/img/alert-pt-BR.png (``alerts.language: pt-BR``, ``alerts.timezone:
America/Sao_Paulo``).

The message bodies are the real thing: the catalog's texts (:class:`khronos.catalog.Text`),
rendered in the language, and :func:`khronos.alerts.render_html` turns each alert into the HTML
Khronos sends to the Bot API (``parse_mode=HTML``); this script only puts them into a
chat-like page and screenshots it with the system's headless Chromium.  Telegram's HTML subset
(``b``, ``i``, ``pre``) maps onto the same tags here, so what you see is what the chat renders.
``make screenshots`` runs it (emoji need a colour emoji font: ``apt-get install
fonts-noto-color-emoji``).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

from playwright.sync_api import sync_playwright

from khronos.alerts import Alert, Level, human_duration, render_html
from khronos.catalog import Text, format_stamp, localize

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "img" / "telegram-alert.png"
OUT_PT_BR = ROOT / "docs" / "img" / "alert-pt-BR.png"
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
</style></head><body><h1>{title}</h1>{messages}</body></html>"""


def _messages(language: str, tz: tzinfo | None) -> list[tuple[str, str]]:
    """The three alerts as Khronos renders them in ``language``, stamped in ``tz`` (None: UTC)."""
    at = datetime(2026, 12, 5, 14, 2, tzinfo=UTC).timestamp()
    service, env = "ai-gateway", "production"
    missing = Text(
        "litestream.no_bucket",
        bucket="'bot-backups'",
        endpoint="https://s3.eu-west-1.amazonaws.com",
    )
    bucket = Text("backup.because", error=missing)
    down = Alert(
        Text(
            "backup.replica_down",
            db="app",
            replica="s3://bot-backups/app",
            seconds=312.0,
            limit=300.0,
            because=bucket,
        ),
        Level.ERROR,
        {"db": "app", "lag_seconds": 312, "local_txid": 48211, "replica_txid": 47904},
    )
    check = Alert(
        Text("check.http_failed", service="gateway"),
        Level.WARN,
        {"url": "http://127.0.0.1:8080/health", "error": "HTTP 503", "consecutive_failures": 3},
    )
    # the engine's resolved notice: the message it resolves, and how long and how bad it was
    resolved = Alert(Text("resolved", message=down.message), Level.INFO)
    worst = Text("worst", worst=Text("backup.worst_lag", lag=human_duration(422)))
    note = Text("joined", first=Text("lasted", duration=human_duration(400)), second=worst)

    def shown(alert: Alert, offset: float, note: str = "") -> tuple[str, str]:
        alert = dataclasses.replace(alert, message=localize(alert.message, language, tz))
        html = render_html(
            alert,
            service=service,
            environment=env,
            at=at + offset,
            note=localize(note, language, tz),
            language=language,
            tz=tz,
        )
        return html, format_stamp(at + offset, tz, "%H:%M").split()[0]

    return [shown(down, 0), shown(check, 120), shown(resolved, 420, note)]


def _render(out: Path, title: str, messages: list[tuple[str, str]]) -> None:
    body = "".join(f'<div class="msg">{html}<time>{clock}</time></div>' for html, clock in messages)
    out.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_page(viewport={"width": 420, "height": 200}, device_scale_factor=2)
            page.set_content(_PAGE.format(title=title, messages=body))
            page.screenshot(path=str(out), full_page=True)
        finally:
            browser.close()
    print(f"wrote {out.relative_to(ROOT)}")


def main() -> None:
    """Render both pages and save the screenshots."""
    _render(OUT, "Khronos alerts", _messages("en", None))
    _render(OUT_PT_BR, "Alertas do Khronos", _messages("pt-BR", ZoneInfo("America/Sao_Paulo")))


if __name__ == "__main__":
    main()
