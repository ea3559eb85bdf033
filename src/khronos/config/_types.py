"""Value types of the configuration: durations, sizes, secrets, paths and listen addresses.

Each parser is strict (a unit is required, units are known, no silent truncation) and raises
:class:`ConfigValueError`, a ``ValueError`` carrying a hint the loader shows beside the problem.
"""

from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    PlainSerializer,
    PlainValidator,
    SecretStr,
    ValidationInfo,
    WithJsonSchema,
)

__all__ = [
    "ByteSize",
    "ConfigValueError",
    "Duration",
    "HostPort",
    "ListenAddress",
    "ResolvedPath",
    "Secret",
    "UnsetSecret",
    "check_http_url",
    "format_duration",
    "format_size",
    "is_unset",
    "parse_duration",
    "parse_listen",
    "parse_size",
]


class ConfigValueError(ValueError):
    """A bad value, with a hint on how to write it right.

    ``path`` (dotted, relative to the model that raised it) points the error at another key than
    the one being validated, for checks that span several keys.
    """

    def __init__(self, problem: str, hint: str | None = None, *, path: str | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.hint = hint
        self.path = path


def check_http_url(
    value: str, example: str, *, key: str | None = None, allow_password: bool = False
) -> str:
    """``value`` if it is an http(s) URL with a host, else a :class:`ConfigValueError`.

    The URL is not echoed in the error (it may carry a token), and by default a password in it
    is refused: secrets belong in their own keys, which are masked everywhere.  ``key`` names
    the key when the check runs from a model validator that spans several keys.
    """
    what = key or "the URL"
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigValueError(f"{what} is not an http(s) URL", f"e.g. {example}", path=key)
    if parts.password is not None and not allow_password:
        raise ConfigValueError(
            f"{what} holds a password", "give it as a separate key: ${VAR}", path=key
        )
    return value


# ------------------------------------------------------------------------------------ durations

_DURATION_UNITS: dict[str, float] = {
    "w": 7 * 86400.0,
    "d": 86400.0,
    "h": 3600.0,
    "m": 60.0,
    "s": 1.0,
    "ms": 0.001,
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|w|d|h|m|s)")
_DURATION_HINT = "write a number with a unit: 500ms, 5s, 1m30s, 2h, 7d, 1w"
_MAX_DURATION_S = 100 * 365 * 86400.0


def parse_duration(value: object) -> timedelta:
    """Parse ``5s``, ``1m30s``, ``168h``, ``7d``, ``250ms`` into a :class:`timedelta`.

    Units must come from largest to smallest, each at most once; a bare number is refused
    because ``30`` could mean seconds or minutes.
    """
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ConfigValueError(f"expected a duration, got {_kind(value)}", _DURATION_HINT)
    if not isinstance(value, str):
        raise ConfigValueError(f"a duration needs a unit: {value!r} is ambiguous", _DURATION_HINT)
    text = value.strip()
    if not text:
        raise ConfigValueError("a duration cannot be empty", _DURATION_HINT)
    pos = 0
    total = 0.0
    last_rank = -1
    order = list(_DURATION_UNITS)
    while pos < len(text):
        match = _DURATION_PART.match(text, pos)
        if match is None:
            raise ConfigValueError(f"not a duration: {text!r}", _DURATION_HINT)
        number, unit = match.groups()
        rank = order.index(unit)
        if rank <= last_rank:
            raise ConfigValueError(
                f"not a duration: {text!r} (units out of order or repeated)", _DURATION_HINT
            )
        last_rank = rank
        total += float(number) * _DURATION_UNITS[unit]
        pos = match.end()
    if not math.isfinite(total) or total > _MAX_DURATION_S:
        raise ConfigValueError(f"duration {text!r} is too long", "use at most 100 years")
    return timedelta(seconds=total)


def format_duration(value: timedelta) -> str:
    """The shortest exact form of a duration in the config syntax (``1m30s``, ``7d``, ``250ms``)."""
    millis = round(value.total_seconds() * 1000)
    if millis == 0:
        return "0s"
    parts: list[str] = []
    for unit in ("d", "h", "m", "s"):
        size = round(_DURATION_UNITS[unit] * 1000)
        count, millis = divmod(millis, size)
        if count:
            parts.append(f"{count}{unit}")
    if millis:
        parts.append(f"{millis}ms")
    return "".join(parts)


Duration = Annotated[
    timedelta,
    PlainValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["5s", "1m30s", "24h", "7d"]}),
]
"""A length of time written with units: ``5s``, ``1m30s``, ``24h``, ``7d``."""


# ---------------------------------------------------------------------------------------- sizes

_SIZE_UNITS: dict[str, int] = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
_SIZE_RE = re.compile(r"(\d+(?:\.\d+)?)\s*([a-zA-Z]+)?")
_SIZE_HINT = "write a number with a unit: 512KiB, 20MB, 10MiB, 1GB (KB/MB/GB are powers of 1000)"


def parse_size(value: object) -> int:
    """Parse ``20MB`` (20,000,000), ``10MiB`` (10,485,760) or a plain byte count into bytes."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ConfigValueError(f"expected a size, got {_kind(value)}", _SIZE_HINT)
    if isinstance(value, int):
        if value < 0:
            raise ConfigValueError("a size cannot be negative", _SIZE_HINT)
        return value
    match = _SIZE_RE.fullmatch(value.strip())
    if match is None:
        raise ConfigValueError(f"not a size: {value!r}", _SIZE_HINT)
    number, unit = match.groups()
    if unit is None:
        if "." in number:
            raise ConfigValueError(f"not a size: {value!r} (bytes are whole)", _SIZE_HINT)
        return int(number)
    factor = _SIZE_UNITS.get(unit.lower())
    if factor is None:
        raise ConfigValueError(f"unknown size unit {unit!r} in {value!r}", _SIZE_HINT)
    size = float(number) * factor
    if size > 2**63 - 1:
        raise ConfigValueError(f"size {value!r} is too large", _SIZE_HINT)
    if size != int(size):
        raise ConfigValueError(f"size {value!r} is not a whole number of bytes", _SIZE_HINT)
    return int(size)


def format_size(value: int) -> str:
    """A size in the config syntax, exact: binary units when they divide, else decimal, else B."""
    for unit in ("TiB", "GiB", "MiB", "KiB", "TB", "GB", "MB", "kB"):
        factor = _SIZE_UNITS[unit.lower()]
        if value and value % factor == 0:
            return f"{value // factor}{unit}"
    return f"{value}B"


ByteSize = Annotated[
    int,
    PlainValidator(parse_size),
    PlainSerializer(format_size, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["20MB", "10MiB", "1GB"]}),
]
"""A number of bytes written with a unit: ``20MB`` (decimal) or ``10MiB`` (binary)."""


# -------------------------------------------------------------------------------------- secrets


class UnsetSecret(SecretStr):
    """A secret whose ``${VAR}`` is not set, in a configuration loaded for a reading command.

    ``khronos status`` and ``khronos logs`` load the configuration without the secrets they do
    not use (see ``parse_config(needs=...)``).  The key stays set (``is not None`` holds, it
    prints as ``**********``), but reading the value raises the same clear
    :class:`~khronos.errors.ConfigError` as a normal load would, naming the key and the
    variable: a command that does need the secret fails there.
    """

    is_unset = True

    def __init__(self, path: str, variables: list[str]) -> None:
        super().__init__("${" + variables[0] + "}")
        self.path = path
        self.variables = variables

    def get_secret_value(self) -> str:
        """Raises :class:`~khronos.errors.ConfigError`: the value is not known."""
        from khronos.errors import ConfigError  # noqa: PLC0415 - errors does not import config

        name = self.variables[0]
        raise ConfigError.single(
            self.path,
            f"environment variable {name} is not set",
            f"export {name}=... before running this command, or write ${{{name}:-default}}",
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UnsetSecret) and (self.path, self.variables) == (
            other.path,
            other.variables,
        )

    def __hash__(self) -> int:
        return hash((self.path, tuple(self.variables)))


def is_unset(value: object) -> bool:
    """Whether ``value`` is an :class:`UnsetSecret` (a secret this command loaded without)."""
    return isinstance(value, UnsetSecret)


def _to_secret(value: object) -> SecretStr:
    if isinstance(value, SecretStr):
        return value
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ConfigValueError(
            f"expected a string, got {_kind(value)}", "quote the value or use ${ENV_VAR}"
        )
    text = str(value)
    if not text.strip():
        raise ConfigValueError("is empty", "set it, or remove the key")
    return SecretStr(text)


Secret = Annotated[
    SecretStr,
    PlainValidator(_to_secret),
    PlainSerializer(lambda _: "**********", return_type=str),
    WithJsonSchema({"type": "string", "writeOnly": True}),
]
"""A secret string: masked in ``repr``, errors, logs and ``config show``."""


# ---------------------------------------------------------------------------------------- paths


def _resolve_path(value: object, info: ValidationInfo) -> Path:
    if isinstance(value, bool) or not isinstance(value, str | Path):
        raise ConfigValueError(f"expected a path, got {_kind(value)}")
    text = str(value)
    if not text.strip():
        raise ConfigValueError("a path cannot be empty")
    if "\x00" in text:
        raise ConfigValueError("a path cannot contain a NUL character")
    path = Path(text).expanduser()
    base = (info.context or {}).get("base_dir")
    if not path.is_absolute() and base is not None:
        path = Path(base) / path
    return path


ResolvedPath = Annotated[
    Path,
    PlainValidator(_resolve_path),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string"}),
]
"""A filesystem path: ``~`` is expanded, a relative path is taken from the config file's folder."""


# ------------------------------------------------------------------------------ listen addresses


@dataclass(frozen=True, slots=True)
class HostPort:
    """A ``host:port`` to listen on; IPv6 hosts are written in brackets: ``[::1]:9321``."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def is_loopback(self) -> bool:
        """Whether only this machine can connect (127.0.0.0/8, ::1 or ``localhost``)."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


_LISTEN_HINT = "write host:port, e.g. 127.0.0.1:9321 or [::1]:9321"


def parse_listen(value: object) -> HostPort:
    """Parse ``127.0.0.1:9321``, ``[::1]:9321``, ``localhost:0``."""
    if isinstance(value, HostPort):
        return value
    if not isinstance(value, str):
        raise ConfigValueError(f"expected host:port, got {_kind(value)}", _LISTEN_HINT)
    text = value.strip()
    match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d{1,5})|([^\s:\[\]]+):(\d{1,5})", text)
    if match is None:
        raise ConfigValueError(f"not a listen address: {text!r}", _LISTEN_HINT)
    host = match.group(1) or match.group(3)
    port = int(match.group(2) or match.group(4))
    if port > 65535:
        raise ConfigValueError(
            f"port {port} is out of range", "use a port from 1 to 65535 (0: any free)"
        )
    if match.group(1):
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ConfigValueError(f"not an IPv6 address: {host!r}", _LISTEN_HINT) from None
    elif not re.fullmatch(r"[A-Za-z0-9.-]+", host):
        raise ConfigValueError(f"not a host name or address: {host!r}", _LISTEN_HINT)
    return HostPort(host, port)


ListenAddress = Annotated[
    HostPort,
    PlainValidator(parse_listen),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["127.0.0.1:9321"]}),
]


def _kind(value: Any) -> str:
    """The YAML-ish name of a value's type, for messages (never the value itself)."""
    if value is None:
        return "nothing (null)"
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}
    for typ, name in names.items():
        if isinstance(value, typ):
            return name
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__
