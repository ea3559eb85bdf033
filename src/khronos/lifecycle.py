"""The one shape of every long-lived part: ``async start()``, ``async stop()``, ``async with``.

The alert engine, the backup service, the restore-drill schedule, the check runner and the HTTP
server all inherit :class:`Lifecycle`, so an owner composes them the same way — the daemon with
an :class:`~contextlib.AsyncExitStack`, whose unwinding stops them in the reverse order of their
start by construction — and a Python app can write ``async with AlertEngine(...) as engine:``.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

__all__ = ["Lifecycle"]


class Lifecycle:
    """``async with part:`` starts it and stops it; subclasses implement both methods."""

    async def start(self) -> None:
        """Start the part (its tasks run on the current event loop)."""
        raise NotImplementedError

    async def stop(self) -> None:
        """Stop the part; safe to call twice, or without a start."""
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
