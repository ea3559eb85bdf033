"""The metrics section of khronos.yml."""

from __future__ import annotations

import pytest

from khronos.config import parse_config
from khronos.errors import ConfigError


def test_defaults() -> None:
    """/metrics, auth auto, default buckets."""
    metrics = parse_config("service: bot").metrics
    assert (metrics.path, metrics.auth, metrics.http_buckets) == ("/metrics", "auto", None)


@pytest.mark.parametrize(
    ("yaml", "problem"),
    [
        ("metrics: {http_buckets: [1, 0.5]}", "increasing"),
        ("metrics: {ai_buckets: []}", "at least one"),
        ("metrics: {ai_buckets: [-1]}", "positive"),
        ("metrics: {path: metrics}", "URL path"),
        ("metrics: {auth: maybe}", "auth"),
    ],
)
def test_bad_values_are_refused(yaml: str, problem: str) -> None:
    """Unordered or empty buckets, a relative path and an unknown auth mode are errors."""
    with pytest.raises(ConfigError, match=problem):
        parse_config(yaml)
