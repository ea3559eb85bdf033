"""The restore drill: restore each database's latest backup into a temp folder and check it.

A drill passes when the replica has a backup, it restores, the restored copy passes the
integrity check of ``backup.verify.integrity``, and — when a Khronos daemon's Litestream
answers on the control socket — the restored copy holds exactly the rows the live database held
at the same txid (:mod:`khronos.backup._digest`): a replica that silently misses committed rows
fails the drill.  It also reports the newest txid in the replica and its time, the backup's
age, and whether the replica is behind the local database (by how many transactions, and how
old the oldest of them is).

**Behind** compares the replica's newest txid with the local txid that ``litestream status``
reads from Litestream's own bookkeeping next to the database (``.<db>-litestream/ltx/0``, the
highest transaction Litestream has taken from the WAL).  It needs no connection to the
database, so it is exact for everything Litestream has seen; writes made while no Litestream
runs are not counted until one does.

Each drill's outcome is written to ``state_dir/verify.json`` keyed by the database label (see
:func:`record_results`), which ``khronos status`` and the daemon's metrics read.

A database with ``snapshots:`` destinations also has the newest snapshot of each drilled
(:func:`khronos.snapshots.drill_snapshots`: fetched and checked with an ``identity_file``, its
listing checked without one); those results ride in :attr:`VerifyReport.snapshots` and are
recorded in ``state_dir/snapshots.json``.  They do not change :attr:`VerifyReport.ok`, which is
the Litestream drill's (each has its own alert).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import json
import shutil
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from khronos.backup._control import ControlClient, ControlError, control_socket_path, parse_time
from khronos.backup._digest import Reference, differences, file_digest, take_reference
from khronos.backup._download import download, no_progress
from khronos.backup._invocation import CONFIG_NAME, Invocation, blocking
from khronos.backup._sqlite import IntegrityMode, integrity_problems
from khronos.backup._status import VerifyResult, local_position
from khronos.config import DatabaseConfig, KhronosConfig
from khronos.errors import KhronosError, RestoreError
from khronos.health import get_health, keep_running
from khronos.lifecycle import Lifecycle
from khronos.state import StateDir, write_json_atomic

if TYPE_CHECKING:
    from khronos.snapshots import SnapshotDrill

__all__ = [
    "VerifyReport",
    "VerifyScheduler",
    "record_results",
    "take_references",
    "verify_all",
    "verify_database",
]

_log = structlog.get_logger("khronos.backup.verify")

VERIFY_PART = "backup.verify"
"""The restore-drill schedule's part name in :class:`~khronos.health.Health`."""


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The outcome of one restore drill."""

    db: str
    path: Path
    replica: str
    ok: bool
    at: datetime
    txid: str | None = None
    backup_time: datetime | None = None
    backup_age_seconds: float | None = None
    local_txid: str | None = None
    replica_behind: bool | None = None
    behind_txids: int | None = None
    """How many transactions the replica lacks (0 when not behind)."""
    behind_seconds: float | None = None
    """Age of the oldest local change the replica lacks (0 when not behind; None: unknown)."""
    integrity: IntegrityMode = "quick"
    size_bytes: int | None = None
    duration_seconds: float = 0.0
    error: str | None = None
    hint: str | None = None
    continuity: str | None = None
    """``ok at txid X`` when the copy was compared with the live database, else why not."""
    gap: bool = False
    """The comparison found committed data missing from the backup."""
    snapshots: tuple[SnapshotDrill, ...] = ()
    """The drill of the newest snapshot at each of the database's snapshot destinations."""

    @property
    def snapshots_ok(self) -> bool:
        """Whether no snapshot drill failed (nothing to check yet is no failure)."""
        return not any(drill.failed for drill in self.snapshots)

    def entry(self) -> dict[str, Any]:
        """The ``verify.json`` entry for this database."""
        return {
            "ok": self.ok,
            "at": self.at.isoformat(),
            "txid": self.txid,
            "backup_age_seconds": _round(self.backup_age_seconds),
            "replica_behind": self.replica_behind,
            "behind_txids": self.behind_txids,
            "behind_seconds": _round(self.behind_seconds),
            "error": self.error,
            "duration_seconds": _round(self.duration_seconds),
        }

    def to_json(self) -> dict[str, Any]:
        """The ``khronos verify --json`` form."""
        return {
            "db": self.db,
            "path": str(self.path),
            "replica": self.replica,
            **self.entry(),
            "backup_time": self.backup_time.isoformat() if self.backup_time else None,
            "local_txid": self.local_txid,
            "integrity": self.integrity,
            "size_bytes": self.size_bytes,
            "duration_seconds": _round(self.duration_seconds),
            "hint": self.hint,
            "continuity": self.continuity,
            "snapshots": [drill.to_json() for drill in self.snapshots],
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _quick(ls: Invocation, db: DatabaseConfig, timeout: float, *args: str) -> Any:
    """A quick Litestream command's JSON output (bounded by ``timeout``)."""
    run = ls.run_json(*args, db=db, timeout=timeout, op="verify", error=RestoreError)
    return blocking(run)


def _local_txid(ls: Invocation, db: DatabaseConfig, timeout: float) -> str | None:
    with contextlib.suppress(KhronosError, ValueError, TypeError, AttributeError):
        for entry in _quick(ls, db, timeout, "status", "-json") or []:
            if entry.get("database") == str(db.path) and entry.get("status") == "ok":
                return str(entry["local_txid"])
    return None


def verify_database(
    config: KhronosConfig,
    db: DatabaseConfig,
    *,
    integrity: IntegrityMode | None = None,
    probe_timeout: float = 30.0,
    stall_timeout: float = 60.0,
    cancel: threading.Event | None = None,
    reference: Reference | str | None = None,
    snapshots: bool = True,
) -> VerifyReport:
    """Run the restore drill for one database; never raises for a failed drill.

    With a :class:`Reference` (see :func:`take_references`) the drill restores that txid and
    compares the copy with it; a string says why there is none (shown as the continuity).
    ``snapshots``: also drill the newest snapshot at each of its snapshot destinations.
    """
    report = _verify_replica(
        config,
        db,
        integrity=integrity,
        probe_timeout=probe_timeout,
        stall_timeout=stall_timeout,
        cancel=cancel,
        reference=reference,
    )
    if not snapshots or not db.snapshots or (cancel is not None and cancel.is_set()):
        return report
    from khronos.snapshots import drill_snapshots  # noqa: PLC0415 - only with snapshots

    drills = drill_snapshots(db, config.state_dir, integrity=report.integrity)
    return replace(report, snapshots=tuple(drills))


def _verify_replica(
    config: KhronosConfig,
    db: DatabaseConfig,
    *,
    integrity: IntegrityMode | None,
    probe_timeout: float,
    stall_timeout: float,
    cancel: threading.Event | None,
    reference: Reference | str | None,
) -> VerifyReport:
    """The Litestream drill of :func:`verify_database`."""
    backup = config.require_backup()
    mode: IntegrityMode = integrity or backup.verify.integrity
    started = time.monotonic()
    base = VerifyReport(
        db=db.label,
        path=Path(db.path),
        replica=db.replica.display,
        ok=False,
        at=datetime.now(UTC),
        integrity=mode,
        continuity=reference if isinstance(reference, str) else None,
    )
    point = [] if not isinstance(reference, Reference) else ["-txid", f"{reference.txid:016x}"]
    work = Path(tempfile.mkdtemp(prefix=f"khronos-verify-{db.label}-"))
    try:
        ls = Invocation.prepare(backup, work / CONFIG_NAME, dbs=[db])
        out = work / "restored.db"
        try:
            dry_run = ("-dry-run", "-o", str(out), *point, "-json")
            plan = _quick(ls, db, probe_timeout, "restore", *dry_run) or {}
            download(
                ls,
                db,
                out,
                point=point,
                progress=no_progress,
                stall_timeout=stall_timeout,
                cancel=cancel,
            )
        except KhronosError as exc:
            elapsed = time.monotonic() - started
            return replace(base, error=exc.message, hint=exc.hint, duration_seconds=elapsed)
        local = _local_txid(ls, db, probe_timeout) if base.path.exists() else None
        report = _checked(base, plan, out, local, started)
        if isinstance(reference, Reference) and report.ok:
            report = _compared(report, reference, out)
        return report
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _compared(report: VerifyReport, reference: Reference, out: Path) -> VerifyReport:
    """The report after comparing the restored copy with the live database at its txid."""
    txid = f"{reference.txid:016x}"
    found = differences(reference.digest, file_digest(out))
    if not found:
        return replace(report, continuity=f"ok at txid {txid}")
    return replace(
        report,
        ok=False,
        gap=True,
        continuity=f"committed data missing at txid {txid}",
        error=f"the backup is missing committed data at txid {txid}: {'; '.join(found[:3])}",
        hint="the WAL was reset under Litestream; khronos run repairs it with a full snapshot "
        "(see docs/backup.md, the crash window)",
    )


async def take_references(
    config: KhronosConfig, dbs: Iterable[DatabaseConfig], *, timeout: float = 60.0
) -> dict[str, Reference | str]:
    """Per database, the live digest at a txid the replica has (through the running daemon's
    control socket), or why there is none."""
    socket = control_socket_path(Path(config.state_dir))
    out: dict[str, Reference | str] = {}
    if not socket.exists():
        return dict.fromkeys((db.label for db in dbs), "not compared: no khronos run is running")
    async with ControlClient(socket, timeout=5.0) as client:
        for db in dbs:
            out[db.label] = await _reference(client, db, timeout)
    return out


async def _reference(client: ControlClient, db: DatabaseConfig, timeout: float) -> Reference | str:
    async def txid() -> int:
        return (await client.sync(db.path)).txid

    try:
        reference = await take_reference(db.path, txid)
        if reference is None:
            return "not compared: the database never stood still long enough"
        result = await client.sync(db.path, wait=True, timeout=timeout)
    except ControlError as exc:
        return f"not compared: {exc.message}"
    if result.replicated_txid < reference.txid:
        return f"not compared: the replica did not reach txid {reference.txid:016x} in time"
    return reference


def _checked(
    base: VerifyReport, plan: dict[str, Any], out: Path, local: str | None, started: float
) -> VerifyReport:
    """The report for a drill whose restore worked: integrity, txid, age, behind."""
    problems = integrity_problems(out, base.integrity)
    txid = str(plan.get("max_txid") or "") or None
    times = [parse_time(f.get("timestamp")) for f in plan.get("files") or []]
    newest = max((t for t in times if t is not None), default=None)
    behind = txids = seconds = None
    if local is not None and txid is not None:
        txids = max(0, int(local, 16) - int(txid, 16))
        behind = txids > 0
        seconds = _pending_age(base.path, int(txid, 16)) if behind else 0.0
    return replace(
        base,
        ok=not problems,
        txid=txid,
        backup_time=newest,
        backup_age_seconds=(base.at - newest).total_seconds() if newest else None,
        local_txid=local,
        replica_behind=behind,
        behind_txids=txids,
        behind_seconds=seconds,
        size_bytes=out.stat().st_size,
        duration_seconds=time.monotonic() - started,
        error=f"integrity check failed: {'; '.join(problems[:3])}" if problems else None,
        hint="the replica may be damaged: restore from an earlier point" if problems else None,
    )


def _pending_age(db: Path, replica_txid: int) -> float | None:
    """Seconds since the oldest local LTX file the replica lacks was written (None: none left)."""
    pending = [mtime for low, mtime in local_position(db).files if low > replica_txid]
    return max(0.0, time.time() - min(pending)) if pending else None


def record_results(state_dir: Path, reports: Iterable[VerifyReport]) -> Path:
    """Merge ``reports`` into ``state_dir/verify.json`` (other databases' entries are kept).

    Each entry also keeps ``last_success_at``, the time of the last drill that passed, so a
    failed drill does not erase it (the metric ``..._verify_last_success_timestamp_seconds``).
    The reports' snapshot drills go to ``snapshots.json``.
    """
    reports = list(reports)
    drills = [drill for report in reports for drill in report.snapshots]
    if drills:
        from khronos.snapshots import record_drills  # noqa: PLC0415 - only with snapshots

        record_drills(state_dir, drills)
    path = StateDir(state_dir).verify_file
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    if not isinstance(data, dict):
        data = {}
    for report in reports:
        previous = data.get(report.db)
        earlier = VerifyResult.from_json(previous) if isinstance(previous, dict) else None
        entry = report.entry()
        last = report.at if report.ok else (earlier.last_success_at if earlier else None)
        entry["last_success_at"] = last.isoformat() if last else None
        data[report.db] = entry
    write_json_atomic(path, data)
    return path


def verify_all(
    config: KhronosConfig,
    names: Iterable[str] | None = None,
    *,
    record: bool = True,
    cancel: threading.Event | None = None,
) -> list[VerifyReport]:
    """The drill for every configured database (or those named), recorded in verify.json."""
    backup = config.require_backup()
    dbs = [backup.select(name) for name in names] if names else list(backup.dbs)
    refs = asyncio.run(take_references(config, dbs))
    reports = [
        verify_database(config, db, cancel=cancel, reference=refs.get(db.label)) for db in dbs
    ]
    if record:
        record_results(Path(config.state_dir), reports)
    return reports


OnResult = Callable[[VerifyReport], Awaitable[None] | None]


class VerifyScheduler(Lifecycle):
    """Runs the drill every ``backup.verify.interval`` inside ``khronos run``.

    ``on_result`` is called with each database's report (sync or async); the daemon turns a
    failed one into a CRITICAL "restore drill failed" alert.  The first drill runs
    ``initial_delay`` seconds after :meth:`start`, or later when verify.json shows a drill that
    is younger than the interval.  :meth:`stop` stops a running drill's Litestream too.
    """

    def __init__(
        self,
        config: KhronosConfig,
        *,
        on_result: OnResult,
        interval: float | None = None,
        initial_delay: float = 60.0,
    ) -> None:
        backup = config.require_backup()
        setting = backup.verify.interval
        self.config = config
        self.dbs = list(backup.dbs)
        self.interval = interval
        if interval is None and setting is not None:
            self.interval = setting.total_seconds()
        self.initial_delay = initial_delay
        self._on_result = on_result
        self._task: asyncio.Task[None] | None = None
        self._cancel = threading.Event()
        self.runs = 0

    @property
    def running(self) -> bool:
        """Whether the schedule is active."""
        return self._task is not None and not self._task.done()

    @property
    def task(self) -> asyncio.Task[None] | None:
        """The schedule's task while started (the part ``backup.verify``), for an owner to
        watch with :meth:`~khronos.health.Health.watch`."""
        return self._task

    async def start(self) -> None:
        """Start the schedule (a no-op when ``verify.interval`` is null)."""
        if self.interval is None or self.running:
            return
        self._cancel.clear()
        body = functools.partial(self._loop, self.interval)
        self._task = asyncio.create_task(keep_running(VERIFY_PART, body), name="khronos-verify")

    async def stop(self) -> None:
        """Stop the schedule, and a drill in progress."""
        self._cancel.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run_once(self) -> list[VerifyReport]:
        """One drill of every database now; each report goes to ``on_result``."""
        reports = []
        refs = await take_references(self.config, self.dbs)
        for db in self.dbs:
            report = await asyncio.to_thread(
                verify_database,
                self.config,
                db,
                cancel=self._cancel,
                reference=refs.get(db.label),
            )
            if self._cancel.is_set():
                break
            await asyncio.to_thread(record_results, Path(self.config.state_dir), [report])
            reports.append(report)
            _log.info(
                "restore drill",
                db=report.db,
                ok=report.ok,
                error=report.error,
                continuity=report.continuity,
                snapshots_ok=report.snapshots_ok if report.snapshots else None,
            )
            outcome = self._on_result(report)
            if inspect.isawaitable(outcome):
                await outcome
        self.runs += 1
        return reports

    def _first_delay(self, interval: float) -> float:
        path = StateDir(self.config.state_dir).verify_file
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            stamps = [t for e in data.values() if (t := parse_time(e["at"])) is not None]
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return self.initial_delay
        if not stamps or len(stamps) < len(self.dbs):
            return self.initial_delay
        age = (datetime.now(UTC) - min(stamps)).total_seconds()
        return max(self.initial_delay, interval - age)

    async def _loop(self, interval: float) -> None:
        """The schedule, kept running as the part ``backup.verify``: a drill that crashes is
        counted and logged (once per streak) and the next one runs at the next interval."""
        delay = self._first_delay(interval)
        while True:
            await asyncio.sleep(delay)
            delay = interval
            try:
                await self.run_once()
            except Exception as exc:  # noqa: BLE001 - the schedule must survive one bad drill
                get_health().record_error(VERIFY_PART, exc)
