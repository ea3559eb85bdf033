"""The original design's three files, set up with loguru (imported by the burst's own process)."""

from __future__ import annotations

from typing import Any

from loguru import logger

__all__ = ["logger", "three_files"]


def three_files(directory: str) -> None:
    """combined, errors and critical, as JSON lines, rotated, each through its own queue."""
    logger.remove()
    common: dict[str, Any] = {"serialize": True, "enqueue": True}
    logger.add(f"{directory}/combined.log", rotation="20 MB", retention=7, **common)
    logger.add(f"{directory}/errors.log", level="ERROR", rotation="20 MB", retention=30, **common)
    logger.add(
        f"{directory}/critical.log",
        level="ERROR",
        filter=lambda record: record["extra"].get("critical") is True,
        rotation="10 MB",
        retention=90,
        **common,
    )
