"""The snapshot schedule inside ``khronos run``: every database to every destination, every
``interval``, one snapshot at a time.

**When.**  Each (database, destination) pair is due ``interval`` after the start of its last
successful snapshot, as recorded in ``state_dir/snapshots.json``: after a restart the schedule
goes on where it was (a recent snapshot is not taken again; one older than the interval is taken
at once).  A failed attempt is retried with a backoff that starts at ``min(15s, interval)`` and
doubles up to ``min(5m, interval)``: never a tight loop, and the snapshot after an outage comes
at most one backoff after the destination is back, then every interval again (no gap).

**One at a time.**  One task runs the queue: the pair due first goes first; pairs that come due
while a snapshot runs wait their turn.  The snapshot itself (a blocking engine call:
``take_snapshot``) runs in a daemon thread, so a stop can give up waiting for it (after
``stop_timeout``) without hanging the process; the engine uploads to a temporary key and renames,
so an abandoned snapshot leaves no partial object, and its temp folder is removed when it ends or
at the next start.

**What happened.**  Each attempt is logged, recorded in ``snapshots.json`` (the last success:
time, key, size, duration, verified; the last failure: time, cause; the streak), counted in the
metrics and turned into alert conditions (:mod:`._conditions`).  The loop runs through
:func:`~khronos.health.keep_running` (part ``snapshots``): an exception from a collaborator (the
state file on a full disk, a bug) is logged, counted and survived.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import structlog

from khronos.backup import AlertSink
from khronos.clock import Clock, SystemClock
from khronos.config import DatabaseConfig, KhronosConfig, SnapshotDestination
from khronos.errors import SnapshotError
from khronos.health import get_health, keep_running
from khronos.lifecycle import Lifecycle
from khronos.redact import get_redactor
from khronos.snapshots import SnapshotReport
from khronos.snapshots._conditions import SnapshotConditions
from khronos.snapshots._state import (
    DestinationState,
    DrillResult,
    SnapshotFailure,
    SnapshotSuccess,
    read_snapshot_state,
    update_snapshot_state,
)
from khronos.state import StateDir

__all__ = ["SNAPSHOTS_PART", "SnapshotScheduler", "TakeSnapshot", "snapshot_pairs"]

_log = structlog.get_logger("khronos.snapshots")

SNAPSHOTS_PART = "snapshots"
"""The schedule's part name in :class:`~khronos.health.Health`."""
_RETRY_MIN_S = 15.0
_RETRY_MAX_S = 300.0
_TICK_S = 30.0
"""How often the staleness is looked at while nothing else happens."""
_TMP_PREFIX = "daemon-"


class TakeSnapshot(Protocol):
    """:func:`khronos.snapshots.take_snapshot`'s signature (blocking; raises SnapshotError)."""

    def __call__(
        self,
        db: DatabaseConfig,
        dest: SnapshotDestination,
        *,
        tmp_dir: Path,
        now: datetime | None = None,
    ) -> SnapshotReport: ...


def _engine_take(
    db: DatabaseConfig, dest: SnapshotDestination, *, tmp_dir: Path, now: datetime | None = None
) -> SnapshotReport:
    """The snapshot engine's ``take_snapshot``, imported on first use."""
    take: Any = importlib.import_module("khronos.snapshots").take_snapshot
    report: SnapshotReport = take(db, dest, tmp_dir=tmp_dir, now=now)
    return report


def snapshot_pairs(config: KhronosConfig) -> list[tuple[DatabaseConfig, SnapshotDestination]]:
    """Every (database, destination) pair of the configuration, in its order."""
    if config.backup is None:
        return []
    return [(db, dest) for db in config.backup.dbs for dest in db.snapshots]


@dataclass
class _Job:
    db: DatabaseConfig
    dest: SnapshotDestination
    state: DestinationState
    due: float
    """Wall time the next attempt is due."""
    failures_total: int = 0
    """Failed attempts since this process started (``khronos_snapshot_failures_total``)."""

    @property
    def interval(self) -> float:
        return self.dest.interval.total_seconds()


class SnapshotScheduler(Lifecycle):
    """Takes the configured snapshots on schedule (see the module docstring).

    ``take``: the engine (default: :func:`khronos.snapshots.take_snapshot`, imported when first
    used); ``alerts``: the alert engine (or any ``fire``/``resolve`` sink); ``clock``: wall time
    for the schedule and sleeps (tests drive a :class:`~khronos.clock.ManualClock`).
    """

    def __init__(
        self,
        config: KhronosConfig,
        *,
        alerts: AlertSink,
        take: TakeSnapshot | None = None,
        clock: Clock | None = None,
        tmp_dir: Path | None = None,
        stop_timeout: float = 10.0,
        retry_min: float = _RETRY_MIN_S,
        retry_max: float = _RETRY_MAX_S,
        tick: float = _TICK_S,
    ) -> None:
        self.config = config
        self.state_dir = Path(config.state_dir)
        self.take: TakeSnapshot = take or _engine_take
        self.clock = clock or SystemClock()
        self.tmp_dir = tmp_dir or StateDir(self.state_dir).snapshots_tmp
        self.stop_timeout = stop_timeout
        self.retry_min = retry_min
        self.retry_max = retry_max
        self.tick = tick
        self.conditions = SnapshotConditions(alerts)
        self.jobs = [
            _Job(db, dest, DestinationState(db.label, dest.label), 0.0)
            for db, dest in snapshot_pairs(config)
        ]
        self.running: _Job | None = None
        """The pair being snapshotted now."""
        self.attempts = 0
        self._started_at = 0.0
        self._task: asyncio.Task[None] | None = None
        self._current: asyncio.Future[SnapshotReport] | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._seen: tuple[int, int, int] | None = None
        """The identity of ``snapshots.json`` when last read (see :meth:`refresh`)."""

    def __repr__(self) -> str:
        return f"SnapshotScheduler(pairs={len(self.jobs)})"

    @property
    def task(self) -> asyncio.Task[None] | None:
        """The schedule's task while started (the part ``snapshots``), for an owner to watch."""
        return self._task

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Remove a previous run's temp folders, resume from ``snapshots.json``, recall its
        open conditions, and start the queue."""
        if self._task is not None and not self._task.done():
            return
        self._stopping = False
        self._wake = asyncio.Event()
        self._clean_tmp()
        self._started_at = self.clock.wall()
        self._seen = self._identity()
        known = read_snapshot_state(self.state_dir)
        for job in self.jobs:
            job.state = known.get((job.db.label, job.dest.label), job.state)
            job.due = self._first_due(job)
            self.conditions.recall(job.state, job.dest)
            self.conditions.assume_stale_open(job.db.label, job.dest.label)
        if not self.jobs:
            return
        self._task = asyncio.create_task(
            keep_running(SNAPSHOTS_PART, self._loop), name="khronos-snapshots"
        )

    async def stop(self) -> None:
        """Stop the queue: a snapshot that is running gets ``stop_timeout`` seconds to finish
        (and is recorded); after that it is abandoned (no partial object is left: the engine
        uploads to a temporary key)."""
        get_health().unwatch(SNAPSHOTS_PART)
        self._stopping = True
        self._wake.set()
        task, self._task = self._task, None
        if task is None:
            return
        if self._current is not None:
            await asyncio.wait({task}, timeout=self.stop_timeout)
        if not task.done():
            if self.running is not None:
                _log.warning(
                    "stopping while a snapshot runs: it is abandoned (nothing partial is left "
                    "at the destination; its temp folder is removed at the next start)",
                    db=self.running.db.label,
                    dest=self.running.dest.label,
                    waited_seconds=self.stop_timeout,
                )
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    # ------------------------------------------------------------------ what others ask

    def request(self, db: str | None = None, dest: str | None = None) -> list[tuple[str, str]]:
        """Take the matching pairs' snapshots now (queued, one at a time); the pairs queued."""
        queued = []
        now = self.clock.wall()
        for job in self.jobs:
            if db not in (None, job.db.label) or dest not in (None, job.dest.label):
                continue
            job.due = min(job.due, now)
            queued.append((job.db.label, job.dest.label))
        self._wake.set()
        return queued

    def drilled(self, db: str, dest: str, result: DrillResult) -> None:
        """A drill of ``db``'s newest snapshot at ``dest`` ended (recorded in snapshots.json by
        whoever ran it): kept for status and metrics, and its condition fired or resolved."""
        for job in self.jobs:
            if (job.db.label, job.dest.label) == (db, dest):
                job.state = replace(job.state, last_drill=result)
                self.conditions.drill(db, job.dest, result)

    def states(self) -> list[DestinationState]:
        """The current state of every pair (as recorded, with this run's next due time)."""
        self.refresh()
        return [self._with_due(job) for job in self.jobs]

    def refresh(self) -> None:
        """Take in what another process recorded in ``snapshots.json`` since it was last read
        (``khronos verify``'s drills, a snapshot taken by hand): a newer drill is kept (and its
        condition follows it), a newer success ends the failure streak and moves the next
        snapshot to an interval after it.  A stat when nothing changed."""
        identity = self._identity()
        if identity is None or identity == self._seen:
            return
        self._seen = identity
        known = read_snapshot_state(self.state_dir)
        for job in self.jobs:
            found = known.get((job.db.label, job.dest.label))
            if found is not None:
                self._adopt(job, found)

    def _adopt(self, job: _Job, found: DestinationState) -> None:
        drill, ours = found.last_drill, job.state.last_drill
        if drill is not None and (ours is None or drill.at > ours.at):
            job.state = replace(job.state, last_drill=drill)
            self.conditions.drill(job.db.label, job.dest, drill)
        success, mine = found.last_success, job.state.last_success
        if success is None or (mine is not None and success.at <= mine.at) or job is self.running:
            return
        if job.state.last_failure is not None and job.state.last_failure.at > success.at:
            return  # an attempt here failed after it
        job.state = job.state.succeeded(success, job.state.next_due)
        job.due = success.at.timestamp() + job.interval
        self.conditions.succeeded(job.state)

    def _identity(self) -> tuple[int, int, int] | None:
        try:
            st = StateDir(self.state_dir).snapshots_file.stat()
        except OSError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def failures_total(self) -> dict[tuple[str, str], int]:
        """Failed attempts per pair since this process started."""
        return {(job.db.label, job.dest.label): job.failures_total for job in self.jobs}

    def intervals(self) -> dict[tuple[str, str], float]:
        """Each pair's ``interval`` in seconds."""
        return {(job.db.label, job.dest.label): job.interval for job in self.jobs}

    def is_running(self, db: str, dest: str) -> bool:
        """Whether the snapshot of ``db`` to ``dest`` is being taken now."""
        job = self.running
        return job is not None and (job.db.label, job.dest.label) == (db, dest)

    def _with_due(self, job: _Job) -> DestinationState:
        return replace(job.state, next_due=datetime.fromtimestamp(job.due, UTC))

    # ------------------------------------------------------------------ the schedule

    def _backoff(self, failures: int, interval: float) -> float:
        low = min(self.retry_min, interval)
        high = max(low, min(self.retry_max, interval))
        return float(min(high, low * 2 ** min(max(0, failures - 1), 32)))

    def _first_due(self, job: _Job) -> float:
        """From ``snapshots.json``: a failing pair retries after its backoff, a good one an
        interval after its last success, a new one now (a time in the past: at once)."""
        state = job.state
        if state.failing and state.last_failure is not None:
            backoff = self._backoff(state.consecutive_failures, job.interval)
            return state.last_failure.at.timestamp() + backoff
        if state.last_success is not None:
            return state.last_success.at.timestamp() + job.interval
        return self._started_at

    async def _loop(self) -> None:
        """The queue: the pair due first, when it is due; the staleness between runs."""
        while not self._stopping:
            now = self.clock.wall()
            self.refresh()
            self._evaluate_staleness(now)
            job = min(self.jobs, key=lambda j: j.due)
            if job.due > now:
                await self._wait(min(job.due - now, self.tick))
                continue
            await self._attempt(job)

    async def _wait(self, seconds: float) -> None:
        """Sleep ``seconds`` of the clock's time, or until :meth:`request` or :meth:`stop`."""
        self._wake.clear()
        sleep = asyncio.ensure_future(self.clock.sleep(seconds))
        woken = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleep, woken}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in (sleep, woken):
                waiter.cancel()
            await asyncio.gather(sleep, woken, return_exceptions=True)

    def _evaluate_staleness(self, now: float) -> None:
        for job in self.jobs:
            success = job.state.last_success
            since = success.at.timestamp() if success is not None else self._started_at
            self.conditions.staleness(job.state, job.dest, now, since)

    async def _attempt(self, job: _Job) -> None:
        """Take one snapshot of ``job`` and record what happened (never raises for a failed
        snapshot; the state file failing to be written is the loop's error)."""
        started = self.clock.wall()
        at = datetime.fromtimestamp(started, UTC)
        self.running = job
        self.attempts += 1
        log = _log.bind(db=job.db.label, dest=job.dest.label)
        log.info("taking a snapshot")
        try:
            report = await self._in_thread(job, at)
        except SnapshotError as exc:
            self._failed(job, exc.message, exc.hint)
        except Exception as exc:  # noqa: BLE001 - a bug in the engine is a failed snapshot too
            get_health().record_error(SNAPSHOTS_PART, exc)
            self._failed(job, f"{type(exc).__name__}: {get_redactor().redact(str(exc))}")
        else:
            self._succeeded(job, report, started)
        finally:
            self.running = None

    async def _in_thread(self, job: _Job, at: datetime) -> SnapshotReport:
        """Run the engine in a daemon thread (a stop may abandon it); its temp folder is
        removed by the thread when the engine returns."""
        self.tmp_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        work = Path(
            tempfile.mkdtemp(
                prefix=f"{_TMP_PREFIX}{job.db.label}-{job.dest.label}-", dir=self.tmp_dir
            )
        )
        loop = asyncio.get_running_loop()
        future: asyncio.Future[SnapshotReport] = loop.create_future()
        take = self.take

        def run() -> None:
            report: SnapshotReport | None = None
            error: BaseException | None = None
            try:
                report = take(job.db, job.dest, tmp_dir=work, now=at)
            except BaseException as exc:  # noqa: BLE001 - handed to the loop as it is
                error = exc
            finally:
                shutil.rmtree(work, ignore_errors=True)
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
                loop.call_soon_threadsafe(_settle, future, report, error)

        self._current = future
        try:
            threading.Thread(target=run, name="khronos-snapshot", daemon=True).start()
            while True:
                done, _ = await asyncio.wait({future}, timeout=self.tick)
                if done:
                    return future.result()
                self._evaluate_staleness(self.clock.wall())
        finally:
            self._current = None

    def _succeeded(self, job: _Job, report: SnapshotReport, started: float) -> None:
        info = report.info
        success = SnapshotSuccess.of(report, datetime.fromtimestamp(started, UTC))
        job.due = started + job.interval
        job.state = job.state.succeeded(success, datetime.fromtimestamp(job.due, UTC))
        _log.info(
            "snapshot taken",
            db=job.db.label,
            dest=job.dest.label,
            key=info.key,
            size=info.size,
            seconds=round(report.duration, 3),
            verified=info.verified,
            pruned=len(report.pruned),
        )
        if report.prune_error:
            _log.warning(
                "snapshot taken, but old ones were not pruned: they stay until the next success",
                db=job.db.label,
                dest=job.dest.label,
                error=get_redactor().redact(report.prune_error),
            )
        self.conditions.succeeded(job.state)
        self._record(job, lambda s: s.succeeded(success, job.state.next_due))

    def _failed(self, job: _Job, error: str, hint: str | None = None) -> None:
        redact = get_redactor().redact  # the engine's messages are clean: once more, to be sure
        now = self.clock.wall()
        job.failures_total += 1
        failure = SnapshotFailure(
            at=datetime.fromtimestamp(now, UTC),
            error=redact(error),
            hint=redact(hint) if hint else None,
        )
        streak = job.state.consecutive_failures + 1
        job.due = now + self._backoff(streak, job.interval)
        job.state = job.state.failed(failure, datetime.fromtimestamp(job.due, UTC))
        _log.warning(
            "snapshot failed",
            db=job.db.label,
            dest=job.dest.label,
            error=failure.error,
            consecutive_failures=job.state.consecutive_failures,
            retry_in_seconds=round(job.due - now, 1),
        )
        self.conditions.failed(job.state, job.dest)
        self._record(job, lambda s: s.failed(failure, job.state.next_due))

    def _record(self, job: _Job, change: Callable[[DestinationState], DestinationState]) -> None:
        """Write the outcome to ``snapshots.json``: a write that fails (a full disk) is an
        internal error, logged and counted; the schedule itself goes on from memory."""
        try:
            update_snapshot_state(self.state_dir, job.db.label, job.dest.label, change)
        except Exception as exc:  # noqa: BLE001 - the schedule must outlive its state file
            get_health().record_error(SNAPSHOTS_PART, exc)

    def _clean_tmp(self) -> None:
        """Remove what a previous daemon left in the temp folder (a kill -9 mid-snapshot)."""
        for leftover in _entries(self.tmp_dir):
            if leftover.name.startswith(_TMP_PREFIX):
                shutil.rmtree(leftover, ignore_errors=True)
                _log.info("removed a snapshot's leftover temp folder", path=str(leftover))


def _settle(
    future: asyncio.Future[SnapshotReport],
    report: SnapshotReport | None,
    error: BaseException | None,
) -> None:
    """Hand the engine's outcome to the waiting loop (unless it stopped waiting)."""
    if future.done():
        return
    if error is not None:
        if not isinstance(error, Exception):  # SystemExit in the thread: still a failure here
            error = RuntimeError(f"the snapshot thread ended: {error!r}")
        future.set_exception(error)
    elif report is not None:
        future.set_result(report)


def _entries(folder: Path) -> Iterable[Path]:
    try:
        return list(folder.iterdir())
    except OSError:
        return []
