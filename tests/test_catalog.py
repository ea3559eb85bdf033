"""The message catalog: every id renders in every language with every placeholder filled and no
English left in pt-BR; the source raises no alert with literal English prose, and every catalog
id it names exists with the values its text needs."""

from __future__ import annotations

import ast
import copy
import re
import string
from pathlib import Path

import pytest

from khronos.catalog import (
    CATALOG,
    LANGUAGES,
    Moment,
    Span,
    Text,
    from_json,
    localize,
    placeholders,
    to_json,
)

SRC = Path(__file__).resolve().parents[1] / "src" / "khronos"
EN = CATALOG["en"]

SAME_IN_PT_BR = {
    "level.INFO": "the level's name is the same word",
    "joined": "punctuation only",
    "backup.because": "punctuation only",
    "check.worst_rss": "RSS and MB are the same",
    "cmd.unsilence": "the command's syntax",
    "reply.what_backup": "'backup' is the Portuguese word too",
    "reply.drill_ok": "ok is used in Portuguese",
    "reply.state.OK": "OK is used in Portuguese",
    "reply.drill_line_failed": "punctuation only",
}
"""Ids whose pt-BR text may equal the English one, and why."""

ENGLISH_WORDS = frozenset(
    [
        "the",
        "is",
        "are",
        "was",
        "were",
        "and",
        "of",
        "for",
        "not",
        "cannot",
        "has",
        "have",
        "been",
        "after",
        "every",
        "since",
        "again",
        "with",
        "from",
        "this",
        "that",
        "it",
        "its",
        "be",
        "by",
        "at",
        "in",
        "on",
        "to",
        "will",
        "would",
        "should",
        "could",
        "which",
        "while",
        "when",
    ]
)
"""Words that never appear in Portuguese prose: one in a pt-BR text is English left over."""


def samples(template: str) -> dict[str, object]:
    """A value for every placeholder: a number where the text formats one, else a marker."""
    values: dict[str, object] = {}
    for _, name, spec, _ in string.Formatter().parse(template):
        if name:
            values[name] = 42.5 if spec else f"«{name}»"
    return values


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_id_renders_in_every_language(language: str) -> None:
    """Every id exists in the language and renders with every placeholder filled."""
    table = CATALOG[language]
    assert set(table) == set(EN), set(EN) ^ set(table)
    for msgid, english in EN.items():
        assert placeholders(table[msgid]) == placeholders(english), msgid
        values = samples(english)
        text = Text(msgid, **values).render(language)
        assert "{" not in text, (msgid, text)
        assert "}" not in text, (msgid, text)
        for name, value in values.items():
            if isinstance(value, str):
                assert value in text, (msgid, name, text)


def test_no_english_left_in_pt_br() -> None:
    """pt-BR differs from English (but for the listed ids) and has no English word in it."""
    pt = CATALOG["pt-BR"]
    for msgid, english in EN.items():
        if msgid not in SAME_IN_PT_BR:
            assert pt[msgid] != english, msgid
        prose = re.sub(r"<code>.*?</code>|`[^`]*`|\{[^}]*\}", " ", pt[msgid])
        words = set(re.findall(r"[^\W\d_]+", prose.lower()))
        assert not words & ENGLISH_WORDS, (msgid, words & ENGLISH_WORDS)


def test_text_is_its_english_string() -> None:
    """A Text equals its English rendering; nested texts, durations and times follow the
    language and zone; a bad id or a missing value never raises."""
    lag = Span(125, "2m5s")
    text = Text(
        "backup.lag", db="app", lag=42.0, limit=30.0, because=Text("backup.not_replicating")
    )
    assert text == "Backup of app is 42s behind (alert after 30s): Litestream is not replicating it"
    assert Text("backup.worst_lag", lag=lag).render("pt-BR") == "atraso 2 min 5 s"
    assert "o Litestream não o está replicando" in text.render("pt-BR")
    moment = Moment(1_790_000_000.0, "2026-09-21T14:13:20+00:00")
    assert localize(moment, "en", None) == "2026-09-21 14:13:20 UTC"
    assert Text("no.such.id", x=1) == "no.such.id (x=1)"
    assert "backup.lag" not in Text("backup.lag", db="app")  # a missing value: the template
    assert copy.deepcopy(text).render("pt-BR") == text.render("pt-BR")


def test_json_round_trip_keeps_a_text_translatable() -> None:
    """A condition's text stored as JSON comes back as the same Text."""
    text = Text(
        "heartbeat.late",
        name="job",
        last=Moment(0.0, "1970"),
        every=Span(60, "1m"),
        grace=Span(5, "5s"),
    )
    back = from_json(to_json(text))
    assert isinstance(back, Text)
    assert back == text
    assert back.render("pt-BR", None) == text.render("pt-BR", None)


# ---------------------------------------------------------------------- the source


ALERT_CALLS = {
    "fire": 1,
    "resolve": 1,
    "send_alert": 0,
    "enqueue_test": 0,
    "Alert": 0,
    "CheckResult": 1,
    "_fire": 1,
    "_toggle": 3,
    "_stop_for": 0,
}
"""Alert-raising calls and the position of their message argument."""

PROSE_KEYS = frozenset({"hint", "action"})
"""Keys of an alert's details whose values are prose for the owner."""

CATALOG_LOOKUPS = frozenset({"Text", "translate", "html", "plain"})
"""Calls whose first argument is a catalog id."""


def _name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _is_prose(node: ast.AST) -> bool:
    """A literal string with words, an f-string, or a concatenation of them."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and bool(re.search(r"[A-Za-z]{2}", node.value))
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp):
        return _is_prose(node.left) or _is_prose(node.right)
    if isinstance(node, ast.IfExp):
        return _is_prose(node.body) or _is_prose(node.orelse)
    return False


def _assigned(tree: ast.AST) -> dict[ast.AST, dict[str, list[ast.AST]]]:
    """For each function, the values assigned to each local name (``message = f"..."``)."""
    out: dict[ast.AST, dict[str, list[ast.AST]]] = {}
    for func in ast.walk(tree):
        if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            names: dict[str, list[ast.AST]] = {}
            for node in ast.walk(func):
                if isinstance(node, ast.Assign):
                    for target in node.targets:
                        if isinstance(target, ast.Name):
                            names.setdefault(target.id, []).append(node.value)
            out[func] = names
    return out


def english_prose(source: str, filename: str = "<src>") -> list[str]:
    """Each alert-raising call in ``source`` whose message or details' hint is literal prose,
    given directly or through a local variable of the same function."""
    tree = ast.parse(source, filename)
    found = []
    for func, names in [*_assigned(tree).items(), (tree, {})]:
        calls = [n for n in ast.walk(func) if isinstance(n, ast.Call)]
        for node in calls:
            position = ALERT_CALLS.get(_name(node))
            if position is None:
                continue
            message = node.args[position] if len(node.args) > position else None
            message = next((k.value for k in node.keywords if k.arg == "message"), message)
            values = [message] if message is not None else []
            if isinstance(message, ast.Name):
                values += names.get(message.id, [])
            if any(_is_prose(v) for v in values):
                found.append(f"{filename}:{node.lineno}: {_name(node)}() with literal prose")
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                if isinstance(arg, ast.Dict):
                    for key, value in zip(arg.keys, arg.values, strict=True):
                        named = isinstance(key, ast.Constant) and key.value in PROSE_KEYS
                        if named and _is_prose(value):
                            found.append(f"{filename}:{node.lineno}: a literal hint or action")
    return sorted(set(found))


def catalog_misuse(source: str, filename: str = "<src>") -> list[str]:
    """Each ``Text("id", ...)``/``translate``/``say.html``/``say.plain`` with a literal id that
    the catalog lacks, or a ``Text`` whose keywords differ from its text's placeholders."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call) or _name(node) not in CATALOG_LOOKUPS or not node.args:
            continue
        first = node.args[0]
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            continue
        msgid = first.value
        if msgid not in EN:
            if _name(node) in ("Text", "translate") or "." in msgid:
                found.append(f"{filename}:{node.lineno}: unknown catalog id {msgid!r}")
            continue
        keywords = {k.arg for k in node.keywords}
        if _name(node) == "Text" and None not in keywords and keywords != placeholders(EN[msgid]):
            found.append(
                f"{filename}:{node.lineno}: {msgid} wants {sorted(placeholders(EN[msgid]))}"
            )
    return found


def test_the_checks_find_what_they_look_for() -> None:
    """The two source checks flag a new alert with English prose and a wrong catalog id."""
    bad = (
        'engine.fire("k", f"disk {x} full", "ERROR", {"hint": "free space"})\n'
        'engine.send_alert("Something broke")\n'
        'engine.fire("k", Text("backup.lag", db="app"))\n'
        'Text("no.such.id")\n'
        "def f():\n"
        '    message = f"app {x} crashed"\n'
        '    alerts.fire("app.down", message, "ERROR")\n'
    )
    assert len(english_prose(bad)) == 4
    assert len(catalog_misuse(bad)) == 2
    good = 'engine.fire("k", Text("backup.db_down", path=p), "CRITICAL", {"hint": h})\n'
    assert english_prose(good) == catalog_misuse(good) == []


def test_no_alert_is_raised_with_english_prose() -> None:
    """No alert-raising call in src/ passes literal prose: every built-in text is a catalog
    Text (an app's own text arrives in a variable), and every id the source names exists."""
    problems = []
    for path in sorted(SRC.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        name = str(path.relative_to(SRC.parent))
        problems += english_prose(source, name) + catalog_misuse(source, name)
    assert problems == []
