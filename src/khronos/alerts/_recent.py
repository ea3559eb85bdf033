"""The last alerts this process raised, with what became of each: a bounded ring in memory.

The outbox forgets a row once it is delivered, and the delivery worker remembers outcomes by
id only; the dashboard and ``/api/status`` want "the last 50 alerts, and whether each was sent".
:class:`RecentAlerts` keeps that list (the newest ``size``), fed by the engine when it queues an
alert (``pending``), suppresses one (``suppressed``) or holds one back under a silence
(``silenced``); :meth:`RecentAlerts.snapshot` settles the
pending ones from the outbox and the worker's outcomes: ``sent`` once no row is left,
``failed`` when a channel refused it for good, ``pending`` (with the attempts and last error)
while rows wait.  Nothing here is persisted: after a restart the list starts empty (the
outbox still holds and delivers what was pending).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from khronos.alerts._model import Level

__all__ = ["RecentAlert", "RecentAlerts"]

_TERMINAL = frozenset({"sent", "failed", "suppressed", "silenced"})


@dataclass(frozen=True, slots=True)
class RecentAlert:
    """One alert as raised (text already redacted) and its delivery state."""

    id: str | None
    at: float
    level: Level
    message: str
    state: str
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        """The ``/api/status`` form."""
        return {
            "id": self.id,
            "at": self.at,
            "level": self.level.name,
            "message": self.message,
            "state": self.state,
            "detail": self.detail,
        }


Pending = Callable[[str], tuple[int, int, str | None]]
"""(rows left, attempts, last error) of an alert id."""


class RecentAlerts:
    """The newest ``size`` alerts; thread-safe (alerts are raised from threads too)."""

    def __init__(self, size: int = 50) -> None:
        self._ring: deque[RecentAlert] = deque(maxlen=size)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._ring)

    def queued(self, alert_id: str, at: float, level: Level, message: str) -> None:
        """An alert was handed to the outbox."""
        with self._lock:
            self._ring.append(RecentAlert(alert_id, at, level, message, "pending"))

    def suppressed(self, at: float, level: Level, message: str) -> None:
        """An alert was suppressed by the cooldown (a duplicate of one sent recently)."""
        with self._lock:
            self._ring.append(
                RecentAlert(None, at, level, message, "suppressed", "a duplicate within cooldown")
            )

    def silenced(self, at: float, level: Level, message: str, detail: str) -> None:
        """An alert was not sent because a silence covers it (``detail`` names the silence)."""
        with self._lock:
            self._ring.append(RecentAlert(None, at, level, message, "silenced", detail))

    def snapshot(self, pending: Pending, outcomes: Mapping[str, str]) -> list[dict[str, Any]]:
        """Newest first, the pending ones settled from ``pending`` and ``outcomes``."""
        with self._lock:
            items = list(self._ring)
        settled: dict[str, RecentAlert] = {}
        for item in items:
            if item.state in _TERMINAL or item.id is None:
                continue
            rows, attempts, error = pending(item.id)
            outcome = outcomes.get(item.id, "")
            if rows:
                detail = f"{attempts} attempt(s); last error: {error}" if attempts else "queued"
                new = replace(item, detail=detail)
            elif outcome.startswith("rejected"):
                new = replace(item, state="failed", detail=outcome)
            else:
                new = replace(item, state="sent", detail="")
            settled[item.id] = new
        if settled:
            with self._lock:
                self._ring = deque(
                    (settled.get(a.id, a) if a.id else a for a in self._ring),
                    maxlen=self._ring.maxlen,
                )
        return [settled.get(a.id, a).to_json() if a.id else a.to_json() for a in reversed(items)]
