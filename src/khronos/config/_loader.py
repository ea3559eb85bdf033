"""Reading ``khronos.yml``: file checks, YAML, ``${VAR}`` expansion, validation, clear errors.

Every failure becomes a :class:`~khronos.errors.ConfigError` whose problems carry the key path,
the line and column, the problem and a hint.  No value of a secret-looking key is ever echoed.
"""

from __future__ import annotations

import difflib
import os
import types
import typing
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from khronos.config._expand import EnvExpander, unset_problem
from khronos.config._model import KhronosConfig, UnsetVariable
from khronos.config._types import ConfigValueError, UnsetSecret
from khronos.config._yaml import MAX_BYTES, KeyPath, Positions, format_path, parse_yaml
from khronos.errors import ConfigError, ConfigProblem
from khronos.redact import is_secret_key

__all__ = [
    "DEFAULT_CONFIG_NAME",
    "ENV_CONFIG",
    "load_config",
    "parse_config",
    "read_config_text",
    "resolve_config_path",
]

DEFAULT_CONFIG_NAME = "khronos.yml"
ENV_CONFIG = "KHRONOS_CONFIG"
_EXAMPLE_HINT = "see the configuration reference in README.md"


def resolve_config_path(
    explicit: str | Path | None = None, environ: Mapping[str, str] | None = None
) -> Path:
    """``--config`` if given, else ``$KHRONOS_CONFIG``, else ``./khronos.yml``."""
    env = os.environ if environ is None else environ
    if explicit:
        return Path(explicit).expanduser()
    if env.get(ENV_CONFIG):
        return Path(env[ENV_CONFIG]).expanduser()
    return Path(DEFAULT_CONFIG_NAME)


def read_config_text(path: Path) -> str:
    """The file's text, or a ConfigError saying why it cannot be read as a config file."""
    source = str(path)

    def fail(problem: str, hint: str) -> ConfigError:
        return ConfigError([ConfigProblem("", problem, hint)], source=source)

    try:
        if path.is_dir():
            raise fail(
                "is a directory, not a file", f"name the file, e.g. {path / DEFAULT_CONFIG_NAME}"
            )
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise fail(
            "file not found",
            f"create it from the example in README.md, pass --config PATH, or set ${ENV_CONFIG}",
        ) from None
    except PermissionError:
        raise fail("permission denied", "make the file readable by this user") from None
    except OSError as exc:
        raise fail(f"cannot read the file: {exc.strerror}", "check the path") from None
    if len(raw) > MAX_BYTES:
        raise fail(f"the file is larger than {MAX_BYTES:,} bytes", "is this really khronos.yml?")
    if b"\x00" in raw:
        raise fail("this is a binary file, not YAML text", "point Khronos at khronos.yml")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise fail(
            f"not UTF-8 text (bad byte 0x{raw[exc.start]:02x} at offset {exc.start})",
            "save the file as UTF-8",
        ) from None


def load_config(
    path: str | Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    needs: Collection[str] | None = None,
) -> KhronosConfig:
    """Read and validate a configuration file (default path: see :func:`resolve_config_path`).

    ``needs``: see :func:`parse_config`.
    """
    file = resolve_config_path(path, environ)
    text = read_config_text(file)
    return parse_config(
        text, source=str(file), base_dir=file.resolve().parent, environ=environ, needs=needs
    )


def parse_config(
    text: str,
    *,
    source: str | None = None,
    base_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
    needs: Collection[str] | None = None,
) -> KhronosConfig:
    """Validate configuration text; relative paths resolve against ``base_dir``.

    Every ``${VAR}`` must be set, unless ``needs`` names the top-level sections a (reading)
    command uses: then an unset variable in a secret (``http.token``, a bot token, an S3 key)
    leaves an :class:`~khronos.config._types.UnsetSecret` that fails only when read, and one
    elsewhere outside ``needs`` leaves out the smallest optional part holding it
    (``alerts.telegram``, one ``checks.http`` entry).  What was left out is listed in
    :attr:`KhronosConfig.unset_variables`.
    """
    env = os.environ if environ is None else environ
    document = parse_yaml(text, source=source)
    if document is None:
        raise ConfigError(
            [
                ConfigProblem(
                    "", "the file is empty", f"write at least one section; {_EXAMPLE_HINT}"
                )
            ],
            source=source,
        )
    if not isinstance(document.data, dict):
        line, col = document.positions.find(()) or (None, None)
        raise ConfigError(
            [
                ConfigProblem(
                    "",
                    "the top level must be a mapping of sections (service:, backup:, ...)",
                    _EXAMPLE_HINT,
                    line,
                    col,
                )
            ],
            source=source,
        )
    expander = EnvExpander(env, document.positions, tolerant=needs is not None)
    data = expander.expand(document.data)
    if expander.problems:
        raise ConfigError(expander.problems, source=source)
    notes: list[UnsetVariable] = []
    if expander.unset:
        notes, missing = _tolerate_unset(data, expander.unset, set(needs or ()))
        if missing:
            for where, name in missing:
                line, col = document.positions.find(where) or (None, None)
                expander.problems.append(
                    ConfigProblem(format_path(where), *unset_problem(name), line, col)
                )
            raise ConfigError(expander.problems, source=source)
    context = {"base_dir": base_dir if base_dir is not None else Path.cwd()}
    try:
        config = KhronosConfig.model_validate(data, context=context)
    except ValidationError as exc:
        secrets = list(_secret_values(data))
        secrets += [env[n] for n in expander.used if is_secret_key(n) and len(env.get(n, "")) >= 3]
        problems = [_problem(err, document.positions, secrets) for err in exc.errors()]
        raise ConfigError(_dedupe(problems), source=source) from None
    if source is not None:
        config._source = Path(source).resolve()  # noqa: SLF001 - set once, by the loader only
    config._unset = notes  # noqa: SLF001 - set once, by the loader only
    return config


# ----------------------------------------------------------------------------- unset variables


def _tolerate_unset(
    data: Any, unset: dict[KeyPath, list[str]], needs: set[str]
) -> tuple[list[UnsetVariable], list[tuple[KeyPath, str]]]:
    """Apply the ``needs`` rule to each unset reference (see :func:`parse_config`), in place."""
    notes: list[UnsetVariable] = []
    problems: list[tuple[KeyPath, str]] = []
    drops: set[KeyPath] = set()
    for path, names in unset.items():
        label = format_path(path)
        if _is_secret(path):
            _replace_at(data, path, UnsetSecret(label, names))
            notes.extend(UnsetVariable(name, label, None) for name in names)
            continue
        drop = None if path and str(path[0]) in needs else _droppable(path)
        if drop is None:
            problems.extend((path, name) for name in names)
            continue
        drops.add(drop)
        notes.extend(UnsetVariable(name, label, format_path(drop)) for name in names)
    for drop in sorted(drops, key=_sort_key, reverse=True):  # later list items first
        _remove_at(data, drop)
    left_out = [format_path(drop) for drop in drops]
    for i, note in enumerate(notes):  # a secret inside a part left out goes with it
        outer = next((p for p in left_out if note.path.startswith((f"{p}.", f"{p}["))), None)
        if note.left_out is None and outer is not None:
            notes[i] = UnsetVariable(note.variable, note.path, outer)
    return notes, problems


def _sort_key(path: KeyPath) -> list[tuple[int, int | str]]:
    return [(1, part) if isinstance(part, int) else (0, part) for part in path]


def _field_at(path: KeyPath) -> FieldInfo | None:
    """The model field the last key of ``path`` names (by name or kebab-case alias)."""
    current: Any = KhronosConfig
    field: FieldInfo | None = None
    for part in path:
        if isinstance(part, int):
            continue  # a list item: the same annotation
        model = _model_of(current)
        if model is None:
            return None
        field = next((f for name, f in model.model_fields.items() if part in {name, f.alias}), None)
        if field is None:
            return None
        current = field.annotation
    return field


def _is_secret(path: KeyPath) -> bool:
    field = _field_at(path)
    return field is not None and _holds(field.annotation, SecretStr)


def _holds(annotation: Any, kind: type) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, kind):
        return True
    return any(_holds(arg, kind) for arg in typing.get_args(annotation))


def _droppable(path: KeyPath) -> KeyPath | None:
    """The smallest part holding ``path`` that may be left out: a list item or an optional key."""
    for end in range(len(path), 0, -1):
        prefix = path[:end]
        if isinstance(prefix[-1], int):
            return prefix
        field = _field_at(prefix)
        if field is not None and not field.is_required():
            return prefix
    return None


def _replace_at(data: Any, path: KeyPath, value: Any) -> None:
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = value


def _remove_at(data: Any, path: KeyPath) -> None:
    parent = data
    try:
        for part in path[:-1]:
            parent = parent[part]
        del parent[path[-1]]
    except (KeyError, IndexError, TypeError):
        return  # inside a part already left out


# ----------------------------------------------------------------------------- error mapping


def _problem(err: ErrorDetails, positions: Positions, secrets: list[str]) -> ConfigProblem:
    loc: KeyPath = tuple(p for p in err["loc"] if isinstance(p, str | int))
    kind = err["type"]
    ctx = err.get("ctx") or {}
    exc = ctx.get("error")
    hint: str | None = None
    at_key = False
    if kind == "extra_forbidden":
        key = str(loc[-1]) if loc else ""
        problem = f"unknown key {key!r}"
        hint = _unknown_key_hint(loc)
        at_key = True
    elif kind == "missing":
        problem = (
            f"required key {str(loc[-1])!r} is missing" if loc else "a required key is missing"
        )
        positions_loc = loc[:-1]
        line, col = positions.find(positions_loc) or (None, None)
        return ConfigProblem(format_path(loc), problem, _EXAMPLE_HINT, line, col)
    elif isinstance(exc, ConfigValueError):
        problem, hint = exc.problem, exc.hint
        if exc.path:
            loc = (*loc, *(int(p) if p.isdigit() else p for p in exc.path.split(".")))
            at_key = True
    elif kind in {"model_type", "model_attributes_type", "dict_type"}:
        problem = "expected a mapping of keys (key: value)"
    else:
        problem = err["msg"].removeprefix("Value error, ")
        problem = problem[:1].lower() + problem[1:]
    for secret in secrets:
        problem = problem.replace(secret, "**********")
        hint = hint.replace(secret, "**********") if hint else hint
    line, col = positions.find(loc, key=at_key) or (None, None)
    return ConfigProblem(format_path(loc), problem, hint, line, col)


def _dedupe(problems: list[ConfigProblem]) -> list[ConfigProblem]:
    seen: set[tuple[str, str]] = set()
    out: list[ConfigProblem] = []
    for problem in problems:
        key = (problem.path, problem.problem)
        if key not in seen:
            seen.add(key)
            out.append(problem)
    return out


def _secret_values(data: Any, secret_key: bool = False) -> Iterator[str]:
    """Every string under a secret-looking key (:func:`khronos.redact.is_secret_key`)."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _secret_values(value, secret_key or is_secret_key(str(key)))
    elif isinstance(data, list):
        for value in data:
            yield from _secret_values(value, secret_key)
    elif secret_key and isinstance(data, str | int) and len(str(data)) >= 3:
        yield str(data)


def _unknown_key_hint(loc: KeyPath) -> str:
    fields = _fields_at(KhronosConfig, loc[:-1])
    if fields is None:
        return "remove it"
    if not fields:
        return "this section has no settings yet: remove the key"
    key = str(loc[-1])
    close = difflib.get_close_matches(key, fields, n=1, cutoff=0.6)
    valid = ", ".join(sorted(fields))
    if close:
        return f"did you mean {close[0]!r}? valid keys here: {valid}"
    return f"valid keys here: {valid}"


def _fields_at(model: type[BaseModel], loc: KeyPath) -> list[str] | None:
    """The keys the model accepts at ``loc`` (following sections, lists and optionals)."""
    current: Any = model
    for part in loc:
        current = _model_of(current)
        if current is None:
            return None
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part)
        if field is None:
            return None
        current = field.annotation
    current = _model_of(current)
    return None if current is None else [*current.model_fields]


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside ``X``, ``X | None``, ``list[X]``, ``Annotated[X, ...]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in {typing.Union, types.UnionType, list, typing.Annotated, tuple}:
        for arg in typing.get_args(annotation):
            found = _model_of(arg)
            if found is not None:
                return found
    return None
