"""The documentation stays true to the code."""

from __future__ import annotations

from pathlib import Path

from khronos.config import render_reference

ROOT = Path(__file__).resolve().parent.parent
START = "<!-- reference:start"
END = "<!-- reference:end -->"


def test_readme_reference_matches_the_model() -> None:
    """README's configuration reference is exactly what `khronos config reference` prints."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text[text.index(START) : text.index(END)]
    embedded = block.split("\n", 1)[1].strip()
    assert embedded == render_reference().strip(), "README.md is out of date: run `make docs`"


def test_readme_names_the_two_commands() -> None:
    """The newcomer's two commands are in the README and in the Makefile."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in ("demo", "test"):
        assert f"make {target}" in readme
        assert f"\n{target}:" in makefile


def test_ci_runs_make_test_with_the_gate() -> None:
    """.ci/run calls `make test` with integration tests required."""
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "KHRONOS_REQUIRE_INTEGRATION=1" in ci
    assert "make test" in ci
