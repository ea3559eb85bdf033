"""The alert API: ``POST /api/alerts`` for an app in any language, ``POST /api/alerts/test``.

Both go through :class:`~khronos.alerts._gate.ApiGate` (404 without ``http.token``, 401 for a
missing or wrong bearer token, 429 when one client floods, 413 over 16 KiB, 415 for a non-JSON
content type, 400 for invalid JSON); then the body is validated (400 naming the field).
Accepted: 202 with JSON.  When the engine cannot take the alert, 503 with the reason and
``Retry-After``: nothing was queued and the client may try again.

``POST /api/alerts`` takes ``{"action", "key", "level", "message", "details"}`` and goes
through the engine exactly as the library does:

- ``send`` (the default): :meth:`AlertEngine.send_alert`, deduplicated for ``alerts.cooldown``
  by ``key`` (default: level and message), under the same ``api.`` prefix;
- ``fire``: :meth:`AlertEngine.fire` of the condition ``key`` (required): notified when it
  starts, gets worse or is due a repeat (``alerts.repeat_interval``);
- ``resolve``: :meth:`AlertEngine.resolve` of the condition ``key`` (required): a resolved
  notice saying how long it lasted (``message``, optional, replaces the quoted text).

A caller's key lives in its own namespace: the engine sees ``api.<key>`` (:data:`API_KEY_PREFIX`),
so no request can fire or resolve one of Khronos' own conditions (``backup.replica.app``,
``heartbeat.nightly``...).  The answer: ``{"id", "key", "action", "status"}`` where ``status``
is ``queued`` (a message is on its way; ``id`` names it), ``suppressed`` (deduplicated or
already firing; ``id`` null), ``silenced`` (an active silence covers it: logged, counted and
shown on the status API, not sent; ``silence`` is the silence's id), ``resolved`` (``id`` of
the resolved notice, null when ``alerts.send_resolved`` is off) or ``not_firing`` (nothing to
resolve).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from khronos.alerts._catalog import Text
from khronos.alerts._engine import AlertEngine
from khronos.alerts._gate import ApiGate, api_error, refused_response
from khronos.alerts._model import Level, parse_level
from khronos.errors import RequestRefusedError
from khronos.health import get_health
from khronos.redact import get_redactor

__all__ = ["API_KEY_PREFIX", "API_PART", "alert_routes"]

API_PART = "alerts.api"
"""The part an engine failure under the API is counted under (``khronos_internal_errors_total``)."""
API_KEY_PREFIX = "api."
"""What the engine's key of a condition raised through ``POST /api/alerts`` starts with."""
_MAX_MESSAGE = 2000
_KEY_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
_ACTIONS = ("send", "fire", "resolve")
_FIELDS = ("action", "details", "key", "level", "message")
_LEVELS = "one of INFO, WARN, ERROR, CRITICAL"


class _BodyError(ValueError):
    """A field of the body is wrong (the text says which and how)."""


class _AlertEndpoints:
    def __init__(self, engine: AlertEngine, test_gate: ApiGate, gate: ApiGate) -> None:
        self.engine = engine
        self.test_gate = test_gate
        self.gate = gate

    async def test(self, request: Request) -> JSONResponse:
        try:
            data = await self.test_gate.admit_json(request)
            _check_fields(data, ("details", "level", "message"))
            message = _message(data, required=False) or Text("test.api")
            level = _level(data, required=False)
            level = Level.INFO if level is None else level
            details = _details(data)
        except RequestRefusedError as refused:
            return refused_response(refused)
        except _BodyError as problem:
            return api_error(400, str(problem))
        return self._guarded(
            lambda: {"id": self.engine.enqueue_test(message, level, details), "status": "queued"}
        )

    async def alert(self, request: Request) -> JSONResponse:
        try:
            data = await self.gate.admit_json(request)
            _check_fields(data, _FIELDS)
            action = _action(data)
            key = _key(data, required=action != "send")
            resolving = action == "resolve"
            message = _message(data, required=not resolving)
            level = _level(data, required=not resolving)
            level = Level.WARN if level is None else level  # a resolved notice has its own
            details = _details(data)
        except RequestRefusedError as refused:
            return refused_response(refused)
        except _BodyError as problem:
            return api_error(400, str(problem))
        engine = self.engine

        def act() -> dict[str, Any]:
            answer: dict[str, Any] = {"id": None, "key": key, "action": action}
            if action == "send":
                # the caller's dedupe keys stay apart from Khronos' own fingerprints
                fingerprint = f"{API_KEY_PREFIX}{key or f'{level.name}:{message}'}"
                answer["id"] = engine.send_alert(message, level, details, fingerprint)
                return _outcome(engine, answer, fingerprint, level, message)
            condition = f"{API_KEY_PREFIX}{key}"
            if action == "fire":
                answer["id"] = engine.fire(condition, message, level, details)
                return _outcome(engine, answer, condition, level, message)
            if not engine.is_firing(condition):
                answer["status"] = "not_firing"
                return answer
            answer["id"] = engine.resolve(condition, message or None)
            answer["status"] = "resolved"
            return answer

        return self._guarded(act)

    def _guarded(self, act: Callable[[], dict[str, Any]]) -> JSONResponse:
        try:
            answer = act()
        except RecursionError:
            return api_error(400, "details are nested too deeply")
        except Exception as exc:  # noqa: BLE001 - the engine's fault is a 503, never a 500
            get_health().record_error(API_PART, exc)
            reason = get_redactor().redact(f"{type(exc).__name__}: {exc}")
            return api_error(
                503,
                f"the alert could not be queued ({reason}); see the khronos log",
                {"Retry-After": "60"},
            )
        return JSONResponse(answer, status_code=202)


def _outcome(
    engine: AlertEngine, answer: dict[str, Any], key: str, level: Level, message: str
) -> dict[str, Any]:
    """``queued`` with the alert's id; else ``silenced`` (with the silence's id: the alert was
    logged and counted, not sent) or ``suppressed`` (a duplicate within the cooldown, or a
    condition with no notice due)."""
    if answer["id"]:
        answer["status"] = "queued"
        return answer
    silence = engine.silenced_by(key, level, message)
    answer["status"] = "suppressed" if silence is None else "silenced"
    if silence is not None:
        answer["silence"] = silence
    return answer


def _check_fields(data: dict[str, Any], allowed: tuple[str, ...]) -> None:
    extra = set(data) - set(allowed)
    if extra:
        raise _BodyError(
            f"unknown field(s): {', '.join(sorted(extra))}; allowed: {', '.join(allowed)}"
        )


def _action(data: dict[str, Any]) -> str:
    action = data.get("action", "send")
    if action not in _ACTIONS:
        raise _BodyError(f"action must be one of {', '.join(_ACTIONS)}")
    return str(action)


def _message(data: dict[str, Any], *, required: bool) -> str:
    message = data.get("message")
    if message is None and not required:
        return ""
    if not isinstance(message, str) or len(message) > _MAX_MESSAGE:
        raise _BodyError(f"message must be a string of at most {_MAX_MESSAGE} characters")
    if required and not message.strip():
        raise _BodyError("message is required (a non-empty string)")
    return message


def _level(data: dict[str, Any], *, required: bool) -> Level | None:
    level = data.get("level")
    if level is None:
        if required:
            raise _BodyError(f"level is required: {_LEVELS}")
        return None
    if not isinstance(level, str):
        raise _BodyError(f"level must be {_LEVELS}")
    try:
        return parse_level(level)
    except ValueError as exc:
        raise _BodyError(str(exc)) from None


def _details(data: dict[str, Any]) -> dict[str, Any]:
    details = data.get("details")
    if details is None:
        return {}
    if not isinstance(details, dict):
        raise _BodyError("details must be a JSON object")
    return details


def _key(data: dict[str, Any], *, required: bool) -> str | None:
    key = data.get("key")
    if key is None:
        if required:
            raise _BodyError("key is required to fire or resolve a condition")
        return None
    if not isinstance(key, str) or not _KEY_RE.fullmatch(key):
        raise _BodyError(
            "key must be 1 to 128 characters: letters, digits, '.', '_', ':' and '-', "
            "starting with a letter or digit"
        )
    return key


def alert_routes(
    engine: AlertEngine,
    token: SecretStr | str | None,
    *,
    per_minute: float = 10.0,
    burst: int = 5,
    api_per_minute: float = 600.0,
    api_burst: int = 60,
) -> list[Route]:
    """The alert API routes for the daemon's Starlette app (pass ``config.http.token``).

    ``per_minute``/``burst``: test alerts per client; ``api_per_minute``/``api_burst``:
    ``POST /api/alerts`` requests per client (deduplicated ones count too).
    """
    endpoints = _AlertEndpoints(
        engine,
        ApiGate(token, per_minute=per_minute, burst=burst, what="test alerts"),
        ApiGate(token, per_minute=api_per_minute, burst=api_burst, what="alerts"),
    )
    return [
        Route("/api/alerts/test", endpoints.test, methods=["POST"], name="alerts_test"),
        Route("/api/alerts", endpoints.alert, methods=["POST"], name="alerts"),
    ]
