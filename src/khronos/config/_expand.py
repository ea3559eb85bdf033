"""``${VAR}`` and ``${VAR:-default}`` expansion in string values.

Expansion runs on parsed string values (never on the raw text), so an environment variable can
never change the structure of the document.  Unlike Litestream, an unset ``${VAR}`` is an error
that names the variable and the key.  ``$${`` writes a literal ``${``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from khronos.config._yaml import KeyPath, Positions, format_path
from khronos.errors import ConfigProblem

__all__ = ["EnvExpander", "unset_problem"]

_REF = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def unset_problem(name: str) -> tuple[str, str]:
    """The problem and hint for an unset ``${name}``."""
    return (
        f"environment variable {name} is not set",
        f"export {name}=... before starting Khronos, or write ${{{name}:-default}}",
    )


class EnvExpander:
    """Expands references in a document; collects problems and the names of variables read."""

    def __init__(
        self, environ: Mapping[str, str], positions: Positions, *, tolerant: bool = False
    ) -> None:
        self.environ = environ
        self.positions = positions
        self.tolerant = tolerant
        """Record unset variables in :attr:`unset` (the reference is left as it is) instead of
        reporting them as problems; the loader decides what to do with each."""
        self.problems: list[ConfigProblem] = []
        self.used: set[str] = set()
        self.unset: dict[KeyPath, list[str]] = {}
        """Key path -> the unset variables its value references (``tolerant`` only)."""

    def expand(self, data: Any, path: KeyPath = ()) -> Any:
        """``data`` with every ``${...}`` in its strings expanded."""
        if isinstance(data, dict):
            return {k: self.expand(v, (*path, k)) for k, v in data.items()}
        if isinstance(data, list):
            return [self.expand(v, (*path, i)) for i, v in enumerate(data)]
        if isinstance(data, str) and "${" in data:
            return _REF.sub(lambda m: self._replace(m, path), data)
        return data

    def _problem(self, path: KeyPath, message: str, hint: str) -> None:
        line, col = self.positions.find(path) or (None, None)
        self.problems.append(ConfigProblem(format_path(path), message, hint, line, col))

    def _replace(self, match: re.Match[str], path: KeyPath) -> str:
        whole = match.group(0)
        if whole == "$${":
            return "${"
        body = match.group(1)
        if body is None:
            self._problem(
                path, "unclosed ${ in value", "write ${NAME} or ${NAME:-default}; $${ for a literal"
            )
            return whole
        name, sep, default = body.partition(":-")
        if not _NAME.fullmatch(name):
            self._problem(
                path,
                f"malformed variable reference ${{{body}}}",
                "names are letters, digits and _; write ${NAME} or ${NAME:-default}",
            )
            return whole
        value = self.environ.get(name)
        self.used.add(name)
        if sep:
            return value or default
        if value is None:
            if self.tolerant:
                self.unset.setdefault(path, []).append(name)
                return whole
            self._problem(path, *unset_problem(name))
            return whole
        return value
