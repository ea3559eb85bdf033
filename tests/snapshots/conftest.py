"""Fixtures for snapshot tests: the moto S3 server, buckets and the cuttable proxy of the backup
tests, an age key pair, a configuration with snapshot destinations."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.backup.conftest import (  # noqa: F401 - pytest finds fixtures by their import here
    _forget_said_notes,
    fixture_auth_s3,
    fixture_bucket,
    fixture_s3_proxy,
    fixture_s3_server,
)
from tests.snapshots.helpers import AgeKey, MakeSnapConfig, make_key, snap_config


@pytest.fixture(name="age_key")
def fixture_age_key(tmp_path: Path) -> AgeKey:
    """An age key pair: the identity file (0600, off the destinations) and its recipient."""
    return make_key(tmp_path / "keys" / "snapshots.key")


@pytest.fixture(name="make_snap_config")
def fixture_make_snap_config(tmp_path: Path) -> MakeSnapConfig:
    """Build a configuration for tmp_path/app.db with the given snapshot destinations."""

    def make(*dests: str) -> object:
        return snap_config(tmp_path, list(dests))

    return make  # type: ignore[return-value]
