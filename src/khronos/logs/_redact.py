"""Masking secrets in text: Telegram bot tokens, Authorization headers, AWS keys, known values.

:class:`Redactor` is used by every log output and by anything else that prints text which may
hold a secret (the CLI error printer, the alert sender).  The patterns are compiled once; a
secret added with :meth:`Redactor.add_secret` rebuilds the one regex of literal values.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from enum import Enum
from typing import Any

from pydantic import BaseModel, SecretStr

__all__ = ["MASK", "MIN_SECRET_LENGTH", "Redactor", "collect_secrets", "get_redactor", "redact"]

MASK = "**********"
MIN_SECRET_LENGTH = 4
"""Literal secrets shorter than this are not masked (they would mask ordinary words)."""

# Each alternative keeps a harmless prefix in group "keep" and masks the rest.
_COLON = r"(?::|%(?:25)?3[Aa])"  # ":" as is, URL-encoded (%3A) or encoded twice (%253A)
_PATTERNS = (
    # Telegram bot tokens in URLs and text: bot123456:AAE...  /  123456789:AAE... (35 chars),
    # also URL-encoded (bot123456%3AAAE..., after %2F in an encoded URL).
    (
        r"(?P<tg>(?:(?<![A-Za-z0-9])|(?<=%2[Ff])|(?<=%252[Ff]))bot\d{3,16}" + _COLON + r")"
        r"[A-Za-z0-9_-]{10,}"
    ),
    (
        r"(?P<tgbare>(?:(?<![A-Za-z0-9_:%-])|(?<=%[0-9A-Fa-f]{2}))\d{5,16}" + _COLON + r")"
        r"[A-Za-z0-9_-]{35}(?![A-Za-z0-9_-])"
    ),
    # Authorization headers, whatever the scheme (Bearer, Basic, ApiKey, AWS4-HMAC-SHA256...):
    # a quoted value up to its closing quote ({"authorization": "Basic x"}, also JSON-escaped),
    # an unquoted one up to the end of the line ("Authorization: ApiKey x").
    (
        r"(?P<authq>(?<![A-Za-z0-9])(?i:authorization)\\?[\"']?\s*[:=]\s*\\?[\"'])"
        r"[^\"'\\\r\n]+"
    ),
    r"(?P<auth>(?<![A-Za-z0-9])(?i:authorization)\\?[\"']?\s*[:=][ \t]*)[^\s\"'\\][^\r\n]*",
    r"(?P<bearer>(?<![A-Za-z0-9])(?i:bearer|basic)\s+)[A-Za-z0-9._~+/=-]{8,}",
    # AWS secret keys: aws_secret_access_key=..., "SecretAccessKey": "...", secret-access-key: ...
    (
        r"(?P<aws>(?i:aws_?secret_?access_?key|secret[_-]?access[_-]?key)[\"']?\s*[:=]\s*[\"']?)"
        r"[^\s\"',;}]+"
    ),
    # an AWS access key id followed by its 40-character secret
    r"(?P<akia>(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}[\s\"',:;=]+)[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])",
)
_COMBINED = re.compile("|".join(_PATTERNS))
_GROUPS = ("tg", "tgbare", "authq", "auth", "bearer", "aws", "akia")
# Cheap test before the regex: every pattern needs one of these substrings.
_HINTS = (":", "=", "%3", "%25", "earer", "asic", "AKIA", "ASIA")
# A field whose whole value is a secret: token, api_key, x-api-key, X-Api-Key, apiKey, botToken,
# aws_secret_access_key, Set-Cookie...  The word starts the name or follows "_", "-" or a
# camelCase boundary, and ends it.
_SECRET_FIELD = re.compile(
    r"(?:^|[_-]|(?<=[a-z0-9])(?=[A-Z]))"
    r"(?i:token|secret|password|passwd|passphrase|authorization|auth|cookies?|api[_-]?key|"
    r"private[_-]?key|secret[_-]?access[_-]?key|credentials?)$"
)
_MAX_DEPTH = 16
"""Nested values deeper than this are written as their (redacted) ``str()``: no cycles."""


def _replace(match: re.Match[str]) -> str:
    for name in _GROUPS:
        kept = match.group(name)
        if kept is not None:
            return kept + MASK
    return MASK  # pragma: no cover - every alternative has a group


class Redactor:
    """Masks secrets in strings and nested values.  Thread-safe; cheap when nothing matches."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._version = 0
        self._secrets: set[str] = set()
        self._literal: re.Pattern[str] | None = None
        for value in secrets:
            self.add_secret(value)

    @property
    def secrets_count(self) -> int:
        """How many literal secrets are masked."""
        return len(self._secrets)

    @property
    def version(self) -> int:
        """Changes whenever the literal secrets change (for callers caching redacted text)."""
        return self._version

    def add_secret(self, value: str | SecretStr | None) -> None:
        """Mask this exact value from now on (values shorter than 4 characters are ignored)."""
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if not value or len(value) < MIN_SECRET_LENGTH or value in self._secrets:
            return
        with self._lock:
            self._secrets.add(value)
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._literal = re.compile("|".join(re.escape(s) for s in ordered))
            self._version += 1

    def clear_secrets(self) -> None:
        """Forget every literal secret (the built-in patterns stay)."""
        with self._lock:
            self._secrets.clear()
            self._literal = None
            self._version += 1

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced by ``**********``."""
        literal = self._literal
        if literal is not None:
            text = literal.sub(MASK, text)
        for hint in _HINTS:
            if hint in text:
                return _COMBINED.sub(_replace, text)
        return text

    def redact_value(self, value: Any, key: str | None = None, *, _depth: int = 0) -> Any:
        """A value (str, or nested dicts, lists, dataclasses...) with secrets masked.

        Any value under a secret-looking key (``token``, ``password``, ``x-api-key``,
        ``botToken``, ``aws_secret_access_key``...) is masked whole, and so is the second item
        of a ``("Authorization", "...")`` tuple (httpx's header pairs).  Dataclasses, pydantic
        models and enums are turned into plain values here, because orjson would serialise them
        itself and never give their strings to the redactor.
        """
        if value is None or isinstance(value, bool):
            return value
        if key is not None and _is_secret_key(key):
            return value if isinstance(value, str | bytes) and not value else MASK
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, int | float):
            return value
        if _depth >= _MAX_DEPTH:
            return self.redact(str(value))
        return self._redact_object(value, key, _depth + 1)

    def _redact_object(self, value: Any, key: str | None, depth: int) -> Any:
        if isinstance(value, Mapping):
            return {
                self.redact(k) if isinstance(k, str) else k: self.redact_value(
                    v, str(k), _depth=depth
                )
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            if isinstance(value, tuple) and len(value) == 2 and _is_secret_name(value[0]):
                return [self.redact_value(value[0], _depth=depth), MASK]
            return [self.redact_value(v, _depth=depth) for v in value]
        if isinstance(value, SecretStr):
            return MASK
        if isinstance(value, Enum):
            return self.redact_value(value.value, key, _depth=depth)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {
                f.name: self.redact_value(getattr(value, f.name), f.name, _depth=depth)
                for f in dataclasses.fields(value)
            }
        if isinstance(value, BaseModel):
            return self.redact_value(value.model_dump(), key, _depth=depth)
        if isinstance(value, set | frozenset):
            return [self.redact_value(v, _depth=depth) for v in value]
        return value


def _is_secret_name(name: object) -> bool:
    """Whether a header-like name (``"Authorization"``, ``b"x-api-key"``) holds a secret."""
    if isinstance(name, bytes):
        name = name.decode("latin-1")
    return isinstance(name, str) and _is_secret_key(name)


@functools.lru_cache(maxsize=4096)
def _is_secret_key(name: str) -> bool:
    """Whether a field name holds a secret (cached: log records reuse a few names)."""
    return _SECRET_FIELD.search(name) is not None


_default = Redactor()


def get_redactor() -> Redactor:
    """The process-wide redactor every log output uses (``configure`` adds the config's secrets)."""
    return _default


def redact(text: str) -> str:
    """Mask secrets in ``text`` with the process-wide redactor."""
    return _default.redact(text)


def collect_secrets(model: BaseModel) -> list[str]:
    """Every secret value (``SecretStr``) anywhere in a configuration model."""
    return sorted(set(_walk(model)))


def _walk(value: Any) -> Iterator[str]:
    if isinstance(value, SecretStr):
        yield value.get_secret_value()
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _walk(getattr(value, name))
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _walk(item)
