"""The ``alerts:`` section of khronos.yml."""

from __future__ import annotations

from khronos.config._base import Section

__all__ = ["AlertsConfig"]


class AlertsConfig(Section):
    """Alert delivery (not configurable yet)."""
