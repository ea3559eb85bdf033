"""``/api/snapshots``: the snapshot destinations' state, and a snapshot taken now.

- ``GET /api/snapshots``: ``{"databases": {db: [entry...]}}`` (what ``/api/status`` shows per
  database: :func:`~khronos.snapshots.snapshot_status`).
- ``POST /api/snapshots``: queue a snapshot now (one at a time, after the running one), of
  every destination, or of those a JSON body names (``{"db": "app", "dest": "offsite"}``, both
  optional); 202 with the pairs queued, 404 when nothing matches, 400 for a malformed body.

Both go through :class:`~khronos.alerts.ApiGate` like the other write endpoints (404 without
``http.token``, 401 for a missing or wrong bearer token, 429 for a flood, 413 over 16 KiB).
"""

from __future__ import annotations

import json
import time

from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from khronos.alerts import ApiGate, api_error, refused_response
from khronos.errors import RequestRefusedError
from khronos.snapshots._schedule import SnapshotScheduler
from khronos.snapshots._status import snapshot_status

__all__ = ["snapshot_routes"]


def snapshot_routes(
    scheduler: SnapshotScheduler,
    token: SecretStr | str | None,
    *,
    per_minute: float = 60.0,
    burst: int = 10,
) -> list[Route]:
    """The routes for the daemon's Starlette app (pass ``config.http.token``)."""
    gate = ApiGate(token, per_minute=per_minute, burst=burst, what="snapshot requests")

    async def handle(request: Request) -> JSONResponse:
        try:
            body = await gate.admit(request)
        except RequestRefusedError as refused:
            return refused_response(refused)
        if request.method == "GET":
            states = scheduler.states()
            document = snapshot_status(
                scheduler.config, states, now=time.time(), running=scheduler.is_running
            )
            return JSONResponse({"databases": document})
        wanted = _wanted(body)
        if isinstance(wanted, str):
            return api_error(400, wanted)
        queued = scheduler.request(wanted.get("db"), wanted.get("dest"))
        if not queued:
            return api_error(404, "no snapshot destination matches (see GET /api/snapshots)")
        return JSONResponse(
            {"queued": [{"db": db, "dest": dest} for db, dest in queued]}, status_code=202
        )

    return [Route("/api/snapshots", handle, methods=["GET", "POST"], name="snapshots")]


def _wanted(body: bytes) -> dict[str, str] | str:
    """The body's ``db``/``dest`` filter, or what is wrong with it."""
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except ValueError:
        return 'the body is not JSON (send {} or {"db": NAME, "dest": NAME})'
    if not isinstance(data, dict):
        return "the body must be a JSON object"
    unknown = sorted(set(data) - {"db", "dest"})
    if unknown:
        return f"unknown field {unknown[0]!r} (only db and dest)"
    if any(not isinstance(value, str) for value in data.values()):
        return "db and dest must be strings"
    return {str(key): str(value) for key, value in data.items()}
