"""The console in pt-BR and São Paulo time: the command list, replies, parser errors, buttons,
the acknowledged and resolved edits, and /silences' ends."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from khronos.alerts import AlertEngine, ConsoleActions, Outbox, TelegramConsole
from khronos.alerts._commands import Command, Speech, answer_command
from khronos.alerts._silences import zone
from khronos.dashboard._status import overall
from tests.alerts.fake_telegram import FakeTelegram, parse_telegram_html
from tests.alerts.helpers import notifier_for
from tests.console.helpers import FakeSilences, console_for, reply_texts
from tests.polling import wait_for

PT = Speech("pt-BR", zone("America/Sao_Paulo"))


@pytest_asyncio.fixture(name="engine_pt")
async def fixture_engine_pt(tmp_path: Path, telegram: FakeTelegram) -> AsyncIterator[AlertEngine]:
    """A started engine speaking pt-BR in São Paulo time."""
    engine = AlertEngine(
        Outbox(tmp_path / "outbox.db"),
        [notifier_for(telegram, rate_limited=False, buttons=True)],
        poll_interval=0.05,
        repeat_interval=0.0,
        language="pt-BR",
        timezone=zone("America/Sao_Paulo"),
    )
    await engine.start()
    yield engine
    await engine.stop(timeout=1.0)
    engine.outbox.close()


def answer(text: str, actions: ConsoleActions, **kwargs: Any) -> str:
    """The visible reply to ``text`` (a command) in pt-BR."""
    name, _, rest = text.lstrip("/").partition(" ")
    command = Command(name, tuple(rest.split()), **kwargs)
    return parse_telegram_html(asyncio.run(answer_command(command, actions, PT)))


def test_parser_errors_and_replies_are_portuguese() -> None:
    """Usage errors, a bad duration, unknown commands and /help answer in Portuguese."""
    silences = FakeSilences()
    actions = ConsoleActions(silences=silences)
    assert answer("/silence backup", actions).startswith("Uso: /silence O_QUÊ DURAÇÃO")
    assert answer("/silence backup soon", actions) == (
        "Não é uma duração: soon (escreva 30m, 1h, 2d)."
    )
    assert answer("/silence backup 0s", actions) == "A duração precisa ser positiva (30m, 1h, 2d)."
    assert answer("/silence backup 90m deploy", actions, by="@ana") == (
        "🔕 backup silenciado por 1 h 30 min (id s1)."
    )
    assert answer("/unsilence s9", actions) == "Não há silêncio s9 (veja /silences)."
    assert answer("/nope", actions) == "Comando desconhecido /nope. Envie /help para ver a lista."
    assert "/drill — Rodar um teste de restauração agora" in answer("/help", actions)
    assert answer("/status", ConsoleActions()) == "O status não está disponível aqui."


def test_silences_end_in_sao_paulo_time() -> None:
    """/silences shows each end in alerts.timezone with its abbreviation."""

    class Book(FakeSilences):
        def list(self) -> list[dict[str, Any]]:
            return [{"id": "s1", "match": "backup", "ends_at": "2030-01-02T15:04:00+00:00"}]

    reply = answer("/silences", ConsoleActions(silences=Book()))
    assert reply == "1 silêncio(s)\n🔕 s1 backup até 2030-01-02 12:04 -03"


@pytest.mark.asyncio
async def test_commands_buttons_and_edits_in_portuguese(
    telegram: FakeTelegram,
    engine_pt: AlertEngine,
    tmp_path: Path,
    consoles: list[TelegramConsole],
) -> None:
    """setMyCommands sends the Portuguese descriptions; an ERROR alert's buttons are Ciente /
    Silenciar; Ack edits the message "Confirmado por ... às HH:MM -03"; the resolve edit says
    "Resolvido após"; /alerts answers in Portuguese."""
    actions = ConsoleActions(conditions=lambda: engine_pt.conditions, ack=engine_pt.ack)
    console = console_for(telegram, engine_pt, actions, tmp_path)
    await console.start()
    consoles.append(console)
    await wait_for(lambda: telegram.my_commands, what="setMyCommands")
    described = {c["command"]: c["description"] for c in telegram.my_commands}
    assert described["status"] == "Estado geral, bancos de dados, app e verificações"

    alert_id = engine_pt.fire("disk", "disco 91% usado", "ERROR")
    await wait_for(lambda: telegram.sent_bodies, what="the alert")
    body = telegram.sent_bodies[0]
    labels = [b["text"] for b in body["reply_markup"]["inline_keyboard"][0]]
    assert labels == ["Ciente", "Silenciar 1h", "Silenciar 24h"]
    assert parse_telegram_html(body["text"]).startswith("❌ ERRO · khronos (production) · ")
    await wait_for(lambda: engine_pt.links.messages.of_alert(alert_id or ""), what="message id")

    telegram.push_message(111, "/alerts")
    await wait_for(lambda: reply_texts(telegram), what="/alerts")
    assert reply_texts(telegram)[0].startswith("1 ativo(s)\n❌ disk há ")

    telegram.push_callback(111, f"ack:{alert_id}", message_id=1)
    await wait_for(lambda: telegram.edits, what="the ack edit")
    assert telegram.callback_answers[0]["text"] == "Confirmado"
    note = parse_telegram_html(telegram.edits[0]["text"]).splitlines()[-1]
    assert re.fullmatch(r"👍 Confirmado por Ana às \d\d:\d\d -03", note), note

    engine_pt.resolve("disk")
    await wait_for(lambda: len(telegram.edits) == 2, what="the resolve edit")
    assert parse_telegram_html(telegram.edits[1]["text"]).startswith("✅ Resolvido após ")


def test_status_reasons_are_portuguese() -> None:
    """/status's reasons (the status document's catalog texts) read in Portuguese."""
    databases = [
        {
            "label": "app",
            "path": "app.db",
            "db_exists": True,
            "replica_down": False,
            "replicating": True,
            "lag_seconds": 400.0,
        }
    ]
    state, reasons = overall(
        databases=databases,
        app={"up": False, "last_exit": {"code": 3}},
        checks=[],
        heartbeats=[],
        conditions=[],
        channels=[],
        lag_threshold=60.0,
    )
    doc = {"service": {"name": "loja"}, "overall": {"state": state, "reasons": reasons}}
    reply = answer("/status", ConsoleActions(status=lambda: doc))
    assert reply.splitlines()[:3] == [
        "🚨 loja: CRÍTICO",
        "• atraso do backup de 6 min 40 s em app",
        "• app fora do ar (saiu com código 3)",
    ]
