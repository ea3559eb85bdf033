"""The error-rate check fed by the app's own /metrics, served by a non-Python process."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.alerts.fake_telegram import FakeTelegram
from tests.app.helpers import app_section, start_run
from tests.daemon.harness import closed_port, metric, stop, write_config
from tests.polling import poll

pytestmark = pytest.mark.integration

NODE_APP = """\
const http = require('http');
const client = require('prom-client');
const register = new client.Registry();
const processed = new client.Counter({name: 'bot_messages_processed_total',
  help: 'ok', labelNames: ['source'], registers: [register]});
const failed = new client.Counter({name: 'bot_messages_failed_total',
  help: 'failed', labelNames: ['source', 'reason'], registers: [register]});
setInterval(() => {
  processed.labels('telegram').inc();
  failed.labels('telegram', 'ai').inc();
}, 50);
http.createServer(async (req, res) => {
  res.setHeader('Content-Type', register.contentType);
  res.end(await register.metrics());
}).listen(Number(process.argv[2]), '127.0.0.1');
console.log(JSON.stringify({level: 30, msg: 'bot listening', port: process.argv[2]}));
"""


@pytest.fixture(name="prom_client", scope="session")
def fixture_prom_client(tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    """A node_modules with prom-client (npm install at test time), or None without node/npm
    or the registry."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return None
    folder = tmp_path_factory.mktemp("node")
    try:
        done = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(folder), "prom-client"],
            capture_output=True,
            timeout=180,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None
    return folder if done.returncode == 0 else None


def test_error_rate_fires_from_the_apps_scraped_metrics(
    tmp_path: Path, env: dict[str, str], telegram: FakeTelegram, prom_client: Path | None
) -> None:
    """A Node app's prom-client counters, scraped from app.metrics_url, fire checks.error_rate
    (names from app.metric_names); the check reads nothing from Khronos' own registry."""
    port = closed_port()
    if prom_client is not None:
        (prom_client / "bot.js").write_text(NODE_APP, encoding="utf-8")
        command = ["node", str(prom_client / "bot.js"), str(port)]
        static = None
    else:  # no node/npm registry here: a static exposition file served by http.server
        static = tmp_path / "www"
        static.mkdir()
        command = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
        command += ["--directory", str(static)]
    checks = "{memory: null, disk: null, error_rate: {every: 1s, min_events: 5, window: 1m}}"
    write_config(tmp_path, telegram, backup=False, checks=checks)
    names = "  metric_names: {processed: bot_messages_processed_total, "
    names += "failed: bot_messages_failed_total}\n"
    with (tmp_path / "khronos.yml").open("a", encoding="utf-8") as file:
        file.write(
            app_section(
                f'  metrics_url: "http://127.0.0.1:{port}/metrics"\n'
                f"  scrape_interval: 200ms\n{names}"
            )
        )
    env["APP_SECRET_TOKEN"] = "unused-secret-value"
    daemon = start_run(tmp_path, env, command)
    try:
        count = 0

        def fired() -> str | None:
            nonlocal count
            if static is not None:  # the "app" counts up: rewrite its exposition file
                count += 5
                (static / "metrics").write_text(
                    f"bot_messages_processed_total {count}\nbot_messages_failed_total {count}\n",
                    encoding="utf-8",
                )
            return next((t for t in telegram.texts() if "High error rate" in t), None)

        text = poll(fired, what="the error-rate alert", every=0.2)
        assert "50.00%" in text
        assert metric(daemon.url, 'khronos_check_up{check="error_rate"}') == 0.0
        assert metric(daemon.url, "khronos_messages_failed_total") is None
    finally:
        code = stop(daemon.proc)
    assert code == 0, daemon.err.read_text()[-2000:]
