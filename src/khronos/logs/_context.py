"""Correlation and user IDs carried by ``contextvars``: one per request, job or update.

A :class:`~contextvars.ContextVar` (unlike the original design's global) is copied into every
asyncio task created inside the block, so concurrent requests never mix their IDs.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar, cast

from khronos.logs._keys import SYSTEM_USER

__all__ = [
    "MAX_CORRELATION_ID_LENGTH",
    "bind_correlation_id",
    "bind_user_id",
    "correlation_id_of",
    "get_correlation_id",
    "get_user_id",
    "is_valid_correlation_id",
    "new_correlation_id",
]

MAX_CORRELATION_ID_LENGTH = 128
_VALID_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,%d}" % MAX_CORRELATION_ID_LENGTH)  # noqa: UP031
_EXC_ATTR = "__khronos_correlation_id__"

_correlation_id: ContextVar[str | None] = ContextVar("khronos_correlation_id", default=None)
_user_id: ContextVar[str] = ContextVar("khronos_user_id", default=SYSTEM_USER)

F = TypeVar("F", bound=Callable[..., Any])


def new_correlation_id() -> str:
    """A fresh random ID (32 hex characters)."""
    return uuid.uuid4().hex


def is_valid_correlation_id(value: str) -> bool:
    """Whether an ID taken from outside (an HTTP header) is short and made of safe characters."""
    return _VALID_ID.fullmatch(value) is not None


def get_correlation_id() -> str | None:
    """The correlation ID of the current request/job/task, or None outside any."""
    return _correlation_id.get()


def get_user_id() -> str:
    """The user ID bound in the current context (``"SYSTEM"`` by default)."""
    return _user_id.get()


def correlation_id_of(exc: BaseException) -> str | None:
    """The correlation ID that was current where ``exc`` left a ``bind_correlation_id`` block."""
    value = getattr(exc, _EXC_ATTR, None)
    return value if isinstance(value, str) else None


class _Binding:
    """Both a context manager and a decorator (sync and async) that binds a context variable."""

    def __init__(
        self, var: ContextVar[Any], value: Any, *, fresh: Callable[[], Any] | None
    ) -> None:
        self._var = var
        self._value = value
        self._fresh = fresh
        self._tokens: list[Any] = []

    def __enter__(self) -> str:
        value = self._value if self._value is not None else (self._fresh or str)()
        self._tokens.append(self._var.set(value))
        return cast("str", value)

    def __exit__(self, _type: object, exc: BaseException | None, _tb: object) -> None:
        if exc is not None and self._var is _correlation_id and not hasattr(exc, _EXC_ATTR):
            with contextlib.suppress(AttributeError, TypeError):  # exceptions with __slots__
                setattr(exc, _EXC_ATTR, self._var.get())
        self._var.reset(self._tokens.pop())

    def __call__(self, func: F) -> F:
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with _Binding(self._var, self._value, fresh=self._fresh):
                    return await func(*args, **kwargs)

            return cast("F", async_wrapper)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with _Binding(self._var, self._value, fresh=self._fresh):
                return func(*args, **kwargs)

        return cast("F", wrapper)


def bind_correlation_id(correlation_id: str | None = None) -> _Binding:
    """Bind a correlation ID (a new one when None) for a block, a function or a coroutine.

    >>> with bind_correlation_id("abc") as cid:
    ...     get_correlation_id() == cid == "abc"
    True

    As a decorator each call gets its own fresh ID (or the given one).  Tasks created inside the
    block inherit the ID.
    """
    return _Binding(_correlation_id, correlation_id, fresh=new_correlation_id)


def bind_user_id(user_id: str | int) -> _Binding:
    """Bind the ``userId`` of every record logged in a block (or a decorated function)."""
    return _Binding(_user_id, str(user_id), fresh=None)
