"""Secrets never reach a file or the console."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from khronos import logs
from tests.logs.conftest import Setup

BOT_SECRET = "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ"
BOT_TOKEN = f"123456789:{BOT_SECRET}"


def _everywhere(tmp_path: Path, console: str) -> str:
    logs.shutdown()
    texts = [p.read_text(encoding="utf-8") for p in (tmp_path / "logs").glob("*.log*")]
    return console + "".join(texts)


@pytest.mark.parametrize(
    ("text", "leak"),
    [
        (f"GET https://api.telegram.org/bot{BOT_TOKEN}/getMe", BOT_SECRET),
        (f"token={BOT_TOKEN}", BOT_SECRET),
        ("Authorization: Bearer eyJhbGciOi.payload.sig", "eyJhbGciOi"),
        ('{"authorization": "Basic dXNlcjpwYXNzd29yZA=="}', "dXNlcjpwYXNzd29yZA"),
        ("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI"),
        ("AKIAIOSFODNN7EXAMPLE wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI"),
    ],
)
def test_patterns_are_masked(text: str, leak: str) -> None:
    """Bot tokens, Authorization headers and AWS secrets are masked by redact()."""
    masked = logs.redact(text)
    assert leak not in masked
    assert logs.MASK in masked


def test_ordinary_text_is_untouched() -> None:
    """Times, ratios and key=value pairs without secrets stay as they are."""
    text = "at 12:30:45 ratio=3:1 user=42 http://host:8080/path"
    assert logs.redact(text) == text


def test_added_secret_is_masked_and_short_ones_ignored() -> None:
    """add_secret masks the literal value; values under 4 characters are ignored."""
    redactor = logs.Redactor()
    redactor.add_secret("s3cr3t-value")
    redactor.add_secret("ab")
    assert redactor.redact("x s3cr3t-value ab") == f"x {logs.MASK} ab"


def test_bot_token_in_an_httpx_url_is_never_written(setup_logs: Setup, tmp_path: Path) -> None:
    """httpx's own request log line (at INFO) has the token masked in every output."""
    console = setup_logs(level="debug")
    logging.getLogger("httpx").setLevel(logging.DEBUG)
    transport = httpx.MockTransport(lambda _request: httpx.Response(200, json={"ok": True}))
    with httpx.Client(transport=transport) as client:
        client.get(f"https://api.telegram.org/bot{BOT_TOKEN}/getMe")
    text = _everywhere(tmp_path, console.getvalue())
    assert "api.telegram.org/bot123456789:" in text
    assert BOT_SECRET not in text


def test_secret_in_an_exception_message_is_masked(setup_logs: Setup, tmp_path: Path) -> None:
    """The message and the traceback text of a logged exception are redacted."""
    console = setup_logs(secrets=["hunter2-db-password"])
    error = ConnectionError(f"cannot reach bot{BOT_TOKEN} with hunter2-db-password")
    logs.get_logger().error("send failed", error=str(error), exc_info=error)
    text = _everywhere(tmp_path, console.getvalue())
    assert "send failed" in text
    assert "ConnectionError" in text
    assert BOT_SECRET not in text
    assert "hunter2-db-password" not in text


def test_secret_in_fields_is_masked(setup_logs: Setup, tmp_path: Path) -> None:
    """Secret-named fields are masked whole; tokens inside other fields and nested values too."""
    console = setup_logs(console="pretty")
    logs.get_logger().info(
        "call",
        token="plain-token-value",
        headers={"Authorization": "Bearer abcdefghijkl"},
        urls=[f"https://api.telegram.org/bot{BOT_TOKEN}/x"],
    )
    text = _everywhere(tmp_path, console.getvalue())
    for leak in ("plain-token-value", "abcdefghijkl", BOT_SECRET):
        assert leak not in text
