"""A doctor's finding: what was checked, how it went, and the fix."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

__all__ = ["Finding", "Status"]


class Status(enum.StrEnum):
    """How a check went, from best to worst; only ``error`` makes ``khronos doctor`` exit 1."""

    OK = "ok"
    INFO = "info"
    """Nothing wrong, but worth knowing (a variable Khronos drops for Litestream)."""
    WARN = "warn"
    """Works now, but risky or about to fail (little disk left, loose permissions)."""
    ERROR = "error"
    """Khronos will not work as configured until it is fixed."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing ``khronos doctor`` checked."""

    check: str
    """What was checked: ``litestream``, ``database app``, ``replica app``, ``telegram``..."""
    status: Status
    message: str
    fix: str | None = None
    """What to do about it (for warn and error)."""

    def to_json(self) -> dict[str, Any]:
        """``{"check", "status", "message", "fix"}``."""
        return {
            "check": self.check,
            "status": self.status.value,
            "message": self.message,
            "fix": self.fix,
        }
