"""The app's parts on their own: the restart budget, its environment, the scraper feeding the
checks, the supervisor's status and metrics."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from khronos.app import AppCollector, AppScraper, AppSupervisor, app_env, parse_totals
from khronos.checks import ErrorRateCheck, QueueBacklogCheck, checks_from_config
from khronos.children import RestartBudget
from khronos.clock import ManualClock
from khronos.config import AppMetricNames, ChecksConfig, parse_config
from khronos.redact import collect_secrets, get_redactor
from tests.polling import wait_for

EXPOSITION = """\
# HELP bot_messages_processed_total ok
# TYPE bot_messages_processed_total counter
bot_messages_processed_total{source="a"} 30
bot_messages_processed_total{source="b"} 10
bot_messages_failed_total{source="a",reason="x"} 10
khronos_queue_size 1500
"""


def test_the_budget_gives_up_after_max_restarts_quick_crashes_in_a_row() -> None:
    """Quick crashes count up to max_restarts; one more gives up; a long run resets."""
    budget = RestartBudget(max_restarts=2, min_uptime=10, delay=1)
    assert [budget.exited(1).give_up for _ in range(2)] == [False, False]
    assert budget.exited(30).quick_crashes == 0
    verdicts = [budget.exited(1) for _ in range(3)]
    assert [v.give_up for v in verdicts] == [False, False, True]


def test_the_apps_environment_keeps_khronos_secrets_out() -> None:
    """Config secrets and backup credentials are dropped, AWS_CA_BUNDLE and app.env pass."""
    config = parse_config(
        "http: {token: tok-0123456789abcdef}\n"
        "backup: {dbs: [{path: a.db, replica: {url: 's3://b/a'}}]}\n"
        "app: {command: [x], env: {AWS_ACCESS_KEY_ID: mine, DB_PASSWORD: pw-0123456789}}\n"
    )
    env, dropped = app_env(
        config,
        {
            "TOKEN_VAR": "tok-0123456789abcdef",
            "AWS_ACCESS_KEY_ID": "khronos-key",
            "AWS_SECRET_ACCESS_KEY": "khronos-secret",
            "AWS_CA_BUNDLE": "/etc/ca.pem",
            "PATH": "/bin",
        },
    )
    assert env == {
        "AWS_ACCESS_KEY_ID": "mine",
        "AWS_CA_BUNDLE": "/etc/ca.pem",
        "PATH": "/bin",
        "DB_PASSWORD": "pw-0123456789",
    }
    assert dropped == ["AWS_SECRET_ACCESS_KEY", "TOKEN_VAR"]
    assert "pw-0123456789" not in get_redactor().redact("password pw-0123456789")


def test_parse_totals_sums_each_sample_over_its_labels() -> None:
    """Label sets are summed per sample name."""
    totals = parse_totals(EXPOSITION)
    assert totals["bot_messages_processed_total"] == 40
    assert totals["khronos_queue_size"] == 1500


def scraper(handler: httpx.MockTransport, clock: ManualClock) -> AppScraper:
    """A scraper of a mocked endpoint."""
    return AppScraper("http://127.0.0.1:1/metrics", interval=1, clock=clock, transport=handler)


@pytest.mark.asyncio
async def test_checks_read_the_apps_series_from_the_last_scrape() -> None:
    """error_rate and queue_backlog built on the scraper read app.metric_names from it."""
    clock = ManualClock()
    source = scraper(httpx.MockTransport(lambda _: httpx.Response(200, text=EXPOSITION)), clock)
    await source.scrape()
    names = AppMetricNames(processed="bot_messages_processed_total")
    checks = checks_from_config(
        ChecksConfig(memory=None, disk=None), CollectorRegistry(), app_metrics=(source, names)
    )
    backlog = next(c for c in checks if isinstance(c, QueueBacklogCheck))
    assert (await backlog.run()).ok is False
    rate = next(c for c in checks if isinstance(c, ErrorRateCheck))
    assert (await rate.run()).message == "Too few messages to judge the error rate"


@pytest.mark.asyncio
async def test_a_failed_scrape_is_a_check_failure_with_its_reason() -> None:
    """HTTP 500 from the app: the check fails (WARN) saying the scrape failed; no exception."""
    clock = ManualClock()
    source = scraper(httpx.MockTransport(lambda _: httpx.Response(500)), clock)
    await source.scrape()
    check = ErrorRateCheck.from_config(
        ChecksConfig().error_rate or pytest.fail("no default"), source
    )
    result = await check.run()
    assert result.ok is False
    assert result.message == (
        "Cannot read the app's metrics: cannot scrape http://127.0.0.1:1/metrics: HTTP 500"
    )


@pytest.mark.asyncio
async def test_a_failed_scrape_while_the_app_settles_reads_as_no_data() -> None:
    """The app down or just started: no check failure (the app's own alert covers it)."""
    source = AppScraper(
        "http://127.0.0.1:1/metrics",
        clock=ManualClock(),
        transport=httpx.MockTransport(lambda _: httpx.Response(503)),
        settling=lambda: True,
    )
    await source.scrape()
    assert source.total("bot_messages_failed_total") is None


@pytest.mark.asyncio
async def test_a_garbage_answer_and_a_stale_scrape_are_failures_too() -> None:
    """Not an exposition; then a good scrape that grows old."""
    clock = ManualClock()
    answers = iter([httpx.Response(200, text="not { metrics"), httpx.Response(200, text="a 1\n")])
    source = scraper(httpx.MockTransport(lambda _: next(answers)), clock)
    await source.scrape()
    with pytest.raises(Exception, match="not a Prometheus text exposition"):
        source.total("a")
    await source.scrape()
    assert source.total("a") == 1
    clock.advance(10)
    with pytest.raises(Exception, match="is 10s old"):
        source.total("a")


@pytest.mark.asyncio
async def test_status_and_metrics_follow_the_app(tmp_path: Path) -> None:
    """Up with a pid and uptime; after its exit, the code and a gave_up after the budget."""
    (tmp_path / "app.py").write_text("import sys; sys.exit(4)\n", encoding="utf-8")
    config = parse_config(
        f"app: {{command: ['{sys.executable}', app.py], cwd: '{tmp_path}', "
        "restart: {max_restarts: 0, min_uptime: 5s, delay: 10ms}}"
    )
    registry = CollectorRegistry()
    app = AppSupervisor.from_config(config)
    registry.register(AppCollector(app))
    async with app:
        await wait_for(lambda: app.gave_up, what="giving up")
        status = app.status()
        assert set(status) == {
            "command", "pid", "up", "started_at", "uptime_seconds", "restarts",
            "last_exit", "gave_up", "metrics_url", "last_scrape",
        }  # fmt: skip
        assert (status["up"], status["pid"], status["gave_up"]) == (False, None, True)
        assert isinstance(status["last_exit"], dict)
        assert status["last_exit"]["code"] == 4
        assert app.readiness()[0].startswith("app down: Khronos gave up")
        assert registry.get_sample_value("khronos_app_last_exit_code") == 4
        assert registry.get_sample_value("khronos_app_up") == 0


def test_secret_named_app_env_values_are_config_secrets() -> None:
    """app.env's BOT_TOKEN is masked by config show and every redactor; NODE_ENV is not."""
    config = parse_config("app: {command: [x], env: {BOT_TOKEN: tok-abcdef123, NODE_ENV: prod}}")
    assert collect_secrets(config) == ["tok-abcdef123"]
