"""Heartbeats in: a dead-man's switch for the app's jobs (``checks.heartbeats``).

A job pings when it succeeds (``POST /api/heartbeats/<name>``), may say it started (``/start``)
or failed (``/fail``), as with healthchecks.io.  :class:`HeartbeatMonitor` keeps, per heartbeat,
its state and deadline:

=========== ==================================================== =============================
state       meaning                                              deadline
=========== ==================================================== =============================
``new``     never pinged (since it was configured)               configured at + every + grace
``up``      pinged on time                                       last ping + every + grace
``started`` pinged ``/start`` and not yet finished               start + grace
``late``    no ping by the deadline: the alert fires             (none: already alerting)
``failed``  pinged ``/fail``: the alert fires                    (none: already alerting)
=========== ==================================================== =============================

``late`` and ``failed`` fire the alert condition ``heartbeat.<name>`` at the configured level
(the engine notifies once, then every ``alerts.repeat_interval`` while it lasts); the next
successful ping resolves it (a ✅ notice saying how long it lasted).

The state survives a restart: every ping, start, failure and state change is written to
``state_dir/heartbeats.json`` (:func:`~khronos.state.write_json_atomic`; plain pings of a
heartbeat that is up at most once a second).  After a restart a late or failed job is still
late or failed (the alert is not sent again: the engine restored its condition), and one that
was up keeps its deadline.  A deadline that passed *while Khronos was not running* is moved to a
full ``every + grace`` after the restart: the job's ping may have been sent to a Khronos that
was down, so alerting at once would often be false; a job that really stopped is reported one
period later instead (the outside heartbeat, ``heartbeat:``, covers Khronos being down).

Deadlines are wall-clock times from the injected :class:`~khronos.clock.Clock` (they must
survive a restart); the loop waits until the next one, at most a second at a time, and is woken
by every ping.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import structlog
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from khronos.alerts import AlertEngine
from khronos.catalog import Moment, Span, Text
from khronos.clock import Clock, SystemClock
from khronos.config import HeartbeatCheckConfig, format_duration
from khronos.health import get_health, spawn, stop_part
from khronos.lifecycle import Lifecycle
from khronos.state import StateDir, write_json_atomic

__all__ = ["HEARTBEATS_PART", "HEARTBEAT_KEY_PREFIX", "HeartbeatMonitor", "PingKind"]

HEARTBEAT_KEY_PREFIX = "heartbeat."
"""The alert condition of a late or failed heartbeat: this prefix + its name."""
HEARTBEATS_PART = "heartbeats"
"""The part name of the monitor's task (``khronos_internal_errors_total{part}``)."""

PingKind = Literal["success", "start", "fail"]
_FILE_VERSION = 1
_MAX_WAIT_S = 1.0
_MIN_WAIT_S = 0.01
_SAVE_EVERY_S = 1.0
_OUTPUT_TAIL = 1000
_ALERTING = ("late", "failed")

_log = structlog.get_logger("khronos.heartbeats")


@dataclass
class _Beat:
    """One heartbeat's memory (wall-clock Unix times, persisted as they are)."""

    created_at: float
    state: str = "new"
    since: float = 0.0
    last_ping_at: float | None = None
    last_start_at: float | None = None
    last_fail_at: float | None = None
    last_duration: float | None = None
    not_before: float | None = None
    """A deadline moved past a restart (see the module docstring)."""
    message: str = ""
    """Why it alerts (set when it turns late or failed)."""

    def deadline(self, config: HeartbeatCheckConfig) -> float:
        """When it is late (``inf`` while it is late or failed: it alerts already)."""
        if self.state in _ALERTING:
            return math.inf
        every, grace = config.every.total_seconds(), config.grace.total_seconds()
        if self.last_start_at is not None:
            due = self.last_start_at + grace
        else:
            base = self.last_ping_at if self.last_ping_at is not None else self.created_at
            due = base + every + grace
        return due if self.not_before is None else max(due, self.not_before)


class HeartbeatMonitor(Lifecycle):
    """The heartbeats of ``checks.heartbeats``: pings in, alerts out, state in ``state_dir``."""

    def __init__(
        self,
        heartbeats: Sequence[HeartbeatCheckConfig],
        engine: AlertEngine,
        state_dir: str | Path,
        *,
        clock: Clock | None = None,
        registry: CollectorRegistry | None = None,
        namespace: str = "khronos",
    ) -> None:
        self.configs = {hb.name: hb for hb in heartbeats}
        self.engine = engine
        self.clock = clock or SystemClock()
        self.path = StateDir(state_dir).heartbeats_file
        self._beats = self._load()
        self._dirty = False
        self._saved_at = -math.inf
        self._wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        if registry is not None:
            registry.register(_HeartbeatCollector(self, namespace))

    def __repr__(self) -> str:
        return f"HeartbeatMonitor(heartbeats={sorted(self.configs)!r})"

    def __contains__(self, name: object) -> bool:
        return name in self.configs

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Check the deadlines (at once, then whenever one is due)."""
        if any(beat.not_before is not None for beat in self._beats.values()):
            self._save()  # a second restart keeps the moved deadline
        if self.task is None and self.configs:
            self.task = spawn(HEARTBEATS_PART, self._run)

    async def stop(self) -> None:
        """Stop checking; write the last pings."""
        task, self.task = self.task, None
        await stop_part(task, HEARTBEATS_PART)
        if self._dirty:
            self._save()

    async def _run(self) -> None:
        while True:
            self.tick()
            wait = min(_MAX_WAIT_S, self._next_deadline() - self.clock.wall())
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(_MIN_WAIT_S, wait))

    def _next_deadline(self) -> float:
        return min((b.deadline(self.configs[n]) for n, b in self._beats.items()), default=math.inf)

    # ------------------------------------------------------------------ events

    def ping(self, name: str, kind: PingKind = "success", output: str = "") -> dict[str, object]:
        """A ping from the job ``name``; its status afterwards.  KeyError for an unknown name.

        ``output`` (a ``/fail`` request's body, say) goes into the alert, its last 1000
        characters, redacted like every alert.
        """
        config = self.configs[name]
        beat = self._beats[name]
        now = self.clock.wall()
        beat.not_before = None
        if kind == "start":
            beat.last_start_at = now
            if beat.state in ("new", "up"):
                self._enter(beat, "started", now)
            self._save()
        elif kind == "fail":
            beat.last_fail_at = now
            beat.last_duration = None if beat.last_start_at is None else now - beat.last_start_at
            beat.last_start_at = None
            if beat.state != "failed":
                self._enter(beat, "failed", now)
            beat.message = Text("heartbeat.failed", name=name)
            self._save()
            self._fire(name, config, beat, output=output)
        else:
            was = beat.state
            beat.last_duration = None if beat.last_start_at is None else now - beat.last_start_at
            beat.last_ping_at, beat.last_start_at, beat.message = now, None, ""
            if was != "up":
                self._enter(beat, "up", now)
                self._save()
            else:
                self._dirty = True
            if was in _ALERTING:
                self.engine.resolve(_key(name))
                _log.info("heartbeat is back", heartbeat=name, was=was)
        self._wake.set()
        return self._status(name, beat)

    def tick(self) -> None:
        """Mark late what missed its deadline, keep the alerting ones firing (the engine
        repeats them), and write pending pings (at most once a second)."""
        now = self.clock.wall()
        changed = False
        for name, beat in self._beats.items():
            config = self.configs[name]
            if beat.state not in _ALERTING and now >= beat.deadline(config):
                since = beat.deadline(config)
                beat.message = _late_message(name, config, beat)
                self._enter(beat, "late", since)
                beat.not_before = None
                changed = True
                _log.warning("heartbeat is late", heartbeat=name, last_ping=_iso(beat.last_ping_at))
            if beat.state in _ALERTING:
                self._fire(name, config, beat)
        if changed or (self._dirty and now - self._saved_at >= _SAVE_EVERY_S):
            self._save()

    def _enter(self, beat: _Beat, state: str, at: float) -> None:
        beat.state, beat.since = state, at

    def _fire(
        self, name: str, config: HeartbeatCheckConfig, beat: _Beat, *, output: str = ""
    ) -> None:
        every = Span(config.every.total_seconds(), format_duration(config.every))
        grace = Span(config.grace.total_seconds(), format_duration(config.grace))
        details: dict[str, Any] = {
            "heartbeat": name,
            "last_ping": _moment(beat.last_ping_at) or Text("reply.never"),
            "expected": Text("heartbeat.expected", every=every, grace=grace),
        }
        if output:
            details["output"] = output[-_OUTPUT_TAIL:]
        message = beat.message or _late_message(name, config, beat)
        self.engine.fire(_key(name), message, config.level, details, since=beat.since)

    # ------------------------------------------------------------------ status

    def status(self) -> list[dict[str, object]]:
        """Every heartbeat, JSON-ready: name, every/grace seconds, last ping/start/fail
        (ISO 8601 with zone, or null), state, since, when it is due."""
        return [self._status(name, beat) for name, beat in self._beats.items()]

    def _status(self, name: str, beat: _Beat) -> dict[str, object]:
        config = self.configs[name]
        deadline = beat.deadline(config)
        return {
            "name": name,
            "every_seconds": config.every.total_seconds(),
            "grace_seconds": config.grace.total_seconds(),
            "level": config.level,
            "state": beat.state,
            "since": _iso(beat.since),
            "last_ping_at": _iso(beat.last_ping_at),
            "last_start_at": _iso(beat.last_start_at),
            "last_fail_at": _iso(beat.last_fail_at),
            "last_duration_seconds": None
            if beat.last_duration is None
            else round(beat.last_duration, 3),
            "due_at": None if math.isinf(deadline) else _iso(deadline),
        }

    def samples(self) -> Iterator[tuple[str, float | None, bool]]:
        """(name, last ping time or None, up) of every heartbeat."""
        for name, beat in self._beats.items():
            yield name, beat.last_ping_at, beat.state not in _ALERTING

    # ------------------------------------------------------------------ persistence

    def _load(self) -> dict[str, _Beat]:
        now = self.clock.wall()
        stored = _read(self.path)
        beats: dict[str, _Beat] = {}
        for name, config in self.configs.items():
            beat = stored.get(name) or _Beat(created_at=now, since=now)
            if beat.state not in _ALERTING and beat.deadline(config) <= now:
                # the deadline passed while Khronos was not running: the ping may be lost
                beat.not_before = now + config.every.total_seconds() + config.grace.total_seconds()
                _log.info(
                    "heartbeat deadline passed while khronos was not running; "
                    "waiting one more period",
                    heartbeat=name,
                    due_at=_iso(beat.not_before),
                )
            beats[name] = beat
        return beats

    def _save(self) -> None:
        document = {
            "version": _FILE_VERSION,
            "heartbeats": {name: asdict(beat) for name, beat in self._beats.items()},
        }
        try:
            write_json_atomic(self.path, document)
        except OSError as exc:  # a full disk: kept in memory, written at the next tick
            self._dirty = True
            get_health().record_error(HEARTBEATS_PART, exc)
            return
        self._dirty = False
        self._saved_at = self.clock.wall()


def _read(path: Path) -> dict[str, _Beat]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        _log.warning("cannot read heartbeats.json; starting afresh", path=str(path), error=str(exc))
        return {}
    beats: dict[str, _Beat] = {}
    entries = data.get("heartbeats") if isinstance(data, dict) else None
    for name, entry in (entries or {}).items():
        try:
            beats[name] = _Beat(**entry)
        except TypeError:
            _log.warning("ignored an unreadable heartbeat in heartbeats.json", heartbeat=name)
    return beats


def _late_message(name: str, config: HeartbeatCheckConfig, beat: _Beat) -> str:
    every = Span(config.every.total_seconds(), format_duration(config.every))
    grace = Span(config.grace.total_seconds(), format_duration(config.grace))
    if beat.last_start_at is not None:
        started = _moment(beat.last_start_at)
        return Text("heartbeat.running", name=name, started=started, grace=grace)
    if beat.last_ping_at is None:
        return Text("heartbeat.never", name=name, every=every, grace=grace)
    last = _moment(beat.last_ping_at)
    return Text("heartbeat.late", name=name, last=last, every=every, grace=grace)


def _moment(wall: float | None) -> Moment | None:
    """A time of an alert's text: ISO 8601 in UTC as a string, the owner's zone in Telegram."""
    return None if wall is None else Moment(wall, _iso(wall) or "")


def _key(name: str) -> str:
    return f"{HEARTBEAT_KEY_PREFIX}{name}"


def _iso(at: float | None) -> str | None:
    if at is None:
        return None
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds")


class _HeartbeatCollector(Collector):
    """``<ns>_heartbeat_last_ping_timestamp_seconds{name}`` (only once pinged) and
    ``<ns>_heartbeat_up{name}`` (0 while late or failed), read at scrape time."""

    def __init__(self, monitor: HeartbeatMonitor, namespace: str) -> None:
        self.monitor = monitor
        self.namespace = namespace

    def collect(self) -> Iterable[Metric]:
        ns = self.namespace
        last = GaugeMetricFamily(
            f"{ns}_heartbeat_last_ping_timestamp_seconds",
            "Unix time of the heartbeat's last successful ping.",
            labels=["name"],
        )
        up = GaugeMetricFamily(
            f"{ns}_heartbeat_up",
            "1 while the heartbeat is on time, 0 while it is late or failed.",
            labels=["name"],
        )
        for name, at, ok in self.monitor.samples():
            if at is not None:
                last.add_metric([name], at)
            up.add_metric([name], 1.0 if ok else 0.0)
        yield last
        yield up
