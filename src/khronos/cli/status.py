"""``khronos status``: backup status per database."""

from __future__ import annotations
