"""Helpers of the snapshot daemon tests: a configuration with destinations, a fake engine."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from khronos.config import DatabaseConfig, KhronosConfig, SnapshotDestination, parse_config
from khronos.errors import SnapshotError
from khronos.snapshots import SnapshotInfo, SnapshotReport

__all__ = ["KEY_ID", "RECIPIENT", "SECRET", "Call", "FakeTake", "s3_config", "snapshot_config"]

RECIPIENT = "age1" + "q" * 58
"""An age public key as the configuration accepts it (the fake engine never encrypts)."""


def snapshot_config(
    tmp_path: Path,
    *,
    dbs: tuple[str, ...] = ("app",),
    dests: tuple[str, ...] = ("offsite",),
    interval: str = "1h",
    extra: str = "",
    recipient: str = RECIPIENT,
) -> KhronosConfig:
    """A configuration whose databases each snapshot to every destination (file://)."""
    lines = [f"state_dir: {tmp_path / 'state'}", "backup:", "  dbs:"]
    for db in dbs:
        lines += [
            f"    - path: {tmp_path / db}.db",
            f"      replica: {{url: 'file://{tmp_path}/replica-{db}'}}",
            "      snapshots:",
        ]
        for dest in dests:
            lines.append(
                f"        - {{url: 'file://{tmp_path}/snap-{dest}', name: {dest}, "
                f"interval: {interval}, encrypt: {{recipients: [{recipient}]}}{extra}}}"
            )
    return parse_config("\n".join(lines) + "\n")


KEY_ID = "AKIASNAPSHOTKEYID0001"
SECRET = "hunter2-snapshot-secret-key-0123456789"


def s3_config(tmp_path: Path, *, identity: Path | None = None) -> KhronosConfig:
    """One database snapshotting to an S3-compatible destination named offsite, with keys."""
    who = f", identity_file: {identity}" if identity is not None else ""
    return parse_config(
        f"""\
state_dir: {tmp_path / "state"}
backup:
  dbs:
    - path: {tmp_path / "app.db"}
      replica: {{url: 'file://{tmp_path}/replica'}}
      snapshots:
        - {{url: 's3://bucket/snaps', name: offsite, endpoint: 'http://127.0.0.1:9',
            access-key-id: {KEY_ID}, secret-access-key: {SECRET},
            encrypt: {{recipients: [{RECIPIENT}]}}{who}}}
"""
    )


@dataclass(frozen=True, slots=True)
class Call:
    """One call of the fake engine."""

    db: str
    dest: str
    now: datetime
    tmp_dir: Path
    error: str | None


class FakeTake:
    """Stands in for ``take_snapshot``: records each call, fails while ``failing`` says so, can
    be held on a gate, and counts how many calls run at once."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.failing: Callable[[str, str, datetime], str | None] = lambda *_: None
        self.gate: threading.Event | None = None
        self.hold = 0.0
        self.hint: str | None = None
        self.active = 0
        self.max_active = 0
        self._lock = threading.Lock()

    def successes(self, db: str | None = None, dest: str | None = None) -> list[datetime]:
        return [
            c.now
            for c in self.calls
            if c.error is None and db in (None, c.db) and dest in (None, c.dest)
        ]

    def __call__(
        self,
        db: DatabaseConfig,
        dest: SnapshotDestination,
        *,
        tmp_dir: Path,
        now: datetime | None = None,
    ) -> SnapshotReport:
        assert now is not None
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            (tmp_dir / "copy.sqlite3.tmp").write_bytes(b"a copy")
            if self.gate is not None:
                self.gate.wait(60)
            elif self.hold:
                threading.Event().wait(self.hold)
            try:
                error = self.failing(db.label, dest.label, now)
            except Exception as exc:
                self.calls.append(Call(db.label, dest.label, now, tmp_dir, repr(exc)))
                raise
            self.calls.append(Call(db.label, dest.label, now, tmp_dir, error))
            if error is not None:
                raise SnapshotError(error, hint=self.hint)
            key = f"{db.label}/{now:%Y-%m-%dT%H%M%SZ}.sqlite3.zst.age"
            info = SnapshotInfo(
                db.label, dest.label, key, now, size=1000 + len(self.calls),
                sha256="ab" * 32, db_bytes=4096, verified=True,
            )  # fmt: skip
            return SnapshotReport(info, duration=0.25, steps={"copy": 0.1, "upload": 0.15})
        finally:
            with self._lock:
                self.active -= 1
