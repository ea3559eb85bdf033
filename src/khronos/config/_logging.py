"""The ``logging:`` section of khronos.yml."""

from __future__ import annotations

from khronos.config._base import Section

__all__ = ["LoggingConfig"]


class LoggingConfig(Section):
    """Structured logging (not configurable yet)."""
