"""The Telegram console of ``khronos run`` (``alerts.telegram.commands``): what its commands reach
in the daemon - the status document, the firing conditions, a forced sync, a restore drill."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from prometheus_client import CollectorRegistry

from khronos.alerts import AlertEngine, ConsoleActions, SilenceBook, TelegramConsole
from khronos.backup import BackupService, VerifyReport, VerifyScheduler, backup_now, verify_all
from khronos.catalog import Text
from khronos.config import KhronosConfig
from khronos.dashboard import StatusBuilder

__all__ = ["build_console"]


def build_console(
    config: KhronosConfig,
    engine: AlertEngine,
    status: StatusBuilder,
    *,
    backup: BackupService | None,
    verify: VerifyScheduler | None,
    silences: SilenceBook | None,
    registry: CollectorRegistry,
) -> TelegramConsole | None:
    """The console when ``alerts.telegram.commands`` is on, else None."""
    telegram = config.alerts.telegram if config.alerts is not None else None
    if telegram is None or not telegram.commands:
        return None

    async def sync() -> Sequence[str]:
        outcomes = await backup_now(config)
        return [
            Text(
                "reply.synced",
                db=o.name,
                replica=_txid(o.replica_txid),
                local=_txid(o.local_txid),
            )
            for o in outcomes
        ]

    async def drill() -> Sequence[str]:
        if verify is not None:
            reports = await verify.run_once()
        else:
            reports = await asyncio.to_thread(verify_all, config)
        return [_drill_line(r) for r in reports]

    has_backup = backup is not None
    actions = ConsoleActions(
        status=status.snapshot,
        conditions=lambda: engine.conditions,
        backup=sync if has_backup else None,
        drill=drill if has_backup else None,
        ack=engine.ack,
        silences=silences,
    )
    return TelegramConsole.from_config(
        telegram,
        engine,
        actions,
        state_dir=config.state_dir,
        registry=registry,
        namespace=config.metrics.namespace,
    )


def _txid(value: int | None) -> str:
    return Text("reply.unknown_value") if value is None else f"{value:016x}"


def _drill_line(report: VerifyReport) -> str:
    """One drill's outcome (a :class:`~khronos.catalog.Text`: the console renders it in
    ``alerts.language``)."""
    if report.ok:
        return Text(
            "reply.drill_passed",
            db=report.db,
            seconds=report.duration_seconds,
            txid=report.txid or "?",
            continuity=report.continuity or Text("reply.not_compared"),
        )
    return Text(
        "reply.drill_line_failed",
        db=report.db,
        error=report.error or Text("reply.drill_failed_plain"),
    )
