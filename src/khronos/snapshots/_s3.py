"""The S3 client of the snapshot uploader (boto3), and its errors in plain words.

boto3 is the well-kept S3 client that does what an upload of a few hundred MB needs: multipart
transfers (parts retried one by one), retries with backoff for throttling and dropped
connections, path-style addressing for S3-compatible stores.  It is imported only when a
snapshot is taken, listed or fetched.

Everything comes from the destination's settings, nothing from surprises in the environment:
the endpoint, region, path style and keys of ``snapshots[]`` (keys fall back to boto3's usual
chain, ``AWS_ACCESS_KEY_ID``...), and ``verify=`` is always given (boto3's own CA bundle, or off
with ``skip_verify``), so an ``AWS_CA_BUNDLE`` meant for something else cannot break an
``http://`` endpoint or an ``https://`` one.  Flexible checksums are sent only where S3 requires
them: several S3-compatible stores (B2, R2, older MinIO) reject the CRC headers newer boto3
sends by default.

The translation below is written for boto3's exceptions; Litestream's S3 errors arrive as
text and are explained by :mod:`khronos.backup` (a different input, the same words where the
cause is the same: a missing bucket, rejected keys, an unreachable endpoint).
"""

from __future__ import annotations

import errno
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from khronos.errors import SnapshotError
from khronos.redact import redact

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from khronos.config import SnapshotDestination

__all__ = ["make_client", "part_size", "translate"]

_PART = 16 * 1024 * 1024
"""Multipart part size when the destination sets none (S3's minimum is 5 MiB)."""
_CODE = re.compile(r"An error occurred \((\w+)\)")
_DENIED = {
    "AccessDenied",
    "AllAccessDisabled",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
    "403",
    "Forbidden",
}


def part_size(dest: SnapshotDestination) -> int:
    return max(int(dest.part_size or _PART), 5 * 1024 * 1024)


def _secret(value: Any) -> str | None:
    return None if value is None else str(value.get_secret_value())


def make_client(dest: SnapshotDestination) -> S3Client:
    """A boto3 S3 client for ``dest`` (its own session: safe to use from one thread)."""
    import boto3  # noqa: PLC0415 - imported when a snapshot is taken, listed or fetched
    from botocore.config import Config  # noqa: PLC0415

    config = Config(
        region_name=dest.region or "us-east-1",
        signature_version="s3v4",
        s3={"addressing_style": "path" if dest.force_path_style else "auto"},
        retries={"mode": "standard", "max_attempts": 5},
        connect_timeout=10,
        read_timeout=60,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    session = boto3.session.Session()
    try:
        return session.client(
            "s3",
            endpoint_url=dest.endpoint or None,
            aws_access_key_id=_secret(dest.access_key_id),
            aws_secret_access_key=_secret(dest.secret_access_key),
            verify=not dest.skip_verify,
            config=config,
        )
    except Exception as exc:  # noqa: BLE001 - every boto3 failure becomes a SnapshotError
        raise translate(exc, dest, "connect") from None


def _client_code(exc: BaseException) -> tuple[str, int] | None:
    """The S3 error code (and HTTP status) of a ClientError, also inside boto3's upload error."""
    from botocore.exceptions import ClientError  # noqa: PLC0415

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ClientError):
            error = seen.response.get("Error", {})
            status = int(seen.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
            return str(error.get("Code") or status or "error"), status
        match = _CODE.search(str(seen)) if seen.__class__.__name__.endswith("FailedError") else None
        if match:
            return match[1], 0
        seen = seen.__cause__ or seen.__context__
    return None


def translate(exc: BaseException, dest: SnapshotDestination, op: str) -> SnapshotError:
    """``exc`` (from boto3 or the OS) as a short SnapshotError: no keys, no request ids."""
    from botocore import exceptions as boto  # noqa: PLC0415

    where = dest.display
    endpoint = dest.endpoint or "AWS S3"
    coded = _client_code(exc)
    if coded is not None:
        code, status = coded
        if code == "NoSuchBucket":
            return SnapshotError(
                f"{op}: bucket {dest.bucket!r} does not exist at {endpoint}",
                hint="create it, or check the destination's bucket, endpoint and region",
            )
        if code in _DENIED or status == 403:
            return SnapshotError(
                f"{op}: {where} denied access ({code})",
                hint="check access-key-id and secret-access-key and that the key may list, "
                "read, write and delete in the bucket",
            )
        if code in {"NoSuchKey", "404", "NotFound"}:
            return SnapshotError(
                f"{op}: the object is missing from {where}",
                hint="it was deleted meanwhile: list the snapshots again",
                recoverable=True,
            )
        if code in {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout"}:
            return SnapshotError(
                f"{op}: {where} is busy or failing ({code})",
                hint="the next snapshot retries",
                recoverable=True,
            )
        return SnapshotError(f"{op}: {where} answered {code}", recoverable=True)
    if isinstance(exc, boto.SSLError):
        return SnapshotError(
            f"{op}: TLS failed with {endpoint}",
            hint="check the endpoint's certificate (skip_verify: true for a self-signed test "
            "server only)",
        )
    if isinstance(exc, boto.ConnectionError | boto.HTTPClientError):
        return SnapshotError(
            f"{op}: cannot reach {endpoint} ({exc.__class__.__name__})",
            hint="check the destination's endpoint and the network; the next snapshot retries",
            recoverable=True,
        )
    if isinstance(exc, boto.NoCredentialsError | boto.PartialCredentialsError):
        return SnapshotError(
            f"{op}: no S3 credentials for {where}",
            hint="set access-key-id and secret-access-key on the destination",
        )
    if isinstance(exc, OSError):
        return os_error(exc, op)
    return SnapshotError(f"{op}: {where}: {exc.__class__.__name__}: {redact(str(exc))[:160]}")


def os_error(exc: OSError, op: str, path: Path | str | None = None) -> SnapshotError:
    """An OS error (disk full, permissions...) as a short SnapshotError."""
    where = path or exc.filename or ""
    if exc.errno in {errno.ENOSPC, errno.EDQUOT}:
        return SnapshotError(
            f"{op}: disk full at {where}",
            hint="free space there, then retry",
            recoverable=True,
        )
    if exc.errno in {errno.EACCES, errno.EPERM, errno.EROFS}:
        return SnapshotError(
            f"{op}: permission denied at {where}", hint="fix the folder's owner or permissions"
        )
    reason = exc.strerror or exc.__class__.__name__
    return SnapshotError(f"{op}: {reason}" + (f" at {where}" if where else ""), recoverable=True)
