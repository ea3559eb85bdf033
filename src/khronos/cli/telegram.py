"""``khronos telegram``: check the Telegram bot setup."""

from __future__ import annotations
