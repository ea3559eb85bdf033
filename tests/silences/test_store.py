"""The silence store: matching, start/end and weekly windows across time zones and DST,
persistence in state_dir across a restart, pruning, and two editors of one file."""

from __future__ import annotations

import json
import re
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from khronos.alerts import Level, SilenceStore
from khronos.alerts._silences import zone
from khronos.clock import ManualClock
from khronos.config import AlertsConfig, SilenceConfig, parse_config
from khronos.errors import ConfigError


def at(iso: str) -> float:
    """Unix time of an ISO 8601 instant."""
    return datetime.fromisoformat(iso).timestamp()


def configured(clock: ManualClock, *silences: dict[str, Any]) -> SilenceStore:
    """A store (in memory) with these ``alerts.silences`` entries, validated as config."""
    config = AlertsConfig.model_validate({"silences": list(silences)})
    return SilenceStore(None, config.silences, clock=clock)


def silenced(store: SilenceStore, key: str, level: Level, text: str) -> bool:
    return store.find(key, level, text) is not None


def test_config_matchers_key_glob_level_and_text(clock: ManualClock) -> None:
    """Every matcher given must match: a key glob, an exact level, a case-insensitive text."""
    window = {"start": "2020-01-01T00:00:00Z", "end": "2100-01-01T00:00:00Z"}
    store = configured(
        clock,
        {"key": "backup.*", "level": "warn", **window},
        {"text": "Disk Nearly FULL", **window},
    )
    assert silenced(store, "backup.replica.app", Level.WARN, "lag 2m")
    assert not silenced(store, "backup.replica.app", Level.ERROR, "lag 2m")  # another level
    assert not silenced(store, "check.http", Level.WARN, "lag 2m")  # another key
    assert silenced(store, "check.disk", Level.CRITICAL, "/srv: disk nearly full (97%)")
    assert not silenced(store, "check.disk", Level.CRITICAL, "/srv: disk 97%")


def test_runtime_match_is_a_key_glob_or_a_text(store: SilenceStore) -> None:
    """A runtime ``match`` silences by key glob or by text; ``level`` narrows it."""
    store.add("check.http-*", 3600, "deploy", "test")
    store.add("nightly export", 3600, "", "test", level="ERROR")
    assert silenced(store, "check.http-gateway", Level.ERROR, "gateway down")
    assert silenced(store, "api.x", Level.ERROR, "The Nightly Export failed")
    assert not silenced(store, "api.x", Level.WARN, "The Nightly Export failed")
    assert not silenced(store, "check.disk", Level.ERROR, "disk full")


def test_start_end_window(clock: ManualClock) -> None:
    """Active from start (inclusive) to end (exclusive); listed until it is over."""
    clock._now = at("2026-12-24T02:59:00Z")
    store = configured(
        clock,
        {"text": "x", "start": "2026-12-24T00:00:00-03:00", "end": "2026-12-24T06:00:00-03:00"},
    )
    assert not silenced(store, "k", Level.WARN, "x")
    assert store.list()[0]["active"] is False
    clock.advance(60)  # 03:00Z = 00:00-03:00
    assert silenced(store, "k", Level.WARN, "x")
    clock._now = at("2026-12-24T09:00:00Z")
    assert not silenced(store, "k", Level.WARN, "x")
    assert store.list() == []


@pytest.mark.parametrize(
    ("instant", "active"),
    [
        ("2026-03-22T00:59:00Z", False),  # 01:59 CET, a normal Sunday
        ("2026-03-22T01:00:00Z", True),  # 02:00 CET
        ("2026-03-22T02:59:00Z", True),  # 03:59 CET
        ("2026-03-22T03:00:00Z", False),  # 04:00 CET
        ("2026-03-29T00:59:00Z", False),  # 01:59 CET, the night 02:00 does not exist
        ("2026-03-29T01:30:00Z", True),  # 03:30 CEST
        ("2026-03-29T02:00:00Z", False),  # 04:00 CEST: still ends at 04:00 local
        ("2026-10-25T01:30:00Z", True),  # 02:30 CET (after the clocks went back)
        ("2026-10-25T03:00:00Z", False),  # 04:00 CET
        ("2026-03-23T01:30:00Z", False),  # Monday 02:30 CET: not a listed day
    ],
)
def test_weekly_window_in_a_zone_across_dst(clock: ManualClock, instant: str, active: bool) -> None:
    """``sun 02:00-04:00 Europe/Berlin`` follows the local wall clock through both DST changes."""
    clock._now = at(instant)
    store = configured(
        clock,
        {
            "key": "backup.*",
            "weekly": {
                "days": ["sun"],
                "from": "02:00",
                "to": "04:00",
                "timezone": "Europe/Berlin",
            },
        },
    )
    assert silenced(store, "backup.replica.app", Level.ERROR, "lag") is active


@pytest.mark.parametrize(
    ("instant", "active"),
    [
        ("2026-09-22T01:59:00Z", False),  # Monday 22:59 in São Paulo
        ("2026-09-22T02:30:00Z", True),  # Monday 23:30
        ("2026-09-22T03:30:00Z", True),  # Tuesday 00:30: the window crosses midnight
        ("2026-09-22T04:00:00Z", False),  # Tuesday 01:00
        ("2026-09-23T02:30:00Z", False),  # Tuesday 23:30: not a listed day
    ],
)
def test_overnight_weekly_window(clock: ManualClock, instant: str, active: bool) -> None:
    """A window whose ``to`` is before ``from`` ends the next day."""
    clock._now = at(instant)
    store = configured(
        clock,
        {
            "text": "deploy",
            "weekly": {
                "days": "mon",
                "from": "23:00",
                "to": "01:00",
                "timezone": "America/Sao_Paulo",
            },
        },
    )
    assert silenced(store, "k", Level.WARN, "deploy running") is active


def test_list_shows_times_in_the_zone_and_the_next_window(clock: ManualClock) -> None:
    """An inactive weekly window lists its next occurrence, ISO with the zone's offset."""
    clock._now = at("2026-09-21T12:00:00Z")
    config = AlertsConfig.model_validate(
        {
            "timezone": "America/Sao_Paulo",
            "silences": [{"key": "x", "weekly": {"days": ["sun"], "from": "02:00", "to": "04:00"}}],
        }
    )
    store = SilenceStore(None, config.silences, clock=clock, tz=zone("America/Sao_Paulo"))
    (item,) = store.list()
    assert item["source"] == "config"
    assert item["active"] is False
    assert item["starts_at"] == "2026-09-27T02:00:00-03:00"
    assert item["ends_at"] == "2026-09-27T04:00:00-03:00"


def test_runtime_silences_survive_a_restart_and_expire(
    tmp_path: Path, clock: ManualClock, store: SilenceStore
) -> None:
    """Added silences are in state_dir/silences.json; a new store (a restart) sees them;
    once over they are pruned from the file."""
    short = store.add("backup", 600, "moving the VPS", "cli")
    long = store.add("check.disk", 7200, "", "api", level="WARN")
    again = SilenceStore.in_state_dir(tmp_path / "state", clock=clock, timezone="UTC")
    listed = {item["id"]: item for item in again.list()}
    assert set(listed) == {short, long}
    assert listed[short]["reason"] == "moving the VPS"
    assert listed[short]["source"] == "runtime"
    assert listed[long]["level"] == "WARN"
    assert str(listed[short]["ends_at"]).endswith("+00:00")
    path = tmp_path / "state" / "silences.json"
    assert path.stat().st_mode & 0o777 == 0o600
    clock.advance(601)
    assert again.prune() == 1
    saved = json.loads(path.read_text())["silences"]
    assert [s["id"] for s in saved] == [long]
    assert again.remove(long)
    assert not again.remove(long)
    assert store.list() == []  # the first store reloads the changed file


def test_two_editors_lose_nothing(tmp_path: Path, clock: ManualClock) -> None:
    """Two stores on one state_dir (the daemon and the CLI) adding at once keep every silence."""
    stores = [SilenceStore.in_state_dir(tmp_path / "s", clock=clock) for _ in range(2)]
    ids: list[str] = []

    def add(store: SilenceStore) -> None:
        ids.extend(store.add(f"m{i}", 60, "", "t") for i in range(20))

    threads = [threading.Thread(target=add, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {item["id"] for item in stores[0].list()} == set(ids)
    assert len(ids) == 40


def test_a_broken_file_is_reported_not_fatal(tmp_path: Path, clock: ManualClock) -> None:
    """A corrupt silences.json is ignored with a warning; adding sets it aside (kept)."""
    path = tmp_path / "state" / "silences.json"
    path.parent.mkdir()
    path.write_text("{not json")
    store = SilenceStore.in_state_dir(tmp_path / "state", clock=clock)
    assert store.list() == []
    store.add("x", 60, "", "t")
    assert len(store.list()) == 1
    assert (path.parent / "silences.json.corrupt").read_text() == "{not json"


@pytest.mark.parametrize(
    ("match", "duration", "level"),
    [("", 60, None), ("x" * 201, 60, None), ("x", 0, None), ("x", 400 * 86400, None),
     ("x", 60, "LOUD")],
)  # fmt: skip
def test_bad_runtime_silences_are_refused(
    store: SilenceStore, match: str, duration: float, level: str | None
) -> None:
    """An empty or huge match, a zero or year-plus duration, an unknown level: ValueError."""
    with pytest.raises(ValueError, match=r"."):
        store.add(match, duration, "", "t", level=level)
    assert store.list() == []


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"}, "without a matcher"),
        ({"text": "x"}, "either start and end, or weekly"),
        ({"text": "x", "start": "2026-01-01T00:00:00", "end": "2026-01-02T00:00:00Z"}, "no zone"),
        ({"text": "x", "weekly": {"from": "02:00", "to": "02:00"}}, "empty"),
        ({"text": "x", "weekly": {"from": "2am", "to": "04:00"}}, "time of day"),
        ({"text": "x", "weekly": {"from": "02:00", "to": "04:00", "timezone": "Mars/Base"}},
         "unknown time zone"),
    ],
)  # fmt: skip
def test_bad_config_silences_are_explained(entry: dict[str, Any], problem: str) -> None:
    """Config errors say what is wrong and how to write it."""
    with pytest.raises(ValueError, match=problem):
        SilenceConfig.model_validate(entry)


def test_ids_are_short_url_safe_and_never_look_like_an_option(store: SilenceStore) -> None:
    """Ids are 8 letters/digits (a leading '-' broke `khronos silence remove ID`)."""
    ids = {store.add(f"m{i}", 60, "", "t") for i in range(200)}
    assert len(ids) == 200
    assert all(re.fullmatch(r"[A-Za-z0-9]{8}", i) for i in ids)


def test_yaml_times_and_the_shown_config_round_trip(tmp_path: Path) -> None:
    """Unquoted YAML times (22:00 is the number 1320 in YAML 1.1) are understood; the effective
    config (`config show` writes `start` for `from`) loads again; a bad one names the key."""
    text = (
        "alerts:\n  silences:\n"
        "    - {key: 'backup.*', weekly: {days: [sun], from: 22:00, to: 02:00}}\n"
    )
    config = parse_config(text)
    assert config.alerts is not None
    weekly = config.alerts.silences[0].weekly
    assert weekly is not None
    assert (weekly.start, weekly.to) == ("22:00", "02:00")
    shown = config.alerts.silences[0].model_dump(exclude_none=True)
    assert SilenceConfig.model_validate(shown) == config.alerts.silences[0]
    with pytest.raises(ConfigError) as failed:
        parse_config(
            "alerts:\n  silences:\n    - {text: x, weekly: {from: '25:00', to: '02:00'}}\n"
        )
    assert "alerts.silences[0].weekly.from: not a time of day" in str(failed.value)
