"""Silences and maintenance windows: which alerts are not sent right now, and why.

Two kinds, one matcher:

- **config** silences (``alerts.silences`` in khronos.yml): matchers on the alert's key (a
  glob), its level and its text (a case-insensitive substring), active between ``start`` and
  ``end`` or during a weekly window in a time zone (``weekly: {days, from, to, timezone}``,
  computed on the zone's wall clock, so a 02:00-04:00 window stays 02:00-04:00 local across
  daylight saving changes; on the night a clock skips 02:00 the window starts when it would
  have, at 03:00);
- **runtime** silences (:meth:`SilenceStore.add`: ``khronos silence add``, ``POST
  /api/silences``, Telegram's ``/silence``): one ``match`` text that silences an alert whose key
  matches it as a glob *or* whose text contains it (case-insensitive), optionally only at one
  level, for a duration.

Runtime silences live in ``state_dir/silences.json`` so they survive a restart.  Every change is
a read-modify-write of that file under ``state_dir/silences.lock`` (a :class:`FileLock`, held for
the few milliseconds of the change, retried for a few seconds when someone else holds it) and an
atomic rename; readers (the daemon's engine, on every alert and every maintenance round) reload
the file when its identity (inode, size, mtime) changed.  So the CLI and the daemon can both
edit it safely, and a daemon that is not running loses nothing.  Expired runtime silences are
pruned on every change and by :meth:`SilenceStore.prune`.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import secrets
import string
import threading
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

import structlog

from khronos.alerts._model import Level, parse_level
from khronos.clock import Clock, SystemClock
from khronos.config import WEEKDAYS, SilenceConfig, WeeklyWindow
from khronos.errors import LockedError
from khronos.locks import FileLock
from khronos.state import StateDir, write_json_atomic

__all__ = ["MAX_MATCH", "MAX_SILENCE_S", "Silence", "SilenceStore", "zone"]

_log = structlog.get_logger("khronos.alerts")
MAX_MATCH = 200
"""The longest ``match`` text of a runtime silence."""
MAX_SILENCE_S = 366 * 86400.0
"""The longest runtime silence (a year)."""
_LOCK_WAIT_S = 5.0
_ID_ALPHABET = string.ascii_letters + string.digits
_FORMAT = 1


def zone(name: str | None) -> tzinfo | None:
    """The ``ZoneInfo`` of an IANA name; None (the system's local time) for None."""
    return None if name is None else zoneinfo.ZoneInfo(name)


def _iso(ts: float, tz: tzinfo | None) -> str:
    moment = datetime.fromtimestamp(ts, UTC)
    return (moment.astimezone(tz) if tz is not None else moment.astimezone()).isoformat(
        timespec="seconds"
    )


@dataclass(frozen=True, slots=True)
class Silence:
    """One silence: what it matches and when it is active."""

    id: str
    source: str
    """``config`` or ``runtime``."""
    match: str = ""
    """Runtime: a key glob or a text substring."""
    key: str = ""
    text: str = ""
    level: Level | None = None
    reason: str = ""
    by: str = ""
    starts_at: float | None = None
    ends_at: float | None = None
    weekly: WeeklyWindow | None = None
    weekly_zone: tzinfo | None = None

    def matches(self, key: str, level: Level, text: str) -> bool:
        """Whether an alert with this key, level and text is one this silence is about."""
        if self.level is not None and level != self.level:
            return False
        if self.key and not fnmatch.fnmatchcase(key, self.key):
            return False
        folded = text.casefold()
        if self.text and self.text.casefold() not in folded:
            return False
        if self.match:
            return fnmatch.fnmatchcase(key, self.match) or self.match.casefold() in folded
        return True

    def window(self, now: float) -> tuple[float, float] | None:
        """The current or next (start, end) at ``now``; None when it is over for good."""
        if self.weekly is None:
            if self.starts_at is None or self.ends_at is None or self.ends_at <= now:
                return None
            return self.starts_at, self.ends_at
        return _weekly_window(self.weekly, self.weekly_zone, now)

    def active(self, now: float) -> bool:
        """Whether it silences alerts at ``now``."""
        span = self.window(now)
        return span is not None and span[0] <= now < span[1]

    def to_json(self, now: float, tz: tzinfo | None) -> dict[str, Any]:
        """The JSON form of :meth:`SilenceStore.list` (times in ``tz``, ISO with the offset)."""
        span = self.window(now)
        match = self.match or " ".join(
            part for part in (f"key={self.key}" if self.key else "", self.text) if part
        )
        return {
            "id": self.id,
            "match": match,
            "key": self.key or None,
            "text": self.text or None,
            "level": self.level.name if self.level is not None else None,
            "reason": self.reason,
            "by": self.by,
            "starts_at": _iso(span[0], tz) if span else None,
            "ends_at": _iso(span[1], tz) if span else None,
            "weekly": _weekly_text(self.weekly) if self.weekly is not None else None,
            "source": self.source,
            "active": span is not None and span[0] <= now < span[1],
        }


def _weekly_text(window: WeeklyWindow) -> str:
    days = ",".join(window.days)
    return f"{days} {window.start}-{window.to} {window.timezone or 'local'}"


def _weekly_window(
    window: WeeklyWindow, tz: tzinfo | None, now: float
) -> tuple[float, float] | None:
    """The occurrence of a weekly window that contains ``now``, else the next one."""
    local = datetime.fromtimestamp(now, UTC).astimezone(tz)  # tz None: the system's
    days = {WEEKDAYS.index(day) for day in window.days}
    start_at, end_at = window.start_time, window.end_time
    overnight = end_at <= start_at
    today: date = local.date()
    for offset in range(-1, 8):
        day = today + timedelta(days=offset)
        if day.weekday() not in days:
            continue
        start = _stamp(day, start_at, tz)
        end = _stamp(day + timedelta(days=1 if overnight else 0), end_at, tz)
        if end > now:
            return start, end
    return None  # pragma: no cover - a window with at least one day always comes back


_Silences = list[Silence]
_Listing = list[dict[str, object]]


def _stamp(day: date, at: Any, tz: tzinfo | None) -> float:
    return datetime.combine(day, at, tzinfo=tz).timestamp()


class SilenceStore:
    """Config silences plus the runtime ones in ``state_dir/silences.json`` (thread-safe).

    ``path``: the state file (None: runtime silences live in memory only).  ``tz``: the zone
    of the times :meth:`list` shows (``alerts.timezone``; None: the system's).
    """

    def __init__(
        self,
        path: Path | None = None,
        config: Sequence[SilenceConfig] = (),
        *,
        clock: Clock | None = None,
        tz: tzinfo | None = None,
        default_zone: tzinfo | None = None,
    ) -> None:
        self.path = path
        self.clock = clock or SystemClock()
        self.tz = tz
        self._lock = threading.Lock()
        self._configured = [_from_config(c, default_zone or tz) for c in config]
        self._runtime: _Silences = []
        self._seen: tuple[int, int, int] | None = None
        self._reload()

    @classmethod
    def in_state_dir(
        cls,
        state_dir: str | Path,
        config: Sequence[SilenceConfig] = (),
        *,
        clock: Clock | None = None,
        timezone: str | None = None,
    ) -> SilenceStore:
        """The store of a ``state_dir`` (``alerts.silences``, ``alerts.timezone``)."""
        tz = zone(timezone)
        return cls(StateDir(state_dir).silences_file, config, clock=clock, tz=tz)

    def __repr__(self) -> str:
        return f"SilenceStore({str(self.path)!r}, configured={len(self._configured)})"

    # ------------------------------------------------------------------ the interface

    def add(
        self, match: str, duration_s: float, reason: str, by: str, *, level: str | None = None
    ) -> str:
        """Silence alerts whose key matches ``match`` (a glob) or whose text contains it, from
        now for ``duration_s`` seconds; the new silence's id (short, URL-safe).

        ValueError for an empty or too long match, a duration out of (0, a year] or an unknown
        level; OSError when the state file cannot be written (nothing was added).
        """
        match = match.strip()
        if not match or len(match) > MAX_MATCH:
            raise ValueError(f"match must be 1 to {MAX_MATCH} characters")
        if not 0 < duration_s <= MAX_SILENCE_S:
            raise ValueError("the duration must be more than 0 and at most a year (366d)")
        parsed = parse_level(level) if level else None
        now = self.clock.wall()
        silence = Silence(
            id=_new_id(),
            source="runtime",
            match=match,
            level=parsed,
            reason=reason.strip()[:MAX_MATCH],
            by=by.strip()[:MAX_MATCH] or "unknown",
            starts_at=now,
            ends_at=now + duration_s,
        )
        self._change(lambda items: [*items, silence])
        _log.info(
            "silence added",
            silence=silence.id,
            match=match,
            level=parsed.name if parsed else None,
            until=_iso(now + duration_s, self.tz),
            by=silence.by,
            reason=silence.reason,
        )
        return silence.id

    def remove(self, id: str) -> bool:  # noqa: A002 - the interface's name
        """End a runtime silence now; False when no runtime silence has that id (config ones
        are removed from khronos.yml)."""
        found: _Silences = []

        def drop(items: _Silences) -> _Silences:
            found.extend(s for s in items if s.id == id)
            return [s for s in items if s.id != id]

        self._change(drop)
        if found:
            _log.info("silence removed", silence=id, match=found[0].match)
        return bool(found)

    def list(self) -> list[dict[str, object]]:
        """Every silence not over for good (config first, then runtime by start), JSON-ready."""
        now = self.clock.wall()
        return [s.to_json(now, self.tz) for s in self.silences() if s.window(now) is not None]

    # ------------------------------------------------------------------ the engine's side

    def silences(self) -> _Silences:
        """Config and runtime silences (the state file reloaded when it changed)."""
        self._reload()
        with self._lock:
            return [*self._configured, *self._runtime]

    def find(self, key: str, level: Level, text: str) -> Silence | None:
        """The active silence that matches this alert, or None."""
        now = self.clock.wall()
        for silence in self.silences():
            if silence.matches(key, level, text) and silence.active(now):
                return silence
        return None

    def active(self) -> _Listing:
        """The silences active now (``/api/status``)."""
        return [item for item in self.list() if item["active"]]

    def prune(self) -> int:
        """Drop expired runtime silences from the state file; how many."""
        now = self.clock.wall()
        with self._lock:
            expired = any(s.ends_at is not None and s.ends_at <= now for s in self._runtime)
        if not expired:
            return 0
        before = len(self._runtime)
        try:
            self._change(list)
        except (OSError, LockedError):  # a full disk or a busy lock: the next round retries
            return 0
        return max(0, before - len(self._runtime))

    # ------------------------------------------------------------------ the state file

    def _identity(self) -> tuple[int, int, int] | None:
        if self.path is None:
            return None
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return (0, 0, 0)
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def _reload(self) -> None:
        seen = self._identity()
        if seen is None or seen == self._seen:
            return
        try:
            items = self._read()
        except (OSError, ValueError) as exc:
            _log.warning("cannot read the silences file", path=str(self.path), error=str(exc))
            return
        with self._lock:
            self._runtime, self._seen = items, seen

    def _read(self) -> _Silences:
        if self.path is None or not self.path.exists():
            return []
        data = json.loads(self.path.read_text(encoding="utf-8"))
        out = []
        for item in data.get("silences", []) if isinstance(data, dict) else []:
            with contextlib.suppress(KeyError, TypeError, ValueError):
                out.append(_from_json(item))
        return out

    def _read_or_set_aside(self) -> _Silences:
        """The runtime silences; a file that is not valid JSON is renamed ``.corrupt`` (kept
        for the owner to look at) and a new one started, with a warning."""
        try:
            return self._read()
        except ValueError as exc:
            assert self.path is not None  # noqa: S101 - only called with a state file
            aside = self.path.with_name(f"{self.path.name}.corrupt")
            self.path.replace(aside)
            _log.warning(
                "the silences file was not valid JSON; set it aside",
                path=str(aside),
                error=str(exc),
            )
            return []

    def _change(self, edit: Any) -> None:
        """Apply ``edit`` (list -> list) to the runtime silences under the file lock, drop
        the expired ones and write the file atomically."""
        now = self.clock.wall()
        if self.path is None:
            with self._lock:
                self._runtime = _live(edit(list(self._runtime)), now)
            return
        lock = _lock(StateDir(self.path.parent).silences_lock)
        try:
            items = _live(edit(self._read_or_set_aside()), now)
            write_json_atomic(
                self.path, {"format": _FORMAT, "silences": [_to_json(s) for s in items]}
            )
            with self._lock:
                self._runtime, self._seen = items, self._identity()
        finally:
            lock.release()


def _new_id() -> str:
    """8 letters and digits: URL-safe, and never starting with ``-`` (a CLI would read an
    option) - ``secrets.token_urlsafe`` may."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


def _live(items: list[Silence], now: float) -> list[Silence]:
    return [s for s in items if s.ends_at is None or s.ends_at > now]


def _lock(path: Path) -> FileLock:
    return FileLock.acquire(
        path,
        what="the silences file",
        op="silence",
        hint="another khronos process is changing silences; try again",
        wait=_LOCK_WAIT_S,
    )


def _from_config(config: SilenceConfig, default_zone: tzinfo | None) -> Silence:
    digest = hashlib.sha256(repr(config).encode()).hexdigest()[:8]
    weekly = config.weekly
    tz = default_zone
    if weekly is not None and weekly.timezone:
        tz = zoneinfo.ZoneInfo(weekly.timezone)
    return Silence(
        id=f"cfg-{digest}",
        source="config",
        key=config.key or "",
        text=config.text or "",
        level=Level[config.level] if config.level else None,
        reason=config.reason or "",
        by="khronos.yml",
        starts_at=config.start.timestamp() if config.start else None,
        ends_at=config.end.timestamp() if config.end else None,
        weekly=weekly,
        weekly_zone=tz,
    )


def _to_json(silence: Silence) -> dict[str, Any]:
    return {
        "id": silence.id,
        "match": silence.match,
        "level": silence.level.name if silence.level is not None else None,
        "reason": silence.reason,
        "by": silence.by,
        "starts_at": _iso(silence.starts_at or 0.0, UTC),
        "ends_at": _iso(silence.ends_at or 0.0, UTC),
    }


def _from_json(item: dict[str, Any]) -> Silence:
    level = item.get("level")
    return Silence(
        id=str(item["id"]),
        source="runtime",
        match=str(item["match"]),
        level=parse_level(level) if level else None,
        reason=str(item.get("reason", "")),
        by=str(item.get("by", "")),
        starts_at=datetime.fromisoformat(item["starts_at"]).timestamp(),
        ends_at=datetime.fromisoformat(item["ends_at"]).timestamp(),
    )
