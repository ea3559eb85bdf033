"""Dedupe: the same alert (fingerprint) is sent at most once per cooldown.

A storm of identical alerts costs a dictionary lookup each; the next one sent after the cooldown
says how many were suppressed meanwhile.  Memory is bounded (the oldest fingerprints are forgotten
first).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

__all__ = ["Cooldown"]

_MAX_FINGERPRINTS = 10_000


@dataclass
class _Seen:
    last_sent: float
    suppressed: int = 0


class Cooldown:
    """The same fingerprint at most once per ``seconds`` (thread-safe, bounded memory)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._seen: dict[str, _Seen] = {}

    def check(self, fingerprint: str, now: float) -> int | None:
        """None when suppressed; else how many were suppressed since the last one sent."""
        with self._lock:
            seen = self._seen.get(fingerprint)
            if seen is not None and now - seen.last_sent < self.seconds:
                seen.suppressed += 1
                return None
            if seen is None and len(self._seen) >= _MAX_FINGERPRINTS:
                self._forget_old(now)
            self._seen[fingerprint] = _Seen(now)
            return seen.suppressed if seen else 0

    def _forget_old(self, now: float) -> None:
        stale = [k for k, s in self._seen.items() if now - s.last_sent >= self.seconds]
        for key in stale:
            del self._seen[key]
        while len(self._seen) >= _MAX_FINGERPRINTS:  # all recent: forget the oldest
            del self._seen[next(iter(self._seen))]
