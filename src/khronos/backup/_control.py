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

The socket path must fit in ``sun_path`` (108 bytes); :func:`control_socket_path` picks a short
fallback in the temp folder, derived from ``state_dir`` so the CLI finds the same one.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from khronos.errors import ControlError

__all__ = [
    "ControlClient",
    "ControlError",
    "DbListing",
    "SyncResult",
    "control_socket_path",
    "parse_time",
]

_MAX_SOCKET_PATH = 100


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
    """Where Khronos puts Litestream's control socket for ``state_dir``."""
    path = state_dir / "litestream.sock"
    if len(str(path)) <= _MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(str(state_dir).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"khronos-{digest}.sock"


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
    """Async client for one control socket; one connection pool, closed by :meth:`aclose`."""

    def __init__(self, socket_path: Path, *, timeout: float = 5.0) -> None:
        self.socket_path = socket_path
        self._client = httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(uds=str(socket_path)),
            base_url="http://litestream",
            timeout=timeout,
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

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
        try:
            extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
            response = await self._client.request(method, url, json=body, **extra)
        except httpx.HTTPError as exc:
            raise ControlError(
                f"no answer on {self.socket_path}: {exc or type(exc).__name__}",
                op=op,
                hint="is khronos run (and its Litestream) running?",
                recoverable=True,
            ) from exc
        try:
            data = response.json()
        except ValueError as exc:
            raise ControlError(f"not JSON: {response.text[:200]!r}", op=op) from exc
        if response.status_code >= 400:
            message = data.get("error", response.reason_phrase) if isinstance(data, dict) else data
            raise ControlError(str(message), op=op, recoverable=response.status_code >= 500)
        return data

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
