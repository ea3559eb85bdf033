"""Safe YAML reading that remembers where every key and value stands in the file.

PyYAML's ``safe_load`` forgets positions, silently keeps the last of two equal keys and expands
anchors without bound.  Here the document is composed into nodes, then built by hand so that:
each key path gets its ``(line, column)``; a repeated key is an error; alias expansion is bounded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from khronos.errors import ConfigError, ConfigProblem

__all__ = ["KeyPath", "Positions", "YamlDocument", "format_path", "parse_yaml"]

KeyPath = tuple[str | int, ...]
MAX_NODES = 100_000
MAX_BYTES = 1_000_000


@dataclass(slots=True)
class Positions:
    """1-based ``(line, column)`` of each key path's value (and of its key, for mappings)."""

    values: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)
    keys: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)

    def find(self, path: KeyPath, *, key: bool = False) -> tuple[int, int] | None:
        """The position of ``path``, or of its nearest ancestor that has one."""
        table = self.keys if key else self.values
        for end in range(len(path), -1, -1):
            hit = table.get(path[:end]) or self.values.get(path[:end])
            if hit is not None:
                return hit
        return None


@dataclass(slots=True)
class YamlDocument:
    """A parsed document: plain Python data plus positions."""

    data: Any
    positions: Positions


def format_path(path: KeyPath) -> str:
    """``('checks', 'http', 0, 'url')`` -> ``checks.http[0].url``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


class _Builder:
    def __init__(self, loader: yaml.SafeLoader, source: str | None) -> None:
        self.loader = loader
        self.source = source
        self.positions = Positions()
        self.count = 0

    def fail(self, node: yaml.Node, path: KeyPath, problem: str, hint: str | None) -> ConfigError:
        mark = node.start_mark
        return ConfigError(
            [ConfigProblem(format_path(path), problem, hint, mark.line + 1, mark.column + 1)],
            source=self.source,
        )

    def build(self, node: yaml.Node, path: KeyPath, depth: int = 0) -> Any:
        self.count += 1
        if self.count > MAX_NODES or depth > 100:
            raise self.fail(
                node, path, "the document is too large or too deeply nested", "simplify it"
            )
        self.positions.values.setdefault(
            path, (node.start_mark.line + 1, node.start_mark.column + 1)
        )
        if isinstance(node, yaml.MappingNode):
            self.loader.flatten_mapping(node)  # resolves "<<: *anchor" merge keys
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = self.loader.construct_object(key_node, deep=True)
                if not isinstance(key, str):
                    raise self.fail(
                        key_node,
                        path,
                        f"keys must be strings, got {type(key).__name__} {key!r}",
                        "quote the key",
                    )
                if key in result:
                    raise self.fail(
                        key_node,
                        (*path, key),
                        "this key appears twice in the same mapping",
                        "keep one: YAML would silently use the last",
                    )
                mark = key_node.start_mark
                self.positions.keys[(*path, key)] = (mark.line + 1, mark.column + 1)
                result[key] = self.build(value_node, (*path, key), depth + 1)
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        return self.loader.construct_object(node, deep=True)


def parse_yaml(text: str, *, source: str | None = None) -> YamlDocument | None:
    """Parse one YAML document; ``None`` when it holds nothing (empty or only comments).

    Raises :class:`ConfigError` with line and column for syntax errors, several documents,
    repeated keys, non-string keys and runaway alias expansion.
    """
    try:
        loader = yaml.SafeLoader(text)
    except yaml.YAMLError as exc:  # ReaderError: control characters and the like
        raise _reader_error(exc, text, source) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        builder = _Builder(loader, source)
        data = builder.build(node, ())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if "expected a single document" in str(exc.context):
            problem = "the file holds more than one YAML document"
        return_problem = ConfigProblem(
            "",
            f"YAML syntax error: {problem}",
            "check the indentation and quoting around this spot",
            mark.line + 1 if mark else None,
            mark.column + 1 if mark else None,
        )
        raise ConfigError([return_problem], source=source) from None
    except yaml.YAMLError as exc:
        raise _reader_error(exc, text, source) from None
    finally:
        loader.dispose()
    return YamlDocument(data, builder.positions)


def _reader_error(exc: yaml.YAMLError, text: str, source: str | None) -> ConfigError:
    """A ConfigError for a character YAML refuses (control characters and the like)."""
    reason = getattr(exc, "reason", None) or "unreadable character"
    character = getattr(exc, "character", None)
    problem = f"not a valid YAML text file: {reason}"
    if character is not None:
        code = ord(character) if isinstance(character, str) else int(character)
        problem += f" (character #x{code:04x})"
    position = getattr(exc, "position", None)
    line = col = None
    if isinstance(position, int):
        line = text.count("\n", 0, position) + 1
        col = position - (text.rfind("\n", 0, position) + 1) + 1
    hint = 'remove the control character or quote it as an escape ("\\x07")'
    return ConfigError([ConfigProblem("", problem, hint, line, col)], source=source)
