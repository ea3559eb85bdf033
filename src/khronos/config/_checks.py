"""The ``checks:`` section of khronos.yml."""

from __future__ import annotations

from khronos.config._base import Section

__all__ = ["ChecksConfig"]


class ChecksConfig(Section):
    """Built-in health checks (not configurable yet)."""
