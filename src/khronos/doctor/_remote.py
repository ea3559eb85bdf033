"""The doctor's checks that talk to the outside: each replica, the clock against the object
store, and the Telegram bot and its chats.

The replica is listed by Litestream itself (``litestream ltx``, through the backup package's
one boundary), with the configured credentials, so "reachable" means reachable for Litestream.
The clock is compared with the ``Date`` header of one unsigned request to the object store: S3
refuses requests signed more than 15 minutes off (``RequestTimeTooSkewed``).
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx

from khronos.alerts import DeliveryError, TelegramNotifier, explain_telegram_error
from khronos.backup import replica_position
from khronos.config import BackupConfig, DatabaseConfig, KhronosConfig, ReplicaConfig
from khronos.doctor._model import Finding, Status
from khronos.errors import NoBackupError, ReplicaAccessError

__all__ = ["check_clock", "check_replicas", "check_telegram", "object_store_url"]

_SKEW_WARN = 30.0
_SKEW_ERROR = 300.0
_OBJECT_STORES = frozenset({"s3", "b2", "r2", "oss"})


def _unset_secrets(replica: ReplicaConfig) -> list[str]:
    """The replica's secret keys whose ``${VAR}`` is unset (doctor loads tolerantly)."""
    return [
        field.alias or name
        for name, field in type(replica).model_fields.items()
        if getattr(getattr(replica, name), "is_unset", False)
    ]


async def _check_replica(backup: BackupConfig, db: DatabaseConfig, timeout: float) -> Finding:
    name = f"replica {db.label}"
    replica = db.replica
    if replica.type == "file":
        return _check_file_replica(name, db)
    unset = _unset_secrets(replica)
    if unset:
        return Finding(
            name,
            Status.INFO,
            f"not checked: {', '.join(unset)} read an unset variable (see environment)",
        )
    try:
        position = await replica_position(backup, db, timeout=timeout, op="doctor")
    except NoBackupError:
        return Finding(name, Status.OK, f"{replica.display}: reachable, no backup yet")
    except ReplicaAccessError as exc:
        return Finding(name, Status.ERROR, f"{replica.display}: {exc.message}", exc.hint)
    newest = f", newest txid {position.txid:x}" if position.txid is not None else ", empty"
    return Finding(name, Status.OK, f"{replica.display}: reachable{newest}")


def _check_file_replica(name: str, db: DatabaseConfig) -> Finding:
    folder = Path(db.replica.path or "")
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not os.access(existing, os.W_OK | os.X_OK):
        return Finding(
            name,
            Status.ERROR,
            f"{folder}: {existing} is not writable by this user",
            f"create it for the user that runs khronos: install -d -m 0700 {folder}",
        )
    where = "exists" if existing == folder else f"will be created in {existing}"
    if existing.stat().st_dev == db.path.parent.stat().st_dev:
        return Finding(
            name,
            Status.WARN,
            f"{folder} {where}, on the same disk as the database",
            "a backup on the same disk does not survive losing it: use s3://, b2:// or r2://",
        )
    return Finding(name, Status.OK, f"{folder} {where}, writable")


async def check_replicas(config: KhronosConfig, timeout: float) -> list[Finding]:
    """Each replica answers a list call with the configured credentials (side by side, so
    that each has the whole ``timeout``)."""
    backup = config.backup
    if backup is None:
        return []
    return list(await asyncio.gather(*(_check_replica(backup, db, timeout) for db in backup.dbs)))


def object_store_url(replica: ReplicaConfig) -> str | None:
    """The HTTP(S) address of the replica's object store; None for other replica types."""
    if replica.type not in _OBJECT_STORES:
        return None
    if replica.endpoint:
        return replica.endpoint
    if replica.type == "s3":
        return f"https://s3.{replica.region or 'us-east-1'}.amazonaws.com"
    return None


async def check_clock(config: KhronosConfig, timeout: float) -> list[Finding]:
    """This machine's clock against the object store's ``Date`` header."""
    urls = [object_store_url(db.replica) for db in config.backup.dbs] if config.backup else []
    stores = list(dict.fromkeys(u for u in urls if u))
    if not stores:
        return [Finding("clock", Status.INFO, "not checked: no object-store replica")]
    findings = []
    async with httpx.AsyncClient(timeout=timeout / len(stores)) as client:
        for url in stores:
            try:
                response = await client.head(url)
            except httpx.HTTPError as exc:
                message = f"not checked: cannot reach {url} ({type(exc).__name__})"
                findings.append(Finding("clock", Status.INFO, message))
                continue
            date = response.headers.get("date")
            if not date:
                findings.append(Finding("clock", Status.INFO, f"{url} sent no Date header"))
                continue
            skew = (datetime.now(UTC) - parsedate_to_datetime(date)).total_seconds()
            text = f"{abs(skew):.0f}s {'ahead of' if skew > 0 else 'behind'} {url}"
            fix = "enable time sync: timedatectl set-ntp true (or chrony)"
            if abs(skew) >= _SKEW_ERROR:
                message = f"{text}: the store refuses requests signed 15 minutes off"
                findings.append(Finding("clock", Status.ERROR, message, fix))
            elif abs(skew) >= _SKEW_WARN:
                findings.append(Finding("clock", Status.WARN, text, fix))
            else:
                findings.append(Finding("clock", Status.OK, text))
    return findings


async def check_telegram(config: KhronosConfig, timeout: float) -> list[Finding]:
    """The bot token works (getMe) and the bot can reach each chat (getChat); the calls share
    ``timeout`` (each gets a third of it at most)."""
    telegram = config.alerts.telegram if config.alerts else None
    left_out = [u.variable for u in config.unset_variables if u.left_out == "alerts.telegram"]
    if telegram is None and left_out:
        unset = ", ".join(f"${{{name}}}" for name in left_out)
        return [Finding("telegram", Status.INFO, f"not checked: {unset} not set (see environment)")]
    if telegram is None:
        return [
            Finding(
                "telegram",
                Status.WARN,
                "alerts.telegram is not configured (or left out): alerts go to the log only",
                "add alerts.telegram with bot_token: ${TELEGRAM_BOT_TOKEN} and chat_id",
            )
        ]
    if getattr(telegram.bot_token, "is_unset", False):
        return [Finding("telegram", Status.INFO, "not checked: the bot token is unset")]
    notifier = TelegramNotifier.from_config(telegram)
    notifier.timeout = min(notifier.timeout, timeout / 3)
    findings = []
    try:
        try:
            me = await notifier.get_me()
        except DeliveryError as exc:
            return [Finding("telegram", Status.ERROR, f"getMe: {exc.message}", exc.hint)]
        bot = f"@{me.get('username', '?')}"
        findings.append(Finding("telegram", Status.OK, f"the token works: the bot is {bot}"))
        chats = dict.fromkeys(c for c in (notifier.chat_id, notifier.critical_chat_id) if c)
        for chat in chats:
            try:
                found = await notifier.get_chat(chat)
            except DeliveryError as exc:
                hint = (
                    explain_telegram_error(400, "chat not found", chat)
                    if exc.reason == "chat_not_found"
                    else exc.hint
                )
                findings.append(Finding(f"telegram chat {chat}", Status.ERROR, exc.message, hint))
                continue
            title = found.get("title") or found.get("username") or found.get("first_name") or ""
            kind = found.get("type", "chat")
            findings.append(
                Finding(f"telegram chat {chat}", Status.OK, f"{bot} reaches {kind} {title}".strip())
            )
    finally:
        await notifier.aclose()
    return findings
