"""The stored form of a snapshot: zstd-compressed, then age-encrypted (``.sqlite3.zst.age``).

Both layers are well-kept libraries, imported only when a snapshot is made or read, so the
commands that never touch snapshots do not load them:

- **zstandard** (the reference zstd C library): a standard ``.zst`` frame that ``zstd -d``
  reads; level 3, one thread (snapshots run at low priority beside the app).
- **pyrage** (Python bindings of ``rage``, the Rust implementation of age): a standard age file
  that the reference ``age -d`` decrypts.

**Memory.**  With recipients (age public keys, the recommended way) the whole pipeline streams:
the copy is read in 64 KiB pieces through the zstd compressor into pyrage's ``encrypt_io``, which
writes age's 64 KiB chunks to the output while the SHA-256 of the stored bytes is computed on the
way; decryption streams the same way (``decrypt_io`` into a zstd stream writer).  A 200 MB
database needs a few MB of memory.  pyrage offers passphrase (scrypt) encryption only on bytes
in memory, so with ``passphrase_file`` the *compressed* snapshot is held in memory twice (once
compressed, once encrypted) while it is encrypted and decrypted; that is the price of that mode,
said in docs/snapshots.md.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from khronos.errors import SnapshotError

if TYPE_CHECKING:
    from khronos.config import SnapshotEncryption

__all__ = ["Sealed", "file_digest", "open_sealed", "read_identities", "seal"]

CHUNK = 64 * 1024
LEVEL = 3
"""zstd level: ~3-5x on typical app databases at a few hundred MB/s (see docs/BENCHMARKS.md)."""


@dataclass(frozen=True, slots=True)
class Sealed:
    """The stored file: its size and SHA-256, and the seconds spent compressing/encrypting."""

    path: Path
    size: int
    sha256: str
    compress: float
    encrypt: float


class _Timed:
    """A reader that counts the seconds spent in the wrapped reader (the compressor)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.seconds = 0.0

    def read(self, size: int = -1) -> bytes:
        started = time.perf_counter()
        try:
            return bytes(self.inner.read(size))
        finally:
            self.seconds += time.perf_counter() - started


class _Hashing:
    """A writer that hashes and counts what goes through it."""

    def __init__(self, inner: IO[bytes]) -> None:
        self.inner = inner
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.inner.write(data)

    def flush(self) -> None:
        self.inner.flush()


def _passphrase(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SnapshotError(
            f"cannot read the passphrase file {path}: {exc.__class__.__name__}",
            hint="check encrypt.passphrase_file (a text file holding the passphrase)",
        ) from None
    phrase = text.rstrip("\r\n")
    if not phrase:
        raise SnapshotError(f"the passphrase file {path} is empty", hint="write a passphrase in it")
    return phrase


def seal(copy: Path, out: Path, encryption: SnapshotEncryption) -> Sealed:
    """Compress and encrypt ``copy`` into ``out`` (created 0600); raises SnapshotError."""
    import pyrage  # noqa: PLC0415 - imported when a snapshot is taken
    import zstandard  # noqa: PLC0415

    compressor = zstandard.ZstdCompressor(level=LEVEL, write_checksum=True)
    started = time.perf_counter()
    try:
        if encryption.passphrase_file is not None:
            phrase = _passphrase(Path(encryption.passphrase_file))
            packed = out.with_name(out.name + ".zst")
            try:
                with copy.open("rb") as src, packed.open("wb") as dst:
                    compressor.copy_stream(src, dst, read_size=CHUNK, write_size=CHUNK)
                compressed = time.perf_counter() - started
                data = pyrage.passphrase.encrypt(packed.read_bytes(), phrase)
            finally:
                packed.unlink(missing_ok=True)
            with _create(out) as dst:
                writer = _Hashing(dst)
                writer.write(data)
            return Sealed(
                out,
                writer.size,
                writer.digest.hexdigest(),
                compressed,
                time.perf_counter() - started - compressed,
            )
        recipients = [pyrage.x25519.Recipient.from_str(key) for key in encryption.recipients]
        with copy.open("rb") as src, _create(out) as dst:
            reader = _Timed(compressor.stream_reader(src, read_size=CHUNK))
            writer = _Hashing(dst)
            pyrage.encrypt_io(reader, writer, recipients)
    except (pyrage.EncryptError, pyrage.RecipientError) as exc:
        out.unlink(missing_ok=True)
        raise SnapshotError(
            f"age encryption failed: {exc}", hint="check encrypt.recipients (age1... keys)"
        ) from None
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    total = time.perf_counter() - started
    return Sealed(
        out, writer.size, writer.digest.hexdigest(), reader.seconds, total - reader.seconds
    )


def _create(path: Path) -> IO[bytes]:
    """A new file opened for writing, mode 0600 from the start."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    return os.fdopen(fd, "wb")


def read_identities(path: Path, encryption: SnapshotEncryption) -> list[Any] | str:
    """The age identities in ``path`` (x25519 ``AGE-SECRET-KEY-1...`` lines), or, for a
    destination encrypted with a passphrase, the passphrase it holds.  Never echoes the file."""
    if encryption.passphrase_file is not None:
        return _passphrase(path)
    import pyrage  # noqa: PLC0415

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SnapshotError(
            f"cannot read the identity file {path}: {exc.__class__.__name__}",
            hint="give the file age-keygen wrote (--identity FILE or identity_file:)",
        ) from None
    identities = []
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            identities.append(pyrage.x25519.Identity.from_str(text))
        except pyrage.IdentityError:
            raise SnapshotError(
                f"line {number} of {path} is not an age identity (AGE-SECRET-KEY-1...)",
                hint="give the file age-keygen wrote, not the public key",
            ) from None
    if not identities:
        raise SnapshotError(
            f"{path} holds no age identity (AGE-SECRET-KEY-1...)",
            hint="give the file age-keygen wrote, not the public key",
        )
    return identities


def open_sealed(stored: Path, out: Path, identity: Path, encryption: SnapshotEncryption) -> None:
    """Decrypt and decompress ``stored`` into ``out``; raises SnapshotError and removes ``out``
    when the identity does not fit or the data is damaged."""
    import pyrage  # noqa: PLC0415
    import zstandard  # noqa: PLC0415

    keys = read_identities(identity, encryption)
    try:
        with (
            _create(out) as dst,
            zstandard.ZstdDecompressor().stream_writer(dst, closefd=False) as writer,
        ):
            if isinstance(keys, str):
                packed = pyrage.passphrase.decrypt(stored.read_bytes(), keys)
                for start in range(0, len(packed), CHUNK):
                    writer.write(packed[start : start + CHUNK])
            else:
                with stored.open("rb") as src:
                    pyrage.decrypt_io(src, writer, keys)
    except pyrage.DecryptError as exc:
        out.unlink(missing_ok=True)
        raise SnapshotError(
            f"{identity} cannot decrypt this snapshot ({exc})",
            hint="give the identity (private key) that belongs to one of encrypt.recipients, or "
            "the passphrase file the snapshots were made with",
        ) from None
    except zstandard.ZstdError as exc:
        out.unlink(missing_ok=True)
        raise SnapshotError(
            f"the decrypted snapshot is not valid zstd data ({exc})",
            hint="the snapshot is damaged: pick an older one (--at)",
        ) from None
    except BaseException:
        out.unlink(missing_ok=True)
        raise


def file_digest(path: Path) -> tuple[int, str]:
    """Size and hex SHA-256 of a file, read in pieces."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as src:
        while chunk := src.read(1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()
