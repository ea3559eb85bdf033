"""``khronos verify``: the restore drill."""

from __future__ import annotations
