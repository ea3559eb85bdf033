"""The Telegram console's commands: parsing a message into a command, and each command's reply.

Everything here turns untrusted text (a chat message) and the daemon's data into one reply in
Telegram HTML: every value passes :func:`~khronos.alerts.escape`, and the reply is cut with
:func:`truncate_html` so it stays under Telegram's 4096 characters whatever the data holds.
The daemon's parts are reached through :class:`ConsoleActions` (callables, None when absent), so
this module knows nothing of the backup package or the dashboard.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from khronos.alerts._catalog import Zone, format_clock, format_stamp, localize, translate
from khronos.alerts._conditions import human_duration
from khronos.alerts._format import MAX_MESSAGE_LENGTH, escape, strip_html, truncate_html
from khronos.alerts._model import LEVEL_EMOJI, Condition
from khronos.config import parse_duration

__all__ = [
    "COMMANDS",
    "Command",
    "ConsoleActions",
    "SilenceBook",
    "answer_command",
    "parse_command",
]

COMMANDS: dict[str, str] = {
    name: translate(f"cmd.{name}")
    for name in ("status", "alerts", "ack", "backup", "drill", "silence", "unsilence", "silences")
} | {"help": translate("cmd.help")}
"""Each command and its one-line description in English (``setMyCommands``, ``/help``)."""

_COMMAND_RE = re.compile(r"/([A-Za-z0-9_]{1,32})(?:@([A-Za-z0-9_]{1,64}))?(?=\s|$)")
_MAX_ARGS = 8
_MAX_ARG = 200
_DAY_S = 20 * 3600.0


def command_descriptions(language: str = "en") -> dict[str, str]:
    """Each command and its description in ``language`` (``setMyCommands``)."""
    return {name: translate(f"cmd.{name}", language) for name in COMMANDS}


@dataclass(frozen=True, slots=True)
class Speech:
    """How the console speaks: ``alerts.language`` and ``alerts.timezone``."""

    language: str = "en"
    tz: Zone = None

    def html(self, msgid: str, **values: object) -> str:
        """The catalog text in HTML: every string value rendered and escaped."""
        return translate(msgid, self.language, **{k: self._escaped(v) for k, v in values.items()})

    def plain(self, msgid: str, **values: object) -> str:
        """The catalog text as plain text (values rendered, not escaped)."""
        return translate(msgid, self.language, **values)

    def _escaped(self, value: object) -> object:
        value = localize(value, self.language, self.tz)
        return escape(value) if isinstance(value, str) else value

    def duration(self, seconds: float) -> str:
        """A duration as this language writes it (``5m``; ``5 min`` in pt-BR)."""
        return str(localize(human_duration(seconds), self.language))

    def clock(self, at: float, now: float | None = None) -> str:
        """``14:02 -03``; with the date when ``at`` is more than 20 hours from ``now``."""
        if now is not None and abs(now - at) > _DAY_S:
            return format_stamp(at, self.tz, "%Y-%m-%d %H:%M")
        return format_clock(at, self.tz)


class SilenceBook(Protocol):
    """Runtime silences, as the console needs them (the silences part provides one)."""

    def add(self, match: str, duration_s: float, reason: str, by: str) -> str:
        """Silence alerts matching ``match`` for ``duration_s`` seconds; the silence's id."""
        ...

    def remove(self, id: str) -> bool:  # noqa: A002 - the protocol's agreed name
        """End silence ``id``; False when there is none."""
        ...

    def list(self) -> list[dict[str, Any]]:
        """The active silences (``id``, ``match``, ``ends_at``, ``reason``, ``by``)."""
        ...


@dataclass(frozen=True, slots=True)
class ConsoleActions:
    """What the console can reach; None: not in this daemon (the command says so).

    ``status``: the ``/api/status`` document; ``backup``/``drill``: run one and return lines of
    plain text to report; ``ack``: acknowledge condition ``key`` for ``by`` (False: not firing).
    """

    status: Callable[[], Mapping[str, Any]] | None = None
    conditions: Callable[[], Mapping[str, Condition]] | None = None
    backup: Callable[[], Awaitable[Sequence[str]]] | None = None
    drill: Callable[[], Awaitable[Sequence[str]]] | None = None
    ack: Callable[[str, str], bool] | None = None
    silences: SilenceBook | None = None


@dataclass(frozen=True, slots=True)
class Command:
    """A parsed command: its name (lower case) and arguments."""

    name: str
    args: tuple[str, ...]
    by: str = "?"
    reply_to_text: str = ""


def parse_command(text: str, bot_username: str = "") -> tuple[str, tuple[str, ...]] | None:
    """``/name@bot arg1 arg2`` as ``(name, args)``; None when the text is not a command for this
    bot (no leading ``/``, or addressed to another bot).  At most 8 arguments of 200 characters
    are kept (the rest of a huge message is ignored)."""
    text = text.lstrip()
    match = _COMMAND_RE.match(text)
    if match is None:
        return None
    target = match.group(2)
    if target and bot_username and target.lower() != bot_username.lower():
        return None
    rest = text[match.end() :].split(maxsplit=_MAX_ARGS)
    args = tuple(arg[:_MAX_ARG] for arg in rest[:_MAX_ARGS])
    if len(rest) > _MAX_ARGS and args:  # the reason of /silence keeps its words
        args = (*args[:-1], " ".join(rest[_MAX_ARGS - 1 :])[:_MAX_ARG])
    return match.group(1).lower(), args


async def answer_command(
    command: Command, actions: ConsoleActions, speech: Speech | None = None
) -> str:
    """The reply (Telegram HTML, under 4096 characters) to ``command``, in ``speech``'s
    language and time zone (default English, UTC)."""
    say = speech or Speech()
    handler = _HANDLERS.get(command.name)
    if handler is None:
        html = say.html("reply.unknown", name=command.name)
    else:
        html = await handler(command, actions, say)
    if not strip_html(html).strip():  # Telegram refuses an empty message
        html = say.html("reply.empty", name=command.name)
    return truncate_html(html, MAX_MESSAGE_LENGTH)


async def _help(command: Command, actions: ConsoleActions, say: Speech) -> str:  # noqa: ARG001
    lines = [f"<b>{say.html('reply.help_title')}</b>"]
    descriptions = command_descriptions(say.language)
    lines += [f"/{name} — {escape(text)}" for name, text in descriptions.items()]
    return "\n".join(lines)


def _ago(at: Any, now: float, say: Speech) -> str:
    """``14:02 -03 (3s ago)``: the time in the owner's zone and how long ago."""
    if not isinstance(at, int | float):
        return say.plain("reply.never")
    return say.plain("reply.at_ago", at=say.clock(float(at), now), duration=say.duration(now - at))


def _database_line(db: Mapping[str, Any], now: float, say: Speech) -> str:
    lag = db.get("lag_seconds")
    lag_text = say.plain("reply.unknown_value") if lag is None else say.duration(float(lag))
    state = "✅" if db.get("replicating") and not db.get("replica_down") else "❌"
    drill = db.get("last_drill") or {}
    drill_text = say.plain("reply.no_drill")
    if isinstance(drill, Mapping) and drill.get("at") is not None:
        when = _ago(drill.get("at"), now, say)
        drill_text = say.plain(
            "reply.drill_ok" if drill.get("ok") else "reply.drill_failed", when=when
        )
    line = say.html(
        "reply.database",
        state=state,
        db=str(db.get("label", "?")),
        lag=lag_text,
        sync=_ago(db.get("last_sync_at"), now, say),
        drill=drill_text,
    )
    if db.get("last_error"):
        line += f"\n    <i>{escape(localize(db['last_error'], say.language, say.tz))}</i>"
    for snap in db.get("snapshots") or []:
        if isinstance(snap, Mapping):
            line += "\n    " + _snapshot_line(snap, now, say)
    return line


def _snapshot_line(snap: Mapping[str, Any], now: float, say: Speech) -> str:
    """``✅ snapshot offsite: 14:02 UTC (3m ago)``, or failing with its error (the second copy)."""
    failing = snap.get("last_error")
    state = "❌" if failing or snap.get("stale") else "✅"
    line = say.html(
        "reply.snapshot",
        state=state,
        dest=str(snap.get("dest", "?")),
        when=_ago(snap.get("last_success_at"), now, say),
    )
    if failing:
        line += f" — <i>{escape(localize(failing, say.language, say.tz))}</i>"
    return line


def _app_line(app: Mapping[str, Any], say: Speech) -> str:
    return say.html(
        "reply.app",
        state=say.plain("reply.app_up" if app.get("up") else "reply.app_down"),
        command=str(app.get("command", "?")),
        restarts=str(app.get("restarts", 0)),
    )


async def _status(command: Command, actions: ConsoleActions, say: Speech) -> str:  # noqa: ARG001
    if actions.status is None:
        return say.html("reply.no_status")
    doc = actions.status()
    now = time.time()
    overall = doc.get("overall") or {}
    state = str(overall.get("state", "?"))
    emoji = {"OK": "✅", "WARN": "⚠️", "CRITICAL": "🚨"}.get(state, "❔")
    word = say.plain(f"reply.state.{state}") if state in ("OK", "WARN", "CRITICAL") else state
    service = doc.get("service") or {}
    lines = [f"{emoji} <b>{escape(service.get('name', 'khronos'))}</b>: {escape(word)}"]
    reasons = overall.get("reasons") or []
    lines += [f"• {escape(localize(r, say.language, say.tz))}" for r in reasons]
    databases = doc.get("databases") or []
    lines.append(
        f"\n<b>{say.html('reply.databases')}</b>"
        if databases
        else "\n" + say.html("reply.no_database")
    )
    lines += [_database_line(db, now, say) for db in databases if isinstance(db, Mapping)]
    app = doc.get("app")
    if isinstance(app, Mapping):
        lines.append("\n" + _app_line(app, say))
    checks = [c for c in doc.get("checks") or [] if isinstance(c, Mapping)]
    if checks:
        lines.append(f"\n<b>{say.html('reply.checks')}</b>")
        for check in checks:
            ok = check.get("ok")
            mark = "⏳" if ok is None else ("✅" if ok else "❌")
            detail = localize(check.get("message") or "", say.language, say.tz)
            text = f"{mark} {escape(check.get('name', '?'))}"
            lines.append(text + (f": {escape(detail)}" if detail else ""))
    return "\n".join(lines)


def _firing(actions: ConsoleActions) -> list[Condition]:
    if actions.conditions is None:
        return []
    return sorted(actions.conditions().values(), key=lambda c: (-int(c.level), c.started))


async def _alerts(command: Command, actions: ConsoleActions, say: Speech) -> str:  # noqa: ARG001
    firing = _firing(actions)
    if not firing:
        return say.html("reply.nothing_firing")
    now = time.time()
    lines = [f"<b>{say.html('reply.firing', count=len(firing))}</b>"]
    for cond in firing:
        acked = say.html("reply.acked_by", by=cond.acked_by) if cond.acked_by else ""
        head = say.html(
            "reply.firing_line",
            emoji=LEVEL_EMOJI[cond.level],
            key=cond.key,
            duration=say.duration(now - cond.started),
        )
        message = escape(localize(cond.message, say.language, say.tz))
        lines.append(f"{head}{acked}\n    {message}")
    return "\n".join(lines)


async def _ack(command: Command, actions: ConsoleActions, say: Speech) -> str:
    if actions.ack is None:
        return say.html("reply.no_ack")
    key = command.args[0] if command.args else ""
    if not key and command.reply_to_text:
        # the reply names no key: the condition whose message the replied alert shows
        for cond in _firing(actions):
            shown = localize(cond.notified_message, say.language, say.tz)
            if shown and shown in command.reply_to_text:
                key = cond.key
                break
    if not key:
        return say.html("reply.ack_usage")
    if not actions.ack(key, command.by):
        return say.html("reply.not_firing", key=key)
    return say.html("reply.acked", key=key, by=command.by)


async def _run_lines(
    what: str,
    action: Callable[[], Awaitable[Sequence[str]]] | None,
    say: Speech,
) -> str:
    if action is None:
        return say.html("reply.no_backup")
    try:
        lines = await action()
    except Exception as exc:  # noqa: BLE001 - the owner gets the failure as the answer
        error = localize(str(exc) or type(exc).__name__, say.language, say.tz)
        return say.html("reply.failed", what=say.plain(what), error=error)
    shown = [str(localize(line, say.language, say.tz)) for line in lines]
    text = "\n".join(escape(line) for line in shown if line.strip())
    return text or say.html("reply.nothing", what=say.plain(what))


async def _backup(command: Command, actions: ConsoleActions, say: Speech) -> str:  # noqa: ARG001
    return await _run_lines("reply.what_backup", actions.backup, say)


async def _drill(command: Command, actions: ConsoleActions, say: Speech) -> str:  # noqa: ARG001
    return await _run_lines("reply.what_drill", actions.drill, say)


async def _silence(command: Command, actions: ConsoleActions, say: Speech) -> str:
    if actions.silences is None:
        return say.html("reply.no_silences")
    if len(command.args) < 2:
        return say.html("reply.silence_usage")
    what, duration = command.args[0], command.args[1]
    try:
        seconds = parse_duration(duration).total_seconds()
    except ValueError:
        return say.html("reply.not_duration", value=duration)
    if seconds <= 0:
        return say.html("reply.positive")
    reason = " ".join(command.args[2:])
    silence_id = actions.silences.add(what, seconds, reason, command.by)
    return say.html("reply.silenced", what=what, duration=say.duration(seconds), id=silence_id)


async def _unsilence(command: Command, actions: ConsoleActions, say: Speech) -> str:
    if actions.silences is None:
        return say.html("reply.no_silences")
    if not command.args:
        return say.html("reply.unsilence_usage")
    if actions.silences.remove(command.args[0]):
        return say.html("reply.unsilenced", id=command.args[0])
    return say.html("reply.no_such_silence", id=command.args[0])


def _until(value: Any, say: Speech) -> str:
    """A silence's end (ISO 8601 from the store) in the owner's zone; other values as given."""
    if isinstance(value, int | float):
        return say.clock(float(value), time.time())
    if isinstance(value, str):
        try:
            at = datetime.fromisoformat(value)
        except ValueError:
            return value
        if at.tzinfo is not None:
            return say.clock(at.timestamp(), time.time())
    return str(value or "?")


async def _silences(command: Command, actions: ConsoleActions, say: Speech) -> str:  # noqa: ARG001
    if actions.silences is None:
        return say.html("reply.no_silences")
    active = actions.silences.list()
    if not active:
        return say.html("reply.no_silence")
    lines = [f"<b>{say.html('reply.silences', count=len(active))}</b>"]
    lines += [
        say.html(
            "reply.silence_line",
            id=str(s.get("id") or "?"),
            match=str(s.get("match") or s.get("key") or s.get("text") or ""),
            until=_until(s.get("until") or s.get("ends_at"), say),
            reason=str(s.get("reason") or ""),
        ).rstrip()
        for s in active
    ]
    return "\n".join(lines)


_Handler = Callable[[Command, ConsoleActions, Speech], Awaitable[str]]
_HANDLERS: dict[str, _Handler] = {
    "help": _help,
    "start": _help,
    "status": _status,
    "alerts": _alerts,
    "ack": _ack,
    "backup": _backup,
    "drill": _drill,
    "silence": _silence,
    "unsilence": _unsilence,
    "silences": _silences,
}
