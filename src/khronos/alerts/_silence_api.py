"""The silences API: ``POST /api/silences``, ``GET /api/silences``, ``DELETE /api/silences/{id}``.

Each request goes through an :class:`~khronos.alerts._gate.ApiGate` (404 without ``http.token``,
401 for a missing or wrong bearer token, 429 when one client floods, 413, 415, 400 for a body
that is not a JSON object), then the body is validated (400 naming the field).

- ``POST`` ``{"match", "duration", "level", "reason", "by"}``: ``match`` (required) silences
  alerts whose key matches it as a glob or whose text contains it; ``duration`` (required) as
  in the config (``30m``, ``2h``, ``1d``); ``level`` optional (only that level).  201 with the
  silence as :meth:`SilenceStore.list` shows it.
- ``GET``: 200 ``{"silences": [...]}``, config and runtime ones not over for good.
- ``DELETE /api/silences/{id}``: 204, or 404 when no runtime silence has that id.

A state file that cannot be written is a 503 with ``Retry-After``: nothing was changed.
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from khronos.alerts._gate import ApiGate, api_error, refused_response
from khronos.alerts._model import parse_level
from khronos.alerts._silences import MAX_MATCH, SilenceStore
from khronos.config import parse_duration
from khronos.errors import LockedError, RequestRefusedError

__all__ = ["silence_routes"]

_FIELDS = ("by", "duration", "level", "match", "reason")


class _Endpoints:
    def __init__(self, store: SilenceStore, gate: ApiGate) -> None:
        self.store = store
        self.gate = gate

    async def add(self, request: Request) -> Response:
        try:
            data = await self.gate.admit_json(request)
            match, seconds, level, reason, by = _body(data)
        except RequestRefusedError as refused:
            return refused_response(refused)
        except ValueError as problem:
            return api_error(400, str(problem))
        try:
            silence_id = self.store.add(match, seconds, reason, by, level=level)
        except ValueError as problem:
            return api_error(400, str(problem))
        except (OSError, LockedError) as exc:
            return api_error(503, f"cannot save the silence: {exc}", {"Retry-After": "10"})
        found = [s for s in self.store.list() if s["id"] == silence_id]
        return JSONResponse(found[0] if found else {"id": silence_id}, status_code=201)

    async def list(self, request: Request) -> Response:
        try:
            await self.gate.admit(request)
        except RequestRefusedError as refused:
            return refused_response(refused)
        return JSONResponse({"silences": self.store.list()})

    async def remove(self, request: Request) -> Response:
        try:
            await self.gate.admit(request)
        except RequestRefusedError as refused:
            return refused_response(refused)
        silence_id = str(request.path_params["silence_id"])
        try:
            removed = self.store.remove(silence_id)
        except (OSError, LockedError) as exc:
            return api_error(503, f"cannot save the change: {exc}", {"Retry-After": "10"})
        if not removed:
            return api_error(
                404, "no runtime silence with that id (config silences live in khronos.yml)"
            )
        return Response(status_code=204)


def _text(data: dict[str, Any], name: str, *, required: bool = False) -> str:
    value = data.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or len(value) > MAX_MATCH or (required and not value.strip()):
        need = "is required: a non-empty string" if required else "must be a string"
        raise ValueError(f"{name} {need} of at most {MAX_MATCH} characters")
    return value


def _body(data: dict[str, Any]) -> tuple[str, float, str | None, str, str]:
    extra = set(data) - set(_FIELDS)
    if extra:
        raise ValueError(f"unknown field(s): {', '.join(sorted(extra))}; allowed: {_FIELDS}")
    match = _text(data, "match", required=True)
    duration = data.get("duration")
    if not isinstance(duration, str):
        raise ValueError(  # noqa: TRY004 - every body problem is a ValueError (a 400)
            'duration is required: a string such as "30m", "2h" or "1d"'
        )
    seconds = parse_duration(duration).total_seconds()
    level = _text(data, "level") or None
    if level is not None:
        level = parse_level(level).name
    return match, seconds, level, _text(data, "reason"), _text(data, "by") or "api"


def silence_routes(
    store: SilenceStore,
    token: SecretStr | str | None,
    *,
    per_minute: float = 60.0,
    burst: int = 20,
) -> list[Route]:
    """The silences API routes for the daemon's Starlette app (pass ``config.http.token``)."""
    endpoints = _Endpoints(store, ApiGate(token, per_minute=per_minute, burst=burst))
    return [
        Route("/api/silences", endpoints.add, methods=["POST"], name="silences_add"),
        Route("/api/silences", endpoints.list, methods=["GET"], name="silences"),
        Route(
            "/api/silences/{silence_id}",
            endpoints.remove,
            methods=["DELETE"],
            name="silences_remove",
        ),
    ]
