"""The drill of the newest snapshot: fetched with an identity_file, its listing checked
without one, recorded in snapshots.json, a failure alerting until a drill passes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from khronos.backup import RecordingAlertSink, VerifyReport
from khronos.backup._verify import record_results
from khronos.config import DatabaseConfig, SnapshotDestination
from khronos.errors import SnapshotError
from khronos.snapshots import (
    SnapshotInfo,
    SnapshotScheduler,
    drill_destination,
    drill_snapshots,
    read_snapshot_state,
    record_drills,
)
from tests.snapshots.daemon.helpers import s3_config, snapshot_config

T0 = datetime(2026, 12, 5, 6, 0, tzinfo=UTC)


def info(key: str, minutes: int, *, size: int = 500, sha: str | None = "cd" * 32) -> SnapshotInfo:
    return SnapshotInfo("app", "offsite", key, T0 + timedelta(minutes=minutes), size, sha)


class Store:
    """A fake destination: a listing, and a fetch that records what it was asked."""

    def __init__(self, listed: list[SnapshotInfo], fetch_error: str | None = None) -> None:
        self.listed = listed
        self.fetch_error = fetch_error
        self.fetched: list[dict[str, Any]] = []

    def list(self, _db: DatabaseConfig, _dest: SnapshotDestination) -> list[SnapshotInfo]:
        return list(self.listed)

    def fetch(
        self, _db: DatabaseConfig, _dest: SnapshotDestination, snap: SnapshotInfo, **kw: Any
    ) -> Path:
        self.fetched.append({"key": snap.key, **kw})
        if self.fetch_error:
            raise SnapshotError(self.fetch_error)
        out: Path = kw["out"]
        out.write_bytes(b"SQLite format 3\x00")
        return out


def pair(config: Any) -> tuple[DatabaseConfig, SnapshotDestination]:
    db = config.require_backup().dbs[0]
    return db, db.snapshots[0]


def test_with_an_identity_the_newest_is_fetched_and_checked(tmp_path: Path) -> None:
    """identity_file set: the newest snapshot is fetched (decrypted, integrity-checked) with
    that identity, into a temp folder removed afterwards."""
    identity = tmp_path / "snapshots.key"
    identity.write_text("AGE-SECRET-KEY-1...")
    db, dest = pair(s3_config(tmp_path, identity=identity))
    store = Store([info("old", 0), info("new", 60), info("mid", 30)])
    drill = drill_destination(db, dest, list_snapshots=store.list, fetch_snapshot=store.fetch)
    assert (drill.result.ok, drill.result.decrypted, drill.result.key) == (True, True, "new")
    assert store.fetched[0]["identity"] == identity
    assert store.fetched[0]["integrity"] == "quick"
    assert not store.fetched[0]["out"].parent.exists()


def test_without_an_identity_the_listing_is_checked_and_says_not_decrypted(
    tmp_path: Path,
) -> None:
    """No identity_file: nothing is downloaded; size and checksum are checked."""
    db, dest = pair(s3_config(tmp_path))
    store = Store([info("new", 60)])
    drill = drill_destination(db, dest, list_snapshots=store.list, fetch_snapshot=store.fetch)
    assert drill.result.ok is True
    assert drill.result.decrypted is False
    assert "not decrypted: no identity_file" in str(drill.result.detail)
    assert store.fetched == []


def test_a_listing_without_checksum_or_with_a_changed_one_fails(tmp_path: Path) -> None:
    """No checksum listed: failed; the recorded upload's checksum differs: failed."""
    db, dest = pair(s3_config(tmp_path))
    bare = Store([info("new", 60, sha=None)])
    drill = drill_destination(db, dest, list_snapshots=bare.list)
    assert (drill.result.ok, drill.result.detail) == (False, "new is listed without a checksum")
    changed = Store([info("new", 60)])
    drill = drill_destination(
        db, dest, recorded_key="new", recorded_sha256="ef" * 32, list_snapshots=changed.list
    )
    assert drill.result.ok is False
    assert "checksum differs" in str(drill.result.detail)


def test_an_empty_destination_fails_only_when_a_snapshot_was_uploaded(tmp_path: Path) -> None:
    """Nothing listed and nothing ever taken: nothing to check (ok None); nothing listed though
    this host uploaded one: failed (the store lost it)."""
    db, dest = pair(s3_config(tmp_path))
    empty = Store([])
    assert drill_destination(db, dest, list_snapshots=empty.list).result.ok is None
    lost = drill_destination(db, dest, recorded_key="app/1", list_snapshots=empty.list)
    assert lost.result.ok is False
    assert "no snapshot listed" in str(lost.result.detail)


def test_a_fetch_that_fails_is_a_failed_drill_with_its_message(tmp_path: Path) -> None:
    """The engine's SnapshotError (a wrong identity, say) is the drill's detail."""
    identity = tmp_path / "wrong.key"
    identity.write_text("x")
    db, dest = pair(s3_config(tmp_path, identity=identity))
    store = Store([info("new", 60)], fetch_error="the identity file does not decrypt new")
    drill = drill_destination(db, dest, list_snapshots=store.list, fetch_snapshot=store.fetch)
    assert (drill.result.ok, drill.result.detail) == (
        False,
        "the identity file does not decrypt new",
    )


def test_a_listing_that_crashes_is_a_failed_drill(tmp_path: Path) -> None:
    """Anything the engine raises ends as a failed drill naming it, never an exception."""
    db, dest = pair(s3_config(tmp_path))

    def broken(*_: object) -> list[SnapshotInfo]:
        raise ConnectionResetError("reset by peer")

    drill = drill_destination(db, dest, list_snapshots=broken)
    assert (drill.result.ok, drill.result.detail) == (False, "ConnectionResetError: reset by peer")


def test_drills_are_recorded_beside_the_schedule_state(tmp_path: Path) -> None:
    """record_drills keeps last_drill in snapshots.json without touching the rest."""
    config = snapshot_config(tmp_path)
    db = config.require_backup().dbs[0]
    store = Store([info("new", 60)])
    drills = drill_snapshots(db, config.state_dir, list_snapshots=store.list)
    record_drills(config.state_dir, drills)
    state = read_snapshot_state(config.state_dir)[("app", "offsite")]
    assert state.last_drill is not None
    assert (state.last_drill.ok, state.last_drill.key) == (True, "new")
    assert state.last_success is None


def test_a_failed_drill_alerts_until_a_drill_passes(tmp_path: Path) -> None:
    """Handed to the schedule: ERROR snapshot.app.offsite.drill, resolved by a passing drill."""
    config = snapshot_config(tmp_path)
    db, dest = pair(config)
    sink = RecordingAlertSink()
    sched = SnapshotScheduler(config, alerts=sink)
    bad = drill_destination(db, dest, list_snapshots=Store([info("new", 60, size=0)]).list)
    sched.drilled("app", "offsite", bad.result)
    event = sink.open["snapshot.app.offsite.drill"]
    assert (event.level, event.message) == (
        "ERROR",
        "Snapshot drill of app at offsite failed: new is empty",
    )
    good = drill_destination(db, dest, list_snapshots=Store([info("new", 61)]).list)
    sched.drilled("app", "offsite", good.result)
    assert "snapshot.app.offsite.drill" not in sink.open


def test_the_restore_drills_record_keeps_the_snapshot_drills(tmp_path: Path) -> None:
    """record_results (khronos verify, the daemon's drill) writes the reports' snapshot drills
    to snapshots.json beside verify.json; VerifyReport.ok stays the Litestream drill's."""
    config = snapshot_config(tmp_path)
    db = config.require_backup().dbs[0]
    drills = drill_snapshots(
        db, config.state_dir, list_snapshots=Store([info("k", 1, size=0)]).list
    )
    report = VerifyReport(
        db="app", path=Path(db.path), replica="file:///r", ok=True, at=T0, snapshots=tuple(drills)
    )
    record_results(Path(config.state_dir), [report])
    state = read_snapshot_state(config.state_dir)[("app", "offsite")]
    assert state.last_drill is not None
    assert (state.last_drill.ok, state.last_drill.detail) == (False, "k is empty")
    assert report.ok is True
    assert report.snapshots_ok is False
    assert report.to_json()["snapshots"][0]["dest"] == "offsite"
