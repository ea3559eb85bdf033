"""``khronos run``: the daemon that ties backup, metrics, logs, alerts and checks together.

:class:`Daemon` starts, in this order, only what ``khronos.yml`` turns on:

1. the ``state_dir`` lock: one daemon per ``state_dir`` (a second one exits at once, naming the
   first one's pid), and ``state_dir/daemon.json`` saying where it serves;
2. the metrics registry (process metrics, the service metrics, backup, alert, breaker and check
   metrics all register there);
3. the alert engine and its delivery worker (durable outbox, Telegram when configured, the log
   always); the worker's breakers report to ``khronos_circuit_breaker_*``;
4. the HTTP server on ``http.listen``: ``/metrics``, ``/healthz``, ``/ready``,
   ``POST /api/alerts``, ``POST /api/alerts/test``, ``/api/heartbeats/<name>``, the dashboard
   (``/``, ``/api/status``, ``/api/history``; its chart sampler starts last and keeps
   ``state_dir/history.json``), with request and idle timeouts and a connection bound derived
   from the open-files limit (raised to the hard limit first, at most 65536, as Go does);
5. backup: Litestream under supervision, its alerts routed into the engine;
5b. the app (``app:`` or ``khronos run -- CMD``) under supervision, after backup so its first
   write is replicated, and the scrape of its ``/metrics`` (stopped before backup's final sync);
5c. the snapshot schedule (``backup.dbs[].snapshots``, :mod:`khronos.snapshots`): one
   snapshot at a time, every destination's ``interval``, resumed from ``snapshots.json``,
   ``/api/snapshots``; stopped before Litestream, waiting for a running snapshot a while;
6. the restore-drill schedule (``backup.verify.interval``), a failed drill firing a CRITICAL
   condition that resolves when a later drill passes (the newest snapshot of each destination
   is drilled too, its failure an ERROR ``snapshot.<db>.<dest>.drill``);
7. the built-in health checks;
8. a watch on the log files: an ERROR alert (``khronos.log_files``) while they cannot be
   written - a full log disk - resolved when they can.

Its own :class:`~khronos.health.Health` is the process-wide one while it runs: every
long-lived part runs through :func:`~khronos.health.keep_running` (an exception is logged,
counted in ``khronos_internal_errors_total{part}`` and survived), the daemon watches their
tasks, and a part that ends while the daemon is not stopping makes ``/healthz`` and ``/ready``
answer 503 and raises a CRITICAL alert (and a CRITICAL log line, the channel left when the
alerts themselves are what stopped).

After the checks come the heartbeats the app's jobs ping (``checks.heartbeats``, see
:mod:`khronos.heartbeats`) and the outside heartbeat (``heartbeat:``), called while
:meth:`Daemon._unhealthy` names no reason.

:meth:`Daemon.stop` undoes it in reverse: checks, drills, backup (Litestream's final sync), the
HTTP server, then the alert engine, which gets up to ``service.shutdown_timeout`` to deliver what
is pending (the rest stays in the outbox for the next start).  The caller owns the signals
(:func:`run_daemon` maps SIGTERM and SIGINT to a graceful stop).
"""

from __future__ import annotations

from khronos.daemon._daemon import Daemon
from khronos.daemon._reactions import LOG_FILES_KEY, PART_DOWN_KEY
from khronos.daemon._run import read_daemon_file, run_daemon
from khronos.errors import DaemonError

__all__ = [
    "LOG_FILES_KEY",
    "PART_DOWN_KEY",
    "Daemon",
    "DaemonError",
    "read_daemon_file",
    "run_daemon",
]
