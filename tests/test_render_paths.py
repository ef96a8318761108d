"""The two ways a card side is rendered agree: pulldown-cmark (pyromark) for plain answers,
markdown-it-py with our rules for everything else. A card must not depend on which one ran.

Every question and answer of the starter notes, the parse fixtures, the seed and the corpus
goes through both; the HTML must be the same up to white space between tags and how an entity is spelt.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from conftest import CORPUS, NOTES, ROOT, SEED

from bagu2anki import pipeline
from bagu2anki.config import Config
from bagu2anki.diagnostics import Diagnostics
from bagu2anki.model import Atom
from bagu2anki.render import Rendered, Renderer

FIXTURES = ROOT / "tests" / "fixtures" / "parse"
_BETWEEN_TAGS = re.compile(r">\s+<")


def _normal(fragment: str) -> str:
    return html.unescape(_BETWEEN_TAGS.sub("><", fragment)).strip()


class _Counting(Renderer):
    """A renderer that remembers whether its last answer took the pyromark path."""

    last_fast = False

    def _fast_answer(self, protected: str, spans: list) -> Rendered | None:  # type: ignore[type-arg]
        out = super()._fast_answer(protected, spans)
        self.last_fast = out is not None
        return out


def _both(folder: Path) -> tuple[int, list[tuple[Atom, str, str]]]:
    analysis = pipeline.analyse(Config(paths=(folder,)), Diagnostics())
    roots = {rel: (path.parent, root) for rel, path, root in analysis.roots}
    renderer = _Counting(Diagnostics())
    fast_taken = 0
    differ: list[tuple[Atom, str, str]] = []
    for a in analysis.atoms:
        base, root = roots[a.source]
        renderer.fast, renderer.last_fast = True, False
        fast = renderer.answer(a, base, root)
        fast_taken += renderer.last_fast
        renderer.fast = False
        slow = renderer.answer(a, base, root)
        if (_normal(fast.html), fast.visible_chars, fast.folded, fast.media) != (
            _normal(slow.html), slow.visible_chars, slow.folded, slow.media
        ):
            differ.append((a, fast.html, slow.html))
        renderer.fast = True
        front = renderer.question(a)
        renderer.fast = False
        if _normal(front) != _normal(renderer.question(a)):
            differ.append((a, front, renderer.question(a)))
    return fast_taken, differ


def _where(differ: list[tuple[Atom, str, str]]) -> str:
    return "\n".join(f"{a.source}:{a.line}\n  fast: {f[:300]}\n  slow: {s[:300]}" for a, f, s in differ[:3])


@pytest.mark.parametrize("folder", [NOTES, FIXTURES], ids=["starter-notes", "parse-fixtures"])
def test_fast_and_full_renderer_agree(folder: Path) -> None:
    fast_taken, differ = _both(folder)
    assert not differ, _where(differ)
    assert fast_taken > 10  # the fast path is really taken on ordinary notes


def test_fast_and_full_renderer_agree_on_seed_and_corpus() -> None:
    missing = [p for p in (SEED, CORPUS) if not p.exists()]
    if missing:
        pytest.skip(f"not present: {', '.join(map(str, missing))}")
    for folder in (SEED.parent, CORPUS):
        fast_taken, differ = _both(folder)
        assert not differ, _where(differ)
        assert fast_taken > 10


def _atom(answer: str) -> Atom:
    return Atom(
        source="a.md", line=1, end_line=2, section=(), number=None, kind=None, question="问？",
        answer=answer, status="answered",
    )


@pytest.mark.parametrize(
    ("answer", "fast"),
    [
        ("普通段落，**加粗**，$x^2$。\n\n- 列表\n- 第二项", True),
        ("| a | b |\n|:--|--:|\n| 1 | $\\alpha|\\beta$ |", True),
        ("```python\nprint('<b>')\n```", True),
        ("见 https://example.com/x", False),  # bare link: linkify
        ("<details><summary>x</summary>y</details>", False),  # raw HTML
        ("输出 <eos> 标记", True),  # a tag-like token is text before either renderer runs: fast
        ("::: tip 提示\n内容\n:::", False),  # container
        ("![图](a.png)", False),  # image resolved inside the notes folder
        ("约 ~3~ 倍", False),  # pulldown-cmark would strike a single tilde through
    ],
)
def test_which_answers_take_the_fast_path(answer: str, fast: bool) -> None:
    r = _Counting(Diagnostics())
    out = r.answer(_atom(answer), Path("."), Path("."))
    assert r.last_fast is fast
    r.fast = False
    slow = r.answer(_atom(answer), Path("."), Path("."))
    assert _normal(out.html) == _normal(slow.html)


def test_fast_path_tables_and_code_look_like_the_full_path() -> None:
    r = Renderer(Diagnostics())
    out = r.answer(_atom("| a | b |\n|:--|--:|\n| 1 | 2 |\n\n```python\nx = 1\n```"), Path("."), Path("."))
    assert '<div class="table-wrap"><table>' in out.html
    assert '<th align="left">a</th>' in out.html and '<td align="right">2</td>' in out.html
    assert "style=" not in out.html
    assert '<div class="highlight"><pre>' in out.html and 'class="n"' in out.html  # Pygments classes


def test_links_in_fast_answers_still_pass_the_sanitiser() -> None:
    r = Renderer(Diagnostics())
    out = r.answer(_atom("[点我](javascript:alert(1)) 和 [ok](mailto:a@b.c)"), Path("."), Path("."))
    assert "javascript:" not in out.html
    assert 'href="mailto:a@b.c"' in out.html
