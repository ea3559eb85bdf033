"""``khronos alert``: send test alerts."""

from __future__ import annotations
