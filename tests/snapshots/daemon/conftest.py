"""Snapshot daemon test fixtures: the alert tests' engine on a fake Bot API, and a manual clock."""

from __future__ import annotations

from tests.alerts.conftest import (  # noqa: F401 - pytest finds fixtures by their import here
    fixture_clock,
    fixture_make_engine,
    fixture_registry,
    fixture_telegram,
)
