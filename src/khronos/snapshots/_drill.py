"""The restore drill of the newest snapshot at each destination, beside the Litestream drill.

For each destination of a database (``khronos verify`` and the daemon's scheduled drill run it
after the Litestream drill of that database):

- the newest snapshot listed there is found (none listed while ``snapshots.json`` records a
  success fails the drill: the store lost it; none ever taken is nothing to check yet);
- with the destination's ``identity_file`` set, it is fetched the way a restore does: downloaded,
  its checksum compared, decrypted, decompressed and integrity-checked, in a temp folder removed
  afterwards;
- without one (private keys kept off this machine), its listing must show a size and a checksum
  (and the checksum recorded at upload, when it is the same object): "not decrypted: no
  identity_file".

The result is recorded in ``snapshots.json`` (``last_drill``), shown by ``khronos verify``,
``khronos status`` and the dashboard; a failed one raises ``snapshot.<db>.<dest>.drill``.
"""

from __future__ import annotations

import functools
import importlib
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from khronos.config import DatabaseConfig, SnapshotDestination
from khronos.errors import SnapshotError
from khronos.health import get_health
from khronos.redact import get_redactor
from khronos.snapshots import SnapshotInfo
from khronos.snapshots._state import (
    DestinationState,
    DrillResult,
    read_snapshot_state,
    update_snapshot_state,
)

__all__ = ["SnapshotDrill", "drill_destination", "drill_snapshots", "record_drills"]

_log = structlog.get_logger("khronos.snapshots")

ListSnapshots = Callable[[DatabaseConfig, SnapshotDestination], list[SnapshotInfo]]
FetchSnapshot = Callable[..., Path]
NO_IDENTITY = "not decrypted: no identity_file"


@dataclass(frozen=True, slots=True)
class SnapshotDrill:
    """The drill of database ``db``'s newest snapshot at destination ``dest``."""

    db: str
    dest: str
    result: DrillResult

    @property
    def failed(self) -> bool:
        """Whether the drill found a problem (nothing to check yet is no failure)."""
        return self.result.ok is False

    def to_json(self) -> dict[str, Any]:
        return {"db": self.db, "dest": self.dest, **self.result.to_json()}


def _engine(name: str) -> Any:
    return getattr(importlib.import_module("khronos.snapshots"), name)


def drill_destination(
    db: DatabaseConfig,
    dest: SnapshotDestination,
    *,
    recorded_key: str | None = None,
    recorded_sha256: str | None = None,
    integrity: str = "quick",
    list_snapshots: ListSnapshots | None = None,
    fetch_snapshot: FetchSnapshot | None = None,
) -> SnapshotDrill:
    """Drill the newest snapshot of ``db`` at ``dest`` (blocking; never raises for a failed
    drill).  ``recorded_key``: the newest success this host recorded (its absence from the
    listing fails the drill)."""
    started = time.monotonic()
    at = datetime.now(UTC)
    lister = list_snapshots or _engine("list_snapshots")

    def result(
        ok: bool | None, detail: str, info: SnapshotInfo | None = None, **extra: Any
    ) -> SnapshotDrill:
        return SnapshotDrill(
            db.label,
            dest.label,
            DrillResult(
                at=at,
                ok=ok,
                key=info.key if info else None,
                snapshot_at=info.taken_at if info else None,
                detail=detail,
                duration_seconds=time.monotonic() - started,
                **extra,
            ),
        )

    try:
        listed = lister(db, dest)
        if not listed:
            if recorded_key:
                return result(False, f"no snapshot listed, though {recorded_key} was uploaded")
            return result(None, "no snapshot yet")
        newest = max(listed, key=lambda info: info.taken_at)
        if dest.identity_file is None:
            return result(*_listing_check(newest, recorded_key, recorded_sha256), newest)
        fetch = fetch_snapshot or _engine("fetch_snapshot")
        work = Path(tempfile.mkdtemp(prefix=f"khronos-drill-{db.label}-{dest.label}-"))
        try:
            fetch(
                db,
                dest,
                newest,
                identity=dest.identity_file,
                out=work / "restored.db",
                integrity=integrity,
            )
        finally:
            shutil.rmtree(work, ignore_errors=True)
        check = "integrity not checked" if integrity == "none" else f"integrity {integrity} ok"
        return result(True, f"restored: decrypted, decompressed, {check}", newest, decrypted=True)
    except SnapshotError as exc:
        return result(False, exc.message)
    except Exception as exc:  # noqa: BLE001 - a drill that crashes is a failed drill, said so
        get_health().record_error("snapshots.drill", exc)
        return result(False, f"{type(exc).__name__}: {get_redactor().redact(str(exc))}")


def _listing_check(
    info: SnapshotInfo, recorded_key: str | None, recorded_sha256: str | None
) -> tuple[bool, str]:
    """Without an identity: the newest snapshot's listing must hold up."""
    if info.size <= 0:
        return False, f"{info.key} is empty"
    if not info.sha256:
        return False, f"{info.key} is listed without a checksum"
    if info.key == recorded_key and recorded_sha256 and info.sha256 != recorded_sha256:
        return False, f"{info.key} changed since it was uploaded (its checksum differs)"
    return True, f"listed with size and checksum; {NO_IDENTITY}"


def drill_snapshots(
    db: DatabaseConfig,
    state_dir: str | Path,
    *,
    integrity: str = "quick",
    list_snapshots: ListSnapshots | None = None,
    fetch_snapshot: FetchSnapshot | None = None,
) -> list[SnapshotDrill]:
    """The drill of every snapshot destination of ``db`` (not recorded: :func:`record_drills`)."""
    known = read_snapshot_state(state_dir)
    drills = []
    for dest in db.snapshots:
        state = known.get((db.label, dest.label))
        success = state.last_success if state is not None else None
        drill = drill_destination(
            db,
            dest,
            recorded_key=success.key if success else None,
            recorded_sha256=success.sha256 if success else None,
            integrity=integrity,
            list_snapshots=list_snapshots,
            fetch_snapshot=fetch_snapshot,
        )
        _log.info(
            "snapshot drill",
            db=drill.db,
            dest=drill.dest,
            ok=drill.result.ok,
            decrypted=drill.result.decrypted,
            detail=drill.result.detail,
        )
        drills.append(drill)
    return drills


def record_drills(state_dir: str | Path, drills: Iterable[SnapshotDrill]) -> None:
    """Record each drill as its destination's ``last_drill`` in ``snapshots.json``."""
    for drill in drills:
        change = functools.partial(_with_drill, result=drill.result)
        update_snapshot_state(state_dir, drill.db, drill.dest, change)


def _with_drill(state: DestinationState, result: DrillResult) -> DestinationState:
    return replace(state, last_drill=result)
