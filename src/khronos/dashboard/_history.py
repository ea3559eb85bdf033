"""The dashboard's charts: a sampler in the daemon and a small, bounded history in ``state_dir``.

Every ``interval`` (10 s) :class:`HistorySampler` takes one point: messages per second and the
error ratio (from the app's counters: the in-process registry, or a hook for the app's scraped
metrics), the latency p95 over the interval (the AI-call histogram when it saw calls, else the
HTTP one), the queue size, memory (Khronos' RSS and Litestream's), the backup lag per database
and the alerts sent.  :class:`History` keeps the last hour at that step and the last 24 hours
at one point a minute: at most 360 + 1440 points, a few hundred KiB of JSON.  The file
(``StateDir.history_file``) is written atomically every ``save_every`` seconds and at stop, and
read at start, so a restart of the daemon does not blank the charts.  A point is a flat dict of
numbers (None when unknown) plus ``lag``: ``{label: seconds}``.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import psutil
import structlog
from prometheus_client import Metric

from khronos.health import keep_running, stop_part
from khronos.lifecycle import Lifecycle
from khronos.state import write_atomic

__all__ = ["AppCounters", "History", "HistorySampler", "MetricsProbe", "histogram_p95"]

_log = structlog.get_logger("khronos.dashboard")

AppCounters = Callable[[], Mapping[str, Any] | None]
"""The app's cumulative counters from elsewhere (its scraped ``/metrics``): ``processed``,
``failed`` (totals), ``queue`` (size), and ``buckets`` (a latency histogram's cumulative
``{le: count}``) - each optional; None when there is no reading."""


class History:
    """Two bounded series of points: ``fine`` (every sample) and ``coarse`` (one a minute)."""

    def __init__(
        self,
        *,
        fine_points: int = 360,
        coarse_points: int = 1440,
        coarse_step: float = 60.0,
    ) -> None:
        self.fine: deque[dict[str, Any]] = deque(maxlen=fine_points)
        self.coarse: deque[dict[str, Any]] = deque(maxlen=coarse_points)
        self.coarse_step = coarse_step

    def add(self, point: dict[str, Any]) -> None:
        """Append a point (its ``t`` in Unix seconds); every ``coarse_step`` also to ``coarse``."""
        self.fine.append(point)
        if not self.coarse or point["t"] - self.coarse[-1]["t"] >= self.coarse_step:
            self.coarse.append(point)

    def series(self, span: str = "1h") -> list[dict[str, Any]]:
        """The points of the last hour (``1h``) or day (``24h``), oldest first."""
        return list(self.fine if span == "1h" else self.coarse)

    def to_json(self) -> dict[str, Any]:
        """The file form."""
        return {"version": 1, "fine": list(self.fine), "coarse": list(self.coarse)}

    def load(self, data: Any, *, now: float) -> int:
        """Read the file form back, dropping points older than each series' span; how many."""
        if not isinstance(data, dict):
            return 0
        spans = ((self.fine, "fine"), (self.coarse, "coarse"))
        loaded = 0
        for target, key in spans:
            points = data.get(key)
            if not isinstance(points, list):
                continue
            span = target.maxlen or 0
            step = self.coarse_step if key == "coarse" else 10.0
            for point in points:
                if (
                    isinstance(point, dict)
                    and isinstance(point.get("t"), int | float)
                    and now - point["t"] <= span * step
                ):
                    target.append(point)
                    loaded += 1
        return loaded


def _total(metric: Any, suffix: str = "_total") -> float:
    """Sum of a collector's samples whose name ends with ``suffix``."""
    total = 0.0
    for family in metric.collect():
        for sample in family.samples:
            if sample.name.endswith(suffix):
                total += sample.value
    return total


def _buckets(families: Iterable[Metric]) -> dict[float, float]:
    """A histogram's cumulative bucket counts summed over its label sets."""
    out: dict[float, float] = {}
    for family in families:
        for sample in family.samples:
            if sample.name.endswith("_bucket"):
                le = float(sample.labels["le"])
                out[le] = out.get(le, 0.0) + sample.value
    return out


def histogram_p95(before: Mapping[float, float], after: Mapping[float, float]) -> float | None:
    """The 95th percentile of the observations between two readings of cumulative buckets
    (linear within a bucket, as Prometheus' ``histogram_quantile``); None without any."""
    bounds = sorted(after)
    if not bounds:
        return None
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    total = counts[-1]
    if total <= 0:
        return None
    rank = 0.95 * total
    lower, below = 0.0, 0.0
    for bound, count in zip(bounds, counts, strict=True):
        if count >= rank:
            if math.isinf(bound):
                return lower
            width = count - below
            return lower + (bound - lower) * ((rank - below) / width if width > 0 else 1.0)
        lower, below = bound, count
    return lower


class MetricsProbe:
    """Takes one history point from the daemon's metrics, the backup and the processes."""

    def __init__(
        self,
        metrics: Any,
        engine_metrics: Any,
        *,
        lags: Callable[[], Mapping[str, float | None]] | None = None,
        litestream_pid: Callable[[], int | None] | None = None,
        app_counters: AppCounters | None = None,
    ) -> None:
        self.metrics = metrics
        self.engine_metrics = engine_metrics
        self.lags = lags
        self.litestream_pid = litestream_pid
        self.app_counters = app_counters
        self._me = psutil.Process()
        self._litestream: psutil.Process | None = None
        self._last: dict[str, Any] | None = None

    def _readings(self) -> dict[str, Any]:
        m = self.metrics
        app = self.app_counters() if self.app_counters is not None else None
        if app:
            return {
                "processed": app.get("processed"),
                "failed": app.get("failed"),
                "queue": app.get("queue"),
                "latency": dict(app.get("buckets") or {}),
                "sent": _total(self.engine_metrics.sent),
            }
        if not m.app_metrics:
            return {"sent": _total(self.engine_metrics.sent)}
        ai = _buckets(m.ai_latency.collect())
        use_ai = bool(ai) and (self._last is None or ai != self._last.get("ai"))
        return {
            "processed": _total(m.messages_processed),
            "failed": _total(m.messages_failed),
            "queue": _total(m.queue_size, ""),
            "ai": ai,
            "latency": ai if use_ai else _buckets(m.http_request_duration.collect()),
            "sent": _total(self.engine_metrics.sent),
        }

    def _rss(self, pid: int | None) -> float | None:
        if pid is None:
            self._litestream = None
            return None
        try:
            if self._litestream is None or self._litestream.pid != pid:
                self._litestream = psutil.Process(pid)
            return float(self._litestream.memory_info().rss)
        except psutil.Error:
            self._litestream = None
            return None

    def take(self, now: float | None = None) -> dict[str, Any]:
        """One point; rates are over the time since the previous point (None for the first)."""
        now = time.time() if now is None else now
        r = self._readings()
        last, self._last = self._last, {**r, "t": now}
        point: dict[str, Any] = {"t": round(now, 1)}
        dt = now - last["t"] if last else 0.0

        def delta(key: str) -> float | None:
            if not last or dt <= 0 or r.get(key) is None or last.get(key) is None:
                return None
            return max(0.0, float(r[key]) - float(last[key]))

        processed, failed = delta("processed"), delta("failed")
        point["messages_per_s"] = (
            None if processed is None or failed is None else round((processed + failed) / dt, 3)
        )
        seen = (processed or 0.0) + (failed or 0.0)
        point["error_ratio"] = round((failed or 0.0) / seen, 4) if seen > 0 else None
        p95 = (
            histogram_p95(last.get("latency") or {}, r["latency"])
            if last and r.get("latency")
            else None
        )
        point["latency_p95"] = None if p95 is None else round(p95, 4)
        point["queue"] = r.get("queue")
        sent = delta("sent")
        point["alerts_sent"] = None if sent is None else int(sent)
        point["memory_khronos"] = float(self._me.memory_info().rss)
        pid = self.litestream_pid() if self.litestream_pid is not None else None
        point["memory_litestream"] = self._rss(pid)
        lags = self.lags() if self.lags is not None else {}
        point["lag"] = {k: (None if v is None else round(v, 2)) for k, v in lags.items()}
        return point


class HistorySampler(Lifecycle):
    """Samples every ``interval`` seconds into a :class:`History` kept in ``path``."""

    def __init__(
        self,
        probe: Callable[[], dict[str, Any]],
        path: Path,
        *,
        interval: float = 10.0,
        save_every: float = 60.0,
        history: History | None = None,
    ) -> None:
        self.probe = probe
        self.path = path
        self.interval = interval
        self.save_every = save_every
        self.history = history or History()
        self.task: asyncio.Task[None] | None = None
        self._saved = 0.0

    def __repr__(self) -> str:
        return f"HistorySampler(path={str(self.path)!r}, interval={self.interval})"

    async def start(self) -> None:
        """Read the saved history and start sampling (the first point at once)."""
        if self.task is not None:
            return
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            data = None
        except (OSError, ValueError) as exc:
            _log.warning("the chart history could not be read; starting afresh", error=str(exc))
            data = None
        loaded = self.history.load(data, now=time.time())
        if loaded:
            _log.debug("chart history restored", points=loaded)
        self._saved = time.monotonic()
        self.task = asyncio.create_task(
            keep_running("dashboard.history", self._loop), name="khronos-history"
        )

    async def _loop(self) -> None:
        while True:
            self.sample()
            if time.monotonic() - self._saved >= self.save_every:
                await self.save()
            await asyncio.sleep(self.interval)

    def sample(self) -> None:
        """Take one point now."""
        self.history.add(self.probe())

    async def save(self) -> None:
        """Write the history file (atomically, in a thread); a failure is logged, not raised."""
        self._saved = time.monotonic()
        document = json.dumps(self.history.to_json(), separators=(",", ":"))
        try:
            await asyncio.to_thread(write_atomic, self.path, document)
        except OSError as exc:
            _log.warning(
                "the chart history could not be saved", path=str(self.path), error=str(exc)
            )

    def document(self, span: str) -> dict[str, Any]:
        """The ``/api/history`` document: ``span``, ``step_seconds`` and ``points``."""
        step = self.interval if span == "1h" else self.history.coarse_step
        return {"span": span, "step_seconds": step, "points": self.history.series(span)}

    async def stop(self) -> None:
        """Stop sampling and save the history."""
        if self.task is None:
            return
        task, self.task = self.task, None
        await stop_part(task)
        await self.save()
