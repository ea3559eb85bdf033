"""Where snapshots are stored: a local folder or an S3(-compatible) bucket, behind one small
interface (list entries, put, get, read back, delete), so the engine has one code path for both.

Keys are relative to the destination's ``path`` (``<db>/<time>.sqlite3.zst.age``).  A folder
store writes through :func:`khronos.state.copy_atomic` (a temporary name, fsync, rename: a
reader never sees half a snapshot) and requires the destination folder itself to exist (a disk
that is not mounted must not be replaced by a folder on the root disk).  Every failure is a
:class:`SnapshotError` with a translated cause.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from khronos.errors import SnapshotError
from khronos.snapshots._s3 import make_client, os_error, part_size, translate
from khronos.state import copy_atomic, write_atomic

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

    from khronos.config import SnapshotDestination

__all__ = ["Entry", "FileStore", "S3Store", "Store", "open_store"]


@dataclass(frozen=True, slots=True)
class Entry:
    """One stored object: its key (relative to the destination's path) and size."""

    key: str
    size: int


class Store(Protocol):
    """The operations the snapshot engine needs from a destination."""

    def entries(self, prefix: str) -> list[Entry]: ...
    def put_file(self, local: Path, key: str, metadata: dict[str, str]) -> None: ...
    def put_bytes(self, key: str, data: bytes) -> None: ...
    def get_bytes(self, key: str) -> bytes: ...
    def get_file(self, key: str, local: Path) -> None: ...
    def digest(self, key: str) -> tuple[int, str]: ...
    def delete(self, keys: list[str]) -> None: ...


def open_store(dest: SnapshotDestination) -> Store:
    """The store of ``dest`` (``file`` or ``s3``)."""
    if dest.type == "file":
        return FileStore(dest)
    return S3Store(dest)


# ----------------------------------------------------------------------------- folder


class FileStore:
    """A local folder (``file:///dir``)."""

    def __init__(self, dest: SnapshotDestination) -> None:
        self.root = Path(dest.path or "")

    def _path(self, key: str) -> Path:
        return self.root / key

    @contextlib.contextmanager
    def _errors(self, op: str, path: Path | None = None) -> Iterator[None]:
        try:
            yield
        except FileNotFoundError as exc:
            if not self.root.is_dir():
                raise SnapshotError(
                    f"{op}: the folder {self.root} does not exist",
                    hint=f"create it (mkdir -p {self.root}) or mount the disk it lives on",
                ) from None
            raise SnapshotError(
                f"{op}: {exc.filename or path} is missing",
                hint="it was deleted meanwhile: list the snapshots again",
            ) from None
        except OSError as exc:
            raise os_error(exc, op, path or exc.filename) from None

    def entries(self, prefix: str) -> list[Entry]:
        folder = self._path(prefix)
        with self._errors("list", folder):
            if not self.root.is_dir():
                raise FileNotFoundError(self.root)
            if not folder.is_dir():
                return []
            return [
                Entry(f"{prefix}/{entry.name}", entry.stat().st_size)
                for entry in os.scandir(folder)
                if entry.is_file() and not entry.name.startswith(".")
            ]

    def put_file(self, local: Path, key: str, metadata: dict[str, str]) -> None:
        del metadata  # a folder keeps it in the sidecar only
        target = self._path(key)
        with self._errors("upload", target):
            if not self.root.is_dir():
                raise FileNotFoundError(self.root)
            target.parent.mkdir(exist_ok=True, mode=0o700)
            copy_atomic(local, target)

    def put_bytes(self, key: str, data: bytes) -> None:
        target = self._path(key)
        with self._errors("upload", target):
            write_atomic(target, data)

    def get_bytes(self, key: str) -> bytes:
        with self._errors("download", self._path(key)):
            return self._path(key).read_bytes()

    def get_file(self, key: str, local: Path) -> None:
        with self._errors("download", self._path(key)):
            copy_atomic(self._path(key), local)

    def digest(self, key: str) -> tuple[int, str]:
        path = self._path(key)
        with self._errors("verify", path), path.open("rb") as src:
            return _digest(iter(lambda: src.read(1 << 20), b""))

    def delete(self, keys: list[str]) -> None:
        with self._errors("prune"):
            for key in keys:
                self._path(key).unlink(missing_ok=True)


def _digest(chunks: Iterator[bytes]) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


# ----------------------------------------------------------------------------- S3


class S3Store:
    """An S3 or S3-compatible bucket (boto3, multipart, retries)."""

    def __init__(self, dest: SnapshotDestination) -> None:
        self.dest = dest
        self.bucket = str(dest.bucket)
        self.prefix = (dest.path or "").strip("/")
        self._client: S3Client | None = None

    @property
    def client(self) -> S3Client:
        if self._client is None:
            self._client = make_client(self.dest)
        return self._client

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    @contextlib.contextmanager
    def _errors(self, op: str) -> Iterator[None]:
        try:
            yield
        except SnapshotError:
            raise
        except Exception as exc:  # noqa: BLE001 - every boto3 failure becomes a SnapshotError
            raise translate(exc, self.dest, op) from None

    def _transfer(self) -> Any:
        from boto3.s3.transfer import TransferConfig  # noqa: PLC0415

        size = part_size(self.dest)
        return TransferConfig(multipart_threshold=size, multipart_chunksize=size, max_concurrency=2)

    def entries(self, prefix: str) -> list[Entry]:
        base = self._key(prefix) + "/"
        cut = len(self.prefix) + 1 if self.prefix else 0
        entries = []
        with self._errors("list"):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=base
            )
            for page in pages:
                for obj in page.get("Contents", []):
                    name = obj.get("Key", "")
                    if "/" not in name[len(base) :]:
                        entries.append(Entry(name[cut:], int(obj.get("Size", 0))))
        return entries

    def put_file(self, local: Path, key: str, metadata: dict[str, str]) -> None:
        extra: dict[str, Any] = {
            "Metadata": metadata,
            "ContentType": "application/octet-stream",
        }
        if self.dest.storage_class:
            extra["StorageClass"] = self.dest.storage_class
        if self.dest.sse_kms_key_id:
            extra["ServerSideEncryption"] = "aws:kms"
            extra["SSEKMSKeyId"] = self.dest.sse_kms_key_id
        with self._errors("upload"):
            self.client.upload_file(
                str(local), self.bucket, self._key(key), ExtraArgs=extra, Config=self._transfer()
            )

    def put_bytes(self, key: str, data: bytes) -> None:
        with self._errors("upload"):
            self.client.put_object(
                Bucket=self.bucket, Key=self._key(key), Body=data, ContentType="application/json"
            )

    def get_bytes(self, key: str) -> bytes:
        with self._errors("download"):
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
            try:
                return body.read()
            finally:
                body.close()

    def get_file(self, key: str, local: Path) -> None:
        with self._errors("download"):
            self.client.download_file(
                self.bucket, self._key(key), str(local), Config=self._transfer()
            )

    def digest(self, key: str) -> tuple[int, str]:
        with self._errors("verify"):
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
            try:
                return _digest(body.iter_chunks(1 << 20))
            finally:
                body.close()

    def delete(self, keys: list[str]) -> None:
        with self._errors("prune"):
            for start in range(0, len(keys), 1000):
                batch: list[ObjectIdentifierTypeDef] = [
                    {"Key": self._key(k)} for k in keys[start : start + 1000]
                ]
                answer = self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
                )
                failed = answer.get("Errors") or []
                if failed:
                    code = failed[0].get("Code", "error")
                    raise SnapshotError(
                        f"prune: {len(failed)} object(s) not deleted from {self.dest.display} "
                        f"({code})",
                        hint="check that the key may delete in the bucket",
                    )
