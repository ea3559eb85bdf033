"""``khronos logs``: query the JSON log files."""

from __future__ import annotations
