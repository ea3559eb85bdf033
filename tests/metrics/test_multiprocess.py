"""Multiprocess mode: two real worker processes, one merged registry."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from khronos.errors import KhronosError
from khronos.metrics import MULTIPROC_ENV, mark_process_dead, metrics_app, multiprocess_registry
from tests.metrics.asgi import call

WORKER = """
import sys
from khronos.metrics import Metrics
n = int(sys.argv[1])
metrics = Metrics()
for _ in range(n):
    metrics.record_message_processed("telegram", "ok")
metrics.set_queue_size(n)
metrics.set_active_users(10 * n)
metrics.record_ai_latency("openai", 0.5)
print("ready", flush=True)
sys.stdin.read()
"""


@pytest.fixture(name="workers")
def fixture_workers(tmp_path: Path) -> Iterator[list[subprocess.Popen[str]]]:
    """Two worker processes (n=1, n=2) writing to tmp_path; stopped by PID afterwards."""
    env = {**os.environ, MULTIPROC_ENV: str(tmp_path)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(n)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in (1, 2)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready"
        yield procs
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(timeout=10)
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    stream.close()


def _stop(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.close()
    proc.wait(timeout=10)


@pytest.mark.integration
def test_counters_and_histograms_are_summed(
    tmp_path: Path, workers: list[subprocess.Popen[str]]
) -> None:
    """Counters and histograms add up across workers."""
    registry = multiprocess_registry(tmp_path)
    labels = {"source": "telegram", "status": "ok"}
    assert registry.get_sample_value("khronos_messages_processed_total", labels) == 3.0
    count = registry.get_sample_value("khronos_ai_latency_seconds_count", {"provider": "openai"})
    assert count == 2.0


@pytest.mark.integration
def test_gauges_use_their_modes(tmp_path: Path, workers: list[subprocess.Popen[str]]) -> None:
    """Queue size is summed over live workers; active users is the live maximum."""
    registry = multiprocess_registry(tmp_path)
    assert registry.get_sample_value("khronos_queue_size") == 3.0
    assert registry.get_sample_value("khronos_active_users") == 20.0


@pytest.mark.integration
def test_dead_worker_leaves_live_gauges(
    tmp_path: Path, workers: list[subprocess.Popen[str]]
) -> None:
    """After mark_process_dead, a worker's gauges stop counting; its counts stay."""
    _stop(workers[1])
    mark_process_dead(workers[1].pid, tmp_path)
    registry = multiprocess_registry(tmp_path)
    assert registry.get_sample_value("khronos_queue_size") == 1.0
    assert registry.get_sample_value("khronos_active_users") == 10.0
    labels = {"source": "telegram", "status": "ok"}
    assert registry.get_sample_value("khronos_messages_processed_total", labels) == 3.0


@pytest.mark.integration
@pytest.mark.asyncio
async def test_endpoint_serves_the_merged_registry(
    tmp_path: Path, workers: list[subprocess.Popen[str]]
) -> None:
    """metrics_app(multiprocess_registry()) exposes the merged values."""
    reply = await call(metrics_app(multiprocess_registry(tmp_path)), "/metrics")
    assert b'khronos_messages_processed_total{source="telegram",status="ok"} 3.0' in reply.body


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    """Without a folder, multiprocess_registry raises with a hint naming the variable."""
    with pytest.raises(KhronosError, match=MULTIPROC_ENV):
        multiprocess_registry(tmp_path / "absent")
