"""Every error Khronos raises on purpose, under one base class.

The tree::

    KhronosError                 operation, hint, recoverable; exit code 1
    ├── ConfigError              one or more ConfigProblem (key path, problem, hint); exit code 2
    ├── BackupError              a backup, restore or restore-drill operation failed
    │   ├── LitestreamNotFoundError   no Litestream binary where configured
    │   ├── ControlError              Litestream's control socket did not answer, or refused
    │   ├── SyncError                 a forced sync did not reach the replica in time
    │   ├── SnapshotError             a snapshot (the second, encrypted copy) failed
    │   └── RestoreError              a restore failed; the current database is left as it was
    │       ├── RestoreRefusedError   refused: the database is in use or replicated; exit 3
    │       ├── NoBackupError         the replica has no backup (at that point in time)
    │       └── ReplicaAccessError    the replica cannot be read (bucket, credentials, network)
    ├── AlertError               an alert could not be stored or delivered
    │   ├── DeliveryError        a channel refused or failed to send an alert
    │   └── OutboxError          the alert outbox file cannot be opened
    ├── CircuitOpenError         a call refused because its circuit breaker is open
    ├── LockedError              another process holds a lock (a state_dir, a log folder...)
    ├── ScrapeError              the app's metrics (``app.metrics_url``) could not be read
    ├── DaemonError              ``khronos run`` cannot start
    └── RequestRefusedError      an HTTP API request refused for the client's fault (a 4xx)

Every class lives here and is exported from ``khronos``.  API misuse (a wrong type, a
contradictory argument) raises ``ValueError``/``TypeError``, not one of these.

Errors an operator sees carry *what* failed, *where* (a key path, a file) and a *hint* on how to
fix it, and say whether retrying can help.  The CLI prints them as one or a few lines and exits
with :attr:`KhronosError.exit_code`; it never shows a traceback for them.  Third-party errors are
wrapped at the boundary with ``raise KhronosError(...) from exc``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "AlertError",
    "BackupError",
    "CircuitOpenError",
    "ConfigError",
    "ConfigProblem",
    "ControlError",
    "DaemonError",
    "DeliveryError",
    "KhronosError",
    "LitestreamNotFoundError",
    "LockedError",
    "NoBackupError",
    "OutboxError",
    "ReplicaAccessError",
    "RequestRefusedError",
    "RestoreError",
    "RestoreRefusedError",
    "ScrapeError",
    "SnapshotError",
    "SyncError",
]


class KhronosError(Exception):
    """Base class of every error Khronos raises on purpose.

    ``op`` names the operation that failed (``"restore"``, ``"load config"``), ``hint`` tells the
    operator what to do about it, and ``recoverable`` says whether trying again later can help.
    """

    exit_code: int = 1

    def __init__(
        self,
        message: str,
        *,
        op: str | None = None,
        hint: str | None = None,
        recoverable: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.op = op
        self.hint = hint
        self.recoverable = recoverable

    def __str__(self) -> str:
        text = f"{self.op}: {self.message}" if self.op else self.message
        return f"{text} ({self.hint})" if self.hint else text

    def lines(self) -> list[str]:
        """The error as the lines the CLI prints."""
        return [str(self)]


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One thing wrong in a configuration file.

    ``path`` is the dotted key path (``alerts.telegram.chat_id``, ``checks.http[0].url``), empty
    for the file as a whole; ``line``/``column`` are 1-based positions in the file when known.
    """

    path: str
    problem: str
    hint: str | None = None
    line: int | None = None
    column: int | None = None

    def format(self, source: str | None = None) -> str:
        """``file:line:col: key.path: problem (hint)`` with the parts that are known."""
        where = ""
        if source:
            where = source
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            where += ": "
        text = f"{where}{self.path}: {self.problem}" if self.path else f"{where}{self.problem}"
        return f"{text} ({self.hint})" if self.hint else text


class ConfigError(KhronosError):
    """A configuration file (or value) that Khronos cannot use.  The CLI exits 2."""

    exit_code = 2

    def __init__(self, problems: Iterable[ConfigProblem], *, source: str | None = None) -> None:
        self.problems: Sequence[ConfigProblem] = tuple(problems)
        self.source = source
        first = self.problems[0] if self.problems else ConfigProblem("", "invalid configuration")
        super().__init__(first.problem, op="config", hint=first.hint)

    @classmethod
    def single(
        cls,
        path: str,
        problem: str,
        hint: str | None = None,
        *,
        source: str | None = None,
    ) -> ConfigError:
        """A ConfigError with one problem."""
        return cls([ConfigProblem(path, problem, hint)], source=source)

    def lines(self) -> list[str]:
        return [p.format(self.source) for p in self.problems]

    def __str__(self) -> str:
        return "; ".join(self.lines())


class BackupError(KhronosError):
    """A backup, restore or restore-drill operation failed."""


class LitestreamNotFoundError(BackupError):
    """The Litestream binary cannot be found or run."""


class ControlError(BackupError):
    """Litestream's control socket did not answer, or answered with an error."""


class SyncError(BackupError):
    """A forced sync did not reach the replica in time."""


class SnapshotError(BackupError):
    """A snapshot could not be taken, uploaded, verified, listed or read back.

    The message names the database and destination and the translated cause (no secrets).
    """


class RestoreError(BackupError):
    """A restore failed.  The current database is left exactly as it was.

    ``safety_copy`` is the path of the copy taken before the restore, when one was taken.
    """

    def __init__(
        self,
        message: str,
        *,
        op: str | None = "restore",
        hint: str | None = None,
        recoverable: bool = False,
        safety_copy: str | None = None,
    ) -> None:
        super().__init__(message, op=op, hint=hint, recoverable=recoverable)
        self.safety_copy = safety_copy

    def lines(self) -> list[str]:
        out = [str(self)]
        if self.safety_copy:
            out.append(f"a safety copy of the database was kept at {self.safety_copy}")
        return out


class RestoreRefusedError(RestoreError):
    """The restore was refused (the database is open by a process, or still replicated).

    Nothing was changed.  ``--force`` overrides.  The CLI exits 3.
    """

    exit_code = 3


class NoBackupError(RestoreError):
    """The replica has no backup at all, or none at the requested point in time."""


class ReplicaAccessError(RestoreError):
    """The replica cannot be read: wrong bucket, bad credentials, unreachable endpoint."""


class AlertError(KhronosError):
    """An alert could not be stored or delivered."""


class DeliveryError(AlertError):
    """A channel did not accept a message.

    ``reason`` is a short label for metrics (``timeout``, ``network``, ``server_error``,
    ``rate_limited``, ``unauthorized``, ``forbidden``, ``chat_not_found``, ``rejected``);
    ``retry_after`` is the wait the channel asked for; ``recoverable`` is false when trying the
    same message again cannot help (then the worker drops it after logging).  Messages never
    contain a bot token.
    """

    def __init__(
        self,
        message: str,
        *,
        reason: str,
        retry_after: float | None = None,
        recoverable: bool = True,
        hint: str | None = None,
        reachable: bool = False,
    ) -> None:
        super().__init__(message, op="send alert", hint=hint, recoverable=recoverable)
        self.reason = reason
        self.retry_after = retry_after
        self.reachable = reachable
        """True when the service answered (a 4xx/429): not a sign that it is down."""


class OutboxError(AlertError):
    """The alert outbox file cannot be opened (a full disk, permissions, a damaged file)."""


class CircuitOpenError(KhronosError):
    """A call was refused because its circuit breaker is open."""

    def __init__(self, name: str, retry_in: float) -> None:
        super().__init__(
            f"circuit breaker {name!r} is open; next try in {max(retry_in, 0):.1f}s",
            op=name,
            hint="the service failed repeatedly; calls resume automatically",
            recoverable=True,
        )
        self.breaker = name
        self.retry_in = retry_in


class LockedError(KhronosError):
    """Another process holds the lock; ``holder`` is its pid when it wrote one."""

    def __init__(self, message: str, *, holder: int | None, op: str, hint: str) -> None:
        super().__init__(message, op=op, hint=hint)
        self.holder = holder


class ScrapeError(KhronosError):
    """The app's metrics endpoint could not be scraped or parsed (a check failure, not a crash)."""


class DaemonError(KhronosError):
    """``khronos run`` cannot start (for example another daemon uses the same ``state_dir``)."""


class RequestRefusedError(KhronosError):
    """An HTTP API request refused for the client's fault: ``status`` (a 4xx) and the headers
    the answer carries (``WWW-Authenticate``, ``Retry-After``); the message is the answer's
    ``error``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message, op="http api", recoverable=status == 429)
        self.status = status
        self.headers = dict(headers or {})
