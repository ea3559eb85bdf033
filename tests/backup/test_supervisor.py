"""The Litestream supervisor: restart policy, give-up, stop, log forwarding, no orphans."""

from __future__ import annotations

import asyncio
import inspect
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import timedelta
from pathlib import Path

import pytest
import structlog

from khronos.backup import (
    ProcessHandle,
    ProcessRunner,
    RecordingAlertSink,
    Supervisor,
)
from khronos.backup._supervisor import forward_log_line, parse_log_line
from khronos.clock import Clock, ManualClock
from khronos.config import RestartPolicy
from tests.backup.conftest import wait_for


class FakeProcess:
    """A process that lives ``lifetime`` fake seconds, or until signalled."""

    def __init__(self, pid: int, lifetime: float, clock: ManualClock) -> None:
        self.pid = pid
        self._lifetime = lifetime
        self._clock = clock
        self._signalled = asyncio.Event()

    async def stderr_lines(self) -> AsyncIterator[bytes]:
        yield b'{"time":"t","level":"INFO","msg":"fake started","level":""}\n'

    async def wait(self) -> int:
        if self._lifetime > 0:
            await self._clock.sleep(self._lifetime)
            return 1
        await self._signalled.wait()
        return -15

    def send_signal(self, sig: int) -> None:  # noqa: ARG002 - any signal ends it
        self._signalled.set()


class FakeRunner:
    """Spawns FakeProcesses with the given lifetimes (0: runs until signalled)."""

    def __init__(self, lifetimes: list[float], clock: ManualClock) -> None:
        self.lifetimes = lifetimes
        self.clock = clock
        self.spawned: list[FakeProcess] = []

    async def spawn(
        self,
        argv: Sequence[str],  # noqa: ARG002
        env: Mapping[str, str],  # noqa: ARG002
    ) -> ProcessHandle:
        lifetime = (
            self.lifetimes[len(self.spawned)] if len(self.spawned) < len(self.lifetimes) else 0
        )
        proc = FakeProcess(100 + len(self.spawned), lifetime, self.clock)
        self.spawned.append(proc)
        return proc


def _policy(max_restarts: int = 2, min_uptime: float = 10, delay: float = 4) -> RestartPolicy:
    return RestartPolicy(
        max_restarts=max_restarts,
        min_uptime=timedelta(seconds=min_uptime),
        delay=timedelta(seconds=delay),
    )


def _members(protocol: type) -> list[str]:
    return sorted(name for name in vars(protocol) if not name.startswith("_"))


@pytest.mark.parametrize(
    ("fake", "protocol"),
    [(ManualClock, Clock), (FakeRunner, ProcessRunner), (FakeProcess, ProcessHandle)],
)
def test_fakes_have_the_protocol_signatures(fake: type, protocol: type) -> None:
    """Each fake has every protocol method with the same signature and async-ness."""
    for name in _members(protocol):
        wanted = getattr(protocol, name)
        if isinstance(wanted, property):
            assert name in fake.__init__.__code__.co_names or isinstance(
                getattr(fake, name, None), property
            ), name
            continue
        got = getattr(fake, name)
        assert inspect.signature(got) == inspect.signature(wanted), name
        assert inspect.iscoroutinefunction(got) == inspect.iscoroutinefunction(wanted), name


@pytest.mark.asyncio
async def test_gives_up_after_max_restarts_quick_crashes() -> None:
    """Three one-second runs with max_restarts=2: two restarts, then a CRITICAL alert."""
    clock = ManualClock()
    runner = FakeRunner([1, 1, 1], clock)
    alerts = RecordingAlertSink()
    sup = Supervisor(["ls"], {}, policy=_policy(), alerts=alerts, runner=runner, clock=clock)
    await sup.start()
    await wait_for(lambda: sup.gave_up, timeout=5, what="give up")
    assert (len(runner.spawned), sup.restarts) == (3, 2)
    assert alerts.fired("backup.replication", "CRITICAL")
    await sup.stop()


@pytest.mark.asyncio
async def test_a_long_run_resets_the_quick_crash_count() -> None:
    """A run longer than min_uptime starts the count again."""
    clock = ManualClock()
    runner = FakeRunner([1, 20, 1, 1, 1], clock)
    sup = Supervisor(["ls"], {}, policy=_policy(), runner=runner, clock=clock)
    await sup.start()
    await wait_for(lambda: sup.gave_up, timeout=5, what="give up")
    assert len(runner.spawned) == 5
    await sup.stop()


@pytest.mark.asyncio
async def test_exit_fires_error_and_health_resolves_it() -> None:
    """An exit raises the ERROR alert; the restarted child answering resolves it."""
    clock = ManualClock()
    runner = FakeRunner([30], clock)
    alerts = RecordingAlertSink()
    sup = Supervisor(["ls"], {}, policy=_policy(), alerts=alerts, runner=runner, clock=clock)
    await sup.start()
    await wait_for(lambda: len(runner.spawned) == 2 and sup.running, timeout=5, what="restart")
    assert alerts.fired("backup.replication", "ERROR")
    sup.mark_healthy()
    assert "backup.replication" not in alerts.open
    await sup.stop()


@pytest.mark.asyncio
async def test_unresponsive_child_fires_error_and_health_resolves_it() -> None:
    """A running child reported unresponsive raises the ERROR alert; an answer resolves it."""
    clock = ManualClock()
    alerts = RecordingAlertSink()
    runner = FakeRunner([], clock)
    sup = Supervisor(["ls"], {}, policy=_policy(), alerts=alerts, runner=runner, clock=clock)
    await sup.start()
    assert sup.mark_unresponsive("its control socket does not answer", 12.0)
    assert alerts.open["backup.replication"].level == "ERROR"
    assert "does not answer" in (alerts.open["backup.replication"].message or "")
    sup.mark_healthy()
    assert "backup.replication" not in alerts.open
    await sup.stop()


@pytest.mark.asyncio
async def test_refresh_fires_the_open_alert_again() -> None:
    """After giving up, each refresh fires the CRITICAL alert again (the engine repeats it)."""
    clock = ManualClock()
    alerts = RecordingAlertSink()
    runner = FakeRunner([1], clock)
    sup = Supervisor(["ls"], {}, policy=_policy(0), alerts=alerts, runner=runner, clock=clock)
    await sup.start()
    await wait_for(lambda: sup.gave_up, timeout=5, what="give up")
    sup.refresh_alert()
    sup.refresh_alert()
    fired = [e.level for e in alerts.events if e.key == "backup.replication"]
    assert fired == ["CRITICAL"] * 3
    assert not sup.mark_unresponsive("no answer", 60.0)  # given up: nothing runs to hang
    await sup.stop()


def test_repr_leaves_the_environment_out() -> None:
    """The supervisor's repr never shows the child's environment (it holds the secrets)."""
    sup = Supervisor(["litestream"], {"KHRONOS_LS_0_SECRET_ACCESS_KEY": "s3cr3t"}, policy=_policy())
    assert "s3cr3t" not in repr(sup)


@pytest.mark.integration
@pytest.mark.asyncio
async def test_crashing_binary_gives_up_with_critical(tmp_path: Path) -> None:
    """A binary that exits at once is restarted, then given up on; its stderr is forwarded."""
    script = tmp_path / "litestream"
    script.write_text('#!/bin/sh\necho \'{"level":"ERROR","msg":"boom"}\' >&2\nexit 3\n')
    script.chmod(0o755)
    alerts = RecordingAlertSink()
    sup = Supervisor([str(script)], {}, policy=_policy(2, 5, 0.01), alerts=alerts)
    with structlog.testing.capture_logs() as logs:
        await sup.start()
        await wait_for(lambda: sup.gave_up, what="give up")
        await sup.stop()
    assert (sup.restarts, sup.last_exit) == (2, 3)
    assert alerts.fired("backup.replication", "CRITICAL")
    boom = [e for e in logs if e["event"] == "boom"]
    assert len(boom) == 3
    assert all(e["component"] == "litestream" and e["log_level"] == "error" for e in boom)


@pytest.mark.integration
@pytest.mark.asyncio
async def test_stop_kills_a_child_that_ignores_sigterm() -> None:
    """A child ignoring SIGTERM is killed after shutdown_timeout."""
    code = "import signal,sys,time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    code += "print('ready', file=sys.stderr, flush=True); time.sleep(60)"
    sup = Supervisor(
        [sys.executable, "-c", code], dict(os.environ), policy=_policy(), shutdown_timeout=0.5
    )
    with structlog.testing.capture_logs() as logs:
        await sup.start()
        await wait_for(lambda: any(e["event"] == "ready" for e in logs), what="child ready")
        await sup.stop()
    assert sup.last_exit == -signal.SIGKILL
    assert not sup.running


@pytest.mark.integration
def test_child_dies_with_khronos(tmp_path: Path) -> None:
    """kill -9 of the Khronos process: the kernel stops its Litestream (PR_SET_PDEATHSIG)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("PR_SET_PDEATHSIG is Linux-only")
    pidfile = tmp_path / "child.pid"
    program = textwrap.dedent(f"""
        import asyncio, pathlib
        from datetime import timedelta
        from khronos.backup import Supervisor
        from khronos.config import RestartPolicy
        async def main():
            sup = Supervisor(["sleep", "120"], {{"PATH": "/usr/bin:/bin"}}, policy=RestartPolicy())
            await sup.start()
            pathlib.Path({str(pidfile)!r}).write_text(str(sup.pid))
            await asyncio.sleep(120)
        asyncio.run(main())
    """)
    parent = subprocess.Popen([sys.executable, "-c", program])
    try:
        asyncio.run(wait_for(pidfile.exists, what="child pid"))
        child = int(pidfile.read_text())
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        asyncio.run(wait_for(lambda: not _alive(child), what="child gone"))
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")


def test_parse_log_line_keeps_the_first_level() -> None:
    """Litestream prints "level" twice on its first line; the first one wins."""
    record = parse_log_line('{"level":"INFO","msg":"litestream","version":"0.5.17","level":""}')
    assert record == {"level": "INFO", "msg": "litestream", "version": "0.5.17"}


def test_forward_maps_levels_and_renames_reserved_keys() -> None:
    """WARN becomes warning; a field named like a structlog key is prefixed with ls_."""
    logger = structlog.get_logger("t").bind(component="litestream")
    with structlog.testing.capture_logs() as logs:
        forward_log_line(logger, '{"level":"WARN","msg":"slow","event":"x","db":"app.db"}')
        forward_log_line(logger, "Error: cannot open config")
    assert logs[0] == {
        "event": "slow",
        "log_level": "warning",
        "component": "litestream",
        "ls_event": "x",
        "db": "app.db",
    }
    assert (logs[1]["event"], logs[1]["log_level"]) == ("Error: cannot open config", "error")


def test_forwarded_durations_read_as_durations() -> None:
    """Go durations (nanoseconds in slog's JSON) become 5m, 1s...; other numbers stay numbers."""
    lines = [
        '{"level":"INFO","msg":"starting compaction monitor","level":2,"interval":300000000000}',
        '{"level":"INFO","msg":"replicating to","type":"file","sync-interval":1000000000}',
        (
            '{"level":"INFO","msg":"starting L0 retention monitor","interval":15000000000,'
            '"retention":300000000000}'
        ),
        '{"level":"INFO","msg":"done","elapsed":1500000,"size":567,"txid":"0000000000000001"}',
    ]
    logger = structlog.get_logger("t")
    with structlog.testing.capture_logs() as logs:
        for line in lines:
            forward_log_line(logger, line)
    assert logs[0]["interval"] == "5m"
    assert logs[1]["sync-interval"] == "1s"
    assert (logs[2]["interval"], logs[2]["retention"]) == ("15s", "5m")
    assert (logs[3]["elapsed"], logs[3]["size"]) == ("1ms500us", 567)
