"""Litestream as a child process: starting it (its own session, dying with Khronos) and
reading its JSON log lines.

- **No orphans**: the child runs in its own session (a Ctrl-C on the terminal reaches Khronos
  only, which stops the child gracefully) and, on Linux, with ``PR_SET_PDEATHSIG = SIGTERM``
  so the kernel stops it when Khronos dies, even by SIGKILL
  (:func:`khronos.children.die_with_parent`).
- **Logs**: the child logs JSON on stderr; :func:`forward_log_line` forwards each line into
  structlog with its parsed level and its fields, durations written as ``5m`` rather than Go's
  nanoseconds (a non-JSON line is forwarded as it is).

:class:`ProcessRunner` is the seam the supervisor's tests replace with a fake.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import timedelta
from typing import Any, Protocol

from khronos.backup._litestream import go_duration
from khronos.children import die_with_parent

__all__ = [
    "AsyncioProcessRunner",
    "ProcessHandle",
    "ProcessRunner",
    "forward_log_line",
    "parse_log_line",
]

_LEVELS = {"DEBUG": "debug", "INFO": "info", "WARN": "warning", "WARNING": "warning"}
_RESERVED = {"event", "level", "logger", "timestamp", "component", "log_level"}
_SKIP = {"time", "level", "msg"}
_DURATION_KEYS = ("interval", "retention", "timeout", "backoff", "delay", "duration", "elapsed")
"""Litestream 0.5.17 logs these ``time.Duration`` fields (interval, sync-interval, retention,
max_backoff, elapsed...) as integer nanoseconds."""


class ProcessHandle(Protocol):
    """A started child process."""

    @property
    def pid(self) -> int:
        """Its process id."""

    def stderr_lines(self) -> AsyncIterator[bytes]:
        """Its stderr, line by line, until it closes."""

    async def wait(self) -> int:
        """Wait for the exit; the return code (negative: killed by that signal)."""

    def send_signal(self, sig: int) -> None:
        """Send a signal (no error if it has exited)."""


class ProcessRunner(Protocol):
    """Starts child processes."""

    async def spawn(self, argv: Sequence[str], env: Mapping[str, str]) -> ProcessHandle:
        """Start ``argv`` with exactly ``env``; raises OSError when it cannot be started."""


class _AsyncioHandle:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self._proc = proc

    @property
    def pid(self) -> int:
        return self._proc.pid

    async def stderr_lines(self) -> AsyncIterator[bytes]:
        stream = self._proc.stderr
        if stream is None:
            return
        while True:
            try:
                line = await stream.readline()
            except ValueError:  # a line longer than the stream limit: take what is there
                line = await stream.read(65536)
            if not line:
                return
            yield line

    async def wait(self) -> int:
        return await self._proc.wait()

    def send_signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            self._proc.send_signal(sig)


class AsyncioProcessRunner:
    """Real processes through asyncio, in their own session, dying with Khronos (Linux)."""

    async def spawn(self, argv: Sequence[str], env: Mapping[str, str]) -> ProcessHandle:
        """Start the process with stdin closed, stdout discarded and stderr piped."""
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env=dict(env),
            start_new_session=True,
            preexec_fn=die_with_parent(os.getpid()),
            limit=1024 * 1024,
        )
        return _AsyncioHandle(proc)


def _first_wins(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """JSON object hook keeping the first of repeated keys (Litestream logs level twice)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        out.setdefault(key, value)
    return out


def parse_log_line(line: str) -> dict[str, Any] | None:
    """A Litestream JSON log line as a dict, or None when the line is not a JSON object."""
    text = line.strip()
    if not text.startswith("{"):
        return None
    try:
        data = json.loads(text, object_pairs_hook=_first_wins)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def forward_log_line(logger: Any, line: str) -> dict[str, Any] | None:
    """Log one Litestream stderr line through ``logger``; return the parsed record, if any."""
    record = parse_log_line(line)
    if record is None:
        text = line.rstrip()
        if text:
            method = "error" if text.lower().startswith(("error", "panic", "fatal")) else "info"
            getattr(logger, method)(text)
        return None
    level = str(record.get("level") or "INFO").upper()
    method = _LEVELS.get(level, "error" if level.startswith("ERR") else "info")
    fields = {
        (f"ls_{k}" if k in _RESERVED else k): _duration(k, v)
        for k, v in record.items()
        if k not in _SKIP
    }
    getattr(logger, method)(str(record.get("msg", "")), **fields)
    return record


def _duration(key: str, value: Any) -> Any:
    """A Go ``time.Duration`` field (slog writes nanoseconds) as ``5m``; anything else as is."""
    name = key.lower().replace("-", "").replace("_", "")
    if isinstance(value, int) and not isinstance(value, bool) and name.endswith(_DURATION_KEYS):
        return go_duration(timedelta(microseconds=value / 1000))
    return value
