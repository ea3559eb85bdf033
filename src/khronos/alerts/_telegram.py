"""The Telegram Bot API channel: ``sendMessage`` in HTML mode, with a plain-text fallback.

The bot token is part of every Bot API URL, so it is kept out of everything that can be shown:
``repr``, exceptions (httpx errors are re-raised as :class:`DeliveryError` with the token masked)
and log lines.  That includes the lines httpx itself writes: at INFO it logs every request as
``HTTP Request: POST https://api.telegram.org/bot<TOKEN>/sendMessage``, and an app that uses
``khronos.alerts`` with a plain ``logging.basicConfig(level=logging.INFO)`` (no
``khronos.logs``) would print the token.  So creating a notifier installs, once, a
:class:`logging.Filter` on the httpx and httpcore loggers that masks bot tokens in the record
before any handler formats it.  It sits on those loggers rather than on a handler because the app
adds its handlers whenever it likes (before or after the notifier), and those libraries log to
these exact logger names, never to children.

Rate limits follow Telegram's FAQ: 1 message per second per chat, 20 per minute in a group
(negative chat id, or an ``@channel``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import httpx
from pydantic import SecretStr

from khronos.alerts._catalog import translate
from khronos.alerts._model import Level
from khronos.alerts._notifier import DeliveryError, OutgoingMessage
from khronos.config import TelegramConfig
from khronos.ratelimit import RateLimit
from khronos.redact import get_redactor

__all__ = [
    "BUTTONS",
    "PER_CHAT_LIMIT",
    "PER_GROUP_LIMIT",
    "TelegramNotifier",
    "alert_keyboard",
    "chat_ref",
    "explain_telegram_error",
    "install_token_filter",
]

PER_CHAT_LIMIT = RateLimit(1, 1.0)
PER_GROUP_LIMIT = RateLimit(20, 60.0)
_HTTP_LOGGERS = (
    "httpx",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)


class _TokenLogFilter(logging.Filter):
    """Masks secrets (the bot tokens among them) in the records of httpx and httpcore, whose
    request lines carry the token in the URL: through the one redactor, so it works even
    without :func:`khronos.logs.configure` (an app using the alert engine with plain
    ``logging.basicConfig``)."""

    def __init__(self) -> None:
        super().__init__("khronos.alerts.telegram")

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message when it holds a secret; never drops a record."""
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is the logging module's to report
            return True
        masked = get_redactor().redact(text)
        if masked != text:
            record.msg, record.args = masked, None
        return True


_TOKEN_FILTER = _TokenLogFilter()


def install_token_filter(token: str) -> None:
    """Mask ``token`` in the httpx/httpcore loggers' records (idempotent)."""
    get_redactor().add_secret(token)
    for name in _HTTP_LOGGERS:
        logger = logging.getLogger(name)
        if _TOKEN_FILTER not in logger.filters:
            logger.addFilter(_TOKEN_FILTER)


def explain_telegram_error(status: int, description: str, chat: str | None = None) -> str:
    """A plain-words hint for the Bot API errors people actually hit."""
    text = description.lower()
    if status == 401 or "unauthorized" in text:
        return (
            "the bot token is wrong or was revoked: copy it again from @BotFather (/mybots → "
            "API Token) into TELEGRAM_BOT_TOKEN"
        )
    if "chat not found" in text:
        sign = ""
        if chat and chat.lstrip("-").isdigit() and not chat.startswith("-"):
            sign = (
                f" {chat} is positive, which means a private chat with a person; a group or "
                "channel id is negative (-100...), so check that the minus sign was not lost."
            )
        return (
            "Telegram does not know this chat for this bot: add the bot to the group (or send "
            f"it /start in a private chat) and check chat_id.{sign}"
        )
    if status == 403 or "forbidden" in text:
        return (
            "the bot may not write there: it was removed from the group, blocked by the user, or "
            "never started: add it again (as admin for a channel) or send it /start"
        )
    if "thread not found" in text:
        return "message_thread_id does not name a topic of this group: remove it or fix it"
    if "can't parse entities" in text:
        return "the HTML was malformed; Khronos resends such alerts as plain text"
    return "see the description from Telegram above"


BUTTONS = (("button.ack", "ack"), ("button.silence_1h", "s1h"), ("button.silence_24h", "s24h"))
"""The inline buttons of an ERROR/CRITICAL alert: the label's message id and callback prefix."""


def alert_keyboard(alert_id: str, language: str = "en") -> dict[str, Any]:
    """The inline keyboard of alert ``alert_id`` (callback data ``ack:<id>``, under 64 bytes),
    its labels in ``language``."""
    row = [
        {"text": translate(label, language), "callback_data": f"{prefix}:{alert_id}"}
        for label, prefix in BUTTONS
    ]
    return {"inline_keyboard": [row]}


def chat_ref(chat: str) -> int | str:
    """A chat id as the Bot API takes it: a number, or ``@channel``."""
    return int(chat) if chat.lstrip("-").isdigit() else chat


class TelegramNotifier:
    """Sends alerts to Telegram chats through the Bot API."""

    def __init__(
        self,
        *,
        bot_token: SecretStr | str,
        chat_id: int | str,
        critical_chat_id: int | str | None = None,
        api_url: str = "https://api.telegram.org",
        message_thread_id: int | None = None,
        timeout: float = 10.0,
        rate_limited: bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
        name: str = "telegram",
        buttons: bool = False,
    ) -> None:
        token = bot_token.get_secret_value() if isinstance(bot_token, SecretStr) else bot_token
        self._token = token
        install_token_filter(token)
        self._name = name
        self.chat_id = str(chat_id)
        self.critical_chat_id = str(critical_chat_id) if critical_chat_id is not None else None
        self.api_url = api_url.rstrip("/")
        self.message_thread_id = message_thread_id
        self.timeout = timeout
        self.rate_limited = rate_limited
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self.buttons = buttons
        """ERROR and CRITICAL alerts carry Ack / Silence 1h / Silence 24h buttons (the console
        answers them: ``alerts.telegram.commands``)."""
        self.language = "en"
        """The buttons' language (the engine sets it: ``alerts.language``)."""
        self.reply_to: Callable[[str, str], int | None] | None = None
        """The message an alert replies to in a chat (the engine sets it: resolved notices)."""

    @classmethod
    def from_config(
        cls, config: TelegramConfig, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> TelegramNotifier:
        """A notifier for the ``alerts.telegram`` section."""
        return cls(
            bot_token=config.bot_token,
            chat_id=config.chat_id,
            critical_chat_id=config.critical_chat_id,
            api_url=config.api_url,
            message_thread_id=config.message_thread_id,
            timeout=config.timeout.total_seconds(),
            transport=transport,
            buttons=config.commands,
        )

    def __repr__(self) -> str:
        return f"TelegramNotifier(api_url={self.api_url!r}, chat_id={self.chat_id!r}, token=***)"

    @property
    def name(self) -> str:
        """``telegram``."""
        return self._name

    def chats_for(self, level: Level) -> Sequence[str]:
        """CRITICAL goes to ``critical_chat_id`` when set, everything else to ``chat_id``."""
        if level is Level.CRITICAL and self.critical_chat_id is not None:
            return (self.critical_chat_id,)
        return (self.chat_id,)

    def rate_limits(self, chat: str) -> Sequence[RateLimit]:
        """1/s per chat; 20/min more for groups and channels."""
        if not self.rate_limited:
            return ()
        if chat.startswith(("-", "@")):
            return (PER_CHAT_LIMIT, PER_GROUP_LIMIT)
        return (PER_CHAT_LIMIT,)

    def mask(self, text: str) -> str:
        """``text`` with the bot token (and every other known secret) masked."""
        return get_redactor().redact(text)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout, transport=self._transport)
        return self._client

    async def call(
        self, method: str, payload: dict[str, Any] | None = None, *, timeout: float | None = None
    ) -> dict[str, Any]:
        """Call a Bot API method; the ``result`` on success, :class:`DeliveryError` otherwise
        (``timeout``: this request's, longer for a ``getUpdates`` long poll)."""
        wait = self.timeout if timeout is None else timeout
        try:
            url = f"{self.api_url}/bot{self._token}/{method}"
            response = await self._http().post(url, json=payload or {}, timeout=wait)
        except httpx.TimeoutException as exc:
            raise DeliveryError(
                f"Telegram did not answer within {wait:g}s ({type(exc).__name__})",
                reason="timeout",
            ) from None
        except httpx.HTTPError as exc:
            raise DeliveryError(
                f"cannot reach {self.api_url}: {type(exc).__name__}: {self.mask(str(exc))}",
                reason="network",
                hint="check the network, DNS and alerts.telegram.api_url",
            ) from None
        return self._result(response)

    def _result(self, response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        if response.status_code == 200 and body.get("ok"):
            result = body.get("result")
            return result if isinstance(result, dict) else {"result": result}
        description = self.mask(str(body.get("description") or response.reason_phrase))
        status = response.status_code
        if status == 429:
            params = body.get("parameters")
            retry = params.get("retry_after") if isinstance(params, dict) else None
            retry_after = float(retry) if isinstance(retry, int | float) else 1.0
            raise DeliveryError(
                f"Telegram rate limit: retry after {retry_after:g}s",
                reason="rate_limited",
                retry_after=retry_after,
                reachable=True,
            )
        if status == 409:
            raise DeliveryError(
                f"Telegram refused the request (409): {description}",
                reason="conflict",
                hint="another program polls this bot or a webhook is set: give Khronos a bot "
                "of its own (docs/telegram.md)",
                reachable=True,
                recoverable=False,
            )
        if status >= 500:
            raise DeliveryError(
                f"Telegram server error {status}: {description}", reason="server_error"
            )
        reason = {401: "unauthorized", 403: "forbidden", 404: "unauthorized"}.get(
            status, "rejected"
        )
        if "chat not found" in description.lower():
            reason = "chat_not_found"
        raise DeliveryError(
            f"Telegram refused the request ({status}): {description}",
            reason=reason,
            hint=explain_telegram_error(status, description),
            reachable=True,
            recoverable=reason != "rejected",
        )

    def _payload(self, chat: str, text: str, *, html: bool) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "chat_id": chat_ref(chat),
            "text": text,
            "link_preview_options": {"is_disabled": True},
        }
        if html:
            payload["parse_mode"] = "HTML"
        if self.message_thread_id is not None:
            payload["message_thread_id"] = self.message_thread_id
        return payload

    async def send(self, message: OutgoingMessage) -> dict[str, Any]:
        """``sendMessage`` in HTML; on "can't parse entities" the same alert as plain text.
        Telegram's answer (the message, with its ``message_id``)."""
        extra: dict[str, Any] = {}
        if self.buttons and message.level >= Level.ERROR:
            extra["reply_markup"] = alert_keyboard(message.alert_id, self.language)
        target = self.reply_to(message.alert_id, message.chat) if self.reply_to else None
        if target is not None:
            extra["reply_parameters"] = {"message_id": target, "allow_sending_without_reply": True}
        try:
            payload = self._payload(message.chat, message.html, html=True)
            return await self.call("sendMessage", {**payload, **extra})
        except DeliveryError as exc:
            if exc.reason != "rejected" or "can't parse entities" not in exc.message.lower():
                raise
            payload = self._payload(message.chat, message.plain, html=False)
            return await self.call("sendMessage", {**payload, **extra})

    async def get_me(self) -> dict[str, Any]:
        """The bot's own user (``getMe``): checks the token."""
        return await self.call("getMe")

    async def get_chat(self, chat: str) -> dict[str, Any]:
        """The chat as the bot sees it (``getChat``): checks that the bot can reach it."""
        return await self.call("getChat", {"chat_id": chat_ref(chat)})

    async def get_webhook_info(self) -> dict[str, Any]:
        """``getWebhookInfo``: a non-empty ``url`` means another program receives the updates."""
        return await self.call("getWebhookInfo")

    async def send_text(self, chat: str, text: str) -> dict[str, Any]:
        """Send a plain text message (``khronos telegram check``)."""
        return await self.call("sendMessage", self._payload(chat, text, html=False))

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None
