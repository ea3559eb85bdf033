"""The dashboard in headless Chromium shows the active silences and alerts held back by one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from khronos.alerts import Level
from tests.dashboard.browser import watch
from tests.dashboard.helpers import db_status, make_builder, serve_dashboard
from tests.polling import poll

XSS = "<img src=x onerror=alert(1)>"


@pytest.mark.integration
def test_silences_section_and_silenced_alerts(browser: Any, tmp_path: Path) -> None:
    """The Silences section lists the active silence (its reason as text, never markup) and
    the recent alerts show the held-back alert as `silenced`."""
    builder = make_builder(tmp_path, [db_status()])
    silence_id = builder.engine.silences.add("backup", 3600, f"moving the VPS {XSS}", "cli")
    builder.engine.send_alert("backup lag 5m", Level.ERROR)
    with serve_dashboard(builder, "http: {listen: '127.0.0.1:9321'}") as served:
        page = browser.new_page()
        errors = watch(page)
        page.goto(served.url + "/")
        poll(lambda: page.is_visible("#silences-section"), timeout=30, what="silences section")
        item = page.locator(f"#silences li[data-silence='{silence_id}']")
        assert XSS in str(item.text_content())
        assert "backup" in str(item.text_content())
        poll(lambda: "silenced" in str(page.text_content("#alerts")), timeout=30, what="alert")
        assert page.evaluate("document.querySelectorAll('img').length") == 0
        assert errors.all() == []
        builder.engine.silences.remove(silence_id)
        poll(lambda: not page.is_visible("#silences-section"), timeout=30, what="hidden again")
        page.close()
