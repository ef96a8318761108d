"""The map's answer excerpts: made from the beginning of a long answer, the same as from all of it."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bagu2anki.render import plain_text
from bagu2anki.write.map import leading_text

PIECES = st.sampled_from(
    ["<p>", "</p>", '<span class="k">', "</span>", "<br>", "&amp;", "&lt;", "&#39;", "&", "amp;", "#",
     " ", "\n", "\t", "注意力", "KV", "x", ">", "&nbsp;", "&ampx", "<", "a b", "公式 \\(x\\)"]
)


def whole(back_html: str) -> str:
    return " ".join(plain_text(back_html).split())


@settings(max_examples=500, deadline=None)
@given(st.lists(PIECES, max_size=200), st.integers(min_value=1, max_value=60), st.integers(min_value=1, max_value=400))
def test_the_excerpt_begins_as_the_whole_answer_does(pieces: list[str], chars: int, look: int) -> None:
    html = "".join(pieces)
    got = leading_text(html, chars, look)
    full = whole(html)
    assert full.startswith(got[: chars + 1]) if len(got) > chars else got == full


def test_a_long_answer_is_read_from_its_beginning() -> None:
    html = "<p>" + "多头注意力 " * 2000 + "</p>" + '<pre><span class="k">def</span> f(): pass</pre>' * 500
    assert leading_text(html, 160) == whole(html)[: len(leading_text(html, 160))]
    assert len(leading_text(html, 160)) < len(whole(html)) // 4


def test_an_answer_without_markup_is_cut_too() -> None:
    text = "注意力 " * 3000
    assert leading_text(text, 160) == whole(text)[: len(leading_text(text, 160))]
    assert len(leading_text(text, 160)) < len(whole(text)) // 2
