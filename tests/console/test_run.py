"""The console inside a real `khronos run`: /status and /backup answered from Telegram (the real
Litestream behind /backup), and the offset file written in state_dir."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.alerts.fake_telegram import FakeTelegram, FakeTelegramServer, parse_telegram_html
from tests.daemon.harness import start, stop, write_config
from tests.polling import poll

pytestmark = pytest.mark.integration


def replies(fake: FakeTelegram) -> list[str]:
    return [parse_telegram_html(b["text"]) for b in fake.replies() if "reply_parameters" in b]


def test_khronos_run_answers_status_and_backup(tmp_path: Path, env: dict[str, str]) -> None:
    """A `/status` and a `/backup` sent to the bot are answered by the running daemon."""
    with FakeTelegramServer() as telegram:
        path = write_config(tmp_path, telegram)
        text = path.read_text(encoding="utf-8").replace(
            f'    api_url: "{telegram.url}"\n',
            f'    api_url: "{telegram.url}"\n    commands: true\n    poll_timeout: 2s\n',
        )
        path.write_text(text.replace("verify: {interval: 3s}", "verify: {interval: 1h}"))
        daemon = start(tmp_path, env)
        try:
            poll(lambda: telegram.my_commands, what="setMyCommands")
            telegram.push_message(111, "/status")
            status = poll(lambda: replies(telegram), what="the /status reply")[0]
            assert "test-bot:" in status
            assert "app.db" in status or "app:" in status
            telegram.push_message(111, "/backup")
            done = poll(
                lambda: [r for r in replies(telegram) if "replica at txid" in r or "failed" in r],
                what="the /backup result",
            )
            assert "replica at txid" in done[0], done
            telegram.push_message(-1002, "/status")  # not an allowed chat
            telegram.push_message(111, "/help")
            poll(lambda: any("Khronos commands" in r for r in replies(telegram)), what="/help")
            assert telegram.replies("-1002") == []
            offset = json.loads((tmp_path / "state" / "telegram-offset.json").read_text())
            assert offset["offset"] == telegram.next_update_id
        finally:
            assert stop(daemon.proc) == 0
