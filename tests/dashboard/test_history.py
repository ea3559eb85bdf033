"""The chart history: bounded tiers, p95 from buckets, rates, and surviving a restart."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from khronos.alerts import AlertMetrics
from khronos.dashboard import History, HistorySampler, MetricsProbe, histogram_p95
from khronos.metrics import Metrics


def test_history_is_bounded_with_a_coarse_point_a_minute() -> None:
    """Two hours of 10 s points: the last hour kept fine, one a minute in the coarse tier."""
    history = History()
    for i in range(720):
        history.add({"t": 1000.0 + 10 * i})
    assert len(history.series("1h")) == 360
    assert len(history.series("24h")) == 120
    assert history.series("1h")[0]["t"] == 1000.0 + 10 * 360


def test_loading_drops_points_older_than_their_span() -> None:
    """A saved file from a week ago restores nothing stale; a recent one restores its points."""
    now = time.time()
    data = {"fine": [{"t": now - 7200}, {"t": now - 60}], "coarse": [{"t": now - 7 * 86400}]}
    history = History()
    assert history.load(data, now=now) == 1
    assert history.load("garbage", now=now) == 0


def test_p95_interpolates_within_the_bucket() -> None:
    """100 observations, 90 under 0.1 s and 10 in (0.1, 0.5]: p95 halfway in that bucket."""
    before = {0.1: 0.0, 0.5: 0.0, math.inf: 0.0}
    after = {0.1: 90.0, 0.5: 100.0, math.inf: 100.0}
    assert histogram_p95(before, after) == pytest.approx(0.3)
    assert histogram_p95(after, after) is None


def test_probe_computes_rates_between_points() -> None:
    """Messages per second and error ratio over the interval, from the in-process counters."""
    registry = CollectorRegistry()
    metrics = Metrics(registry, process_metrics=False)
    probe = MetricsProbe(metrics, AlertMetrics(registry), lags=lambda: {"app": 1.5})
    first = probe.take(now=100.0)
    assert first["messages_per_s"] is None
    assert first["lag"] == {"app": 1.5}
    for _ in range(18):
        metrics.record_message_processed("tg", "ok")
    metrics.record_message_failed("tg", "timeout")
    metrics.record_message_failed("tg", "timeout")
    metrics.set_queue_size(7)
    second = probe.take(now=110.0)
    assert second["messages_per_s"] == pytest.approx(2.0)
    assert second["error_ratio"] == pytest.approx(0.1)
    assert second["queue"] == 7
    assert second["memory_khronos"] > 0


@pytest.mark.asyncio
async def test_history_survives_a_restart(tmp_path: Path) -> None:
    """Points sampled before a stop are read back by the next sampler on the same file."""
    path = tmp_path / "history.json"
    sampler = HistorySampler(lambda: {"t": time.time(), "queue": 3}, path, interval=3600)
    await sampler.start()
    sampler.sample()
    await sampler.stop()
    assert json.loads(path.read_text())["fine"]
    again = HistorySampler(lambda: {"t": time.time()}, path, interval=3600)
    await again.start()
    try:
        assert any(p.get("queue") == 3 for p in again.history.series("1h"))
    finally:
        await again.stop()


@pytest.mark.asyncio
async def test_an_unreadable_history_file_starts_afresh(tmp_path: Path) -> None:
    """A corrupt history.json is not fatal: the sampler starts with what it samples."""
    path = tmp_path / "history.json"
    path.write_text("{not json", encoding="utf-8")
    sampler = HistorySampler(lambda: {"t": time.time()}, path, interval=3600)
    await sampler.start()
    await sampler.stop()
    assert json.loads(path.read_text())["version"] == 1


def test_probe_reads_the_apps_scraped_counters_when_given() -> None:
    """With an app_counters hook (a sidecar app's /metrics) the rates and p95 come from it."""
    registry = CollectorRegistry()
    readings = iter(
        [
            {"processed": 100, "failed": 0, "queue": 2, "buckets": {0.1: 10, math.inf: 10}},
            {"processed": 145, "failed": 5, "queue": 9, "buckets": {0.1: 10, math.inf: 30}},
        ]
    )
    probe = MetricsProbe(
        Metrics(registry, process_metrics=False, app_metrics=False),
        AlertMetrics(registry),
        app_counters=lambda: next(readings),
    )
    probe.take(now=0.0)
    point = probe.take(now=10.0)
    assert point["messages_per_s"] == pytest.approx(5.0)
    assert point["error_ratio"] == pytest.approx(0.1)
    assert point["queue"] == 9
    assert point["latency_p95"] == pytest.approx(0.1)
