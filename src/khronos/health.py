"""Khronos' own health: its long-lived parts keep running, and say so when they cannot.

Every long-lived task of the daemon (the Litestream supervisor, the backup status poller, the
restore drills, each check, the alert delivery tasks, the HTTP server) runs through
:func:`keep_running`: an exception from a collaborator (a full disk under the alert outbox, a
file-descriptor limit, a bug) is logged with its traceback, counted in
``khronos_internal_errors_total{part}``, and the part starts again after a short backoff.  The
same error repeating is logged once, then summarised, so a fault that lasts cannot flood the log.

A part that really ends (its task returns or dies while the daemon is not stopping) is *down*:
:meth:`Health.problems` names it, ``/healthz`` and ``/ready`` answer 503 with the reason, and the
listeners registered with :meth:`Health.on_down` are told (the daemon raises a CRITICAL alert).

One :class:`Health` per process by default (:func:`get_health`), like the redactor: the parts
report to it without being handed one; tests use their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import structlog

__all__ = [
    "Health",
    "PartDown",
    "get_health",
    "keep_running",
    "set_health",
    "spawn",
    "stop_part",
]

_log = structlog.get_logger("khronos.health")

DownListener = Callable[["PartDown"], None]

_QUIET_REPEAT_S = 300.0
"""The same error from the same part is logged with its traceback at most this often."""
_BACKOFF_START_S = 1.0
_BACKOFF_MAX_S = 30.0
_HEALTHY_RUN_S = 60.0
"""A body that ran this long before failing starts again after the shortest backoff."""


@dataclass(frozen=True, slots=True)
class PartDown:
    """A part that stopped for good: which, why, and when (wall time)."""

    part: str
    reason: str
    at: float


@dataclass
class _ErrorLog:
    signature: str = ""
    logged_at: float = 0.0
    repeats: int = 0


@dataclass
class Health:
    """The parts of this process: errors counted per part, and the parts that are down."""

    errors: dict[str, int] = field(default_factory=dict)
    """Internal errors per part since start (``khronos_internal_errors_total``)."""
    down: dict[str, PartDown] = field(default_factory=dict)
    stopping: bool = False
    """Set by the owner before it stops its parts (a part ending then is not a fault); cleared
    when it starts them again."""
    _listeners: list[DownListener] = field(default_factory=list)
    _last: dict[str, _ErrorLog] = field(default_factory=dict)
    _watched: dict[str, asyncio.Task[Any]] = field(default_factory=dict)

    def on_down(self, listener: DownListener) -> None:
        """Call ``listener`` when a part goes down (it must not raise; if it does, it is logged)."""
        self._listeners.append(listener)

    def record_error(self, part: str, exc: BaseException) -> None:
        """Count an internal error of ``part`` and log it (its traceback once per streak)."""
        self.errors[part] = self.errors.get(part, 0) + 1
        signature = f"{type(exc).__name__}: {exc}"
        seen = self._last.setdefault(part, _ErrorLog())
        now = time.monotonic()
        if seen.signature == signature and now - seen.logged_at < _QUIET_REPEAT_S:
            seen.repeats += 1
            return
        _log.error(
            "internal error; the part keeps running",
            part=part,
            error=signature,
            repeats_since_last_log=seen.repeats,
            exc_info=exc,
        )
        seen.signature, seen.logged_at, seen.repeats = signature, now, 0

    def mark_down(self, part: str, reason: str) -> None:
        """``part`` stopped for good (ignored while :attr:`stopping`)."""
        if self.stopping or part in self.down:
            return
        event = PartDown(part, reason, time.time())
        self.down[part] = event
        _log.critical("a part of khronos stopped", part=part, reason=reason)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # noqa: BLE001 - telling must not fail the teller
                _log.exception("health listener failed", part=part)

    def mark_up(self, part: str) -> None:
        """``part`` runs again (a restarted server, say)."""
        self.down.pop(part, None)

    def watch(self, part: str, task: asyncio.Task[Any]) -> None:
        """Mark ``part`` down if ``task`` ends (returns, raises or is cancelled) while the owner
        is not :attr:`stopping`."""
        self._watched[part] = task
        self.mark_up(part)

        def done(finished: asyncio.Task[Any]) -> None:
            if self._watched.get(part) is not finished:
                return  # unwatched by its owner (a deliberate stop), or replaced
            del self._watched[part]
            if self.stopping:
                return
            if finished.cancelled():
                reason = "its task was cancelled"
            elif (error := finished.exception()) is not None:
                reason = f"{type(error).__name__}: {error}"
            else:
                reason = "its task ended"
            self.mark_down(part, reason)

        task.add_done_callback(done)

    def unwatch(self, part: str) -> None:
        """The owner stops ``part`` on purpose: its task ending is not a fault."""
        self._watched.pop(part, None)

    def problems(self) -> list[str]:
        """Why this process is not healthy (empty: healthy)."""
        return [f"{d.part} stopped: {d.reason}" for d in self.down.values()]

    def parts(self) -> Iterator[tuple[str, bool]]:
        """Every part known (watched, errored or down) and whether it is up."""
        names = set(self._watched) | set(self.errors) | set(self.down)
        for name in sorted(names):
            yield name, name not in self.down


_default = Health()


def get_health() -> Health:
    """The process-wide :class:`Health` the parts report to."""
    return _default


def set_health(health: Health) -> Health:
    """Make ``health`` the process-wide one (the daemon, tests); the previous one."""
    global _default
    previous, _default = _default, health
    return previous


async def keep_running(
    part: str,
    body: Callable[[], Awaitable[None]],
    *,
    health: Health | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Run ``body()`` until it returns; when it raises, count and log the error and run it again.

    The pause before a new run starts at 1 s and doubles to 30 s while the failures follow each
    other, and is back to 1 s after a run that lasted a minute.  Cancellation ends it (and
    ``body``) at once.
    """
    backoff = _BACKOFF_START_S
    while True:
        began = time.monotonic()
        try:
            await body()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the point: nothing a collaborator throws ends us
            (health or get_health()).record_error(part, exc)
        else:
            return
        if time.monotonic() - began >= _HEALTHY_RUN_S:
            backoff = _BACKOFF_START_S
        await sleep(backoff)
        backoff = min(_BACKOFF_MAX_S, backoff * 2)


def spawn(
    part: str, body: Callable[[], Awaitable[None]], *, health: Health | None = None
) -> asyncio.Task[None]:
    """A watched task running ``body`` through :func:`keep_running` (named ``khronos-<part>``)."""
    owner = health or get_health()
    task = asyncio.create_task(keep_running(part, body, health=owner), name=f"khronos-{part}")
    owner.watch(part, task)
    return task


async def stop_part(
    task: asyncio.Task[None] | None, part: str | None = None, *, health: Health | None = None
) -> None:
    """Stop a part's task on purpose: forget ``part`` in the health watch (its end is no fault),
    cancel the task and wait until it has ended."""
    if part is not None:
        (health or get_health()).unwatch(part)
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
