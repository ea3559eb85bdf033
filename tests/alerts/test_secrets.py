"""Secrets never leave through an alert: not in its text or details, not in httpx's log lines."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from khronos import logs
from khronos.alerts import AlertEngine, LogNotifier
from khronos.checks import CheckRunner, HttpCheck
from khronos.clock import ManualClock
from khronos.config import parse_config
from khronos.redact import MASK, Redactor
from tests.alerts.fake_telegram import TOKEN, FakeTelegram
from tests.alerts.helpers import notifier_for

ROOT = Path(__file__).resolve().parents[2]
HTTP_TOKEN = "configured-http-token-7f3a9c"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
WRONG_TOKEN = "654321:WRONG-token_zyxwvutsrqponmlkjihgfedcba"
URL_PASSWORD = "url-pass-7Hq2"


@pytest.fixture(name="redactor")
def fixture_redactor(monkeypatch: pytest.MonkeyPatch) -> Redactor:
    """A fresh process-wide redactor, so the test's secrets do not outlive it."""
    redactor = Redactor()
    monkeypatch.setattr("khronos.alerts._engine.get_redactor", lambda: redactor)
    return redactor


@pytest.mark.asyncio
async def test_configured_secret_in_text_and_details_never_reaches_telegram(
    tmp_path: Path,
    telegram: FakeTelegram,
    clock: ManualClock,
    registry: CollectorRegistry,
    redactor: Redactor,
) -> None:
    """from_config registers the config's secrets; alerts are masked before outbox and send."""
    config = parse_config(f"state_dir: '{tmp_path}'\nhttp: {{token: '{HTTP_TOKEN}'}}\n")
    engine = AlertEngine.from_config(
        config, registry=registry, clock=clock, notifiers=[notifier_for(telegram)]
    )
    try:
        engine.send_alert(
            f"Litestream exited: bearer {HTTP_TOKEN}; aws_secret_access_key={AWS_SECRET}",
            "CRITICAL",
            {
                "stderr": f"403 for {HTTP_TOKEN}",
                "password": "hunter2-hunter2",
                "api_key": 98765432123,  # a number under a secret-looking key is masked too
                f"key {HTTP_TOKEN}": [{"nested": f"x{HTTP_TOKEN}x"}, Path(HTTP_TOKEN)],
            },
        )
        engine.fire("backup", f"replica refused {HTTP_TOKEN}", "ERROR")
        engine.resolve("backup")
        head = engine.outbox.head("telegram")
        assert head is not None
        stored = head.html + head.plain
        assert HTTP_TOKEN not in stored
        assert AWS_SECRET not in stored
        await engine.start()
        assert await engine.drain(30)
    finally:
        await engine.stop()
        engine.outbox.close()
    assert redactor.secrets_count == 1
    seen = "".join(telegram.bodies)
    assert len(telegram.sent) == 3
    for secret in (HTTP_TOKEN, AWS_SECRET, "hunter2-hunter2", "98765432123"):
        assert secret not in seen
    assert "Litestream exited" in telegram.sent[0].visible
    assert MASK in telegram.sent[0].visible


@pytest.mark.asyncio
async def test_a_check_url_password_never_reaches_telegram_the_outbox_or_the_log(
    tmp_path: Path,
    telegram: FakeTelegram,
    clock: ManualClock,
    registry: CollectorRegistry,
    redactor: Redactor,
) -> None:
    """A failing http check whose URL holds a password and the http.token: masked everywhere."""
    url = f"http://admin:{URL_PASSWORD}@127.0.0.1:1/health?token={HTTP_TOKEN}&v=1"
    config = parse_config(
        f"state_dir: '{tmp_path}'\nhttp: {{token: '{HTTP_TOKEN}'}}\n"
        f"checks: {{http: [{{name: bot, failures: 1, timeout: 2s, url: '{url}'}}]}}\n"
    )
    stream = io.StringIO()
    logs.configure_from_config(
        config, log_dir=None, console="json", console_stream=stream, handle_sigterm=False
    )
    engine = AlertEngine.from_config(
        config, registry=registry, clock=clock, notifiers=[notifier_for(telegram), LogNotifier()]
    )
    try:
        runner = CheckRunner(engine, [HttpCheck.from_config(config.checks.http[0])])
        (result,) = await runner.run_all()
        logs.get_logger("khronos.checks").warning("check failed", detail=f"GET {url} refused")
        head = engine.outbox.head("telegram")
        assert head is not None
        stored = head.html + head.plain
        await engine.start()
        assert await engine.drain(30)
    finally:
        await engine.stop()
        engine.outbox.close()
        logs.flush()
        logs.reset()
    assert not result.ok
    seen = "".join(telegram.bodies)
    assert "Service bot is unhealthy" in telegram.sent[0].visible
    assert "admin:**********@127.0.0.1:1/health?token=**********" in stream.getvalue()
    for text in (stored, seen, stream.getvalue()):
        assert URL_PASSWORD not in text
        assert HTTP_TOKEN not in text


@pytest.mark.integration
def test_httpx_request_lines_never_show_the_token_with_plain_logging(
    tmp_path: Path, telegram: FakeTelegram
) -> None:
    """With only logging.basicConfig(level=INFO), httpx's request lines have the token masked."""
    script = Path(__file__).with_name("library_logging.py")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [str(tmp_path), telegram.url, TOKEN, WRONG_TOKEN]
    proc = subprocess.Popen(
        [sys.executable, str(script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    assert proc.returncode == 0, err
    assert out.strip() == "delivered"
    assert "HTTP Request: POST" in err  # httpx did log its request lines...
    assert "/bot**********/sendMessage" in err
    for token in (TOKEN, WRONG_TOKEN):
        secret_part = token.split(":", 1)[1]
        assert token not in out + err  # ... without the token
        assert secret_part not in out + err
    assert ["hello from a library" in t for t in telegram.texts()] == [True]
