"""Recognition in time linear in the answer, and the shortcuts that make it cheap finding what the
plain rules find.

Growth: `recognize` and `acronyms_in` on an answer of size n and of size 4n (CPU time, best of
three); the ratio is about 4 for a linear path, 16 for a quadratic one. The answers are built to
put many mentions where a per-mention pass over the text would cost: one long paragraph, one long
clause, one long bracket, one long list, many guarded acronyms, many tables, many pipelines.

Agreement: `layout._Body` answers each question about a part from what it found once (clause
ends, separators, example markers, brackets); the reference functions (`_clause`, `_listed`,
`_yardstick`, `_EXAMPLE.search`) answer it by searching the text. Both must agree everywhere, on
random texts made of the characters the rules look at. The characters `parts` and `roles` test
before trying a pattern must cover every character the pattern can start with.
"""

from __future__ import annotations

import functools
import gc
import random
import re
import sys
import time
import unicodedata
from collections.abc import Callable

import pytest

from bagu2anki.concepts import layout
from bagu2anki.concepts import parts as parts_module
from bagu2anki.concepts.catalogue import Catalogue, load_catalogue
from bagu2anki.concepts.matcher import matcher_for
from bagu2anki.concepts.recognize import _ACRONYM, acronyms_in, recognize
from bagu2anki.diagnostics import Diagnostics
from bagu2anki.model import Atom

MAX_RATIO = 8.0  # 4n against n: linear ~4, quadratic 16

# The functions `_Body` replaced, kept here as the reference it must agree with.


def _clause(masked: str, at: int) -> tuple[int, int]:
    """The clause of `masked` (a part with its brackets blanked) around position `at`, by
    searching it (`_Body.clause` answers the same from the clause ends of the whole part)."""
    start = 0
    for m in layout._CLAUSE_END.finditer(masked, 0, at):
        start = m.end()
    stop = layout._CLAUSE_END.search(masked, at)
    return start, stop.start() if stop else len(masked)


def _listed(separator: re.Pattern[str], body: str, a: int, b: int, s: int, e: int) -> bool:
    """Whether the name at [s, e) is an item of a list in the clause body[a:b]: between its
    first and last separator (`、`, `→`), right before the first one (`…观察到的熵坍塌、训练不稳定`),
    or after the last one, up to a word that ends the list (`前向、反向都有 all-reduce`: 都).
    (`_Body.listed` answers the same from the separators of the whole part.)"""
    seps = list(separator.finditer(body, a, b))
    if not seps:
        return False
    first, last = seps[0].start(), seps[-1].end()
    if s < first:
        return layout._visible(body[e:first]) <= layout.LIST_TAIL
    if s < last:
        return True
    stop = layout._LIST_END.search(body, last, b)
    return stop is None or s < stop.start()


@pytest.fixture(scope="module")

def catalogue() -> Catalogue:
    return load_catalogue(None, Diagnostics())


def _atom(answer: str) -> Atom:
    return Atom("n.md", 1, 2, ("题",), None, None, "什么是 X？", answer, "answered")


# --------------------------------------------------------------------------- growth


def one_paragraph(n: int) -> str:
    return "".join(
        f"第{k}句里 GQA 和 LoRA 都出现，" + ("。" if k % 3 == 0 else "") for k in range(n)
    )


def one_clause(n: int) -> str:
    """No clause punctuation at all, an enumeration and a `如` that is no example marker."""
    return "PPO、DPO 如何 " + " ".join("GQA MQA 与 LoRA" for _ in range(n))


def after_a_list(n: int) -> str:
    """Every mention after the list's last `、`, no word that ends the list."""
    return "方法有 PPO、DPO " + " ".join("GQA 与 LoRA" for _ in range(n))


def one_bracket(n: int) -> str:
    return "注意力（" + " ".join("GQA MQA" for _ in range(n)) + "）"


def guarded(n: int) -> str:
    """Guarded acronyms with no support anywhere: each looks at the mentions near it."""
    return "数组 " + " ".join(f"dp[{k}] 和 tp" for k in range(n)) + "。"


def tables(n: int) -> str:
    """Many small tables, each comparing concepts in its header."""
    return "".join(
        f"| 特性 | DPO | PPO |\n|---|---|---|\n| GQA{k} | LoRA | MQA |\n\n" for k in range(n)
    )


def pipelines(n: int) -> str:
    return "流程 " + " → ".join("GQA LoRA" for _ in range(n))


def acronyms(n: int) -> str:
    return " ".join(f"DCA{k % 50}X 与 EQR 和 LoRA" for k in range(n))


def _cpu(catalogue: Catalogue, answer: str) -> float:
    atom = _atom(answer)
    best = float("inf")
    for _ in range(3):
        matcher_for(catalogue)._recent.clear()  # (a scan kept from the run before is no scan)
        gc.collect()
        start = time.process_time()
        recognize(atom, catalogue)
        acronyms_in(atom, catalogue)
        best = min(best, time.process_time() - start)
    return best


@pytest.mark.parametrize(
    ("make", "n"),
    [
        (one_paragraph, 2000),
        (one_clause, 2000),
        (after_a_list, 2000),
        (one_bracket, 4000),
        (guarded, 1000),
        (tables, 1000),
        (pipelines, 4000),
        (acronyms, 2000),
    ],
)
def test_recognition_grows_linearly(
    catalogue: Catalogue, make: Callable[[int], str], n: int
) -> None:
    """Each n case takes a few hundredths of a second."""
    assert recognize(_atom(make(n)), catalogue)[0], "the answer names concepts"
    small = _cpu(catalogue, make(n))
    large = _cpu(catalogue, make(4 * n))
    assert large < small * MAX_RATIO, f"{make.__name__}: {small:.4f}s, 4n {large:.4f}s"


# --------------------------------------------------------------------------- agreement

_PIECES = [
    *". 。 ， , 、 ； ; : ： ! ? ？ \n → -> => ⇒ ⟶ - > = ( ) （ ） [ ] $ \\( \\)".split(),
    *"如 比如 例如 譬如 诸如 ，如 （如 如何 e.g. 与 和 像 相比 接近 不如 相同 一样 标准 的 都 等 时 也".split(),
    *"k v a b 1 x gqa 注意力 \u3000 \t".split(" "),
    "such as", "for example", "such asuch as", "for example.g.", "，  如 ", ",如a", "](x)",
    " ", "  ", "   ",
]  # fmt: skip


def _texts(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(_PIECES) for _ in range(rng.randrange(1, 30))) for _ in range(count)]


def _reference_masked(text: str, spans: list[tuple[int, int]]) -> str:
    chars = list(text)
    for a, b in spans:
        for k in range(a + 1, b - 1):
            chars[k] = " "
    masked: str = layout._LETTERS.sub(" ", "".join(chars))
    return masked


def test_a_part_read_once_answers_as_the_searches_do() -> None:
    checked = 0
    before = "上一段（a、b）。\n"  # (a part's brackets are found in the text, the rest in the part)
    at = len(before)
    for text in _texts(1, 1500):
        whole = before + text
        body = layout._Body(whole, layout.Part(at, len(whole), "para", (), False))
        groups = layout._brackets(whole, at, len(whole))
        spans = [(x - at, y - at) for group in groups for x, y in group]
        masked = body.masked
        assert masked == _reference_masked(text, spans), text
        for s in range(len(text)):
            a, b = _clause(masked, s)
            assert body.clause(s) == (a, b), (text, s)
            for e in range(s + 1, min(len(text), s + 3) + 1):
                held = next(((x, y) for x, y in spans if x <= s and e <= y), None)
                got = body.bracket(s + at, e + at)
                assert (got and (got[0] - at, got[1] - at)) == held, (text, s, e)
                for lo, hi in ((a, b), (0, len(text)), (max(0, s - 3), min(len(text), e + 3))):
                    found = layout._EXAMPLE.search(masked, max(0, lo - 1), s) is not None
                    assert body.example(lo, s) == found, (text, lo, s)
                    for arrows, separator in ((True, layout._ARROW), (False, layout._ENUMERATION)):
                        want = _listed(separator, masked, lo, hi, s, e)
                        assert body.listed(arrows, lo, hi, s, e) == want, (text, lo, hi, s, e)
                    assert body.yardstick(lo, s, e) == layout._yardstick(masked, lo, s, e)
                    checked += 1
    assert checked > 50_000


def test_bounded_counts_of_visible_characters() -> None:
    rng = random.Random(2)
    pieces = ["a", " ", "  \n", "中", "\u3000", "\t\t\t", "xy", "\x85"]
    for _ in range(20_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(0, 60)))
        start, end = rng.randrange(len(text) + 1), rng.randrange(len(text) + 1)
        n = rng.choice([0, 1, 2, 3, 16, 24])
        visible = len(re.sub(r"\s", "", text[start:end]))
        assert layout._visible(text[start:end]) == visible
        assert layout._visible_at_most(text, n, start, end) == (visible <= n), (text, n, start, end)
        assert layout._visible_upto(text, n, start, end) == min(visible, n + 1)


@functools.cache
def _characters() -> tuple[str, ...]:
    """Every assigned character that is no space (what a line's first visible character can be;
    the patterns name no unassigned or private-use character)."""
    return tuple(
        ch
        for ch in map(chr, range(sys.maxunicode + 1))
        if unicodedata.category(ch) not in ("Cn", "Co", "Cs") and not ch.isspace()
    )


_TAILS = (" x", "1) x", ". x", "1步x", "、x", "果你", "f you", "望这", "迎")
"""What completes a match of each form of `_HEADING`, `_ITEM` and `_CLOSER` after its first
character."""


def _starts_nowhere_else(pattern: re.Pattern[str], allowed: Callable[[str], bool]) -> None:
    """No line whose first visible character is not `allowed` matches `pattern` (tried with what
    would complete a match of each of its forms after a first character it allows)."""
    text = "\n".join(ch for ch in _characters() if not allowed(ch))
    at_line_start = re.compile("(?m)^(?:" + pattern.pattern + ")")
    for after in _TAILS:
        hit = at_line_start.search(text.replace("\n", after + "\n") + after)
        assert hit is None, repr(hit.group())


def test_the_characters_tried_first_cover_every_pattern() -> None:
    _starts_nowhere_else(parts_module._HEADING, lambda ch: ch in parts_module._HEADING_FIRST)
    _starts_nowhere_else(parts_module._ITEM, lambda ch: ch in parts_module._ITEM_FIRST or ch.isdecimal())
    _starts_nowhere_else(parts_module._CLOSER, lambda ch: ch in parts_module._CLOSER_FIRST)
    # (and they are what they are for: each allowed character does start a match)
    for pattern, first in (
        (parts_module._HEADING, parts_module._HEADING_FIRST),
        (parts_module._ITEM, parts_module._ITEM_FIRST),
        (parts_module._CLOSER, parts_module._CLOSER_FIRST),
    ):
        for ch in first:
            assert any(pattern.match(ch + tail) for tail in _TAILS), (pattern.pattern, ch)


def test_the_acronym_pattern_finds_what_a_leading_lookbehind_finds() -> None:
    reference = re.compile(
        r"(?<![A-Za-z0-9_])[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*(?![A-Za-z0-9_])"
    )
    rng = random.Random(3)
    pieces = [*"aAbZz09_- \n.中é", "--", "a-", "-1", "LoRA", "KV-Cache"]
    for _ in range(50_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(0, 14)))
        assert [m.span() for m in _ACRONYM.finditer(text)] == [
            m.span() for m in reference.finditer(text)
        ], text
