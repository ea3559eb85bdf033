"""``configure()``: one structlog + stdlib logging pipeline, writing through a queue.

The caller's side of a log call is only structlog's processors (context, IDs) and a
``queue.put``; a writer thread renders each record once (JSON via orjson, secrets masked) and
writes it to the console and the rotated files (``_sink``, ``_render``, ``_files``).  Records
from the standard ``logging`` module (httpx, uvicorn, ...) reach the same queue through a
handler on the root logger, with the caller's correlation ID captured on the way.

Nothing is dropped when the writer falls behind: the caller waits for room.  A file that cannot
be written (a full disk) keeps its lines in memory, reports once, counts what it has to drop
(:func:`records_lost`) and resumes by itself.

One process writes a log folder: :func:`configure` locks it (:func:`_lock_dir`) and refuses a folder
another process writes.  A child made by ``os.fork()`` keeps logging, synchronously, into its
parent's files without rotating them (``_sink``).
"""

from __future__ import annotations

import atexit
import enum
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any, Literal

import structlog
from pydantic import SecretStr
from structlog.typing import EventDict, WrappedLogger

from khronos._version import __version__
from khronos.config import LOG_LEVELS, KhronosConfig, LogFilesConfig, LoggingConfig
from khronos.errors import ConfigError, KhronosError, LockedError
from khronos.locks import FileLock
from khronos.logs._context import _correlation_id, _user_id
from khronos.logs._files import Console, LogFile
from khronos.logs._hooks import install_exception_hooks, uninstall_exception_hooks
from khronos.logs._keys import CORRELATION_ID, USER_ID
from khronos.logs._render import Renderer, pretty_renderer
from khronos.logs._sink import DEFAULT_MAX_QUEUED, ForeignHandler, Outputs, QueueLogger, Route, Sink
from khronos.redact import collect_secrets, get_redactor

__all__ = [
    "ENV_LOG_LEVEL",
    "QUIET_LOGGERS",
    "configure",
    "configure_from_config",
    "failing_files",
    "flush",
    "get_logger",
    "is_configured",
    "reset",
    "shutdown",
]

ENV_LOG_LEVEL = "LOG_LEVEL"
LOCK_NAME = ".khronos-logs.lock"
_OP = "configure logging"
_HINT = (
    "give each process its own logging.dir, e.g. logs/worker-1; "
    "for gunicorn/uvicorn workers see 'Several processes' in docs/logs.md"
)
QUIET_LOGGERS = ("httpx", "httpcore")
"""Loggers set to WARNING by default: at INFO httpx logs every request URL."""
ConsoleMode = Literal["auto", "json", "pretty", "off"]


class _Unset(enum.Enum):
    UNSET = 0


UNSET = _Unset.UNSET

# ------------------------------------------------------------------------------- caller side


def _add_ids(_logger: WrappedLogger, _method: str, ed: EventDict) -> EventDict:
    if CORRELATION_ID not in ed:
        ed[CORRELATION_ID] = _correlation_id.get()
    if USER_ID not in ed:
        ed[USER_ID] = _user_id.get()
    return ed


def _resolve_exc_info(_logger: WrappedLogger, _method: str, ed: EventDict) -> EventDict:
    # The writer thread cannot call sys.exc_info() for the caller: resolve it here.
    exc_info = ed.get("exc_info")
    if exc_info is not None:
        if exc_info is True:
            ed["exc_info"] = sys.exc_info()
        elif isinstance(exc_info, BaseException):
            ed["exc_info"] = (type(exc_info), exc_info, exc_info.__traceback__)
        elif not isinstance(exc_info, tuple):
            del ed["exc_info"]
    return ed


def _to_args(_logger: WrappedLogger, _method: str, ed: EventDict) -> Any:
    return (ed,), {}


@dataclass
class _State:
    sink: Sink | None = None
    dir_lock: FileLock | None = None
    root_handler: logging.Handler | None = None
    saved_levels: dict[str, int] = field(default_factory=dict)
    previous_sigterm: Any = None
    atexit_registered: bool = False
    level: int = logging.INFO
    log_dir: Path | None = None


_state = _State()
_lock = threading.RLock()

# ------------------------------------------------------------------------------------ public


def _level_number(value: str | int) -> int:
    if isinstance(value, int):
        return value
    name = value.strip().lower()
    if name not in LOG_LEVELS:
        raise ConfigError.single(
            "logging.level",
            f"unknown log level {value!r}",
            "use debug, info, warning, error or critical",
        )
    return logging.getLevelNamesMapping()[name.upper()]


def configure(
    config: LoggingConfig | None = None,
    *,
    service: str = "khronos",
    environment: str = "production",
    version: str = __version__,
    secrets: Iterable[str | SecretStr] = (),
    level: str | int | None = None,
    log_dir: str | Path | _Unset | None = UNSET,
    console: ConsoleMode | None = None,
    console_stream: IO[str] | None = None,
    files: LogFilesConfig | None = None,
    exception_hooks: bool = True,
    handle_sigterm: bool = True,
    max_queued: int = DEFAULT_MAX_QUEUED,
) -> None:
    """Set up logging for the whole process; call it again to reconfigure.

    ``config`` is the ``logging:`` section (defaults when None); keyword arguments override it.
    The level comes from ``level``, else ``$LOG_LEVEL``, else the config.  ``log_dir=None``
    writes no files.  ``secrets`` are masked in every output beside ``config.redact``.
    ``max_queued`` records may wait for the writer thread; more are dropped and counted.

    Raises :class:`~khronos.errors.KhronosError` when another process already writes the
    log folder (each process needs its own: rotation is not shared).
    """
    if max_queued < 1:
        raise ValueError(f"max_queued must be at least 1, not {max_queued}")
    cfg = config if config is not None else LoggingConfig()
    number = _resolve_level(level, cfg)
    directory = cfg.dir if isinstance(log_dir, _Unset) else (Path(log_dir) if log_dir else None)
    mode: ConsoleMode = console or cfg.console
    files_cfg = files if files is not None else cfg.files

    redactor = get_redactor()
    for secret in (*cfg.redact, *secrets):
        redactor.add_secret(secret)
    renderer = Renderer(service, environment, version, redactor)
    outputs = Outputs(renderer, _console(mode, console_stream) if mode != "off" else None)
    with _lock:
        dir_lock = None
        if directory is not None and _any_file(files_cfg):
            dir_lock = _lock_dir(Path(directory))  # raises before anything is torn down
            outputs.set_routes(_file_routes(Path(directory), files_cfg, outputs))
        _teardown(keep=dir_lock)
        _state.dir_lock = dir_lock
        sink = Sink(outputs, max_queued=max_queued)
        sink.start()
        _state.sink = sink
        _state.log_dir = Path(directory) if directory is not None else None
        _install(sink, number, handle_sigterm=handle_sigterm)
        logging.captureWarnings(True)  # warnings text is logged, so it is redacted too
    if exception_hooks:
        install_exception_hooks()


def _resolve_level(level: str | int | None, cfg: LoggingConfig) -> int:
    if level is not None:
        return _level_number(level)
    env_level = os.environ.get(ENV_LOG_LEVEL, "").strip()
    try:
        return _level_number(env_level or cfg.level)
    except ConfigError:
        raise ConfigError.single(
            ENV_LOG_LEVEL,
            f"unknown log level {env_level!r}",
            "use debug, info, warning, error or critical",
        ) from None


def _console(mode: ConsoleMode, console_stream: IO[str] | None) -> Console:
    """``auto``: pretty (coloured) when the stream is a terminal, JSON otherwise."""
    stream = console_stream if console_stream is not None else sys.stderr
    tty = bool(getattr(stream, "isatty", lambda: False)())
    pretty = mode == "pretty" or (mode == "auto" and tty)
    return Console(console_stream, pretty_renderer(colors=tty) if pretty else None)


def _install(sink: Sink, number: int, *, handle_sigterm: bool) -> None:
    """Point the root logger, the quiet loggers and structlog at ``sink`` (holding _lock)."""
    _state.level = number
    root = logging.getLogger()
    _state.saved_levels.setdefault("", root.level)
    root.setLevel(number)
    _state.root_handler = ForeignHandler(sink)
    root.addHandler(_state.root_handler)
    for name in QUIET_LOGGERS:
        quiet = logging.getLogger(name)
        _state.saved_levels.setdefault(name, quiet.level)
        quiet.setLevel(max(logging.WARNING, number))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            _add_ids,
            _resolve_exc_info,
            _to_args,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(number),
        logger_factory=lambda *args: QueueLogger(sink, str(args[0]) if args else "khronos"),
        cache_logger_on_first_use=False,
    )
    if not _state.atexit_registered:
        atexit.register(shutdown)
        _state.atexit_registered = True
    if handle_sigterm:
        _install_sigterm()


def _any_file(files: LogFilesConfig) -> bool:
    return any(
        f is not None for f in (files.combined, files.errors, files.critical, files.exceptions)
    )


def _lock_dir(directory: Path) -> FileLock:
    """This process's lock on the folder: the one it already holds, or a new one.

    One process writes a log folder: two would rotate the files under each other (one renames
    ``combined.log`` while the other still appends to it), losing and mixing lines.  A second
    process gets an error naming the folder and the holder's pid.  A child made by
    ``os.fork()`` shares the parent's lock file; it only closes its copy (see
    :func:`_after_fork_in_child`).
    """
    resolved = directory.resolve()
    held = _state.dir_lock
    if held is not None and held.path == resolved / LOCK_NAME and held.is_current():
        return held
    try:
        return FileLock.acquire(
            resolved / LOCK_NAME, what=f"the log folder {resolved}", op=_OP, hint=_HINT, mode=0o644
        )
    except LockedError as exc:
        who = f"pid {exc.holder}" if exc.holder else "another process"
        raise KhronosError(
            f"the log folder {resolved} is already written by another process ({who})",
            op=_OP,
            hint=_HINT,
        ) from None
    except OSError as exc:
        raise KhronosError(
            f"cannot write the log folder {resolved}: {exc.strerror or exc}",
            op=_OP,
            hint="check logging.dir and the permissions of that folder",
        ) from exc


def _file_routes(directory: Path, files: LogFilesConfig, outputs: Outputs) -> list[Route]:
    """One rotated file per configured entry: (name, settings, lowest level, only which)."""
    table: list[tuple[str, Any, int, str | None]] = [
        ("combined", files.combined, logging.NOTSET, None),
        ("errors", files.errors, logging.ERROR, None),
        ("critical", files.critical, logging.ERROR, "critical"),
        ("exceptions", files.exceptions, logging.NOTSET, "uncaught"),
    ]
    routes: list[Route] = []
    for name, settings, level, only in table:
        if settings is None:
            continue
        path = directory / f"{name}.log"
        file = LogFile(path, max_size=settings.max_size, keep=settings.keep, events=outputs)
        routes.append(Route(file, level, only))
    return routes


def get_logger(name: str | None = None, **bind: Any) -> Any:
    """A structlog logger with ``bind`` values on every record; bind once, reuse it."""
    if name is None:
        return structlog.get_logger(**bind)
    return structlog.get_logger(name, **bind)


def is_configured() -> bool:
    """Whether :func:`configure` set up the pipeline (and :func:`shutdown` has not run)."""
    return _state.sink is not None and _state.sink.running


def log_dir() -> Path | None:
    """The folder the files are written to, if any."""
    return _state.log_dir


def flush() -> None:
    """Wait until every record logged so far is written to its files; keep logging."""
    sink = _state.sink
    if sink is not None:
        sink.flush()


def failing_files() -> dict[Path, str]:
    """The log files that cannot be written right now, with why (``No space left on device``).

    Their new lines wait in memory (up to 4 MB each) and are written when the file can be
    written again; what has to be dropped meanwhile is counted in :func:`records_lost`.
    """
    sink = _state.sink
    if sink is None:
        return {}
    return {
        file.path: file.failure.error for file in sink.outputs.files if file.failure is not None
    }


def shutdown() -> None:
    """Write every queued record, flush the files and free the folder (also at exit, SIGTERM).

    Records logged afterwards are still written, synchronously, but the folder's lock is
    released: another process may take it over.
    """
    with _lock:
        if _state.sink is not None:
            _state.sink.stop()
            _state.sink.outputs.give_up_pending()
        _release_dir_lock()


def _release_dir_lock(keep: FileLock | None = None) -> None:
    held, _state.dir_lock = _state.dir_lock, None
    if held is not None and held is not keep:
        held.release()


def _teardown(keep: FileLock | None = None) -> None:
    sink, _state.sink = _state.sink, None
    if sink is not None:
        sink.stop()
        sink.outputs.give_up_pending()
        sink.outputs.close()
    if _state.root_handler is not None:
        logging.getLogger().removeHandler(_state.root_handler)
        _state.root_handler = None
    _release_dir_lock(keep)


def reset() -> None:
    """Undo :func:`configure`: flush, close the files, restore levels, hooks and structlog."""
    with _lock:
        _teardown()
        for name, level in _state.saved_levels.items():
            logging.getLogger(name or None).setLevel(level)
        _state.saved_levels.clear()
        _uninstall_sigterm()
        _state.log_dir = None
        structlog.reset_defaults()
        logging.captureWarnings(False)
        get_redactor().clear_secrets()
    uninstall_exception_hooks()


def _after_fork_in_child() -> None:
    """A child of ``os.fork()`` has the parent's queue but not its writer thread.

    It writes its records synchronously into the parent's files as a guest (no rotation: that
    stays the parent's job), and leaves the parent's folder lock alone.
    """
    global _lock  # noqa: PLW0603 - a thread of the parent may have held it at the fork
    _lock = threading.RLock()
    held, _state.dir_lock = _state.dir_lock, None
    if held is not None:
        held.abandon()
    if _state.sink is not None:
        _state.sink.forked()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _on_sigterm(signum: int, _frame: FrameType | None) -> None:
    shutdown()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_sigterm() -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    current = signal.getsignal(signal.SIGTERM)
    if current is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_sigterm)
        _state.previous_sigterm = current


def _uninstall_sigterm() -> None:
    if _state.previous_sigterm is None or threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is _on_sigterm:
        signal.signal(signal.SIGTERM, _state.previous_sigterm)
    _state.previous_sigterm = None


def configure_from_config(config: KhronosConfig, **overrides: Any) -> None:
    """:func:`configure` from a whole ``khronos.yml``: its service, environment and secrets."""
    configure(
        config.logging,
        service=config.service.name,
        environment=config.environment,
        secrets=collect_secrets(config),
        **overrides,
    )
