"""Lint rule: packages use each other's public names; a ``_private`` module is private to its
package.

``khronos.backup._service`` may import ``khronos.backup._status``; ``khronos.daemon`` may not
(it imports ``khronos.backup``'s public names).  A top-level ``khronos._private`` module is
private to ``khronos``, which every subpackage belongs to.  Exit 1 listing each violation as
``FILE:LINE: importer imports name``.  ``make lint`` runs it (so does a test).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "src"


def _module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, module: str) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in ``path``, names of ``from`` included."""
    is_package = path.name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            yield node.lineno, target
            for alias in node.names:
                yield node.lineno, f"{target}.{alias.name}"


def _private_owner(name: str) -> str | None:
    """The package a private module belongs to (``khronos.backup`` for
    ``khronos.backup._status.X``), or None when ``name`` crosses no private module."""
    parts = name.split(".")
    for i, part in enumerate(parts[1:], start=1):
        if part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[:i])
    return None


def violations(root: Path = ROOT) -> list[str]:
    """Every import of another package's private module under ``root/khronos``."""
    found = []
    for path in sorted((root / "khronos").rglob("*.py")):
        module = _module_name(path, root)
        for line, name in _imports(path, module):
            if not name.startswith("khronos."):
                continue
            owner = _private_owner(name)
            if owner is None or module == owner or module.startswith(f"{owner}."):
                continue
            private = ".".join(name.split(".")[: len(owner.split(".")) + 1])
            found.append(f"{path.relative_to(root.parent)}:{line}: {module} imports {private}")
    return sorted(set(found))


def main() -> int:
    found = violations()
    for line in found:
        print(line)
    if found:
        print(f"{len(found)} import(s) of another package's private module: use its public names")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
