"""``state_dir``: every file Khronos keeps there, named in one place, and the one atomic write.

========================  =========================================  ==============================
file                      written by                                 read by
========================  =========================================  ==============================
``daemon.lock``           ``khronos run`` (``flock``, its pid)       a second ``khronos run``
``daemon.json``           ``khronos run`` at start                   the CLI (where the daemon
                                                                     serves), tests
``litestream.yml``        backup, at start (0600)                    Litestream
``litestream.sock``       Litestream (its control socket)            backup, the CLI
``status.json``           backup, every poll                         ``khronos status``
``verify.json``           restore drills, ``khronos verify``         status, metrics, the daemon
``alerts-outbox.db``      the alert engine (SQLite, WAL)             the alert engine, the CLI
``alerts-outbox.lock``    the process that delivers alerts (flock)   other alert engines
``history.json``          the daemon's chart sampler, every minute   the daemon at start
``heartbeats.json``       the heartbeat monitor (pings, states)      the heartbeat monitor at start
``silences.json``         the silence store (runtime silences),      the alert engine (on change)
                          under ``silences.lock``
``silences.lock``         whoever edits ``silences.json`` (flock)    other editors
``snapshots.json``        the snapshot schedule (every attempt),     ``khronos status``, the
                          the restore drill (newest snapshot)        daemon at start, metrics
``snapshots.lock``        whoever edits ``snapshots.json`` (flock)   other editors
``snapshots-tmp/``        snapshots being taken (a folder per run,   removed after each run and
                          ``daemon-*`` from ``khronos run``)         at the daemon's next start
========================  =========================================  ==============================

``state_dir`` is created 0700 and every file Khronos writes there 0600: they hold alert texts
and the shape of the deployment.  :func:`write_atomic` writes through a unique temporary file
and a rename, so a reader never sees half a file and two writers never share a temporary name.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

__all__ = ["StateDir", "copy_atomic", "write_atomic", "write_json_atomic"]

_MAX_SOCKET_PATH = 100
"""``sun_path`` holds 108 bytes; beyond this the control socket goes to the temp folder."""


class StateDir:
    """The names of the files in one ``state_dir``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"StateDir({str(self.path)!r})"

    def create(self) -> Path:
        """Create the folder (0700) if it does not exist; its path."""
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self.path

    @property
    def daemon_lock(self) -> Path:
        """Held by the running ``khronos run``."""
        return self.path / "daemon.lock"

    @property
    def daemon_file(self) -> Path:
        """``{"pid", "url", "started_at", "version"}`` of the running daemon."""
        return self.path / "daemon.json"

    @property
    def litestream_config(self) -> Path:
        """The rendered Litestream config."""
        return self.path / "litestream.yml"

    @property
    def control_socket(self) -> Path:
        """Litestream's control socket: in ``state_dir``, or, when that path would not fit in
        ``sun_path``, a short name in the temp folder derived from ``state_dir`` (so the CLI
        finds the same one)."""
        path = self.path / "litestream.sock"
        if len(str(path)) <= _MAX_SOCKET_PATH:
            return path
        digest = hashlib.sha256(str(self.path).encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"khronos-{digest}.sock"

    @property
    def status_file(self) -> Path:
        """The backup's last status snapshot."""
        return self.path / "status.json"

    @property
    def verify_file(self) -> Path:
        """The last restore drill per database."""
        return self.path / "verify.json"

    @property
    def outbox(self) -> Path:
        """The alert outbox (SQLite)."""
        return self.path / "alerts-outbox.db"

    @property
    def heartbeats_file(self) -> Path:
        """The last ping, start and state of every heartbeat (``checks.heartbeats``)."""
        return self.path / "heartbeats.json"

    @property
    def silences_file(self) -> Path:
        """Runtime silences (``khronos silence add``, ``POST /api/silences``, Telegram)."""
        return self.path / "silences.json"

    @property
    def silences_lock(self) -> Path:
        """Held for a moment by whoever edits :attr:`silences_file`."""
        return self.path / "silences.lock"

    @property
    def outbox_lock(self) -> Path:
        """Held by the process that delivers the outbox."""
        return self.path / "alerts-outbox.lock"

    @property
    def telegram_offset(self) -> Path:
        """The next Telegram ``getUpdates`` offset (the console never handles an update twice)."""
        return self.path / "telegram-offset.json"

    @property
    def snapshots_file(self) -> Path:
        """Per database and snapshot destination: the last success and failure, the failure
        streak, the next due time and the last drill (:mod:`khronos.snapshots`)."""
        return self.path / "snapshots.json"

    @property
    def snapshots_lock(self) -> Path:
        """Held for a moment by whoever edits :attr:`snapshots_file`."""
        return self.path / "snapshots.lock"

    @property
    def snapshots_tmp(self) -> Path:
        """Where snapshots are copied, compressed and encrypted before the upload (a folder
        per run, removed after it; the daemon removes its leftovers at start)."""
        return self.path / "snapshots-tmp"

    @property
    def history_file(self) -> Path:
        """The dashboard's chart history (compact JSON), written by the daemon's sampler."""
        return self.path / "history.json"


def write_atomic(path: Path, data: str | bytes, *, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` through a unique temporary file in the same folder and a
    rename: readers see the old or the new file, never half of one; created with ``mode``, in a
    folder created 0700 when missing (an existing folder keeps its mode)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    _replace_with(path, lambda handle: handle.write(raw), mode=mode, durable=False)


def copy_atomic(source: Path, path: Path, *, mode: int = 0o600, chunk: int = 1 << 20) -> None:
    """:func:`write_atomic` of a file's content, copied in ``chunk`` pieces (bounded memory),
    and durable: the copy is fsynced before the rename and the folder after it."""

    def copy(handle: BinaryIO) -> None:
        with source.open("rb") as src:
            shutil.copyfileobj(src, handle, chunk)

    _replace_with(path, copy, mode=mode, durable=True)


def _replace_with(
    path: Path, write: Callable[[BinaryIO], object], *, mode: int, durable: bool
) -> None:
    """The one atomic write: a unique temporary file beside ``path``, filled, renamed."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        tmp.chmod(mode)  # before the name is visible under ``path``
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def write_json_atomic(path: Path, data: Any, *, mode: int = 0o600) -> None:
    """:func:`write_atomic` of ``data`` as indented JSON (non-JSON values as their ``str``)."""
    write_atomic(path, json.dumps(data, indent=2, default=str) + "\n", mode=mode)
