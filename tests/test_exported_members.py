"""The public API: `khronos.__all__` is sorted, complete and importable."""

from __future__ import annotations

import importlib
import types

import pytest

PACKAGES = [
    "khronos",
    "khronos.alerts",
    "khronos.backup",
    "khronos.checks",
    "khronos.config",
    "khronos.logs",
    "khronos.metrics",
    "khronos.server",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted(name: str) -> None:
    """__all__ is kept sorted (isort-style, as ruff's RUF022 fixes it): CONSTANTS, Classes, rest."""
    module = importlib.import_module(name)
    assert list(module.__all__) == sorted(module.__all__, key=_isort_key)


def _isort_key(name: str) -> tuple[int, str]:
    if name.isupper():
        return (0, name)
    return (1, name) if name[:1].isupper() else (2, name)


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_complete_and_importable(name: str) -> None:
    """Every public name defined in the package is exported, and every export exists."""
    module = importlib.import_module(name)
    public = {
        attr
        for attr, value in vars(module).items()
        if not attr.startswith("_")
        and not isinstance(value, types.ModuleType)
        and attr not in {"annotations"}
    }
    assert public <= set(module.__all__)
    for attr in module.__all__:
        assert hasattr(module, attr)
