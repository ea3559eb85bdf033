"""The dashboard in real headless Chromium: it loads clean, follows the daemon live, fits a
phone, renders dark, asks for the token beyond loopback and shows markup as text."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from khronos.alerts import Level
from tests.daemon.harness import Running, start, stop
from tests.dashboard.browser import Gateway, watch
from tests.dashboard.conftest import write_daemon_config
from tests.dashboard.helpers import TOKEN, db_status, make_builder, serve_dashboard
from tests.polling import poll

pytestmark = pytest.mark.integration

XSS = "<img src=x onerror=alert(1)>"
DEADLINE = 30.0


def _state(page: Any) -> str:
    return str(page.text_content("#overall-state") or "")


def _charts_with_data(page: Any) -> int:
    return int(
        page.evaluate("document.querySelectorAll('#charts svg:not([data-points=\"0\"])').length")
    )


def test_page_loads_clean_with_state_database_and_a_chart(
    browser: Any, daemon: Running, tmp_path: Path
) -> None:
    """No console error, no failed request; overall state, a database card and a chart with
    data points visible; a screenshot kept as the test's artifact."""
    page = browser.new_page()
    errors = watch(page)
    page.goto(daemon.url + "/")
    poll(lambda: _state(page).startswith("OK"), timeout=DEADLINE, what="overall OK")
    assert page.is_visible("#databases article.db")
    assert "app" in str(page.text_content("#databases article.db h3"))
    poll(lambda: _charts_with_data(page) > 0, timeout=DEADLINE, what="a chart with data")
    page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
    assert (tmp_path / "dashboard.png").stat().st_size > 0
    assert errors.all() == []
    page.close()


def test_page_follows_a_failing_check_without_reload(
    browser: Any, daemon: Running, gateway: Gateway
) -> None:
    """The probed server stops: the page shows WARN and the failing check; back: OK."""
    page = browser.new_page()
    page.goto(daemon.url + "/")
    poll(lambda: _state(page).startswith("OK"), timeout=DEADLINE, what="OK first")
    page.evaluate("window.__sameDocument = true")
    gateway.stop()
    try:
        poll(lambda: _state(page).startswith("WARN"), timeout=DEADLINE, what="WARN")
        check = page.locator("#checks li[data-check='http:gateway']")
        assert check.get_attribute("data-ok") == "false"
        assert "failing" in str(check.text_content())
        assert "gateway" in str(page.text_content("#overall-reasons"))
    finally:
        gateway.start()
    poll(lambda: _state(page).startswith("OK"), timeout=DEADLINE, what="OK again")
    assert page.evaluate("window.__sameDocument") is True  # never reloaded
    page.close()


def test_phone_viewport_has_no_horizontal_scroll_and_dark_mode_renders(
    browser: Any, daemon: Running, tmp_path: Path
) -> None:
    """390x844 in the dark colour scheme: nothing wider than the screen, dark colours used."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, color_scheme="dark")
    page = context.new_page()
    page.goto(daemon.url + "/")
    poll(lambda: _state(page).startswith("OK"), timeout=DEADLINE, what="OK")
    poll(lambda: _charts_with_data(page) > 0, timeout=DEADLINE, what="charts drawn")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(15, 18, 22)"
    page.screenshot(path=str(tmp_path / "dashboard-phone-dark.png"), full_page=True)
    context.close()


def test_page_says_when_the_daemon_goes_away(
    browser: Any, gateway: Gateway, tmp_path: Path
) -> None:
    """The daemon stops: the page says it is unreachable instead of showing a stale OK."""
    write_daemon_config(tmp_path, gateway.url)
    running = start(tmp_path, dict(os.environ))
    try:
        page = browser.new_page()
        page.goto(running.url + "/")
        poll(lambda: _state(page).startswith("OK"), timeout=DEADLINE, what="OK")
    finally:
        assert stop(running.proc) == 0
    poll(
        lambda: "unreachable" in str(page.text_content("#conn")),
        timeout=DEADLINE,
        what="daemon unreachable",
    )
    assert not _state(page).startswith("OK")
    page.close()


def test_beyond_loopback_asks_for_the_token_and_renders_markup_as_text(
    browser: Any, tmp_path: Path
) -> None:
    """Without credentials 401; with the token the page shows a database and an alert whose
    text is markup, as text: no element is created from it and no dialog fires."""
    builder = make_builder(tmp_path, [db_status(name=XSS)])
    builder.engine.send_alert(f"alert {XSS}", Level.ERROR)
    config = f"http: {{listen: '0.0.0.0:9321', token: {TOKEN}}}"
    with serve_dashboard(builder, config) as served:
        anonymous = browser.new_context()
        for path in ("/", "/api/status", "/static/app.js"):
            denied = anonymous.request.get(served.url + path)
            assert denied.status == 401
            assert denied.headers["www-authenticate"].startswith("Basic")
        anonymous.close()
        context = browser.new_context(http_credentials={"username": "me", "password": TOKEN})
        page = context.new_page()
        errors = watch(page)
        response = page.goto(served.url + "/")
        assert response is not None
        assert response.status == 200
        poll(lambda: XSS in str(page.text_content("#databases")), timeout=DEADLINE, what="db")
        poll(lambda: XSS in str(page.text_content("#alerts")), timeout=DEADLINE, what="alert")
        assert page.evaluate("document.querySelectorAll('img').length") == 0
        assert errors.all() == []
        context.close()


def test_app_and_heartbeats_render_when_their_sources_are_there(
    browser: Any, tmp_path: Path
) -> None:
    """The supervised app and the heartbeats show with their state; a down app is CRITICAL."""
    app = {"command": "node bot.js", "pid": 4242, "up": False, "started_at": None,
           "uptime_seconds": None, "restarts": 3, "gave_up": False,
           "last_exit": {"code": 137, "signal": None, "at": None},
           "metrics_url": None, "last_scrape": None}  # fmt: skip
    beats = [{"name": "nightly-report", "every_seconds": 86400, "grace_seconds": 600,
              "last_ping_at": None, "state": "late", "since": 1.0}]  # fmt: skip
    builder = make_builder(tmp_path, [db_status()], app=app, heartbeats=beats)
    with serve_dashboard(builder, "http: {listen: '127.0.0.1:9321'}") as served:
        page = browser.new_page()
        errors = watch(page)
        page.goto(served.url + "/")
        poll(lambda: _state(page).startswith("CRITICAL"), timeout=DEADLINE, what="CRITICAL")
        assert page.is_visible("#app-section")
        assert "node bot.js" in str(page.text_content("#app"))
        assert "down" in str(page.text_content("#app"))
        beat = page.locator("#heartbeats li[data-heartbeat='nightly-report']")
        assert "late" in str(beat.text_content())
        assert "app down (exited with code 137)" in str(page.text_content("#overall-reasons"))
        assert errors.all() == []
        page.close()


def test_snapshot_destinations_render_in_the_database_card(browser: Any, tmp_path: Path) -> None:
    """A healthy destination shows ok, its size and verified; a failing one its error."""
    now = time.time()
    good = {"dest": "offsite", "last_success_at": now - 120, "size_bytes": 2048,
            "verified": True, "stale": False, "running": False, "next_due_at": now + 3480,
            "last_error": None, "consecutive_failures": 0,
            "last_drill": {"at": now - 60, "ok": True, "decrypted": True, "key": "k",
                           "detail": "restored"}}  # fmt: skip
    bad = {**good, "dest": "nas", "last_error": "bucket 'nas' does not exist",
           "consecutive_failures": 3, "last_drill": None}  # fmt: skip
    builder = make_builder(tmp_path, [db_status()], snapshots={"app": [good, bad]})
    with serve_dashboard(builder, "http: {listen: '127.0.0.1:9321'}") as served:
        page = browser.new_page()
        errors = watch(page)
        page.goto(served.url + "/")
        poll(lambda: page.is_visible("[data-snapshot='nas']"), timeout=DEADLINE, what="nas")
        offsite = str(page.text_content("[data-snapshot='offsite']"))
        assert page.get_attribute("[data-snapshot='offsite']", "data-state") == "ok"
        assert "2.0 KiB, verified" in offsite
        assert "drill ok" in offsite
        nas = str(page.text_content("[data-snapshot='nas']"))
        assert page.get_attribute("[data-snapshot='nas']", "data-state") == "failing"
        assert "3 failed in a row: bucket 'nas' does not exist" in nas
        assert errors.all() == []
        page.close()
