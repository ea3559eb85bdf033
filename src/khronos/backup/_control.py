"""A client for Litestream 0.5's control socket (an HTTP API on a unix socket).

What 0.5.17 really answers, and what Khronos uses it for:

- ``POST /sync {"path", "wait": false}`` turns new WAL frames into a local LTX file and returns
  ``{"status", "txid", "replicated_txid"}``: the *local* txid, current to the moment of the call,
  and the replica position Litestream holds in memory (0 while unknown: right after a start, or
  after a failed upload, when Litestream resets it).  It never touches the network, so it is the
  cheap, exact poll.
- ``POST /sync {"wait": true, "timeout": s}`` also waits until the replica has that txid
  (``khronos backup now``).
- ``GET /list`` gives each database's ``status`` (replicating/open/stopped) and ``last_sync_at``,
  the time of the last successful upload to the replica.
- ``GET /info`` gives the version and the pid.

The socket's path is :attr:`khronos.state.StateDir.control_socket` (in ``state_dir``, or a short
name in the temp folder when that would not fit in ``sun_path``).

The client speaks HTTP/1.0 over the socket itself (one connection per request, the answer read
to the end) rather than through httpx: the daemon polls this socket all day, and an httpx
request cost ~1.2 ms of CPU here against ~0.2 ms for this one, which matters for a daemon
meant to idle below its own Litestream child.  HTTP/1.0 keeps it small: Go's server answers
it with the whole body and closes the connection (no chunked encoding, no keep-alive).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from khronos.errors import ControlError
from khronos.state import StateDir

__all__ = [
    "ControlClient",
    "ControlError",
    "DbListing",
    "SyncResult",
    "control_socket_path",
    "parse_time",
]


@dataclass(frozen=True, slots=True)
class SyncResult:
    """The answer to ``POST /sync``: local txid and the replica's (0: not known yet)."""

    status: str
    txid: int
    replicated_txid: int


@dataclass(frozen=True, slots=True)
class DbListing:
    """One entry of ``GET /list``."""

    path: str
    status: str
    last_sync_at: datetime | None


def control_socket_path(state_dir: Path) -> Path:
    """Where Khronos puts Litestream's control socket for ``state_dir`` (named by
    :attr:`khronos.state.StateDir.control_socket`)."""
    return StateDir(state_dir).control_socket


_GO_TIME = re.compile(
    r"(?P<head>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d)(?:\.(?P<frac>\d+))?"
    r"(?P<zone>[Zz]|[+-]\d\d:?\d\d)?"
)


def parse_time(value: str | None) -> datetime | None:
    """An RFC 3339 time (Go's nanoseconds, or Python's ``isoformat``) as an aware datetime.

    The zone is kept (``Z`` is UTC); a time written without one is taken as UTC, so every
    value compares with ``datetime.now(UTC)``.  Anything else raises ``ValueError``.
    """
    if not value:
        return None
    match = _GO_TIME.fullmatch(value.strip())
    if match is None:
        raise ValueError(f"not an RFC 3339 time: {value!r}")
    frac = (match["frac"] or "")[:6].ljust(6, "0")
    zone = match["zone"] or "+00:00"
    zone = "+00:00" if zone in "Zz" else zone
    return datetime.fromisoformat(f"{match['head']}.{frac}{zone}")


class ControlClient:
    """Async client for one control socket (a connection per request; nothing to close, but
    :meth:`aclose` and ``async with`` are kept for its callers)."""

    def __init__(self, socket_path: Path, *, timeout: float = 5.0) -> None:
        self.socket_path = socket_path
        self.timeout = timeout

    async def aclose(self) -> None:
        """Nothing to release: each request closes its own connection."""

    async def __aenter__(self) -> ControlClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def _request(
        self,
        method: str,
        url: str,
        body: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Any:
        op = f"litestream control {method} {url}"
        payload = b"" if body is None else json.dumps(body).encode()
        request = (
            f"{method} {url} HTTP/1.0\r\nHost: litestream\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
        ).encode() + payload
        try:
            status, reason, text = await self._exchange(request, timeout or self.timeout)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ControlError(
                f"no answer on {self.socket_path}: {str(exc) or type(exc).__name__}",
                op=op,
                hint="is khronos run (and its Litestream) running?",
                recoverable=True,
            ) from exc
        try:
            data = json.loads(text)
        except ValueError as exc:
            shown = text[:200].decode("utf-8", "replace")
            raise ControlError(f"not JSON: {shown!r}", op=op) from exc
        if status >= 400:
            message = data.get("error", reason) if isinstance(data, dict) else data
            raise ControlError(str(message), op=op, recoverable=status >= 500)
        return data

    async def _exchange(self, request: bytes, timeout: float) -> tuple[int, str, bytes]:
        """Send one request, read the answer to its end: (status, reason, body)."""
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_unix_connection(str(self.socket_path))
            try:
                writer.write(request)
                await writer.drain()
                answer = await reader.read()  # HTTP/1.0: the server closes after the body
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
        head, found, body = answer.partition(b"\r\n\r\n")
        if not found:
            raise ValueError("the connection closed before a whole answer")
        lines = head.decode("latin-1").split("\r\n")
        _version, code, *reason = lines[0].split(" ", 2)
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length" and len(body) < int(value):
                raise ValueError("the connection closed in the middle of the answer")
        return int(code), reason[0] if reason else "", body

    async def sync(self, db_path: Path, *, wait: bool = False, timeout: float = 30.0) -> SyncResult:
        """``POST /sync``; with ``wait`` also until the replica has the local txid."""
        body: dict[str, Any] = {"path": str(db_path)}
        if wait:
            body.update(wait=True, timeout=max(1, round(timeout)))
        data = await self._request("POST", "/sync", body, timeout=timeout + 5 if wait else None)
        return SyncResult(
            str(data.get("status", "")),
            int(data.get("txid") or 0),
            int(data.get("replicated_txid") or 0),
        )

    async def stop_db(self, db_path: Path, *, timeout: float = 30.0) -> None:
        """``POST /stop``: Litestream closes the database (final sync first) and lets go of it."""
        body = {"path": str(db_path), "timeout": max(1, round(timeout))}
        await self._request("POST", "/stop", body, timeout=timeout + 5)

    async def start_db(self, db_path: Path, *, timeout: float = 30.0) -> None:
        """``POST /start``: Litestream opens the database again and resumes replicating it."""
        body = {"path": str(db_path), "timeout": max(1, round(timeout))}
        await self._request("POST", "/start", body, timeout=timeout + 5)

    async def list(self) -> list[DbListing]:
        """``GET /list``: every database, its status and its last successful sync."""
        data = await self._request("GET", "/list")
        return [
            DbListing(str(d.get("path")), str(d.get("status")), parse_time(d.get("last_sync_at")))
            for d in data.get("databases") or []
        ]

    async def info(self) -> dict[str, Any]:
        """``GET /info``: version, pid, uptime."""
        data = await self._request("GET", "/info")
        return dict(data)
