"""alerts.language and alerts.timezone: pt-BR texts with the configured zone's time in the
Telegram message; the catalog is complete in every language."""

from __future__ import annotations

from pathlib import Path

import pytest

from khronos.alerts import CATALOG, LANGUAGES, AlertEngine, Level, SilenceStore, translate
from khronos.alerts._catalog import placeholders
from khronos.alerts._silences import zone
from khronos.catalog import Text
from khronos.clock import ManualClock
from khronos.config import KhronosConfig
from tests.alerts.fake_telegram import TOKEN, FakeTelegram
from tests.alerts.helpers import MakeEngine, wait_until


@pytest.mark.asyncio
async def test_pt_br_in_sao_paulo_time(
    make_engine: MakeEngine, telegram: FakeTelegram, clock: ManualClock
) -> None:
    """An ERROR condition and its resolved notice in pt-BR, stamped in America/Sao_Paulo."""
    engine = make_engine(language="pt-BR", timezone=zone("America/Sao_Paulo"))
    await engine.start()
    engine.fire("backup.replica.app", "réplica atrasada 5m", "ERROR", worst="5m", worst_value=300)
    clock.advance(125)
    engine.resolve("backup.replica.app")
    await wait_until(lambda: len(telegram.texts()) == 2)
    fired, resolved = telegram.texts()
    # START is 2026-09-21 14:13:20 UTC: 11:13:20 in São Paulo (UTC-3)
    assert fired.splitlines()[0] == "❌ ERRO · khronos (production) · 2026-09-21 11:13:20 -03"
    assert "réplica atrasada 5m" in fired
    assert resolved.splitlines()[0].endswith("· 2026-09-21 11:15:25 -03")
    assert "✅ Resolvido: réplica atrasada 5m" in resolved
    assert "durou 2 min 5 s; pior: 5m" in resolved


@pytest.mark.asyncio
async def test_silence_ended_in_pt_br(
    make_engine: MakeEngine, telegram: FakeTelegram, clock: ManualClock
) -> None:
    """The still-firing notice after a silence speaks the configured language too."""
    store = SilenceStore(None, clock=clock)
    engine = make_engine(language="pt-BR", silences=store)
    await engine.start()
    store.add("fila", 60, "", "t")
    engine.fire("api.queue", "fila parada", "WARN")
    clock.advance(61)
    engine.tick()
    await wait_until(lambda: len(telegram.texts()) == 1)
    text = telegram.texts()[0]
    assert "⚠️ AVISO" in text
    assert "Ainda ativo após o fim do silêncio: fila parada" in text
    assert "ativo há 1 min 1 s" in text
    assert "UTC" in text.splitlines()[0]  # no zone given: UTC, as before


def test_the_catalog_is_complete() -> None:
    """Every language has every id, with the same placeholders; unknown languages fall back."""
    english = CATALOG["en"]
    for language in LANGUAGES:
        table = CATALOG[language]
        assert set(table) == set(english), language
        for msgid, text in table.items():
            assert placeholders(text) == placeholders(english[msgid]), (language, msgid)
    assert translate("resolved", "pt-BR", message="x") == "✅ Resolvido: x"
    assert translate("resolved", "xx", message="x") == "✅ Resolved: x"
    assert translate(f"level.{Level.CRITICAL.name}", "pt-BR") == "CRÍTICO"


@pytest.mark.asyncio
async def test_from_config(tmp_path: Path, telegram: FakeTelegram, clock: ManualClock) -> None:
    """khronos.yml's alerts.language and alerts.timezone reach the Telegram message."""
    config = KhronosConfig.model_validate(
        {
            "service": {"name": "bot"},
            "state_dir": str(tmp_path / "state"),
            "alerts": {
                "language": "pt-BR",
                "timezone": "Europe/Lisbon",
                "telegram": {"bot_token": TOKEN, "chat_id": "111", "api_url": telegram.url},
            },
        }
    )
    engine = AlertEngine.from_config(config, clock=clock)
    try:
        await engine.start()
        engine.send_alert("disco quase cheio", "CRITICAL")
        await wait_until(lambda: len(telegram.texts()) == 1)
    finally:
        await engine.stop()
        engine.outbox.close()
    # 2026-09-21 14:13:20 UTC is 15:13:20 in Lisbon (WEST, UTC+1)
    header = telegram.texts()[0].splitlines()[0]
    assert header == "🚨 CRÍTICO · bot (production) · 2026-09-21 15:13:20 WEST"


@pytest.mark.asyncio
async def test_a_restored_condition_resolves_in_pt_br(
    make_engine: MakeEngine, telegram: FakeTelegram, clock: ManualClock
) -> None:
    """A catalog text stored with its condition stays translatable after a restart: the
    resolved notice of a restarted engine quotes it in Portuguese."""
    first = make_engine(language="pt-BR")
    first.fire("backup.db_down.app", Text("backup.db_down", path="app.db"), "CRITICAL")
    first.outbox.close()
    second = make_engine(language="pt-BR")
    restored = second.conditions["backup.db_down.app"].notified_message
    assert isinstance(restored, Text)
    clock.advance(90)
    second.resolve("backup.db_down.app")
    await second.start()
    await wait_until(lambda: len(telegram.texts()) == 2)
    fired, resolved = telegram.texts()
    assert "Banco de dados fora do ar: app.db não existe" in fired
    assert "✅ Resolvido: Banco de dados fora do ar: app.db não existe" in resolved
    assert "durou 1 min 30 s" in resolved


@pytest.mark.asyncio
async def test_dedupe_and_silences_do_not_depend_on_the_language(
    make_engine: MakeEngine, telegram: FakeTelegram
) -> None:
    """A catalog text's dedupe key is its English text in any language; a silence written in
    Portuguese or in English covers the pt-BR alert."""
    engine = make_engine(language="pt-BR", cooldown=300)
    text = Text("semantic.database_down", database="main")
    assert engine.send_alert(text, "CRITICAL") is not None
    assert engine.send_alert(Text("semantic.database_down", database="main"), "CRITICAL") is None
    assert engine.recent_alerts()[0]["state"] == "suppressed"
    engine.silences.add("fora do ar", 60, "", "t")
    assert engine.silenced_by("x", "CRITICAL", text) is not None
    engine.silences.add("is down", 60, "", "t")
    assert engine.silenced_by("x", "CRITICAL", text) is not None
    assert engine.silenced_by("x", "CRITICAL", Text("semantic.high_memory")) is None
    await engine.start()
    await wait_until(lambda: len(telegram.texts()) == 1)
    assert "Banco de dados main fora do ar" in telegram.texts()[0]
