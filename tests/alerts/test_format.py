"""Telegram HTML rendering: escaping, details, the 4096-character cut."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from khronos.alerts import MAX_MESSAGE_LENGTH, Alert, Level, escape, render_html, render_plain
from khronos.alerts._format import truncate_html
from tests.alerts.fake_telegram import parse_telegram_html, utf16_len

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=20,
)


def test_escape_replaces_markup_characters() -> None:
    """<, > and & become entities."""
    assert escape("<b>a & b</b>") == "&lt;b&gt;a &amp; b&lt;/b&gt;"


def test_render_shows_emoji_level_and_details_block() -> None:
    """The header has the level's emoji; details are a <pre> JSON block."""
    html = render_html(Alert("disk <full>", Level.CRITICAL, {"free": "1 < 2"}), service="bot")
    assert html.startswith("<b>🚨 CRITICAL · bot")
    assert "disk &lt;full&gt;" in html
    assert "<pre>{\n  &quot;free&quot;: &quot;1 &lt; 2&quot;\n}</pre>" in html


def test_long_message_is_cut_inside_text_and_tags_closed() -> None:
    """A 10,000-character detail block is cut to 4096 visible characters, still valid."""
    html = render_html(Alert("x", Level.ERROR, {"log": "<&>" * 3000}))
    visible = parse_telegram_html(html)
    assert utf16_len(visible) <= MAX_MESSAGE_LENGTH
    assert html.endswith("…</pre>")


def test_truncate_never_splits_an_entity() -> None:
    """Cutting lands before or after an entity, never inside it: the cut text is shorter, ends
    with the ellipsis, keeps its tags balanced, and shows whole ``&`` characters only."""
    html = "<b>" + "&amp;" * 20 + "</b>"
    for limit in range(1, 12):
        cut = truncate_html(html, limit)
        visible = parse_telegram_html(cut)  # raises on a split entity or an unclosed tag
        assert len(cut) < len(html)
        assert utf16_len(visible) <= limit
        assert visible.endswith("…")
        assert set(visible[:-1]) <= {"&"}
        assert cut.startswith("<b>")
        assert cut.endswith("</b>")


def test_plain_fallback_has_no_markup() -> None:
    """The plain-text version is the same content without HTML."""
    text = render_plain(Alert("a <b>", Level.WARN, {"k": "v"}))
    assert "a <b>" in text
    assert "&lt;" not in text


@settings(max_examples=300, deadline=None)
@given(message=st.text(max_size=6000), details=st.dictionaries(st.text(max_size=20), json_values))
def test_any_alert_renders_as_valid_telegram_html(message: str, details: dict[str, object]) -> None:
    """Telegram's parser accepts the HTML, within 4096, and shows the message (or all that fits)."""
    html = render_html(Alert(message, Level.WARN, details), service="svc", note=message[:50])
    visible = parse_telegram_html(html)
    assert utf16_len(visible) <= MAX_MESSAGE_LENGTH
    header, _, body = visible.partition("\n")
    assert header.startswith("⚠️ WARN · svc (production) · ")
    if body.startswith(message):
        return
    # Cut inside the message: what is shown is its beginning, then "…", and the cut only
    # happened because the text was at the limit (at most one UTF-16 unit lost to a pair).
    assert body.endswith("…")
    assert message.startswith(body[:-1])
    assert utf16_len(visible) >= MAX_MESSAGE_LENGTH - 1


@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"])))
def test_utf16_length_is_counted_without_a_codec(text: str) -> None:
    """The engine's count (no codec import, so it works without free descriptors) matches
    Telegram's UTF-16 measure."""
    from khronos.alerts._format import utf16_len as counted

    assert counted(text) == utf16_len(text)
