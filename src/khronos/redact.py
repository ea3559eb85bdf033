"""Masking secrets in text: Telegram bot tokens, Authorization headers, AWS keys, URL
passwords and token-like query values, and known values.

:class:`Redactor` is used by every log output and by anything else that prints text which may
hold a secret (the CLI error printer, the alert sender, ``config show``).  The patterns are
compiled once; a secret added with :meth:`Redactor.add_secret` rebuilds the one regex of literal
values.  :func:`collect_secrets` finds every secret of a configuration: its ``Secret`` values,
and the passwords and token-like query values inside its URLs.

**Values, not prose.**  A pattern keyed on a name (``secret-access-key:``, ``Authorization:``,
``Basic``) masks what follows only when it looks like a value: an error such as
``secret-access-key: expected a string`` or ``export AWS_SECRET_ACCESS_KEY=... before`` keeps
its words.  Prose is one or more lowercase words of at most 15 letters (or nothing but
punctuation); a secret made only of such a word is not caught by these patterns (the configured
ones still are, literally, and by their key in structured fields).
"""

from __future__ import annotations

import dataclasses
import functools
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from enum import Enum
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from pydantic import BaseModel, SecretStr

__all__ = [
    "MASK",
    "MIN_SECRET_LENGTH",
    "Redactor",
    "collect_secrets",
    "get_redactor",
    "is_secret_key",
    "redact",
    "url_secrets",
]

MASK = "**********"
MIN_SECRET_LENGTH = 4
"""Literal secrets shorter than this are not masked (they would mask ordinary words)."""

# Each alternative keeps a harmless prefix in its named group and masks the rest.
# A query parameter whose name ends with one of these holds a secret (X-Amz-Signature,
# X-Amz-Credential, access_token, api_key, apikey, sig, auth, password...).
_QUERY_NAME = (
    r"(?i:token|key|secret|passw(?:or)?d|pwd|sig|signature|auth|authorization|credentials?|"
    r"session(?:id)?)"
)
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
    # (not ${AWS_SECRET_ACCESS_KEY:-default}: a variable reference, not a value)
    (
        r"(?P<aws>(?<![$A-Za-z0-9])(?<!\$\{)(?<!\$\{AWS_)"
        r"(?i:aws_?secret_?access_?key|secret[_-]?access[_-]?key)[\"']?\s*[:=]\s*[\"']?)"
        r"[^\s\"',;}]+"
    ),
    # an AWS access key id followed by its 40-character secret
    r"(?P<akia>(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}[\s\"',:;=]+)[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])",
)
_COMBINED = re.compile("|".join(_PATTERNS))
# a URL's password: scheme://user:PASSWORD@host (only tried when the text has "://" and "@")
_USERINFO = re.compile(
    r"(?P<userinfo>(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#@:]*:)[^\s/?#@]+(?=@)"
)
# a token-like query (or fragment) value: ?token=..., &api_key=..., #access_token=...
_QUERY = re.compile(r"(?P<query>[?&;#][A-Za-z0-9_.-]*" + _QUERY_NAME + r"=)[^&#\s\"'<>]+")
_NAMED = frozenset({"authq", "auth", "bearer", "aws"})
"""Patterns keyed on a name: what follows is masked only when it is not prose."""
_PROSE_WORD = re.compile(r"[(\[]?-?[a-z]{1,15}[.,;:!?)\]]*")
_QUERY_NAME_RE = re.compile(r"[A-Za-z0-9_.-]*" + _QUERY_NAME)
# Cheap test before the regex: every pattern needs one of these substrings.
_HINTS = (":", "=", "%3", "%25", "earer", "asic", "AKIA", "ASIA")
# A field whose whole value is a secret: token, api_key, x-api-key, X-Api-Key, apiKey, botToken,
# aws_secret_access_key, Set-Cookie...  The word starts the name or follows "_", "-" or a
# camelCase boundary, and ends it.
_SECRET_FIELD = re.compile(
    r"(?:^|[_-]|(?<=[a-z0-9])(?=[A-Z]))"
    r"(?i:token|secret|password|passwd|passphrase|authorization|auth|cookies?|credentials?|"
    r"(?:api|access|account|customer|encryption|master|private|secret|signing|sse)[_-]?key|"
    r"secret[_-]?access[_-]?key)$"
)
_MAX_DEPTH = 16
"""Nested values deeper than this are written as their (redacted) ``str()``: no cycles."""


def _is_prose(value: str) -> bool:
    """Whether the text after a key name reads as words (``expected a string``), not a value."""
    if not any(ch.isalnum() for ch in value):
        return True  # "...", an already masked value
    return all(_PROSE_WORD.fullmatch(word) for word in value.split())


def _replace(match: re.Match[str]) -> str:
    for name, kept in match.groupdict().items():
        if kept is not None:
            if name in _NAMED and _is_prose(match.group(0)[len(kept) :]):
                return match.group(0)
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
            if getattr(value, "is_unset", False) is True:
                return  # an UnsetSecret: its ${VAR} is not set in this process, nothing to mask
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
        if "=" in text:
            text = _QUERY.sub(_replace, text)
        if "@" in text and "://" in text:
            text = _USERINFO.sub(_replace, text)
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
        if key is not None and is_secret_key(key):
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
    return isinstance(name, str) and is_secret_key(name)


@functools.lru_cache(maxsize=4096)
def is_secret_key(name: str) -> bool:
    """Whether a name (a log field, a config key, an environment variable) holds a secret:
    ``token``, ``password``, ``api_key``, ``x-api-key``, ``botToken``, ``secret-access-key``,
    ``TELEGRAM_BOT_TOKEN``, ``sse-customer-key``...  The one rule set every part uses (cached:
    log records reuse a few names)."""
    return _SECRET_FIELD.search(name) is not None


_default = Redactor()


def get_redactor() -> Redactor:
    """The process-wide redactor every log output uses (``configure`` adds the config's secrets)."""
    return _default


def redact(text: str) -> str:
    """Mask secrets in ``text`` with the process-wide redactor."""
    return _default.redact(text)


def collect_secrets(model: BaseModel) -> list[str]:
    """Every secret anywhere in a configuration model.

    The ``SecretStr`` values (except those whose ``${VAR}`` is not set in this process), the
    string values of a mapping under a secret-looking key (``app.env: {BOT_TOKEN: ...}``), and
    inside every URL the password (``user:PASSWORD@``) and token-like query values
    (``?token=``, ``&api_key=``...), as written and percent-decoded.
    """
    return sorted(set(_walk(model)))


def url_secrets(text: str) -> list[str]:
    """The password and token-like query or fragment values of a URL (none if not a URL)."""
    if "://" not in text:
        return []
    try:
        parts = urlsplit(text.strip())
        password = parts.password
    except ValueError:
        return []
    found = [password, unquote(password)] if password else []
    for part in (parts.query, parts.fragment):
        for name, value in parse_qsl(part, keep_blank_values=False):
            if _QUERY_NAME_RE.fullmatch(name):
                found.append(value)
        for raw in part.split("&"):
            name, _, value = raw.partition("=")
            if value and _QUERY_NAME_RE.fullmatch(unquote(name)):
                found.append(value)
    return [value for value in dict.fromkeys(found) if value]


def _walk(value: Any) -> Iterator[str]:
    if isinstance(value, SecretStr):
        if getattr(value, "is_unset", False) is not True:  # an UnsetSecret has no value
            yield value.get_secret_value()
    elif isinstance(value, str):
        yield from url_secrets(value)
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _walk(getattr(value, name))
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(item, str) and isinstance(key, str) and is_secret_key(key):
                yield item  # app.env: {BOT_TOKEN: ...}
            yield from _walk(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _walk(item)
