"""Telegram as a console: the daemon long-polls ``getUpdates`` and answers allowed chats' commands.

Opt-in (``alerts.telegram.commands: true``).  Only chats in ``allowed_chats`` (default: the
alert chats) and, when set, users in ``allowed_users`` are answered; every other update is
ignored, counted in ``khronos_telegram_updates_ignored_total`` and logged once, without its
text.  Each update is processed once: the next ``offset`` is written to
``state_dir/telegram-offset.json`` *before* the update is handled (so a crash in between loses
at most that one command, which the owner can send again, and never runs a ``/backup`` twice),
and ``getUpdates`` with that offset confirms it to Telegram.

Telegram gives a bot's updates to one receiver only.  When ``getWebhookInfo`` shows a webhook,
or ``getUpdates`` answers 409 Conflict (another program polls the same token), the console stops
polling for good (until the next start), logs one warning and raises one WARN alert asking for a
bot of Khronos' own: it never takes the owner's bot away from the owner's app.  Sending alerts is
unaffected.

The loop runs through :func:`khronos.health.spawn`; a bad update is logged and skipped, a
network error or a 5xx backs off (1 s doubling to 60 s; a 429's ``retry_after``).  Slow commands
(``/backup``, ``/drill``) run as their own tasks, so polling goes on meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter

from khronos.alerts._catalog import Text
from khronos.alerts._commands import (
    Command,
    ConsoleActions,
    Speech,
    answer_command,
    command_descriptions,
    parse_command,
)
from khronos.alerts._engine import AlertEngine
from khronos.alerts._format import escape, truncate_html
from khronos.alerts._messages import Resolved
from khronos.alerts._notifier import DeliveryError
from khronos.alerts._telegram import TelegramNotifier, chat_ref
from khronos.config import TelegramConfig
from khronos.health import get_health, spawn
from khronos.lifecycle import Lifecycle
from khronos.state import StateDir, write_json_atomic

__all__ = ["CONFLICT_KEY", "CONSOLE_PART", "TelegramConsole"]

CONSOLE_PART = "alerts.telegram.console"
CONFLICT_KEY = "telegram.console.conflict"
_SLOW = frozenset({"backup", "drill"})
_SILENCE_FOR = {"s1h": (3600.0, "1h"), "s24h": (86400.0, "24h")}
"""Each silence button: its length and how the answer names it (as the button does)."""
_BACKOFF_MAX_S = 60.0

_log = structlog.get_logger("khronos.alerts.console")


class TelegramConsole(Lifecycle):
    """Answers commands sent to the bot; see the module docstring."""

    def __init__(
        self,
        notifier: TelegramNotifier,
        engine: AlertEngine,
        actions: ConsoleActions,
        *,
        state_dir: str | Path,
        allowed_chats: list[str],
        allowed_users: list[int] | None = None,
        poll_timeout: float = 30.0,
        registry: CollectorRegistry | None = None,
        namespace: str = "khronos",
    ) -> None:
        self.notifier = notifier
        self.engine = engine
        self.actions = actions
        self.offset_file = StateDir(state_dir).telegram_offset
        self.allowed_chats = {str(c) for c in allowed_chats}
        self.allowed_users = {int(u) for u in allowed_users or ()}
        self.poll_timeout = poll_timeout
        self.ignored = Counter(
            "telegram_updates_ignored",
            "Telegram updates not answered: from a chat or user that is not allowed",
            namespace=namespace,
            registry=registry,
        )
        self.conflict: str | None = None
        """Why polling stopped (a webhook, another poller), None while it runs."""
        self.handled = 0
        self._offset: int | None = self._load_offset()
        self._bot_username = ""
        self._task: asyncio.Task[None] | None = None
        self._slow: set[asyncio.Task[None]] = set()
        self._running: set[str] = set()
        """The slow commands running now (one of each at a time)."""
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def from_config(
        cls,
        config: TelegramConfig,
        engine: AlertEngine,
        actions: ConsoleActions,
        *,
        state_dir: str | Path,
        registry: CollectorRegistry | None = None,
        namespace: str = "khronos",
    ) -> TelegramConsole:
        """The console for ``alerts.telegram`` (its own HTTP client: the long poll never holds
        up an alert)."""
        return cls(
            TelegramNotifier.from_config(config),
            engine,
            actions,
            state_dir=state_dir,
            allowed_chats=config.command_chats(),
            allowed_users=list(config.allowed_users),
            poll_timeout=config.poll_timeout.total_seconds(),
            registry=registry,
            namespace=namespace,
        )

    @property
    def speech(self) -> Speech:
        """The engine's language and time zone (``alerts.language``, ``alerts.timezone``)."""
        return Speech(self.engine.language, self.engine.timezone)

    @property
    def task(self) -> asyncio.Task[None] | None:
        """The polling task (watched by :mod:`khronos.health`)."""
        return self._task

    async def start(self) -> None:
        """Register the commands and start polling."""
        if self._task is None:
            self._loop = asyncio.get_running_loop()
            self.engine.links.on_resolved(self._resolved)
            self._task = spawn(CONSOLE_PART, self._run)

    async def stop(self) -> None:
        """Stop polling and any running command; close the HTTP client."""
        self.engine.links.remove_listener(self._resolved)
        tasks = [t for t in (self._task, *self._slow) if t is not None]
        self._task = None
        get_health().unwatch(CONSOLE_PART)  # ending on purpose is not a part going down
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._slow.clear()
        await self.notifier.aclose()

    # ------------------------------------------------------------------ the loop

    async def _run(self) -> None:
        if self.conflict is None:
            await self._prepare()
        backoff = 1.0
        while self.conflict is None:
            try:
                updates = await self._poll()
            except DeliveryError as exc:
                if exc.reason == "conflict":
                    self._stop_for(exc.message)
                    break
                wait = exc.retry_after if exc.retry_after is not None else backoff
                _log.warning(
                    "telegram getUpdates failed, will retry", error=str(exc), retry_in=wait
                )
                await asyncio.sleep(wait)
                backoff = min(_BACKOFF_MAX_S, backoff * 2)
                continue
            backoff = 1.0
            self.engine.resolve(CONFLICT_KEY)  # polling works (again): a dict lookup if not firing
            for update in updates:
                await self._take(update)
        await asyncio.Event().wait()  # stopped for a conflict: stay up, idle (alerts go on)

    async def _prepare(self) -> None:
        """``getMe`` (the bot's name, for ``/cmd@bot``), ``setMyCommands``, ``getWebhookInfo``:
        a webhook means another program receives the updates."""
        try:
            me = await self.notifier.get_me()
            self._bot_username = str(me.get("username") or "")
            described = command_descriptions(self.engine.language)
            commands = [{"command": n, "description": d} for n, d in described.items()]
            await self.notifier.call("setMyCommands", {"commands": commands})
            hook = await self.notifier.get_webhook_info()
        except DeliveryError as exc:
            _log.warning("telegram console: cannot register the commands", error=str(exc))
            return
        if hook.get("url"):
            self._stop_for(Text("console.webhook_set"))

    async def _poll(self) -> list[dict[str, Any]]:
        payload: dict[str, Any] = {
            "timeout": int(self.poll_timeout),
            "allowed_updates": ["message", "callback_query"],
        }
        if self._offset is not None:
            payload["offset"] = self._offset
        result = await self.notifier.call(
            "getUpdates", payload, timeout=self.poll_timeout + self.notifier.timeout
        )
        updates = result.get("result", [])
        return [u for u in updates if isinstance(u, dict)] if isinstance(updates, list) else []

    def _stop_for(self, why: str) -> None:
        self.conflict = why
        _log.warning(
            "telegram console stopped: another program receives this bot's updates",
            reason=why,
            hint="create a separate bot for Khronos with @BotFather (docs/telegram.md)",
        )
        self.engine.fire(
            CONFLICT_KEY,
            Text("console.conflict", why=why),
            "WARN",
        )

    async def _take(self, update: dict[str, Any]) -> None:
        """Advance and store the offset, then handle the update; never raises."""
        update_id = update.get("update_id")
        if not isinstance(update_id, int):
            return
        if self._offset is not None and update_id < self._offset:
            return  # already handled (Telegram resent it before seeing our offset)
        self._offset = update_id + 1
        self._save_offset()
        try:
            await self._handle(update)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - one bad update must not end the console
            get_health().record_error(CONSOLE_PART, exc)

    async def _handle(self, update: dict[str, Any]) -> None:
        query = update.get("callback_query")
        if isinstance(query, dict):
            await self._callback(query)
            return
        message = update.get("message")
        if not isinstance(message, dict):
            return
        chat, user = _chat_and_user(message)
        text = message.get("text")
        if not isinstance(text, str):
            return
        parsed = parse_command(text, self._bot_username)
        if parsed is None:
            return
        if not self._allowed(chat, user):
            self._ignore(update, chat, user)
            return
        reply = message.get("reply_to_message")
        args = parsed[1]
        if parsed[0] == "ack" and not args and isinstance(reply, dict):
            key = self._key_of(chat, reply.get("message_id"))
            args = (key,) if key else args
        command = Command(
            parsed[0],
            args,
            by=_who(message.get("from")),
            reply_to_text=str(reply.get("text") or "") if isinstance(reply, dict) else "",
        )
        message_id = message.get("message_id")
        if command.name in _SLOW:
            if command.name in self._running:
                running = self.speech.html("reply.running", name=command.name)
                await self._reply(chat, running, message_id)
                return
            self._running.add(command.name)
            await self._reply(
                chat, self.speech.html("reply.started", name=command.name), message_id
            )
            task = asyncio.create_task(self._answer(chat, command, message_id))
            self._slow.add(task)
            task.add_done_callback(self._slow.discard)
            task.add_done_callback(lambda _: self._running.discard(command.name))
            return
        await self._answer(chat, command, message_id)

    async def _answer(self, chat: str, command: Command, message_id: Any) -> None:
        html = await answer_command(command, self.actions, self.speech)
        await self._reply(chat, html, message_id)
        self.handled += 1

    async def _callback(self, query: dict[str, Any]) -> None:
        """Buttons are answered (``answerCallbackQuery``) always; acted on only when allowed."""
        message = query.get("message")
        if not isinstance(message, dict):
            message = {}
        chat, user = _chat_and_user({"chat": message.get("chat"), "from": query.get("from")})
        text = self.speech.plain("button.not_allowed")
        try:
            if self._allowed(chat, user):
                text = self._press(chat, message, str(query.get("data") or ""), query)
            else:
                self._ignore({"callback_query": True}, chat, user)
        finally:
            with contextlib.suppress(DeliveryError):
                await self.notifier.call(
                    "answerCallbackQuery",
                    {"callback_query_id": str(query.get("id")), "text": text},
                )

    def _press(self, chat: str, message: dict[str, Any], data: str, query: dict[str, Any]) -> str:
        """Act on a button of an alert; the short answer shown on the phone."""
        action, _, alert_id = data.partition(":")
        by = _who(query.get("from"))
        key = next(
            (c.key for c in self.engine.conditions.values() if alert_id and c.alert_id == alert_id),
            None,
        )
        say = self.speech
        at = say.clock(time.time())
        if action == "ack":
            if key is not None:
                self.engine.ack(key, by)
            note = say.html("button.acked_note", by=by, at=at)
            answer = say.plain("button.acked")
        elif action in _SILENCE_FOR:
            if self.actions.silences is None:
                return say.plain("button.no_silences")
            seconds, label = _SILENCE_FOR[action]
            match = key or str(message.get("text") or "").split("\n", 1)[-1][:200]
            self.actions.silences.add(match, seconds, say.plain("button.reason"), by)
            note = say.html("button.silenced_note", duration=label, by=by, at=at)
            answer = say.plain("button.silenced", duration=label)
        else:
            return say.plain("button.unknown")
        message_id = message.get("message_id")
        if isinstance(message_id, int):
            self._later(self._edit_note(chat, message_id, message, note))
        return answer

    async def _edit_note(
        self, chat: str, message_id: int, message: dict[str, Any], note: str
    ) -> None:
        stored = self.engine.links.messages.message(chat, message_id)
        html = stored[1] if stored is not None else escape(message.get("text") or "")
        await self._edit(chat, message_id, f"{html}\n\n{note}", fallback=False)

    async def _edit(self, chat: str, message_id: int, html: str, *, fallback: bool) -> None:
        """``editMessageText`` (which drops the buttons); a message Telegram will not edit any
        more (too old) gets a new message instead when ``fallback``."""
        payload = {
            "chat_id": chat_ref(chat),
            "message_id": message_id,
            "text": truncate_html(html),
            "parse_mode": "HTML",
            "link_preview_options": {"is_disabled": True},
        }
        try:
            await self.notifier.call("editMessageText", payload)
        except DeliveryError as exc:
            _log.info("telegram message not edited", chat=chat, error=str(exc))
            if fallback:
                await self._reply(chat, str(payload["text"]), message_id)

    def _resolved(self, event: Resolved) -> None:
        """The engine resolved a condition Telegram showed (any thread): edit its messages."""
        head = self.speech.html("edit.resolved", duration=self.speech.duration(event.lasted))
        for channel, chat, message_id, html in event.messages:
            if channel == self.notifier.name:
                text = f"{head}\n\n{html}"
                self._later(self._edit(chat, message_id, text, fallback=not event.reply))

    def _later(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` on the console's loop, from any thread; tracked, cancelled by stop."""
        loop = self._loop
        if loop is None or loop.is_closed():
            work.close()
            return

        def schedule() -> None:
            task = loop.create_task(work)
            self._slow.add(task)
            task.add_done_callback(self._slow.discard)

        try:
            if asyncio.get_running_loop() is loop:
                schedule()
                return
        except RuntimeError:
            pass
        loop.call_soon_threadsafe(schedule)

    def _key_of(self, chat: str, message_id: Any) -> str | None:
        """The firing condition the alert ``message_id`` in ``chat`` is about."""
        stored = (
            self.engine.links.messages.message(chat, message_id)
            if isinstance(message_id, int)
            else None
        )
        if stored is None:
            return None
        return next(
            (c.key for c in self.engine.conditions.values() if c.alert_id == stored[0]), None
        )

    def _allowed(self, chat: str, user: int | None) -> bool:
        if chat not in self.allowed_chats:
            return False
        return not self.allowed_users or user in self.allowed_users

    def _ignore(self, update: dict[str, Any], chat: str, user: int | None) -> None:
        self.ignored.inc()
        kind = "callback_query" if "callback_query" in update else "message"
        _log.info(
            "telegram update ignored: chat or user not allowed", kind=kind, chat=chat, user=user
        )

    async def _reply(self, chat: str, html: str, message_id: Any) -> None:
        payload: dict[str, Any] = {
            "chat_id": chat_ref(chat),
            "text": html,
            "parse_mode": "HTML",
            "link_preview_options": {"is_disabled": True},
        }
        if isinstance(message_id, int):
            payload["reply_parameters"] = {
                "message_id": message_id,
                "allow_sending_without_reply": True,
            }
        try:
            await self.notifier.call("sendMessage", payload)
        except DeliveryError as exc:
            _log.warning("telegram console: reply not sent", chat=chat, error=str(exc))

    # ------------------------------------------------------------------ the offset

    def _load_offset(self) -> int | None:
        try:
            data = json.loads(self.offset_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            _log.warning("telegram offset file unreadable; starting afresh", error=str(exc))
            return None
        offset = data.get("offset") if isinstance(data, dict) else None
        return offset if isinstance(offset, int) else None

    def _save_offset(self) -> None:
        try:
            write_json_atomic(self.offset_file, {"offset": self._offset})
        except OSError as exc:  # a full disk: Telegram still has the offset from the next poll
            get_health().record_error(CONSOLE_PART, exc)


def _chat_and_user(message: dict[str, Any]) -> tuple[str, int | None]:
    chat = message.get("chat")
    chat_id = str(chat.get("id")) if isinstance(chat, dict) else ""
    sender = message.get("from")
    user = sender.get("id") if isinstance(sender, dict) else None
    return chat_id, user if isinstance(user, int) else None


def _who(sender: Any) -> str:
    if not isinstance(sender, dict):
        return "?"
    if sender.get("username"):
        return f"@{sender['username']}"
    return str(sender.get("first_name") or sender.get("id") or "?")
