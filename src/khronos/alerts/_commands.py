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
from typing import Any, Protocol

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
    "status": "Overall state, databases, app and checks",
    "alerts": "The conditions firing now",
    "ack": "Acknowledge an alert (reply to it, or /ack KEY)",
    "backup": "Force a sync and report the replica txid",
    "drill": "Run a restore drill now",
    "silence": "/silence WHAT DURATION [REASON]",
    "unsilence": "/unsilence ID",
    "silences": "The active silences",
    "help": "What the bot understands",
}
"""Each command and its one-line description (``setMyCommands``, ``/help``)."""

_COMMAND_RE = re.compile(r"/([A-Za-z0-9_]{1,32})(?:@([A-Za-z0-9_]{1,64}))?(?=\s|$)")
_MAX_ARGS = 8
_MAX_ARG = 200
_NOT_AVAILABLE = "silences are not available in this Khronos"


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


async def answer_command(command: Command, actions: ConsoleActions) -> str:
    """The reply (Telegram HTML, under 4096 characters) to ``command``."""
    handler = _HANDLERS.get(command.name)
    if handler is None:
        html = f"Unknown command /{escape(command.name)}. Send /help for the list."
    else:
        html = await handler(command, actions)
    if not strip_html(html).strip():  # Telegram refuses an empty message
        html = f"/{escape(command.name)}: nothing to report."
    return truncate_html(html, MAX_MESSAGE_LENGTH)


async def _help(command: Command, actions: ConsoleActions) -> str:  # noqa: ARG001
    lines = ["<b>Khronos commands</b>"]
    lines += [f"/{name} — {escape(text)}" for name, text in COMMANDS.items()]
    return "\n".join(lines)


def _ago(at: Any, now: float) -> str:
    if not isinstance(at, int | float):
        return "never"
    return f"{human_duration(now - float(at))} ago"


def _database_line(db: Mapping[str, Any], now: float) -> str:
    lag = db.get("lag_seconds")
    lag_text = "unknown" if lag is None else human_duration(float(lag))
    state = "✅" if db.get("replicating") and not db.get("replica_down") else "❌"
    drill = db.get("last_drill") or {}
    drill_text = "none yet"
    if isinstance(drill, Mapping) and drill.get("at") is not None:
        drill_text = ("ok " if drill.get("ok") else "FAILED ") + _ago(drill.get("at"), now)
    line = (
        f"{state} <b>{escape(db.get('label', '?'))}</b>: lag {escape(lag_text)}, last sync "
        f"{escape(_ago(db.get('last_sync_at'), now))}, drill {escape(drill_text)}"
    )
    if db.get("last_error"):
        line += f"\n    <i>{escape(db['last_error'])}</i>"
    for snap in db.get("snapshots") or []:
        if isinstance(snap, Mapping):
            line += "\n    " + _snapshot_line(snap, now)
    return line


def _snapshot_line(snap: Mapping[str, Any], now: float) -> str:
    """``✅ snapshot offsite: 3m ago``, or failing with its error (the second copy)."""
    failing = snap.get("last_error")
    state = "❌" if failing or snap.get("stale") else "✅"
    when = _ago(snap.get("last_success_at"), now)
    line = f"{state} snapshot {escape(snap.get('dest', '?'))}: {escape(when)}"
    if failing:
        line += f" — <i>{escape(failing)}</i>"
    return line


def _app_line(app: Mapping[str, Any]) -> str:
    state = "✅ up" if app.get("up") else "❌ down"
    return (
        f"App: {state} (<code>{escape(app.get('command', '?'))}</code>, restarts "
        f"{escape(app.get('restarts', 0))})"
    )


async def _status(command: Command, actions: ConsoleActions) -> str:  # noqa: ARG001
    if actions.status is None:
        return "Status is not available here."
    doc = actions.status()
    now = time.time()
    overall = doc.get("overall") or {}
    state = str(overall.get("state", "?"))
    emoji = {"OK": "✅", "WARN": "⚠️", "CRITICAL": "🚨"}.get(state, "❔")
    service = doc.get("service") or {}
    lines = [f"{emoji} <b>{escape(service.get('name', 'khronos'))}</b>: {escape(state)}"]
    lines += [f"• {escape(reason)}" for reason in overall.get("reasons") or []]
    databases = doc.get("databases") or []
    lines.append("\n<b>Databases</b>" if databases else "\nNo database is backed up.")
    lines += [_database_line(db, now) for db in databases if isinstance(db, Mapping)]
    app = doc.get("app")
    if isinstance(app, Mapping):
        lines.append("\n" + _app_line(app))
    checks = [c for c in doc.get("checks") or [] if isinstance(c, Mapping)]
    if checks:
        lines.append("\n<b>Checks</b>")
        for check in checks:
            ok = check.get("ok")
            mark = "⏳" if ok is None else ("✅" if ok else "❌")
            detail = check.get("message") or ""
            text = f"{mark} {escape(check.get('name', '?'))}"
            lines.append(text + (f": {escape(detail)}" if detail else ""))
    return "\n".join(lines)


def _firing(actions: ConsoleActions) -> list[Condition]:
    if actions.conditions is None:
        return []
    return sorted(actions.conditions().values(), key=lambda c: (-int(c.level), c.started))


async def _alerts(command: Command, actions: ConsoleActions) -> str:  # noqa: ARG001
    firing = _firing(actions)
    if not firing:
        return "✅ Nothing is firing."
    now = time.time()
    lines = [f"<b>{len(firing)} firing</b>"]
    for cond in firing:
        acked = f" (acked by {escape(cond.acked_by)})" if cond.acked_by else ""
        lines.append(
            f"{LEVEL_EMOJI[cond.level]} <code>{escape(cond.key)}</code> for "
            f"{escape(human_duration(now - cond.started))}{acked}\n    {escape(cond.message)}"
        )
    return "\n".join(lines)


async def _ack(command: Command, actions: ConsoleActions) -> str:
    if actions.ack is None:
        return "Acknowledging is not available here."
    key = command.args[0] if command.args else ""
    if not key and command.reply_to_text:
        # the reply names no key: the condition whose message the replied alert shows
        for cond in _firing(actions):
            if cond.notified_message and cond.notified_message in command.reply_to_text:
                key = cond.key
                break
    if not key:
        return "Reply /ack to an alert, or send <code>/ack KEY</code> (the keys: /alerts)."
    if not actions.ack(key, command.by):
        return f"<code>{escape(key)}</code> is not firing (see /alerts)."
    return (
        f"👍 <code>{escape(key)}</code> acknowledged by {escape(command.by)}: no repeats until "
        "it resolves or gets worse."
    )


async def _run_lines(
    what: str, action: Callable[[], Awaitable[Sequence[str]]] | None, missing: str
) -> str:
    if action is None:
        return escape(missing)
    try:
        lines = await action()
    except Exception as exc:  # noqa: BLE001 - the owner gets the failure as the answer
        return f"❌ {escape(what)} failed: {escape(str(exc) or type(exc).__name__)}"
    text = "\n".join(escape(line) for line in lines if line.strip())
    return text or f"{escape(what)}: nothing to report"


async def _backup(command: Command, actions: ConsoleActions) -> str:  # noqa: ARG001
    return await _run_lines("backup", actions.backup, "No backup: section is configured.")


async def _drill(command: Command, actions: ConsoleActions) -> str:  # noqa: ARG001
    return await _run_lines("restore drill", actions.drill, "No backup: section is configured.")


async def _silence(command: Command, actions: ConsoleActions) -> str:
    if actions.silences is None:
        return _NOT_AVAILABLE
    if len(command.args) < 2:
        return "Usage: <code>/silence WHAT DURATION [REASON]</code> (/silence backup 1h deploy)"
    what, duration = command.args[0], command.args[1]
    try:
        seconds = parse_duration(duration).total_seconds()
    except ValueError:
        return f"Not a duration: <code>{escape(duration)}</code> (write 30m, 1h, 2d)."
    if seconds <= 0:
        return "The duration must be positive (30m, 1h, 2d)."
    reason = " ".join(command.args[2:])
    silence_id = actions.silences.add(what, seconds, reason, command.by)
    return (
        f"🔕 Silenced <code>{escape(what)}</code> for {escape(human_duration(seconds))} "
        f"(id <code>{escape(silence_id)}</code>)."
    )


async def _unsilence(command: Command, actions: ConsoleActions) -> str:
    if actions.silences is None:
        return _NOT_AVAILABLE
    if not command.args:
        return "Usage: <code>/unsilence ID</code> (the ids: /silences)"
    if actions.silences.remove(command.args[0]):
        return f"🔔 Silence <code>{escape(command.args[0])}</code> ended."
    return f"No silence <code>{escape(command.args[0])}</code> (see /silences)."


async def _silences(command: Command, actions: ConsoleActions) -> str:  # noqa: ARG001
    if actions.silences is None:
        return _NOT_AVAILABLE
    active = actions.silences.list()
    if not active:
        return "No silence is active."
    lines = [f"<b>{len(active)} silence(s)</b>"]
    lines += [
        f"🔕 <code>{escape(s.get('id') or '?')}</code> "
        f"{escape(s.get('match') or s.get('key') or s.get('text') or '')} until "
        f"{escape(s.get('until') or s.get('ends_at') or '?')} {escape(s.get('reason') or '')}"
        for s in active
    ]
    return "\n".join(lines)


_Handler = Callable[[Command, ConsoleActions], Awaitable[str]]
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
