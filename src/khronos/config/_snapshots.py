"""``backup.dbs[].snapshots``: the second, independent, encrypted copy of a database.

Each destination takes the same URL and key rules as the replica (``s3://``, ``b2://``,
``r2://``, ``file:///dir``, the S3-compatible settings beside the URL; validated by the same
code, :class:`~khronos.config._replica.ReplicaConfig`), restricted to the stores the snapshot
uploader speaks (S3 and S3-compatible, local folders), plus how often a snapshot is taken, how
many are kept (grandfather-father-son), and how it is encrypted (age: public recipients, so the
machine that makes the snapshots cannot read old ones, or a passphrase file).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Self

from pydantic import ConfigDict, Field, field_validator, model_validator

from khronos.config._base import Section
from khronos.config._replica import (
    UNSUPPORTED_REPLICA_KEYS,
    ReplicaConfig,
    kebab,
    positive,
    screen_keys,
)
from khronos.config._types import ConfigValueError, Duration, ResolvedPath

__all__ = ["SnapshotDestination", "SnapshotEncryption", "SnapshotRetention"]

# What a snapshot destination reads of the replica's keys; the rest are Litestream-only.
_NOT_FOR_SNAPSHOTS: dict[str, str] = {
    "sync-interval": "use interval: (how often a snapshot is taken)",
    "age": "use encrypt: {recipients: [age1...]}",
    "sign-payload": "remove it (the snapshot uploader always signs its requests)",
    "sign-accept-encoding": "remove it",
    "require-content-md5": "remove it (every snapshot is read back and checked)",
    "concurrency": "remove it",
    **dict.fromkeys(
        ("sse-customer-key", "sse-customer-key-path", "sse-customer-algorithm"),
        "remove it: age already encrypts each snapshot so that the store cannot read it "
        "(sse-kms-key-id works, if the bucket's policy wants it)",
    ),
}
_AGE_RECIPIENT = re.compile(r"age1[02-9ac-hj-np-z]{58}")
_KEYGEN = "make a key pair with: age-keygen -o snapshots.key (keep the file off this machine)"


class SnapshotRetention(Section):
    """Grandfather-father-son retention: the newest snapshot of each of the last N hours, days
    and weeks is kept; every other snapshot is deleted after a new one succeeds."""

    hourly: int = Field(default=24, ge=0)
    """How many hourly snapshots to keep (the newest of each hour)."""

    daily: int = Field(default=7, ge=0)
    """How many daily snapshots to keep (the newest of each day, UTC)."""

    weekly: int = Field(default=4, ge=0)
    """How many weekly snapshots to keep (the newest of each ISO week, UTC)."""

    @model_validator(mode="after")
    def _keeps_something(self) -> Self:
        if self.hourly + self.daily + self.weekly == 0:
            raise ConfigValueError(
                "retention keeps no snapshot at all", "e.g. hourly: 24, daily: 7, weekly: 4"
            )
        return self


class SnapshotEncryption(Section):
    """How snapshots are encrypted: to age public keys (recommended) or with a passphrase."""

    recipients: list[str] = Field(default_factory=list)
    """age public keys (``age1...``) that can decrypt the snapshots; their identity (private
    key) files stay off this machine."""

    passphrase_file: ResolvedPath | None = None
    """A file holding the passphrase (age scrypt); whoever reads it can decrypt every snapshot."""

    @field_validator("recipients")
    @classmethod
    def _age_keys(cls, value: list[str]) -> list[str]:
        for index, key in enumerate(value):
            if not _AGE_RECIPIENT.fullmatch(key.strip()):
                raise ConfigValueError(
                    f"recipient {index} is not an age public key (age1 followed by 58 letters)",
                    f"copy the 'public key:' line age-keygen prints; {_KEYGEN}",
                )
        return [key.strip() for key in value]

    @model_validator(mode="after")
    def _one_way(self) -> Self:
        if bool(self.recipients) == (self.passphrase_file is not None):
            raise ConfigValueError(
                "give recipients or passphrase_file (one of them)",
                f"e.g. encrypt: {{recipients: [age1...]}}; {_KEYGEN}",
            )
        return self


class SnapshotDestination(ReplicaConfig):
    """One place the database's encrypted snapshots go: S3 or S3-compatible (b2://, r2://,
    s3:// with endpoint) or a local folder (file:///dir)."""

    model_config = ConfigDict(alias_generator=kebab, validate_by_name=True, validate_by_alias=True)

    name: str | None = None
    """Short name in metrics, alerts and ``--from snapshot:NAME`` (default: ``file`` for a
    folder, else the bucket's name)."""

    interval: Duration = timedelta(hours=1)
    """How often a snapshot is taken."""

    retention: SnapshotRetention = Field(default_factory=SnapshotRetention)
    """Which snapshots are kept (grandfather-father-son)."""

    encrypt: SnapshotEncryption | None = None
    """How snapshots are encrypted (required: the store must not be able to read them)."""

    identity_file: ResolvedPath | None = None
    """An age identity file (or the passphrase file) that decrypts the snapshots, for the
    scheduled drill of the newest snapshot and for ``khronos restore --from snapshot``.  Leave it
    unset to keep private keys off this machine (the drill then checks size and checksum only;
    give ``--identity FILE`` to restore)."""

    @model_validator(mode="before")
    @classmethod
    def _screen(cls, data: Any) -> Any:
        screen_keys(data, {}, UNSUPPORTED_REPLICA_KEYS)
        for key in data if isinstance(data, dict) else ():
            hint = _NOT_FOR_SNAPSHOTS.get(kebab(str(key)))
            if hint is not None:
                raise ConfigValueError(f"{key!r} is not a snapshot setting", hint, path=str(key))
        return data

    @field_validator("interval")
    @classmethod
    def _interval_positive(cls, value: timedelta) -> timedelta | None:
        return positive(value, "interval", "1h")

    def _check_keys(self, kind: str) -> None:
        """The replica's per-type key check, for the replica's keys (not the snapshot's own)."""
        own = {"name", "interval", "retention", "encrypt", "identity_file"}
        saved = {name: getattr(self, name) for name in own}
        for name in own:
            object.__setattr__(self, name, None)  # frozen model: hidden only while checking
        try:
            super()._check_keys(kind)
        finally:
            for name, value in saved.items():
                object.__setattr__(self, name, value)

    @model_validator(mode="after")
    def _snapshot_store(self) -> Self:
        if self.encrypt is None:
            raise ConfigValueError(
                "a snapshot destination needs encrypt:",
                f"add encrypt: {{recipients: [age1...]}}; {_KEYGEN}",
                path="encrypt",
            )
        if self.type not in {"file", "s3"}:
            raise ConfigValueError(
                f"snapshots cannot be stored on {self.type}",
                "use s3://, b2://, r2://, s3:// with endpoint: (any S3-compatible store) or "
                "file:///dir",
            )
        if self.name is not None and not re.fullmatch(
            r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", self.name
        ):
            raise ConfigValueError(
                f"name {self.name!r} is not a short name",
                "letters, digits, '.', '_' and '-', e.g. name: offsite",
                path="name",
            )
        return self

    @property
    def encryption(self) -> SnapshotEncryption:
        """:attr:`encrypt`, which validation guarantees is set."""
        if self.encrypt is None:  # pragma: no cover - refused by _snapshot_store
            raise ValueError("snapshot destination without encrypt")
        return self.encrypt

    @property
    def label(self) -> str:
        """The destination's name in metrics, alerts and ``--from snapshot:NAME``."""
        if self.name:
            return self.name
        return "file" if self.type == "file" else str(self.bucket)
