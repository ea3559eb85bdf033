"""The engine's side of silences: hold back a silenced alert, and say when a silence ended.

:meth:`Silencer.hold` is asked before an alert or a condition's notice is queued.  A silenced
alert is still logged (``alert silenced``, with the silence's id), counted
(``khronos_alerts_silenced_total{level}``) and recorded in the recent-alerts ring with the
state ``silenced``; it is not sent.

:meth:`Silencer.ended` runs every maintenance round: a firing condition that an active silence
covers is remembered; once no silence covers it any more (the silence expired or was removed)
and it is still firing, one notice says so ("Still firing after the silence ended: ...") and
it is forgotten, so the owner hears it once.  Because the round looks at every firing
condition, this also holds for conditions restored after a restart during a silence.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

import structlog

from khronos.alerts._catalog import Text, Zone, localize
from khronos.alerts._conditions import Notice, human_duration
from khronos.alerts._metrics import AlertMetrics
from khronos.alerts._model import Alert, Condition, Level
from khronos.alerts._recent import RecentAlerts
from khronos.alerts._silences import Silence, SilenceStore
from khronos.clock import Clock
from khronos.redact import Redactor

__all__ = ["Silencer"]

_log = structlog.get_logger("khronos.alerts")


class Silencer:
    """Decides whether an alert is silenced, and reports conditions outliving their silence."""

    def __init__(
        self,
        store: SilenceStore,
        *,
        metrics: AlertMetrics,
        recent: RecentAlerts,
        clock: Clock,
        redactor: Redactor,
        language: str = "en",
        timezone: Zone = None,
    ) -> None:
        self.language = language
        self.timezone = timezone
        self.store = store
        self.metrics = metrics
        self.recent = recent
        self.clock = clock
        self.redactor = redactor
        self._covered: set[str] = set()
        self._lock = threading.Lock()

    def hold(self, key: str, level: Level, text: str, *, condition: bool = False) -> bool:
        """True (and logged, counted, recorded) when an active silence matches the alert."""
        try:
            silence = self.find(key, level, text)
        except Exception:  # noqa: BLE001 - a broken silence must not stop an alert
            _log.exception("cannot check silences; the alert is sent", key=key)
            return False
        if silence is None:
            return False
        if condition:
            with self._lock:
                self._covered.add(key)
        self._record(silence, key, level, text)
        return True

    def _record(self, silence: Silence, key: str, level: Level, text: str) -> None:
        redacted = self.redactor.redact(text)
        self.metrics.silenced.labels(level=level.name).inc()
        why = f"silence {silence.id}" + (f": {silence.reason}" if silence.reason else "")
        self.recent.silenced(self.clock.wall(), level, redacted, why)
        _log.info(
            "alert silenced",
            key=self.redactor.redact(key),
            level=level.name,
            text=redacted,
            silence=silence.id,
            reason=silence.reason,
        )

    def ended(self, conditions: Mapping[str, Condition]) -> list[Notice]:
        """Notices for firing conditions no silence covers any more (each once)."""
        now = self.clock.wall()
        notices = []
        with self._lock:
            self._covered &= set(conditions)
        for key, cond in conditions.items():
            covered = self.find(key, cond.level, cond.message) is not None
            with self._lock:
                if covered:
                    self._covered.add(key)
                    continue
                if key not in self._covered:
                    continue
                self._covered.discard(key)
            text = Text("silence_ended", message=cond.message)
            alert = Alert(text, cond.level, {}, fingerprint=f"condition:{key}")
            duration = human_duration(now - cond.started)
            notices.append(Notice(alert, Text("firing_for", duration=duration)))
        return notices

    def find(self, key: str, level: Level, text: str) -> Silence | None:
        """The silence matching the alert: its text in English or as the owner reads it (a
        silence written in Portuguese matches a pt-BR text)."""
        found = self.store.find(key, level, text)
        if found is None and isinstance(text, Text) and self.language != "en":
            found = self.store.find(key, level, localize(text, self.language, self.timezone))
        return found
