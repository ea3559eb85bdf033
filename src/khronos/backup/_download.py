"""The download of a restore (``litestream restore -o OUT``), watched for stalls.

The download is prepared like every Litestream run (:class:`~._invocation.Invocation`) and its
failures are classified the same way (:meth:`~._invocation.Invocation.failure`), but it is not
bounded by a fixed time: a large database takes as long as it takes.  It is stopped when its
output stops growing for ``stall_timeout`` instead, or when ``cancel`` is set (the daemon
stopping a drill).  It runs in the calling thread (``restore`` and the drills are synchronous,
and report progress as they go).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Protocol

from khronos.backup._invocation import Invocation
from khronos.config import DatabaseConfig
from khronos.errors import ReplicaAccessError, RestoreError

__all__ = ["PROBE_TIMEOUT", "STALL_TIMEOUT", "Progress", "download", "no_progress"]

PROBE_TIMEOUT = 30.0
"""Seconds a quick command (``restore -dry-run``, ``ltx``, ``status``) may take."""
STALL_TIMEOUT = 60.0
"""Seconds a download may go without writing a byte."""


class Progress(Protocol):
    """Told about each step: ``stage`` and, while downloading, bytes written so far."""

    def __call__(self, stage: str, done: int | None = None, /) -> None: ...


def no_progress(_stage: str, _done: int | None = None, /) -> None:
    return None


def download(
    ls: Invocation,
    db: DatabaseConfig,
    out: Path,
    *,
    point: list[str],
    progress: Progress,
    stall_timeout: float,
    cancel: threading.Event | None = None,
) -> dict[str, Any]:
    """``litestream restore -o out [point] db``; killed when its output stops growing for
    ``stall_timeout``.  Litestream's ``-json`` summary (empty when it printed none)."""
    log = out.with_name(out.name + ".log")
    with log.open("w+", encoding="utf-8") as err, out.with_name("stdout").open("w+") as std:
        argv = ls.argv("restore", "-o", str(out), *point, "-json", db=db)
        proc = subprocess.Popen(argv, env=ls.env, stdout=std, stderr=err, text=True)
        try:
            _watch(proc, [Path(f"{out}.tmp"), out], progress, stall_timeout, cancel)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        if cancel is not None and cancel.is_set():
            raise RestoreError("restore cancelled", recoverable=True)
        if proc.returncode is None or proc.returncode < 0:
            raise ReplicaAccessError(
                f"the download from {db.replica.display} stalled "
                f"(no progress for {stall_timeout:g}s) and was stopped",
                hint="check the network and the replica's endpoint, then retry",
                recoverable=True,
            )
        if proc.returncode != 0:
            err.seek(0)
            raise ls.failure(err.read(), what="restore", db=db, op="restore", error=RestoreError)
        std.seek(0)
        try:
            return dict(json.loads(std.read()))
        except ValueError:
            return {}


def _watch(
    proc: subprocess.Popen[str],
    outputs: list[Path],
    progress: Progress,
    stall_timeout: float,
    cancel: threading.Event | None,
) -> None:
    last_size, last_change = -1, time.monotonic()
    while proc.poll() is None:
        if cancel is not None and cancel.is_set():
            return
        size = 0
        for path in outputs:
            with contextlib.suppress(OSError):
                size = max(size, path.stat().st_size)
        now = time.monotonic()
        if size != last_size:
            last_size, last_change = size, now
            progress("downloading", size)
        elif now - last_change > stall_timeout:
            proc.kill()
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=0.1)  # returns as soon as the restore ends, not at the next tick
