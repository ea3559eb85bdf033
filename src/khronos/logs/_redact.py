"""Masking secrets in text: Telegram bot tokens, Authorization headers, AWS keys, known values.

:class:`Redactor` is used by every log output and by anything else that prints text which may
hold a secret (the CLI error printer, the alert sender).  The patterns are compiled once; a
secret added with :meth:`Redactor.add_secret` rebuilds the one regex of literal values.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pydantic import BaseModel, SecretStr

__all__ = ["MASK", "MIN_SECRET_LENGTH", "Redactor", "collect_secrets", "get_redactor", "redact"]

MASK = "**********"
MIN_SECRET_LENGTH = 4
"""Literal secrets shorter than this are not masked (they would mask ordinary words)."""

# Each alternative keeps a harmless prefix in group "keep" and masks the rest.
_PATTERNS = (
    # Telegram bot tokens in URLs and text: bot123456:AAE...  /  123456789:AAE... (35 chars)
    r"(?P<tg>(?<![A-Za-z0-9])bot\d{3,16}:)[A-Za-z0-9_-]{10,}",
    r"(?P<tgbare>(?<![A-Za-z0-9_:-])\d{5,16}:)[A-Za-z0-9_-]{35}(?![A-Za-z0-9_-])",
    # Authorization headers, as "Authorization: Bearer x", {"authorization": "Basic x"}, ...
    (
        r"(?P<auth>(?i:authorization)[\"']?\s*[:=]\s*[\"']?(?:(?i:bearer|basic|token|bot|digest)\s+)?)"
        r"[^\s\"',;}]+"
    ),
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
_GROUPS = ("tg", "tgbare", "auth", "bearer", "aws", "akia")
# Cheap test before the regex: every pattern needs one of these substrings.
_HINTS = (":", "=", "earer", "asic", "AKIA", "ASIA")
_SECRET_FIELD = re.compile(
    r"(?i)(^|[_-])(token|secret|password|passwd|authorization|api_?key|private_?key|"
    r"secret_?access_?key|credentials?)$"
)


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
        self._secrets: set[str] = set()
        self._literal: re.Pattern[str] | None = None
        for value in secrets:
            self.add_secret(value)

    @property
    def secrets_count(self) -> int:
        """How many literal secrets are masked."""
        return len(self._secrets)

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

    def clear_secrets(self) -> None:
        """Forget every literal secret (the built-in patterns stay)."""
        with self._lock:
            self._secrets.clear()
            self._literal = None

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced by ``**********``."""
        literal = self._literal
        if literal is not None:
            text = literal.sub(MASK, text)
        for hint in _HINTS:
            if hint in text:
                return _COMBINED.sub(_replace, text)
        return text

    def redact_value(self, value: Any, key: str | None = None) -> Any:
        """A value (str, or dict/list/tuple of them) with secrets masked.

        A string under a secret-looking key (``token``, ``password``, ``api_key``,
        ``aws_secret_access_key``...) is masked whole.
        """
        if isinstance(value, str):
            if key is not None and _SECRET_FIELD.search(key) and value:
                return MASK
            return self.redact(value)
        if isinstance(value, Mapping):
            return {k: self.redact_value(v, str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.redact_value(v) for v in value]
        if isinstance(value, SecretStr):
            return MASK
        return value


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
