"""One replicator per database and per replica on this machine.

Two Litestreams replicating one database, or two databases replicated to one replica path,
damage the replica (each takes the other's files for its own).  Before it starts Litestream,
:class:`ReplicationClaims` refuses, naming the other's pid:

- a database another Litestream process has open (``/proc``, see :func:`db_holders`), started
  by another Khronos with another ``state_dir`` or by hand;
- a database or replica another Khronos on this machine has claimed: a host-wide lock file per
  database path and per replica (:class:`~khronos.locks.FileLock` in the temp folder's
  ``khronos-locks``, shared by every user like ``/tmp`` itself).  Where that folder cannot be
  used the lock is skipped: the ``/proc`` check still applies.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

from khronos.backup._sqlite import db_holders
from khronos.config import BackupConfig
from khronos.errors import BackupError
from khronos.locks import FileLock, LockedError

__all__ = ["ReplicationClaims"]

_HINT = (
    "two replicators of one database or replica damage the replica: stop the other khronos "
    "run or litestream first, or give this one another database/replica"
)


class ReplicationClaims:
    """The locks this process holds on its databases and replicas."""

    def __init__(self) -> None:
        self._locks: list[FileLock] = []

    def take(self, backup: BackupConfig, state_dir: Path) -> None:
        """Claim every database and replica of ``backup``; :class:`BackupError` when another
        replicator has one (nothing stays claimed then)."""
        for db in backup.dbs:
            for holder in db_holders(db.path):
                if holder.is_litestream:
                    raise BackupError(
                        f"{db.path} is already replicated by Litestream ({holder.describe()})",
                        op="backup start",
                        hint=_HINT,
                    )
        note = f"state_dir {state_dir}"
        try:
            for db in backup.dbs:
                for what, identity in (
                    (f"the database {db.path}", f"db:{db.path}"),
                    (f"the replica {db.replica.display}", f"replica:{db.replica.display}"),
                ):
                    lock = _host_lock(identity, what, note)
                    if lock is not None:
                        self._locks.append(lock)
        except LockedError as exc:
            self.release()
            raise BackupError(exc.message, op="backup start", hint=exc.hint) from None

    def release(self) -> None:
        """Let every claim go."""
        for lock in self._locks:
            lock.release()
        self._locks.clear()


def _host_lock(identity: str, what: str, note: str) -> FileLock | None:
    folder = Path(tempfile.gettempdir()) / "khronos-locks"
    try:
        if not folder.exists():
            folder.mkdir(mode=0o1777, exist_ok=True)
            folder.chmod(0o1777)  # every user's Khronos may add its locks (like /tmp)
        digest = hashlib.sha256(identity.encode()).hexdigest()[:24]
        return FileLock.acquire(
            folder / f"{digest}.lock",
            what=what,
            op="backup start",
            hint=_HINT,
            mode=0o644,
            note=note,
        )
    except PermissionError:
        return None
