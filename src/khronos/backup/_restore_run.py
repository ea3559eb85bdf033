"""Running ``litestream restore``/``ltx``/``status`` for one database, bounded in time.

Each run gets its own rendered config (mode 0600) in a private work folder, the environment of
:func:`~khronos.backup._litestream.litestream_env` (no ``AWS_CA_BUNDLE``, and a log line says
so, as ``khronos run`` does) plus the secrets the config references.  Quick commands are
bounded by ``probe_timeout``: Litestream 0.5.17 retries an S3 endpoint that refuses
connections for about four minutes before it gives up.  A download is stopped when its output
stops growing for ``stall_timeout``.  Litestream's error messages are mapped to
:class:`~khronos.errors.RestoreError` subclasses with hints by :func:`explain_litestream_error`,
the one translation ``status`` and ``backup now`` use too.

**Secrets.**  Litestream's stderr ends up in error messages that the CLI prints, that
``verify.json`` keeps and that become the restore-drill alert's reason; an S3 error may quote a
request, a URL or a credential.  :func:`register_secrets` adds every secret of the backup
configuration to the process-wide redactor before a command runs, and :func:`scrub` passes any
text taken from Litestream through it.  :class:`LitestreamRun` keeps ``env`` (which holds the
secrets) out of its ``repr``.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import structlog

from khronos.backup._control import parse_time
from khronos.backup._litestream import find_litestream, litestream_env, render_config
from khronos.config import BackupConfig
from khronos.config._backup import DatabaseConfig
from khronos.errors import NoBackupError, ReplicaAccessError, RestoreError
from khronos.logs._redact import collect_secrets, get_redactor

__all__ = [
    "AWS_CA_REASON",
    "PROBE_TIMEOUT",
    "STALL_TIMEOUT",
    "LitestreamRun",
    "Progress",
    "describe_replica_error",
    "explain_litestream_error",
    "litestream_error_text",
    "log_dropped_env",
    "no_progress",
    "register_secrets",
    "scrub",
]

PROBE_TIMEOUT = 30.0
STALL_TIMEOUT = 60.0
_NO_BACKUP = "no matching backup files available"
AWS_CA_REASON = (
    "Litestream 0.5's S3 client fails with 'unable to add custom RootCAs HTTPClient' when it "
    "is set; the system trust store still applies"
)
_log = structlog.get_logger("khronos.backup")


def register_secrets(backup: BackupConfig) -> None:
    """Make the process-wide redactor mask every secret of ``backup`` (keys, passwords)."""
    redactor = get_redactor()
    for secret in collect_secrets(backup):
        redactor.add_secret(secret)


def scrub(text: str) -> str:
    """``text`` (Litestream output) with every known secret masked."""
    return get_redactor().redact(text)


_said: set[str] = set()
_said_lock = threading.Lock()


def log_dropped_env(dropped: Iterable[str], *, level: str = "debug", **context: Any) -> None:
    """Say, once per process, which variables were kept from Litestream's environment and why.

    One-shot commands say it at debug level (every run would repeat it); ``khronos run`` says
    it at info, once, in its log.
    """
    for name in dropped:
        with _said_lock:
            if name in _said:
                continue
            _said.add(name)
        getattr(_log, level)(
            f"dropped {name} from Litestream's environment",
            variable=name,
            reason=AWS_CA_REASON,
            **context,
        )


class Progress(Protocol):
    """Told about each step: ``stage`` and, while downloading, bytes written so far."""

    def __call__(self, stage: str, done: int | None = None, /) -> None: ...


def no_progress(_stage: str, _done: int | None = None, /) -> None:
    return None


@dataclass(slots=True)
class LitestreamRun:
    """One database's rendered config in a work folder, and the commands run against it."""

    binary: Path
    config: Path
    env: dict[str, str] = field(repr=False)
    """The child's environment: it holds the replica's secrets, so it stays out of ``repr``."""
    db: DatabaseConfig
    probe_timeout: float

    @classmethod
    def prepare(
        cls, backup: BackupConfig, db: DatabaseConfig, work: Path, probe_timeout: float
    ) -> LitestreamRun:
        register_secrets(backup)
        rendered = render_config(backup, dbs=[db])
        config = work / "litestream.yml"
        rendered.write(config)
        env, dropped = litestream_env()
        log_dropped_env(dropped, db=db.label)
        env.update(rendered.env)
        return cls(find_litestream(backup.litestream), config, env, db, probe_timeout)

    def args(self, command: str, *extra: str) -> list[str]:
        return [str(self.binary), command, "-config", str(self.config), *extra, str(self.db.path)]

    def run_json(self, command: str, *extra: str) -> Any:
        """Run a quick command (bounded by probe_timeout) and parse its JSON output."""
        try:
            proc = subprocess.run(
                self.args(command, *extra),
                env=self.env,
                capture_output=True,
                text=True,
                timeout=self.probe_timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise _unreachable(self.db, self.probe_timeout) from exc
        if proc.returncode != 0:
            raise _classify(proc.stderr or proc.stdout, self.db)
        return json.loads(proc.stdout)

    def oldest_backup(self) -> datetime | None:
        with contextlib.suppress(RestoreError, ValueError):
            files = self.run_json("ltx", "-level", "all", "-json")
            times = [parse_time(f.get("timestamp")) for f in files or []]
            return min((t for t in times if t is not None), default=None)
        return None

    def restore(
        self,
        out: Path,
        point: list[str],
        progress: Progress,
        stall_timeout: float,
        cancel: threading.Event | None = None,
    ) -> dict[str, Any]:
        """``litestream restore -o out``; killed when its output stops growing for a while."""
        log = out.with_name(out.name + ".log")
        with log.open("w+", encoding="utf-8") as err, out.with_name("stdout").open("w+") as std:
            args = self.args("restore", "-o", str(out), *point, "-json")
            proc = subprocess.Popen(args, env=self.env, stdout=std, stderr=err, text=True)
            try:
                _watch(proc, [Path(f"{out}.tmp"), out], progress, stall_timeout, cancel)
            finally:
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
            if cancel is not None and cancel.is_set():
                raise RestoreError("restore cancelled", recoverable=True)
            if proc.returncode is None or proc.returncode < 0:
                raise ReplicaAccessError(
                    f"the download from {self.db.replica.display} stalled "
                    f"(no progress for {stall_timeout:g}s) and was stopped",
                    hint="check the network and the replica's endpoint, then retry",
                    recoverable=True,
                )
            if proc.returncode != 0:
                err.seek(0)
                raise _classify(err.read(), self.db)
            std.seek(0)
            try:
                return dict(json.loads(std.read()))
            except ValueError:
                return {}


def _watch(
    proc: subprocess.Popen[str],
    outputs: list[Path],
    progress: Progress,
    stall_timeout: float,
    cancel: threading.Event | None,
) -> None:
    last_size, last_change = -1, time.monotonic()
    while proc.poll() is None:
        if cancel is not None and cancel.is_set():
            return
        size = 0
        for path in outputs:
            with contextlib.suppress(OSError):
                size = max(size, path.stat().st_size)
        now = time.monotonic()
        if size != last_size:
            last_size, last_change = size, now
            progress("downloading", size)
        elif now - last_change > stall_timeout:
            proc.kill()
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=0.1)  # returns as soon as the restore ends, not at the next tick


def _unreachable(db: DatabaseConfig, timeout: float) -> ReplicaAccessError:
    where = db.replica.endpoint or db.replica.display
    return ReplicaAccessError(
        f"no answer from the replica at {where} within {timeout:g}s",
        hint="is the endpoint reachable from here? check backup.dbs[].replica.endpoint and the "
        "network, then retry",
        recoverable=True,
    )


def litestream_error_text(output: str) -> str:
    """The line of Litestream's output that says what failed (its last ``Error:``), masked."""
    lines = [line.strip() for line in scrub(output).strip().splitlines() if line.strip()]
    errors = [line.removeprefix("Error: ") for line in lines if line.startswith("Error:")]
    return errors[-1] if errors else (lines[-1] if lines else "")


def explain_litestream_error(
    output: str, db: DatabaseConfig, *, op: str = "restore"
) -> RestoreError | None:
    """Litestream's error (stderr, or a control-socket message) in plain words, with a hint.

    The one translation every command uses (restore, verify, status, backup now, with or
    without a daemon): a missing backup, a wrong bucket, rejected credentials, an unreachable
    endpoint.  None when the error is none of those.  Secrets are masked.
    """
    text = litestream_error_text(output)
    replica = db.replica.display
    lowered = text.lower()
    if _NO_BACKUP in lowered:
        return NoBackupError(
            f"the replica {replica} has no backups yet",
            op=op,
            hint="is khronos run replicating this database? see khronos status",
        )
    if "nosuchbucket" in lowered:
        return ReplicaAccessError(
            f"bucket {db.replica.bucket!r} does not exist at {db.replica.endpoint or 's3'}",
            op=op,
            hint="check backup.dbs[].replica.bucket (and endpoint/region)",
        )
    if any(k in lowered for k in ("invalidaccesskeyid", "signaturedoesnotmatch", "accessdenied")):
        return ReplicaAccessError(
            f"the replica {replica} rejected the credentials ({_short(text)})",
            op=op,
            hint="check access-key-id and secret-access-key (or AWS_ACCESS_KEY_ID/"
            "AWS_SECRET_ACCESS_KEY) and the key's permissions on the bucket",
        )
    if any(k in lowered for k in ("connection refused", "no such host", "i/o timeout")):
        return ReplicaAccessError(
            f"cannot reach the replica {replica} ({_short(text)})",
            op=op,
            hint="check backup.dbs[].replica.endpoint and the network, then retry",
            recoverable=True,
        )
    return None


def _classify(output: str, db: DatabaseConfig) -> RestoreError:
    """A Litestream error message as a RestoreError with a hint (secrets masked)."""
    explained = explain_litestream_error(output, db)
    if explained is not None:
        return explained
    text = litestream_error_text(output) or "litestream restore failed"
    return RestoreError(f"litestream: {text}", hint=f"replica {db.replica.display}")


def describe_replica_error(output: str, db: DatabaseConfig) -> str:
    """A replication error Litestream logged, as one line: explained when
    :func:`explain_litestream_error` knows it, else its text; secrets masked."""
    explained = explain_litestream_error(output, db, op="backup")
    return explained.message if explained is not None else litestream_error_text(output)


def _short(text: str) -> str:
    for marker in ("api error ", "NoSuchBucket: ", "dial tcp "):
        if marker in text:
            return text[text.index(marker) :][:160]
    return text[-160:]
