"""Chaos: the Telegram console meets another poller of the same bot (409 Conflict on every
getUpdates): polling stops for good with one warning and one WARN alert, and every alert and
committed row still arrives."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.alerts.fake_telegram import FakeTelegram
from tests.chaos.harness import (
    Outcome,
    Writer,
    backup_up,
    chaos_config,
    duplicates,
    restored_ids,
    start,
    stop,
    timed,
)
from tests.daemon.harness import HTTP_TOKEN, Running, poll

pytestmark = pytest.mark.integration

_NUMBERED = re.compile(r"console chaos (\d+)")
_OFF = "Telegram commands are off"


def _post(daemon: Running, message: str) -> None:
    answer = httpx.post(
        f"{daemon.url}/api/alerts/test",
        json={"message": message, "level": "ERROR"},
        headers={"Authorization": f"Bearer {HTTP_TOKEN}"},
        timeout=10,
    )
    assert answer.status_code == 202, answer.text


def _numbered(telegram: FakeTelegram) -> list[int]:
    """The numbers of the "console chaos N" alerts delivered, in delivery order."""
    return [int(m[1]) for t in telegram.texts() if (m := _NUMBERED.search(t))]


def _warnings(tmp_path: Path) -> list[dict[str, object]]:
    """The "telegram console stopped" lines of the daemon's log file."""
    text = (tmp_path / "logs" / "combined.log").read_text(encoding="utf-8")
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    return [e for e in lines if str(e.get("message")).startswith("telegram console stopped")]


def test_another_poller_stops_the_console_not_the_alerts(
    tmp_path: Path, env: dict[str, str], telegram: FakeTelegram, chaos_results: Path
) -> None:
    """getUpdates answers 409 Conflict from the start: polling stops after one request, one
    warning is logged, one WARN alert says to give Khronos its own bot, and five alerts raised
    afterwards are delivered once each while replication goes on."""
    outcome = Outcome(
        "Telegram 409 Conflict (another poller of the bot)",
        1,
        notes="alerts.telegram.commands on while another program polls the same bot: every "
        "getUpdates answers 409; 5 alerts raised after the console stopped.",
    )
    path = chaos_config(tmp_path, telegram)
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace('    chat_id: "111"\n', '    chat_id: "111"\n    commands: true\n')
    )
    telegram.conflict = True
    daemon = start(tmp_path, env)
    writer = Writer(tmp_path, pause=0.02)
    try:
        poll(lambda: backup_up(daemon), what="replicating")
        outcome.recover_seconds.append(
            timed(lambda: any(_OFF in t for t in telegram.texts()), timeout=60, what="the WARN")
        )
        polls = telegram.polls
        for i in range(5):
            _post(daemon, f"console chaos {i}")
        poll(lambda: set(_numbered(telegram)) >= set(range(5)), what="the five alerts")
        writer.wait_rows(20)
        committed = writer.stop()
        assert telegram.polls == polls == 1  # stopped at the first 409, never polled again
    finally:
        writer.stop()
        assert stop(daemon.proc) == 0, daemon.err.read_text()[-2000:]
    restored = restored_ids(tmp_path, env)
    texts = telegram.texts()
    numbers = _numbered(telegram)
    outcome.rows_committed, outcome.rows_restored = len(committed), len(set(restored))
    outcome.alerts_expected = 5 + 1
    outcome.alerts_delivered = len(set(numbers)) + len([t for t in texts if _OFF in t])
    outcome.duplicates = duplicates(texts) + sum(n - 1 for n in Counter(numbers).values())
    outcome.save(chaos_results)
    assert len([t for t in texts if _OFF in t]) == 1
    warnings = _warnings(tmp_path)
    assert [w["level"] for w in warnings] == ["warning"]
    assert outcome.duplicates == 0
    assert set(committed) <= set(restored)
