"""``khronos restore``: safe point-in-time restore."""

from __future__ import annotations
