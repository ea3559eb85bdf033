"""The layering rules hold: no module imports another package's ``_private`` module."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "check_imports.py"


def test_packages_use_each_others_public_names() -> None:
    """scripts/check_imports.py (also run by `make lint`) finds no violation."""
    spec = importlib.util.spec_from_file_location("check_imports", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.violations() == []


def test_the_check_finds_a_private_import(tmp_path: Path) -> None:
    """The rule can fail: a module importing another package's private module is named."""
    spec = importlib.util.spec_from_file_location("check_imports", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    pkg = tmp_path / "khronos"
    for sub in ("a", "b"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "a" / "_secret.py").write_text("X = 1\n")
    (pkg / "b" / "user.py").write_text("from khronos.a._secret import X\n")
    (pkg / "a" / "inside.py").write_text("from khronos.a._secret import X\n")
    found = module.violations(tmp_path)
    assert len(found) == 1
    assert "khronos.b.user imports khronos.a._secret" in found[0]
