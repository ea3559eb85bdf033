"""App test fixtures: the daemon's environment and the fake Telegram (the daemon tests' own)."""

from __future__ import annotations

from tests.daemon.conftest import (  # noqa: F401 - pytest finds fixtures by their import here
    fixture_env,
    fixture_telegram,
)
