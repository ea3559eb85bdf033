"""Scraping the app's own ``/metrics`` (``app.metrics_url``) for the checks.

Every ``app.scrape_interval`` the endpoint is read with httpx and parsed with
``prometheus_client.parser.text_string_to_metric_families``; the sums of each sample name
(over its label sets) are kept.  :class:`AppScraper` is a
:class:`~khronos.checks.MetricSource`: ``total(name)`` answers from the last good scrape, and
raises :class:`~khronos.errors.ScrapeError` naming why when the last scrape failed or is
stale (older than three intervals), which the checks report as a failure, never a crash.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import structlog
from prometheus_client.parser import text_string_to_metric_families

from khronos.clock import Clock, SystemClock
from khronos.errors import ScrapeError
from khronos.health import keep_running, stop_part
from khronos.lifecycle import Lifecycle
from khronos.redact import get_redactor

__all__ = ["AppScraper", "parse_totals"]

PART = "app.scrape"
_MAX_BODY = 8 * 1024 * 1024
_STALE_INTERVALS = 3


def parse_totals(text: str) -> dict[str, float]:
    """The sum of every sample name of a Prometheus text exposition (ValueError if invalid)."""
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            totals[sample.name] = totals.get(sample.name, 0.0) + float(sample.value)
    return totals


def _totals_of(response: httpx.Response) -> dict[str, float]:
    if response.status_code != httpx.codes.OK:
        raise ScrapeError(f"HTTP {response.status_code}")
    if len(response.content) > _MAX_BODY:
        raise ScrapeError(f"the answer is larger than {_MAX_BODY // 1_000_000} MB")
    return parse_totals(response.text)


class AppScraper(Lifecycle):
    """Scrapes ``url`` every ``interval`` seconds; a :class:`~khronos.checks.MetricSource`."""

    def __init__(
        self,
        url: str,
        *,
        interval: float = 15.0,
        timeout: float | None = None,
        clock: Clock | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        on_result: Callable[[dict[str, object]], None] | None = None,
        app_up: Callable[[], bool] | None = None,
        settling: Callable[[], bool] | None = None,
    ) -> None:
        self.url = url
        self.interval = interval
        self.timeout = timeout if timeout is not None else min(10.0, max(1.0, interval / 2))
        self.clock: Clock = clock or SystemClock()
        self.on_result = on_result
        """Called with ``{ok, at, error}`` after each scrape (the supervisor's status)."""
        self.app_up = app_up
        """When given and false, a failed scrape says the app is down rather than the error."""
        self.settling = settling
        """When given and true (the app is down, or started less than ``min_uptime`` ago), a
        failed scrape reads as "no data yet" rather than a check failure: the app's own alert
        covers a down app, and an app needs a moment to listen."""
        self._transport = transport
        self._totals: dict[str, float] | None = None
        self._scraped_at: float | None = None
        self._error: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._log = structlog.get_logger("khronos.app")

    def __repr__(self) -> str:
        return f"AppScraper(url={get_redactor().redact(self.url)!r})"

    @property
    def task(self) -> asyncio.Task[None] | None:
        """The scrape loop (the owner watches it)."""
        return self._task

    async def start(self) -> None:
        """Start scraping (the first scrape runs at once)."""
        if self._task is None:
            self._task = asyncio.create_task(
                keep_running(PART, self._loop, sleep=self.clock.sleep), name=f"khronos-{PART}"
            )

    async def stop(self) -> None:
        """Stop scraping."""
        task, self._task = self._task, None
        await stop_part(task, PART)

    def total(self, sample: str) -> float | None:
        """``sample`` summed over its labels in the last scrape (None: the app does not export
        it); :class:`~khronos.errors.ScrapeError` when there is no recent good scrape."""
        url = get_redactor().redact(self.url)
        hint = f"check that the app serves Prometheus metrics at {url} (app.metrics_url)"
        if self._error is not None and self.settling is not None and self.settling():
            return None
        if self._error is not None:
            raise ScrapeError(self._error, op="scrape app metrics", hint=hint, recoverable=True)
        if self._totals is None or self._scraped_at is None:
            raise ScrapeError(
                f"{url} has not been scraped yet", op="scrape app metrics", recoverable=True
            )
        age = self.clock.monotonic() - self._scraped_at
        if age > _STALE_INTERVALS * self.interval:
            raise ScrapeError(
                f"the last scrape of {url} is {age:.0f}s old",
                op="scrape app metrics",
                hint=hint,
                recoverable=True,
            )
        return self._totals.get(sample)

    async def scrape(self) -> None:
        """Scrape once; keep the totals or the error."""
        try:
            async with httpx.AsyncClient(
                timeout=self.timeout, transport=self._transport, follow_redirects=False
            ) as client:
                response = await client.get(self.url, headers={"Accept": "text/plain"})
            totals = _totals_of(response)
        except (httpx.HTTPError, ScrapeError, ValueError, UnicodeDecodeError) as exc:
            self._failed(exc)
            return
        self._totals, self._scraped_at, self._error = totals, self.clock.monotonic(), None
        self._report(ok=True, error=None)

    def _failed(self, exc: Exception) -> None:
        url = get_redactor().redact(self.url)
        if isinstance(exc, httpx.HTTPError):
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        elif isinstance(exc, ScrapeError):
            reason = exc.message
        else:
            reason = f"not a Prometheus text exposition ({exc})"
        if self.app_up is not None and not self.app_up():
            reason = f"{reason} (the app is not running)"
        error = get_redactor().redact(f"cannot scrape {url}: {reason}")
        if error != self._error:
            self._log.warning("cannot scrape the app's metrics", error=error)
        self._error = error
        self._report(ok=False, error=error)

    def _report(self, *, ok: bool, error: str | None) -> None:
        if self.on_result is not None:
            at = datetime.fromtimestamp(self.clock.wall(), UTC).isoformat()
            self.on_result({"ok": ok, "at": at, "error": error})

    async def _loop(self) -> None:
        while True:
            await self.scrape()
            await self.clock.sleep(self.interval)
