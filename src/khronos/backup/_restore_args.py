"""The arguments of a restore: which point in time, which output file (the database is picked by
:meth:`khronos.config.BackupConfig.select`)."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

from khronos.errors import RestoreError, RestoreRefusedError

__all__ = ["not_a_file", "output_target", "parse_timestamp", "parse_txid_arg"]


def parse_timestamp(value: str | datetime) -> datetime:
    """An RFC 3339 time with a zone (``2025-01-31T12:00:00Z``) as an aware UTC datetime."""
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(value.strip().replace("z", "Z"))
        except ValueError as exc:
            raise RestoreError(
                f"invalid timestamp {value!r}",
                hint="use RFC 3339 with a zone, e.g. 2025-01-31T12:00:00Z",
            ) from exc
    if moment.tzinfo is None:
        raise RestoreError(
            f"timestamp {value!s} has no time zone",
            hint="add Z for UTC or an offset, e.g. 2025-01-31T12:00:00Z",
        )
    return moment.astimezone(UTC)


def parse_txid_arg(value: str | int) -> str:
    """A transaction id as Litestream wants it: 16 hex digits."""
    try:
        number = value if isinstance(value, int) else int(str(value).removeprefix("0x"), 16)
    except ValueError as exc:
        raise RestoreError(
            f"invalid txid {value!r}", hint="a hex number, e.g. 00000000000000a1"
        ) from exc
    if not 0 < number < 1 << 64:
        raise RestoreError(f"txid {value!r} is out of range", hint="txids start at 1")
    return f"{number:016x}"


def output_target(output: Path | str) -> Path:
    """The absolute path ``-o`` names, refused when it would create anything unexpected.

    A missing folder is not created (a typo would go unnoticed).  A dangling symbolic link is
    refused rather than followed: following it would create folders and a database at the
    link's target, a place the user never named (in a shared folder, one someone else may have
    planted), and replacing the link instead would quietly drop what the user linked to.  A link
    to an existing file is followed, as for the database itself.
    """
    raw = Path(output).expanduser()
    if raw.is_symlink() and not raw.exists():
        raise RestoreRefusedError(
            f"{raw} is a symbolic link to {raw.readlink()}, which does not exist",
            hint="give the path of the real file with -o (or remove the link)",
        )
    target = raw.resolve()
    if not target.parent.is_dir():
        raise RestoreRefusedError(
            f"the folder {target.parent} does not exist",
            hint=f"create it first (mkdir -p {target.parent}) or correct the -o path",
        )
    return target


def not_a_file(path: Path) -> str | None:
    """What ``path`` is when it exists and is not a regular file (``a directory``...)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    kinds = [
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
    ]
    return next((name for test, name in kinds if test(mode)), None)
