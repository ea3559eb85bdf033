"""pt-BR end to end: a real `khronos run` with `alerts.language: pt-BR` and `alerts.timezone:
America/Sao_Paulo` fires and resolves a failing check, and answers /status, in Portuguese with
São Paulo times, through the fake Bot API."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.alerts.fake_telegram import FakeTelegram, FakeTelegramServer, parse_telegram_html
from tests.daemon.harness import start, stop, write_config
from tests.polling import poll

pytestmark = pytest.mark.integration

SAO_PAULO = timezone(timedelta(hours=-3))  # no daylight saving time since 2019
_STAMP = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) -03$")


class _Healthy(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's API
        pass


class Gateway:
    """A health endpoint bound to a port but refusing connections (not listening) until
    :meth:`serve`."""

    def __init__(self) -> None:
        self.server = HTTPServer(("127.0.0.1", 0), _Healthy, bind_and_activate=False)
        self.server.server_bind()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/health"
        self.thread: threading.Thread | None = None

    def serve(self) -> None:
        """Listen and answer 200 from now on."""
        self.server.server_activate()
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        """Stop serving and release the port."""
        if self.thread is not None:
            self.server.shutdown()
            self.thread.join()
        self.server.server_close()


@pytest.fixture(name="gateway")
def fixture_gateway() -> Iterator[Gateway]:
    """A gateway that is down until the test calls ``serve``."""
    gateway = Gateway()
    yield gateway
    gateway.close()


def _sao_paulo_stamp(text: str, lower: float, upper: float) -> None:
    """The header's stamp is São Paulo time (-03) of an instant within [lower, upper]."""
    match = _STAMP.search(text.splitlines()[0])
    assert match, text
    at = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=SAO_PAULO)
    assert int(lower) <= at.timestamp() <= upper + 1, (text, lower, upper)


def _replies(fake: FakeTelegram) -> list[str]:
    return [parse_telegram_html(b["text"]) for b in fake.replies() if "reply_parameters" in b]


def test_pt_br_alert_resolve_and_status_in_sao_paulo_time(
    tmp_path: Path, env: dict[str, str], gateway: Gateway
) -> None:
    """An http check fails (ERRO, Portuguese buttons), recovers (the message edited "Resolvido
    após", a resolved notice), and /status answers in Portuguese; every stamp is -03."""
    checks = (
        f'{{http: [{{name: gateway, url: "{gateway.url}", timeout: 1s, every: 1s, failures: 1}}]}}'
    )
    extra = "  language: pt-BR\n  timezone: America/Sao_Paulo\n"
    with FakeTelegramServer() as telegram:
        path = write_config(tmp_path, telegram, alerts_extra=extra, checks=checks)
        text = path.read_text(encoding="utf-8").replace(
            f'    api_url: "{telegram.url}"\n',
            f'    api_url: "{telegram.url}"\n    commands: true\n    poll_timeout: 2s\n',
        )
        path.write_text(text.replace("verify: {interval: 3s}", "verify: {interval: 1h}"))
        began = time.time()
        daemon = start(tmp_path, env)
        try:
            poll(lambda: telegram.my_commands, what="setMyCommands")
            described = {c["command"]: c["description"] for c in telegram.my_commands}
            assert described["drill"] == "Rodar um teste de restauração agora"

            fired = poll(
                lambda: [b for b in telegram.sent_bodies if "gateway" in str(b["text"])],
                what="the check's alert",
            )[0]
            visible = parse_telegram_html(fired["text"])
            assert visible.startswith("❌ ERRO · test-bot (production) · "), visible
            assert "Serviço gateway com problemas" in visible
            _sao_paulo_stamp(visible, began, time.time())
            labels = [b["text"] for b in fired["reply_markup"]["inline_keyboard"][0]]
            assert labels == ["Ciente", "Silenciar 1h", "Silenciar 24h"]

            gateway.serve()
            edited = poll(
                lambda: [e for e in telegram.edits if "Resolvido" in str(e["text"])],
                what="the resolved edit",
            )[0]
            assert parse_telegram_html(edited["text"]).startswith("✅ Resolvido após ")
            notice = poll(
                lambda: [t for t in telegram.texts() if "✅ Resolvido: Serviço gateway" in t],
                what="the resolved notice",
            )[0]
            assert notice.startswith("ℹ️ INFO · test-bot")  # noqa: RUF001 - the level's emoji
            assert "durou " in notice
            _sao_paulo_stamp(notice, began, time.time())

            telegram.push_message(111, "/status")
            status = poll(
                lambda: [r for r in _replies(telegram) if "Verificações" in r], what="/status"
            )[0]
            assert status.startswith("✅ test-bot: OK")
            assert "Bancos de dados" in status
            assert "✅ http:gateway: Serviço gateway saudável" in status
            assert re.search(r"última sincronização \d\d:\d\d -03 \(há ", status), status
        finally:
            assert stop(daemon.proc) == 0
