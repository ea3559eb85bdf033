"""`khronos alert test` and `khronos telegram check` against the fake Bot API."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from khronos.cli import cli
from tests.alerts.fake_telegram import TOKEN, FakeTelegram
from tests.conftest import WriteConfig


def config_for(write_config: WriteConfig, tmp_path: Path, url: str, chat: str = "111") -> Path:
    return write_config(
        f"state_dir: {tmp_path / 'state'}\n"
        "alerts:\n"
        "  telegram:\n"
        f"    bot_token: '{TOKEN}'\n"
        f"    chat_id: '{chat}'\n"
        f"    api_url: {url}\n"
        "    timeout: 2s\n"
    )


def test_alert_test_exits_0_when_delivered(
    write_config: WriteConfig, tmp_path: Path, telegram: FakeTelegram
) -> None:
    """The test alert reaches the Bot API and the command says so."""
    path = config_for(write_config, tmp_path, telegram.url)
    result = CliRunner().invoke(cli, ["-c", str(path), "alert", "test", "--message", "hello"])
    assert result.exit_code == 0, result.output
    assert "delivered" in result.output
    assert any("hello" in t for t in telegram.texts())


def test_alert_test_prints_no_log_line_with_console_off(
    write_config: WriteConfig, tmp_path: Path, telegram: FakeTelegram
) -> None:
    """logging.console "off": the command prints its result and nothing else."""
    path = config_for(write_config, tmp_path, telegram.url)
    path.write_text(path.read_text(encoding="utf-8") + "logging: {console: 'off'}\n")
    result = CliRunner().invoke(cli, ["-c", str(path), "alert", "test"])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert result.stdout.splitlines() == [result.stdout.strip()]
    assert result.stdout.startswith("✓ alert ")


def test_alert_test_exits_1_with_the_reason_when_not_delivered(
    write_config: WriteConfig, tmp_path: Path, telegram: FakeTelegram
) -> None:
    """An unknown chat: exit 1, queued, with Telegram's reason.

    The chat never accepts, so the command always waits its whole timeout; 5 s leaves the first
    attempt (milliseconds on loopback) ample time on a loaded machine, so the reason is known.
    """
    path = config_for(write_config, tmp_path, telegram.url, chat="-999")
    result = CliRunner().invoke(cli, ["-c", str(path), "alert", "test", "--timeout", "5s"])
    assert result.exit_code == 1
    assert "queued but not delivered" in result.output
    assert "chat not found" in result.output
    assert TOKEN not in result.output


def test_telegram_check_reports_the_bot_and_the_chat(
    write_config: WriteConfig, tmp_path: Path, telegram: FakeTelegram
) -> None:
    """getMe and a test send both succeed."""
    path = config_for(write_config, tmp_path, telegram.url)
    result = CliRunner().invoke(cli, ["-c", str(path), "telegram", "check"])
    assert result.exit_code == 0, result.output
    assert "@k_bot" in result.output
    assert "chat 111: test message sent" in result.output


def test_telegram_check_explains_a_wrong_token(
    write_config: WriteConfig, tmp_path: Path, telegram: FakeTelegram
) -> None:
    """401: the explanation points at @BotFather, and the token is not printed."""
    telegram.token = "1:another-token-entirely-xxxxxxxxxx"
    path = config_for(write_config, tmp_path, telegram.url)
    result = CliRunner().invoke(cli, ["-c", str(path), "telegram", "check"])
    assert result.exit_code == 1
    assert "@BotFather" in result.output
    assert TOKEN not in result.output


def test_telegram_check_explains_a_lost_minus_sign(
    write_config: WriteConfig, tmp_path: Path, telegram: FakeTelegram
) -> None:
    """A positive id that is unknown: the hint says group ids are negative."""
    path = config_for(write_config, tmp_path, telegram.url, chat="1001")
    result = CliRunner().invoke(cli, ["-c", str(path), "telegram", "check"])
    assert result.exit_code == 1
    assert "minus sign" in result.output


def test_telegram_check_without_telegram_config_is_an_error(write_config: WriteConfig) -> None:
    """No alerts.telegram: a clear error and exit 1."""
    path = write_config("service: x\n")
    result = CliRunner().invoke(cli, ["-c", str(path), "telegram", "check"])
    assert result.exit_code == 1
    assert "alerts.telegram is not configured" in result.output


def test_telegram_check_reports_a_webhook_and_another_poller(
    write_config: WriteConfig, tmp_path: Path, telegram: FakeTelegram
) -> None:
    """With commands on, a webhook or a 409 from getUpdates is a problem, in plain words."""
    path = config_for(write_config, tmp_path, telegram.url)
    path.write_text(path.read_text(encoding="utf-8") + "    commands: true\n")
    result = CliRunner().invoke(cli, ["-c", str(path), "telegram", "check", "--no-send"])
    assert result.exit_code == 0, result.output
    assert "no other program polls this bot" in result.output
    telegram.conflict = True
    result = CliRunner().invoke(cli, ["-c", str(path), "telegram", "check", "--no-send"])
    assert result.exit_code == 1
    assert "another program polls this bot (409 Conflict)" in result.output
    telegram.conflict, telegram.webhook_url = False, "https://example.invalid/hook"
    result = CliRunner().invoke(cli, ["-c", str(path), "telegram", "check", "--no-send"])
    assert result.exit_code == 1
    assert "a webhook is set on this bot" in result.output
