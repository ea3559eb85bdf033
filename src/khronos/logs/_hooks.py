"""Uncaught exceptions to ``exceptions.log``: main thread, other threads and asyncio tasks.

Each is logged (with ``uncaught=True``, the stack and the correlation ID of the code that failed)
to the normal outputs too, so it also shows in ``combined.log`` and ``errors.log``.

The event loop's handler logs one line per kind of error per minute (:class:`LogThrottle`),
with the count of the ones held back: asyncio reports a failing ``accept()`` ("socket.accept()
out of system resource", descriptors exhausted) up to the listen backlog's length every time the
socket is readable, which once wrote 100,000 tracebacks in minutes and rotated the useful
records away.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import weakref
from collections.abc import Coroutine, Generator
from types import TracebackType
from typing import Any

import structlog

from khronos.logs._context import correlation_id_of, get_correlation_id
from khronos.logs._keys import CORRELATION_ID, UNCAUGHT
from khronos.logs._throttle import LogThrottle

__all__ = [
    "asyncio_exception_handler",
    "install_asyncio_handler",
    "install_exception_hooks",
    "uninstall_exception_hooks",
]

_log = structlog.get_logger("khronos.uncaught")
_saved: dict[str, Any] = {}
_task_ids: weakref.WeakKeyDictionary[asyncio.Future[Any], str] = weakref.WeakKeyDictionary()
_loops: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()
_loop_errors = LogThrottle(60.0)


def _excepthook(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    if not issubclass(exc_type, KeyboardInterrupt):
        _log.critical(
            f"uncaught {exc_type.__name__}: {exc}",
            exc_info=(exc_type, exc, tb),
            **{UNCAUGHT: True, CORRELATION_ID: correlation_id_of(exc) or get_correlation_id()},
        )
    previous = _saved.get("sys")
    if previous is not None and previous is not sys.__excepthook__:
        previous(exc_type, exc, tb)
    elif issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc, tb)


def _threading_hook(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit or args.exc_value is None:
        return
    name = args.thread.name if args.thread is not None else None
    _log.error(
        f"uncaught {args.exc_type.__name__} in thread {name}: {args.exc_value}",
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
        thread=name,
        **{
            UNCAUGHT: True,
            CORRELATION_ID: correlation_id_of(args.exc_value) or get_correlation_id(),
        },
    )


def asyncio_exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """A loop exception handler logging to exceptions.log (``loop.set_exception_handler``);
    one line per kind of error (message, exception type and errno, task) per minute."""
    del loop
    exc = context.get("exception")
    future = context.get("task") or context.get("future")
    task_id = _task_ids.get(future) if isinstance(future, asyncio.Future) else None
    message = str(context.get("message") or "unhandled exception in event loop")
    fields: dict[str, Any] = {UNCAUGHT: True}
    if isinstance(future, asyncio.Task):
        fields["task"] = future.get_name()
    kind = (message, type(exc).__name__, getattr(exc, "errno", None), fields.get("task"))
    held_back = _loop_errors.admit(kind)
    if held_back is None:
        return
    if held_back:
        fields["repeats_since_last_log"] = held_back
    if isinstance(exc, BaseException):
        fields[CORRELATION_ID] = correlation_id_of(exc) or task_id or get_correlation_id()
        _log.error(
            f"{message}: {type(exc).__name__}: {exc}",
            exc_info=(type(exc), exc, exc.__traceback__),
            **fields,
        )
    else:
        fields[CORRELATION_ID] = task_id or get_correlation_id()
        _log.error(message, **fields)


def _task_factory(
    loop: asyncio.AbstractEventLoop,
    coro: Generator[Any, None, Any] | Coroutine[Any, Any, Any],
    **kwargs: Any,
) -> asyncio.Task[Any]:
    task: asyncio.Task[Any] = asyncio.Task(coro, loop=loop, **kwargs)
    context = kwargs.get("context")
    correlation_id = context.run(get_correlation_id) if context else get_correlation_id()
    if correlation_id is not None:
        _task_ids[task] = correlation_id
    return task


def install_asyncio_handler(loop: asyncio.AbstractEventLoop | None = None) -> None:
    """Log a loop's unhandled task errors; remember each new task's correlation ID for them.

    The task factory is set only when the loop has none.
    """
    target = loop or asyncio.get_running_loop()
    target.set_exception_handler(asyncio_exception_handler)
    if target.get_task_factory() is None:
        target.set_task_factory(_task_factory)
    _loops.add(target)


def install_exception_hooks(loop: asyncio.AbstractEventLoop | None = None) -> None:
    """Route uncaught exceptions to the logs: ``sys.excepthook``, ``threading.excepthook``.

    With a ``loop`` (or when called inside a running one) its exception handler too.
    """
    if sys.excepthook is not _excepthook:
        _saved["sys"] = sys.excepthook
        sys.excepthook = _excepthook
    if threading.excepthook is not _threading_hook:
        _saved["threading"] = threading.excepthook
        threading.excepthook = _threading_hook
    if loop is None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
    install_asyncio_handler(loop)


def uninstall_exception_hooks() -> None:
    """Restore the hooks :func:`install_exception_hooks` replaced (for tests)."""
    if sys.excepthook is _excepthook:
        sys.excepthook = _saved.pop("sys", sys.__excepthook__)
    if threading.excepthook is _threading_hook:
        threading.excepthook = _saved.pop("threading", threading.__excepthook__)
    for loop in list(_loops):
        if not loop.is_closed():
            loop.set_exception_handler(None)
            if loop.get_task_factory() is _task_factory:
                loop.set_task_factory(None)
    _loops.clear()
    _loop_errors.clear()
