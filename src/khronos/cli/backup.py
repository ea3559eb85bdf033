"""``khronos backup``: backup actions (backup now)."""

from __future__ import annotations
