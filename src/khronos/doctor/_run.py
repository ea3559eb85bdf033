"""Running every check: each bounded in time, each on its own, every text masked.

A check that raises or runs past its time becomes an ``error`` finding naming what happened;
the others go on.  The checks run concurrently (the remote ones wait on the network), the
blocking ones in threads; findings come back in the order of :data:`CHECKS`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace

from khronos.config import KhronosConfig
from khronos.doctor._local import (
    check_databases,
    check_disk,
    check_environment,
    check_http_port,
    check_litestream,
    check_permissions,
)
from khronos.doctor._model import Finding, Status
from khronos.doctor._remote import check_clock, check_replicas, check_telegram
from khronos.errors import KhronosError
from khronos.redact import collect_secrets, get_redactor

__all__ = ["CHECKS", "DEFAULT_TIMEOUT", "run_doctor"]

DEFAULT_TIMEOUT = 20.0
"""Seconds each check may take (a replica list call, Telegram)."""

Check = Callable[[KhronosConfig, Mapping[str, str], float], Awaitable[list[Finding]]]


async def _litestream(config: KhronosConfig, _env: Mapping[str, str], t: float) -> list[Finding]:
    return await check_litestream(config, t)


async def _databases(config: KhronosConfig, _env: Mapping[str, str], _t: float) -> list[Finding]:
    return await asyncio.to_thread(check_databases, config)


async def _replicas(config: KhronosConfig, _env: Mapping[str, str], t: float) -> list[Finding]:
    return await check_replicas(config, t)


async def _telegram(config: KhronosConfig, _env: Mapping[str, str], t: float) -> list[Finding]:
    return await check_telegram(config, t)


async def _disk(config: KhronosConfig, _env: Mapping[str, str], _t: float) -> list[Finding]:
    return await asyncio.to_thread(check_disk, config)


async def _clock(config: KhronosConfig, _env: Mapping[str, str], t: float) -> list[Finding]:
    return await check_clock(config, t)


async def _port(config: KhronosConfig, _env: Mapping[str, str], _t: float) -> list[Finding]:
    return await asyncio.to_thread(check_http_port, config)


async def _permissions(config: KhronosConfig, _env: Mapping[str, str], _t: float) -> list[Finding]:
    return await asyncio.to_thread(check_permissions, config)


async def _environment(config: KhronosConfig, env: Mapping[str, str], _t: float) -> list[Finding]:
    return check_environment(config, env)


CHECKS: dict[str, Check] = {
    "litestream": _litestream,
    "databases": _databases,
    "replica": _replicas,
    "telegram": _telegram,
    "disk": _disk,
    "clock": _clock,
    "http port": _port,
    "permissions": _permissions,
    "environment": _environment,
}
"""Each check by name, in the order findings are shown."""


async def _guarded(
    name: str, check: Check, config: KhronosConfig, env: Mapping[str, str], timeout: float
) -> list[Finding]:
    # a little beyond the check's own timeout, so that its own clearer message wins
    grace = min(5.0, timeout)
    try:
        return await asyncio.wait_for(check(config, env, timeout), timeout + grace)
    except TimeoutError:
        return [
            Finding(
                name,
                Status.ERROR,
                f"the check did not finish within {timeout + grace:g}s",
                "is the network (or the disk) hanging? run khronos doctor again",
            )
        ]
    except KhronosError as exc:
        return [Finding(name, Status.ERROR, exc.message, exc.hint)]
    except Exception as exc:  # noqa: BLE001 - one failing check never stops the others
        return [Finding(name, Status.ERROR, f"the check failed: {type(exc).__name__}: {exc}")]


def _masked(finding: Finding) -> Finding:
    redactor = get_redactor()
    fix = redactor.redact(finding.fix) if finding.fix else finding.fix
    return replace(finding, message=redactor.redact(finding.message), fix=fix)


async def run_doctor(
    config: KhronosConfig,
    *,
    environ: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    checks: Mapping[str, Check] | None = None,
) -> list[Finding]:
    """Every check's findings (``checks``: default :data:`CHECKS`), secrets masked."""
    env = os.environ if environ is None else environ
    redactor = get_redactor()
    for secret in collect_secrets(config):
        redactor.add_secret(secret)
    chosen = CHECKS if checks is None else checks
    results = await asyncio.gather(
        *(_guarded(name, check, config, env, timeout) for name, check in chosen.items())
    )
    return [_masked(finding) for findings in results for finding in findings]
