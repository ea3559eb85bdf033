"""The Prometheus + Alertmanager path: alert-rules.yml, alertmanager.yml, and both end to end.

promtool and amtool judge the shipped files; `promtool test rules` shows each rule firing on
its condition (and staying quiet otherwise); finally a real Prometheus evaluates the shipped
rules on a live Khronos /metrics and a real Alertmanager, routed by the shipped alertmanager.yml,
POSTs the alert to a webhook on 127.0.0.1.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any, NamedTuple

import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from khronos.alerts import AlertEngine, AlertMetrics, LogNotifier, Outbox
from khronos.backup import BackupCollector, DbStatus, VerifyResult
from khronos.backup._metrics import BackupSample
from khronos.checks import CheckRunner
from khronos.config import KhronosConfig
from khronos.metrics import Metrics
from khronos.server import create_app
from khronos.snapshots import (
    DestinationState,
    DrillResult,
    SnapshotCollector,
    SnapshotSample,
    SnapshotSuccess,
)
from tests.metrics.helpers import free_port, metric_names
from tests.metrics.live import running
from tests.support import require_binary

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "alert-rules.yml"
DEADLINE_S = 90.0
BOX, APP = 'job="khronos",instance="box:9321"', 'job="app",instance="box:8000"'
BOX_LABELS = {"job": "khronos", "instance": "box:9321"}
APP_LABELS = {"job": "app", "instance": "box:8000"}


def _yaml(path: Path) -> dict[str, Any]:
    return dict(yaml.safe_load(path.read_text(encoding="utf-8")))


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=False, timeout=60)


def _alert_rules() -> list[dict[str, Any]]:
    return [rule for group in _yaml(RULES)["groups"] for rule in group["rules"] if "alert" in rule]


# --- the files on their own -----------------------------------------------------------------


@pytest.mark.integration
def test_promtool_accepts_the_alert_rules() -> None:
    """`promtool check rules deploy/alert-rules.yml` passes (PromQL and templates parse)."""
    result = _run(require_binary("promtool"), "check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_known_severity_and_a_summary() -> None:
    """Each rule carries severity warning/error/critical (what alertmanager.yml routes on)."""
    for rule in _alert_rules():
        assert rule["labels"]["severity"] in {"warning", "error", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert rule["annotations"]["description"], rule["alert"]


def _exportedmetric_names(tmp_path: Path) -> set[str]:
    """Every sample name Khronos' collectors export, each one exercised once."""
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    metrics.record_message_processed("s", "ok")
    metrics.record_message_failed("s", "r")
    metrics.record_circuit_breaker_state_change("b", "open")
    status = DbStatus(
        "app", tmp_path / "app.db", "file:///r", lag_seconds=1.0, last_sync_at=datetime.now(UTC),
        last_verify=VerifyResult(ok=True, at=None, txid=None, error=None),
    )  # fmt: skip
    sample = BackupSample([status], 0, {"app": 1.0})
    registry.register(BackupCollector(lambda: sample))
    success = SnapshotSuccess(datetime.now(UTC), "k", 1, 1.0)
    drill = DrillResult(datetime.now(UTC), ok=True)
    snap = DestinationState("app", "nas", last_success=success, last_drill=drill)
    snaps = SnapshotSample([snap], {("app", "nas"): 0}, {("app", "nas"): 3600.0})
    registry.register(SnapshotCollector(lambda: snaps))
    alert_metrics = AlertMetrics(registry)
    alert_metrics.watch_pending(lambda: 0)
    outbox = Outbox(tmp_path / "outbox.db")
    try:
        runner = CheckRunner(AlertEngine(outbox, [LogNotifier()]), [], registry=registry)
        runner.up.labels(check="disk").set(1)
        text = generate_latest(registry).decode()
    finally:
        outbox.close()
    return {s.name for family in text_string_to_metric_families(text) for s in family.samples}


def test_rules_name_only_metrics_khronos_exports(tmp_path: Path) -> None:
    """Every metric in the rules' PromQL is exported by Khronos (or is Prometheus' `up`)."""
    used = {name for rule in _alert_rules() for name in metric_names(rule["expr"])}
    assert "khronos_backup_up" in used
    assert used - _exportedmetric_names(tmp_path) - {"up"} == set()


def test_prometheus_yml_loads_the_rules_and_sends_to_alertmanager() -> None:
    """prometheus.yml names alert-rules.yml (beside it) and Alertmanager on 127.0.0.1:9093."""
    config = _yaml(DEPLOY / "prometheus.yml")
    assert [DEPLOY / name for name in config["rule_files"]] == [RULES]
    (manager,) = config["alerting"]["alertmanagers"]
    assert manager["static_configs"] == [{"targets": ["127.0.0.1:9093"]}]


def test_alertmanager_yml_reads_the_bot_token_from_a_file() -> None:
    """No inline bot_token in the example: every Telegram receiver uses bot_token_file."""
    configs = [c for r in _yaml(DEPLOY / "alertmanager.yml")["receivers"]
               for c in r.get("telegram_configs", ())]  # fmt: skip
    assert configs
    assert all("bot_token" not in c and c["bot_token_file"] for c in configs)


def _amtool_version(amtool: str) -> tuple[int, int]:
    match = re.search(r"version (\d+)\.(\d+)", _run(amtool, "--version").stdout)
    assert match, "amtool --version printed no version"
    return int(match[1]), int(match[2])


def _checkable_alertmanager_yml(tmp_path: Path, amtool: str) -> Path:
    """The shipped file with its token file in tmp_path (as installed).

    Alertmanager before 0.26 (Debian 12 ships 0.25) has no bot_token_file: there the file is
    checked in the form docs/alertmanager.md tells those users to write, token inline.
    """
    config = _yaml(DEPLOY / "alertmanager.yml")
    token = tmp_path / "telegram-bot-token"
    token.write_text("123456:test-token\n", encoding="utf-8")
    for receiver in config["receivers"]:
        for telegram in receiver.get("telegram_configs", ()):
            del telegram["bot_token_file"]
            if _amtool_version(amtool) >= (0, 26):
                telegram["bot_token_file"] = str(token)
            else:
                telegram["bot_token"] = token.read_text(encoding="utf-8").strip()
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@pytest.mark.integration
def test_amtool_accepts_alertmanager_yml(tmp_path: Path) -> None:
    """`amtool check-config` passes on the shipped alertmanager.yml (token in a file)."""
    amtool = require_binary("amtool")
    result = _run(amtool, "check-config", str(_checkable_alertmanager_yml(tmp_path, amtool)))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.integration
@pytest.mark.parametrize(
    ("severity", "receiver"),
    [("critical", "telegram-critical"), ("error", "telegram"), ("warning", "telegram")],
)
def test_alertmanager_routes_by_severity(tmp_path: Path, severity: str, receiver: str) -> None:
    """Critical alerts go to the paging chat, the others to the normal one."""
    amtool = require_binary("amtool")
    config = _checkable_alertmanager_yml(tmp_path, amtool)
    result = _run(amtool, "config", "routes", "test", f"--config.file={config}",
                  f"--verify.receivers={receiver}", "alertname=KhronosBackupDown",
                  f"severity={severity}")  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


# --- each rule, with promtool's rule unit tests ---------------------------------------------


class Case(NamedTuple):
    """Input series, when to look, and the alerts (labels + rendered summary) expected then."""

    id: str
    alertname: str
    series: dict[str, str]
    eval_time: str
    expected: list[tuple[dict[str, str], str]]
    interval: str = "15s"


FIRING = [
    Case("backup-down", "KhronosBackupDown", {f'khronos_backup_up{{{BOX},db="app"}}': "1 0x20"},
         "3m", [({"severity": "critical", "db": "app", **BOX_LABELS},
                 "Backup of app is down on box:9321")]),
    Case("backup-lagging-two-tiers", "KhronosBackupLagging",
         {f'khronos_backup_lag_seconds{{{BOX},db="app"}}': "1200x40"}, "8m",
         [({"severity": "warning", "db": "app", **BOX_LABELS},
           "Backup of app is 20m 0s behind on box:9321"),
          ({"severity": "critical", "db": "app", **BOX_LABELS},
           "Backup of app is 20m 0s behind on box:9321")]),
    Case("not-syncing", "KhronosBackupNotSyncing",
         {f'khronos_backup_last_sync_timestamp_seconds{{{BOX},db="app"}}': "0x60",
          f'khronos_backup_lag_seconds{{{BOX},db="app"}}': "30x60"}, "10m",
         [({"severity": "error", "db": "app", **BOX_LABELS},
           "No backup upload of app for 10m 0s on box:9321")]),
    Case("drill-failed", "KhronosRestoreDrillFailed",
         {f'khronos_backup_verify_success{{{BOX},db="app"}}': "0x4"}, "30s",
         [({"severity": "critical", "db": "app", **BOX_LABELS},
           "Restore drill of app failed on box:9321")]),
    Case("snapshot-stale", "KhronosSnapshotStale",
         {f'khronos_snapshot_last_success_timestamp_seconds{{{BOX},db="app",dest="nas"}}': "0x40",
          f'khronos_snapshot_interval_seconds{{{BOX},db="app",dest="nas"}}': "120x40"}, "6m",
         [({"severity": "error", "db": "app", "dest": "nas", **BOX_LABELS},
           "Newest snapshot of app at nas is 6m 0s old on box:9321")]),
    Case("snapshot-drill-failed", "KhronosSnapshotDrillFailed",
         {f'khronos_snapshot_drill_success{{{BOX},db="app",dest="nas"}}': "0x4"}, "30s",
         [({"severity": "error", "db": "app", "dest": "nas", **BOX_LABELS},
           "Snapshot drill of app at nas failed on box:9321")]),
    Case("khronos-down", "KhronosDown", {f"up{{{BOX}}}": "1 0x20"}, "3m",
         [({"severity": "critical", **BOX_LABELS}, "Khronos is down on box:9321")]),
    Case("check-failing", "KhronosCheckFailing",
         {f'khronos_check_up{{{BOX},check="disk"}}': "0x20"}, "3m",
         [({"severity": "error", "check": "disk", **BOX_LABELS},
           "Check disk is failing on box:9321")]),
    Case("breaker-flapping", "KhronosCircuitBreakerOpen",  # half-open probes in between
         {f'khronos_circuit_breaker_state{{{BOX},breaker="openai"}}': "2 2 1 2 2 1 2 2 1 2"},
         "2m", [({"severity": "error", "breaker": "openai", **BOX_LABELS},
                 "Circuit breaker openai is open on box:9321")]),
    Case("alerts-piling-up", "KhronosAlertsPilingUp",
         {f"khronos_alerts_pending{{{BOX}}}": "150x60"}, "11m",
         [({"severity": "error", **BOX_LABELS},
           "150 Khronos alerts waiting to be sent on box:9321")]),
    Case("error-rate", "KhronosHighErrorRate",
         {f'khronos_messages_processed_total{{{APP},source="tg",status="ok"}}': "0+60x60",
          f'khronos_messages_failed_total{{{APP},source="tg",reason="ai"}}': "0+6x60"}, "12m",
         [({"severity": "error", **APP_LABELS}, "9.091% of messages failing on box:8000")]),
    Case("error-rate-all-failing", "KhronosHighErrorRate",
         {f'khronos_messages_failed_total{{{APP},source="tg",reason="ai"}}': "0+6x60"}, "12m",
         [({"severity": "error", **APP_LABELS}, "100% of messages failing on box:8000")]),
    Case("queue-backlog", "KhronosQueueBacklog", {f"khronos_queue_size{{{APP}}}": "1500x40"},
         "6m", [({"severity": "warning", **APP_LABELS}, "1500 messages queued on box:8000")]),
]  # fmt: skip

QUIET = [
    Case("backup-down-too-short", "KhronosBackupDown",
         {f'khronos_backup_up{{{BOX},db="app"}}': "1 0 0 1x20"}, "3m", []),
    Case("lag-under-a-minute", "KhronosBackupLagging",
         {f'khronos_backup_lag_seconds{{{BOX},db="app"}}': "45x40"}, "8m", []),
    Case("idle-database-caught-up", "KhronosBackupNotSyncing",
         {f'khronos_backup_last_sync_timestamp_seconds{{{BOX},db="app"}}': "0x60",
          f'khronos_backup_lag_seconds{{{BOX},db="app"}}': "0x60"}, "10m", []),
    Case("snapshot-within-twice-its-interval", "KhronosSnapshotStale",
         {f'khronos_snapshot_last_success_timestamp_seconds{{{BOX},db="app",dest="nas"}}': "0x40",
          f'khronos_snapshot_interval_seconds{{{BOX},db="app",dest="nas"}}': "3600x40"}, "6m",
         []),
    Case("app-down-is-not-khronos-down", "KhronosDown", {f"up{{{APP}}}": "0x20"}, "3m", []),
    Case("breaker-opened-once-long-ago", "KhronosCircuitBreakerOpen",
         {f'khronos_circuit_breaker_state{{{BOX},breaker="openai"}}': "2 0x20"}, "3m", []),
    Case("few-messages", "KhronosHighErrorRate",  # 50% failing, but 10 messages per 5m
         {f'khronos_messages_processed_total{{{APP},source="tg",status="ok"}}': "0+1x30",
          f'khronos_messages_failed_total{{{APP},source="tg",reason="ai"}}': "0+1x30"},
         "20m", [], interval="1m"),
    Case("brief-queue-spike", "KhronosQueueBacklog",
         {f"khronos_queue_size{{{APP}}}": "1500x8 10x30"}, "6m", []),
]  # fmt: skip


def _promtool_test(tmp_path: Path, case: Case) -> subprocess.CompletedProcess[str]:
    """Run `promtool test rules` on one case, against the rules with only their summaries."""
    promtool = require_binary("promtool")
    rules = _yaml(RULES)
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule["annotations"] = {"summary": rule["annotations"]["summary"]}
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules), encoding="utf-8")
    test = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "15s",
        "tests": [{
            "interval": case.interval,
            "input_series": [{"series": s, "values": v} for s, v in case.series.items()],
            "alert_rule_test": [{
                "eval_time": case.eval_time,
                "alertname": case.alertname,
                "exp_alerts": [{"exp_labels": labels, "exp_annotations": {"summary": summary}}
                               for labels, summary in case.expected],
            }],
        }],
    }  # fmt: skip
    (tmp_path / "test.yml").write_text(yaml.safe_dump(test), encoding="utf-8")
    return _run(promtool, "test", "rules", str(tmp_path / "test.yml"))


@pytest.mark.integration
@pytest.mark.parametrize("case", FIRING, ids=[c.id for c in FIRING])
def test_rule_fires_on_its_condition(tmp_path: Path, case: Case) -> None:
    """The alert fires with the expected labels and summary (promtool's rule unit test)."""
    result = _promtool_test(tmp_path, case)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.integration
@pytest.mark.parametrize("case", QUIET, ids=[c.id for c in QUIET])
def test_rule_stays_quiet_otherwise(tmp_path: Path, case: Case) -> None:
    """No alert for a blip, an idle database, another job, a breaker that recovered..."""
    result = _promtool_test(tmp_path, case)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_firing_case() -> None:
    """Each alert of the file is exercised by a FIRING case above."""
    assert {rule["alert"] for rule in _alert_rules()} == {case.alertname for case in FIRING}


# --- end to end: Khronos /metrics -> Prometheus -> Alertmanager -> webhook -------------------


class _Recorder(BaseHTTPRequestHandler):
    """Keeps the JSON body of every POST (Alertmanager's webhook notifications)."""

    received: list[dict[str, Any]]
    lock: threading.Lock

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with self.lock:
            self.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        """Quiet: the test reads the bodies, not an access log."""


@contextmanager
def _webhook() -> Iterator[tuple[str, list[dict[str, Any]], threading.Lock]]:
    """An HTTP server on 127.0.0.1 (port from the OS) recording POSTs; yields its URL."""
    received: list[dict[str, Any]] = []
    lock = threading.Lock()
    handler = type("Recorder", (_Recorder,), {"received": received, "lock": lock})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="webhook", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/alerts", received, lock
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@contextmanager
def _process(args: list[str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Start a process logging to log_path; stop it by PID (terminate, wait, kill) on exit."""
    log: IO[bytes] = log_path.open("wb")
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _fast_rules(path: Path) -> Path:
    """The shipped rules evaluated every second, with no `for:` wait."""
    rules = _yaml(RULES)
    for group in rules["groups"]:
        group["interval"] = "1s"
        for rule in group["rules"]:
            rule.pop("for", None)
    path.write_text(yaml.safe_dump(rules), encoding="utf-8")
    return path


def _test_prometheus_yml(path: Path, rules: Path, target: str, alertmanager: str) -> Path:
    """The shipped prometheus.yml at 1s, scraping `target`, alerting `alertmanager`."""
    config = _yaml(DEPLOY / "prometheus.yml")
    config["global"]["scrape_interval"] = config["global"]["evaluation_interval"] = "1s"
    for job in config["scrape_configs"]:
        job["scrape_interval"] = job["scrape_timeout"] = "1s"
        job["static_configs"] = [{"targets": [target]}]
    config["rule_files"] = [str(rules)]
    config["alerting"]["alertmanagers"][0]["static_configs"] = [{"targets": [alertmanager]}]
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _test_alertmanager_yml(path: Path, webhook: str) -> Path:
    """The shipped routes and inhibitions, no waiting, each receiver a webhook instead."""
    config = _yaml(DEPLOY / "alertmanager.yml")
    routes = [config["route"], *config["route"]["routes"]]
    for route in routes:
        route.update(group_wait="0s", group_interval="1s")
    for receiver in config["receivers"]:
        receiver.pop("telegram_configs")
        receiver["webhook_configs"] = [{"url": webhook, "send_resolved": False}]
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@contextmanager
def _khronos_with_backup_down(tmp_path: Path) -> Iterator[int]:
    """Khronos' HTTP app on 127.0.0.1 whose /metrics says khronos_backup_up{db="app"} 0."""
    registry = CollectorRegistry()
    status = DbStatus("app", tmp_path / "app.db", "file:///replica", replicating=False)
    registry.register(BackupCollector(lambda: BackupSample([status], 0, {})))
    with running(create_app(KhronosConfig(), registry=registry)) as port:
        yield port


def _alerts(received: list[dict[str, Any]], lock: threading.Lock) -> list[dict[str, Any]]:
    with lock:
        return [alert | {"receiver": n["receiver"]} for n in received for alert in n["alerts"]]


@pytest.mark.integration
@pytest.mark.slow
def test_backup_down_reaches_the_webhook_through_prometheus_and_alertmanager(
    tmp_path: Path,
) -> None:
    """backup_up 0 on /metrics -> KhronosBackupDown{db="app"} POSTed to the critical receiver."""
    prometheus = require_binary("prometheus")
    alertmanager = require_binary("prometheus-alertmanager")
    am_port, prom_port = free_port(), free_port()
    rules = _fast_rules(tmp_path / "rules.yml")
    with (
        _webhook() as (url, received, lock),
        _khronos_with_backup_down(tmp_path) as metrics_port,
        _process([alertmanager, f"--config.file={_test_alertmanager_yml(tmp_path / 'am.yml', url)}",
                  f"--storage.path={tmp_path / 'am-data'}", "--cluster.listen-address=",
                  f"--web.listen-address=127.0.0.1:{am_port}"], tmp_path / "am.log"),
        _process([prometheus, f"--storage.tsdb.path={tmp_path / 'prom-data'}",
                  "--config.file=" + str(_test_prometheus_yml(
                      tmp_path / "prometheus.yml", rules, f"127.0.0.1:{metrics_port}",
                      f"127.0.0.1:{am_port}")),
                  f"--web.listen-address=127.0.0.1:{prom_port}"], tmp_path / "prom.log"),
    ):  # fmt: skip
        deadline = time.monotonic() + DEADLINE_S
        found: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not found:
            found = [a for a in _alerts(received, lock)
                     if a["labels"]["alertname"] == "KhronosBackupDown"]  # fmt: skip
            time.sleep(0.2)  # pacing the poll loop; the deadline decides
    logs = "\n".join(p.read_text(errors="replace")[-2000:] for p in tmp_path.glob("*.log"))
    assert found, f"no KhronosBackupDown at the webhook within {DEADLINE_S}s\n{logs}"
    alert = found[0]
    assert alert["labels"]["db"] == "app"
    assert alert["labels"]["severity"] == "critical"
    assert alert["receiver"] == "telegram-critical"
    assert alert["annotations"]["summary"].startswith("Backup of app is down on 127.0.0.1:")
