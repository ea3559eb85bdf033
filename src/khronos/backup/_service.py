"""``BackupService``: what ``khronos run`` starts when khronos.yml has a ``backup:`` section.

It prepares Litestream like every other run (:class:`~._invocation.Invocation`: its config in
``state_dir``, mode 0600, secrets travelling as environment variables), with its metrics
listener on a free loopback port and its control socket in ``state_dir``; supervises
``litestream replicate`` (:class:`Supervisor`), polls the control socket to track each database
(:class:`DbTracker`), raises alerts, exports metrics (:class:`BackupCollector`) and keeps
``state_dir/status.json`` fresh for ``khronos status``.

Safety around Litestream (see :mod:`khronos.backup._continuity`): while Litestream does not
replicate a database, Khronos holds its WAL; before each start of Litestream it checks that the
WAL is the one Litestream last copied, and takes a fresh snapshot when it is not.  It refuses to
replicate a database (or to a replica) that another Khronos or Litestream on this machine
already replicates, naming its pid.

Alerts (keys for the :class:`AlertSink`; nothing the sink raises reaches backup):

- ``backup.replication``: ERROR when Litestream exits, or when it runs but its control socket
  does not answer (a hung process) or a database is not ``replicating`` for ``stall_after``
  seconds (10 s); CRITICAL when the restart policy gives up.
- ``backup.lag.<db>``, ``backup.replica.<db>``, ``backup.db_down.<db>``: see
  :mod:`khronos.backup._conditions`.
- ``backup.continuity.<db>``: ERROR when a fresh snapshot is owed and failed.

Each is resolved when its condition clears.  While a condition holds it is fired again on
every poll: the alert engine dedupes, and repeats it after its ``repeat_interval`` only if it
keeps being told the condition still holds.

Polling is adaptive, so an idle daemon stays quiet.  While anything is going on - data waits
for the replica, a fault or an alert is open, Litestream is not running, did not answer or
logged about a database, a WAL is held - it polls every ``poll_interval`` (0.5 s) as it always
did: the control socket, the alerts, ``status.json``.  When all is quiet it sleeps until a
database or its WAL changes (:class:`~khronos.backup._watch.FileWatch`, inotify: a commit wakes
it at once) and otherwise polls once per ``idle_poll_interval`` (5 s), a heartbeat that notices
a hung Litestream and keeps ``status.json`` fresh (:meth:`BackupService._poll_due`).  Without
inotify it looks at the files' ``stat`` every ``poll_interval`` instead.  So a commit starts its
lag no later than with a poll every 0.5 s, every time-based alert is evaluated every 0.5 s while
its condition can hold, and only a Litestream that hangs while nothing is written is noticed up
to ``idle_poll_interval`` later.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from dataclasses import replace
from pathlib import Path
from typing import Any

import structlog
from prometheus_client import CollectorRegistry

from khronos.backup._alerts import AlertSink, NullAlertSink, SafeAlertSink
from khronos.backup._claims import ReplicationClaims
from khronos.backup._conditions import BackupConditions
from khronos.backup._continuity import ContinuityKeeper
from khronos.backup._control import ControlClient, ControlError, SyncResult, control_socket_path
from khronos.backup._invocation import Invocation, describe_replica_error
from khronos.backup._metrics import BackupCollector, BackupSample
from khronos.backup._status import (
    DbStatus,
    read_verify_file,
    status_document,
)
from khronos.backup._supervisor import ProcessRunner, Supervisor
from khronos.backup._sync import force_snapshot, sync_and_wait
from khronos.backup._tracker import DbTracker, FileSignature, change_time, file_signature
from khronos.backup._watch import FileWatch
from khronos.catalog import Text
from khronos.clock import Clock, SystemClock
from khronos.config import BackupConfig, DatabaseConfig, KhronosConfig
from khronos.errors import BackupError, SyncError
from khronos.health import get_health, spawn
from khronos.lifecycle import Lifecycle
from khronos.state import StateDir, write_json_atomic

__all__ = ["BackupService", "free_loopback_port"]


def free_loopback_port() -> int:
    """A free TCP port on 127.0.0.1 (Litestream cannot report a port-0 bind, so pick one)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class BackupService(Lifecycle):
    """Continuous replication of every database in ``config.backup``."""

    def __init__(
        self,
        config: KhronosConfig,
        *,
        registry: CollectorRegistry | None = None,
        alerts: AlertSink | None = None,
        poll_interval: float = 0.5,
        idle_poll_interval: float = 5.0,
        runner: ProcessRunner | None = None,
        clock: Clock | None = None,
        environ: dict[str, str] | None = None,
        stall_after: float = 10.0,
        control_timeout: float = 5.0,
    ) -> None:
        self.config = config
        self.backup: BackupConfig = config.require_backup()
        self.state_dir = Path(config.state_dir)
        self.alerts: AlertSink = SafeAlertSink(alerts or NullAlertSink())
        self.poll_interval = poll_interval
        """Seconds between two looks at the files (and full polls while anything is going on)."""
        self.idle_poll_interval = idle_poll_interval
        """Seconds between two full polls while nothing is going on (keep it well under the 15 s
        after which ``khronos status`` stops trusting ``status.json``)."""
        self.stall_after = stall_after
        """Seconds Litestream may run without answering (or replicating) before it is "down"."""
        self.control_timeout = control_timeout
        self.clock: Clock = clock or SystemClock()
        self.socket_path = control_socket_path(self.state_dir)
        self.config_path = StateDir(self.state_dir).litestream_config
        self.metrics_addr: str | None = None
        self.trackers = {db.label: DbTracker(db) for db in self.backup.dbs}
        self._runner = runner
        self._environ = environ
        self._supervisor: Supervisor | None = None
        self._client: ControlClient | None = None
        self._poller: asyncio.Task[None] | None = None
        self.conditions = BackupConditions(self.backup, self.alerts)
        self.keeper = ContinuityKeeper(
            list(self.backup.dbs),
            alerts=self.alerts,
            take_snapshot=self._force_snapshot,
            request_restart=self._restart_for_repair,
        )
        self._claims = ReplicationClaims()
        self._stalled_since: float | None = None
        # what the last full poll saw, for _poll_due
        self._polled_files: dict[str, tuple[FileSignature, FileSignature]] = {}
        self._polled_restarts = -1
        self._answered = False
        self._next_full = 0.0
        self._logged_since_poll = False
        self._watch = FileWatch([db.path for db in self.backup.dbs])
        self._log = structlog.get_logger("khronos.backup")
        if registry is not None:
            registry.register(BackupCollector(self._sample, namespace=config.metrics.namespace))

    @property
    def supervisor(self) -> Supervisor | None:
        """The Litestream supervisor (after :meth:`start`)."""
        return self._supervisor

    async def start(self) -> None:
        """Claim the databases, render the config, start Litestream under supervision (holding
        the WALs, and snapshotting first where continuity was lost), start polling.

        Raises :class:`BackupError` when another Khronos or Litestream replicates one of the
        databases or replicas.
        """
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._claims.take(self.backup, self.state_dir)
        try:
            await self._start()
        except BaseException:
            self._claims.release()
            raise

    async def _start(self) -> None:
        await self._claim_socket()
        self.metrics_addr = f"127.0.0.1:{free_loopback_port()}"
        litestream = Invocation.prepare(
            self.backup,
            self.config_path,
            addr=self.metrics_addr,
            socket_path=self.socket_path,
            environ=self._environ,
            note_level="info",
        )
        self._supervisor = Supervisor(
            litestream.argv("replicate"),
            litestream.env,
            policy=self.backup.restart,
            alerts=self.alerts,
            shutdown_timeout=self.config.service.shutdown_timeout.total_seconds(),
            runner=self._runner,
            clock=self.clock,
            on_record=self._on_record,
            on_exit=lambda _rc: self.keeper.hold_all(),
            before_start=self.keeper.before_start,
        )
        self._client = ControlClient(self.socket_path, timeout=self.control_timeout)
        await self._supervisor.start()
        await self._wait_ready(timeout=15.0)
        self._poller = spawn("backup.status", self._poll_loop)
        self._log.info(
            "backup started",
            dbs=[db.label for db in self.backup.dbs],
            config=str(self.config_path),
            metrics_addr=self.metrics_addr,
        )

    async def stop(self) -> None:
        """Stop polling, stop Litestream (its final sync included), write a last snapshot."""
        get_health().unwatch("backup.status")
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None
        self._watch.close()
        await self._finish_repairs()
        if self._supervisor is not None:
            await self._supervisor.stop()
        self.keeper.release_all()
        for tracker in self.trackers.values():
            tracker.replicating = False
        self._write_snapshot(running=False)
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        self._claims.release()
        self._log.info("backup stopped")

    def status(self) -> list[DbStatus]:
        """The current status of every database (Litestream's errors translated, masked)."""
        now = self.clock.wall()
        verify = read_verify_file(self.state_dir)
        out = []
        for label, tracker in self.trackers.items():
            status = tracker.snapshot(now).with_verify(verify.get(label))
            error = (
                describe_replica_error(status.last_error, tracker.db) if status.last_error else None
            )
            status = replace(status, last_error=error)
            out.append(replace(status, replica_down=self.conditions.replica_down(status, now)))
        return out

    async def sync_now(self, db: str | None = None, *, timeout: float = 60.0) -> list[SyncResult]:
        """Force a sync of ``db`` (default: all) and wait until the replica has the local txid."""
        if self._client is None:
            raise SyncError("backup is not running", op="backup now", hint="call start() first")
        dbs = [self.backup.select(db)] if db is not None else list(self.backup.dbs)
        results = await sync_and_wait(self._client, dbs, timeout=timeout, clock=self.clock)
        now = self.clock.wall()
        for selected, result in zip(dbs, results, strict=False):
            self.trackers[selected.label].observe(result.txid, result.replicated_txid, now)
            self.keeper.observed(selected.label, result.txid)
        return results

    def label_for(self, record: dict[str, Any]) -> str | None:
        """The database a Litestream log record is about: by full path, else by file name.

        Litestream names the database by its base name (``db``) and, in some records, gives a
        ``path``: the database itself or a file in its ``.<name>-litestream`` folder.  A base
        name shared by two configured databases is ambiguous and gives None.
        """
        path = str(record.get("path") or "")
        if path:
            for tracker in self.trackers.values():
                db = tracker.db.path
                meta = f"{db.parent / f'.{db.name}-litestream'}{os.sep}"
                if path == str(db) or path.startswith(meta):
                    return tracker.db.label
        name = str(record.get("db") or "")
        matches = [t.db.label for t in self.trackers.values() if t.db.path.name == name]
        return matches[0] if len(matches) == 1 else None

    # ------------------------------------------------------------------------ internals

    async def _force_snapshot(self, dbs: list[DatabaseConfig]) -> None:
        await force_snapshot(self.backup, dbs)

    async def _finish_repairs(self) -> None:
        """Before stopping: have Litestream sync a database whose repair waits for its full
        snapshot (a Litestream stopped before its first sync would not write it)."""
        if self._client is None or self._supervisor is None or not self._supervisor.running:
            return
        for label in list(self.keeper.pending):
            db = self.trackers[label].db
            try:
                result = await self._client.sync(db.path, wait=True, timeout=30.0)
            except ControlError as exc:
                self._log.warning("the repair's snapshot did not finish", db=label, error=str(exc))
                continue
            self.keeper.observed(label, result.txid)

    def _restart_for_repair(self) -> None:
        if self._supervisor is not None:
            self._supervisor.restart("repair the backup's continuity")

    async def _claim_socket(self) -> None:
        if not self.socket_path.exists():
            return
        async with ControlClient(self.socket_path, timeout=1.0) as probe:
            try:
                await probe.info()
            except ControlError:
                self.socket_path.unlink(missing_ok=True)  # stale, from a crashed run
                return
        raise BackupError(
            f"another Litestream already answers on {self.socket_path}",
            op="backup start",
            hint="is another khronos run using the same state_dir? stop it first",
        )

    async def _wait_ready(self, timeout: float) -> None:
        """Wait until the control socket answers (or the child exits, or ``timeout``)."""
        assert self._client is not None  # noqa: S101 - set in start()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline and self._supervisor and self._supervisor.running:
            if await self._poll_socket(self._client):
                self._supervisor.mark_healthy()
                return
            await asyncio.sleep(0.05)
        self._log.warning(
            "litestream's control socket does not answer yet", socket=str(self.socket_path)
        )

    def _on_record(self, record: dict[str, Any]) -> None:
        """Count sync errors from Litestream's log records (see DbTracker.record_log)."""
        label = self.label_for(record)
        if label is not None:
            self.trackers[label].record_log(record)
            self._logged_since_poll = True  # whatever it says, the next tick polls

    async def _poll_loop(self) -> None:
        """A full poll whenever :meth:`_poll_due`, between them :meth:`_next_tick`; a failed
        poll is counted (part ``backup.status``)."""
        self._watch.start()
        while True:
            try:
                if self._poll_due():
                    await self._poll()
            except Exception as exc:  # noqa: BLE001 - the poller must outlive any one failure
                get_health().record_error("backup.status", exc)
            await self._next_tick()

    async def _next_tick(self) -> None:
        """Sleep ``poll_interval``; while all is quiet and the files are watched, until a file
        changes or the heartbeat is due."""
        watch = self._watch
        if not watch.active or not self._quiet():
            watch.pause()
            await asyncio.sleep(self.poll_interval)
            return
        watch.resume()
        if self._files() != self._polled_files:
            return  # written during the last poll (before the watch was reading again)
        delay = self._next_full - self.clock.monotonic()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await watch.changed.wait()
        watch.changed.clear()

    def _files(self) -> dict[str, tuple[FileSignature, FileSignature]]:
        """Each database's and WAL's (inode, size, mtime): any commit or checkpoint changes it."""
        return {
            label: (file_signature(t.db.path), file_signature(Path(f"{t.db.path}-wal")))
            for label, t in self.trackers.items()
        }

    def _poll_due(self) -> bool:
        """Whether to poll now: when not :meth:`_quiet`, when the heartbeat is due, or when the
        files are not as the last poll found them."""
        if not self._quiet() or self.clock.monotonic() >= self._next_full:
            return True
        return self._files() != self._polled_files

    def _quiet(self) -> bool:
        """Nothing going on: Litestream runs, answered the last poll and has not restarted
        since, every database is replicating with nothing waiting for the replica, no sync
        error, stall, alert, held WAL or owed repair, and nothing logged about a database."""
        supervisor = self._supervisor
        if supervisor is None or not supervisor.running or not self._answered:
            return False
        if supervisor.restarts != self._polled_restarts or self._logged_since_poll:
            return False
        if self._stalled_since is not None or self.conditions.firing or self.keeper.owed:
            return False
        if any(guard.held for guard in self.keeper.guards.values()):
            return False
        return not any(
            not t.replicating
            or t.pending
            or t.unseen_since is not None
            or t.streaks
            or t.last_error is not None
            for t in self.trackers.values()
        )

    async def _poll(self) -> None:
        assert self._client is not None  # noqa: S101 - set in start()
        began = self.clock.monotonic()
        supervisor = self._supervisor
        running = supervisor is not None and supervisor.running
        # taken before asking Litestream: a commit made during the poll is seen by the next tick
        self._polled_files = self._files()
        self._polled_restarts = supervisor.restarts if supervisor is not None else -1
        self._logged_since_poll = False
        self._next_full = began + self.idle_poll_interval
        mtimes = {label: change_time(t.db.path) for label, t in self.trackers.items()}
        observed: set[str] = set()
        answered = running and await self._poll_socket(self._client, mtimes, observed)
        self._answered = answered
        for label, tracker in self.trackers.items():
            if not answered:
                tracker.replicating = False
            if label in observed:
                self.keeper.release(label)  # Litestream holds this WAL itself now
            else:
                self.keeper.hold(label)
                tracker.observe_files(mtimes[label])
        if supervisor is not None:
            fired = self._check_health(supervisor, answered, began)
            if not fired:
                supervisor.refresh_alert()
        if answered:
            self.keeper.tick()
        statuses = self.status()
        for status in statuses:
            self.conditions.evaluate(status, status.last_error)
        self._write_snapshot(statuses)

    async def _poll_socket(
        self,
        client: ControlClient,
        mtimes: dict[str, float | None] | None = None,
        observed: set[str] | None = None,
    ) -> bool:
        """One ``/list`` and a ``/sync`` per database; False when the socket does not answer."""
        try:
            listing = {entry.path: entry for entry in await client.list()}
        except ControlError:
            return False
        now = self.clock.wall()
        for label, tracker in self.trackers.items():
            entry = listing.get(str(tracker.db.path))
            tracker.replicating = entry is not None and entry.status == "replicating"
            if entry is not None and entry.last_sync_at is not None:
                tracker.last_sync_at = entry.last_sync_at
            if not tracker.db.path.exists():
                continue
            try:
                result = await client.sync(tracker.db.path)
            except ControlError as exc:
                self._log.debug("txid poll failed", db=label, error=str(exc))
                continue
            mtime = (mtimes or {}).get(label)
            tracker.observe(result.txid, result.replicated_txid, now, mtime)
            self.keeper.observed(label, result.txid)
            if observed is not None:
                observed.add(label)
        return True

    def _check_health(self, supervisor: Supervisor, answered: bool, began: float) -> bool:
        """Replication down while Litestream runs: no answer, or a database not replicating.

        Only a condition that lasts ``stall_after`` seconds counts (a restart, a slow poll
        pass).  True when the supervisor fired the alert now.
        """
        problem: str | None = None
        if supervisor.running and not answered:
            problem = Text("backup.socket_silent", socket=self.socket_path)
        elif supervisor.running:
            idle = [
                t.db.label
                for t in self.trackers.values()
                if t.db.path.exists() and not t.replicating
            ]
            if idle:
                problem = Text("backup.idle", dbs=", ".join(idle))
        if problem is None:
            self._stalled_since = None
            if answered:
                supervisor.mark_healthy()
            return False
        if self._stalled_since is None:
            self._stalled_since = began
        stalled = self.clock.monotonic() - self._stalled_since
        if stalled < self.stall_after:
            return False
        return supervisor.mark_unresponsive(problem, stalled)

    def _sample(self) -> BackupSample:
        statuses = self.status()
        restarts = self._supervisor.restarts if self._supervisor else 0
        last_success = {
            s.name: s.last_verify.last_success_at.timestamp()
            for s in statuses
            if s.last_verify is not None and s.last_verify.last_success_at is not None
        }
        return BackupSample(statuses, restarts, last_success, dict(self.keeper.repairs))

    def _write_snapshot(
        self, statuses: list[DbStatus] | None = None, *, running: bool = True
    ) -> None:
        """status.json; ``running`` false in the last one (``khronos status`` then reads the
        replica instead of trusting this snapshot)."""
        supervisor = self._supervisor
        document = status_document(
            statuses if statuses is not None else self.status(),
            pid=os.getpid(),
            running=running,
            litestream_pid=supervisor.pid if supervisor else None,
            restarts=supervisor.restarts if supervisor else 0,
            gave_up=supervisor.gave_up if supervisor else False,
            metrics_addr=self.metrics_addr,
        )
        try:
            write_json_atomic(StateDir(self.state_dir).status_file, document)
        except OSError as exc:
            self._log.warning("cannot write status.json", error=str(exc))
