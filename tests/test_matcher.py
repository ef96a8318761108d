"""The concept scan: the Aho-Corasick automata find exactly what the reference regexes find.

`Matcher._scan` (automata) and `Matcher._scan_regex` (the trie regexes, the rules as they were
first written) must give the same hits — start, end, term — for every text: the notes, the
seed, every file of ../shared/corpora, a generated corpus, and strings made to hit the corners
of the rules (separator runs, seams, word boundaries, NFKC, overlaps, characters beyond the BMP).
"""

from __future__ import annotations

import functools
import itertools
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import NOTES, ROOT, SEED, SHARED
from hypothesis import given, settings
from hypothesis import strategies as st

from bagu2anki import sources
from bagu2anki.concepts import load_catalogue
from bagu2anki.concepts.catalogue import Catalogue, Concept, normalize
from bagu2anki.concepts.matcher import (
    _COMMON_SEPARATORS,
    _ONE_SEPARATOR,
    MAX_SEAMS,
    Hit,
    Matcher,
    _rare_separators,
    _tokens,
    matcher_for,
)
from bagu2anki.diagnostics import Diagnostics
from bagu2anki.parse import NO_RULES, read
from bagu2anki.split import split_document

CORPORA = SHARED / "corpora"
SEPARATORS = [" ", "-", "_", "\n", "\t", "\r\n", "–", "—", "\u3000", "\xa0", "\u2009", "\x0b",
              "\x85", "\u2028", "\x1f"]  # fmt: skip


@functools.cache
def shipped_catalogue() -> Catalogue:
    return load_catalogue(None, Diagnostics())


@pytest.fixture(scope="module")
def shipped() -> Matcher:
    m = matcher_for(shipped_catalogue())
    assert m._automata is not None, "the shipped catalogue is scanned with the automata"
    return m


def _spellings(cat: Catalogue) -> list[str]:
    words = [normalize(a) for c in cat for a in c.aliases]
    words += [normalize(w) for _, ws in cat.domains for w in ws]
    return words + [normalize(p) for p in cat.ignore]


def _show(hits: list[Hit]) -> list[tuple[int, int, str | None]]:
    return [(h.start, h.end, h.term.concept) for h in hits]


def compare(m: Matcher, texts: Iterable[str]) -> tuple[int, int]:
    """Both scans of every text agree; gives (texts, hits) compared."""
    count = hits = 0
    for text in texts:
        got, want = m._scan(text), m._scan_regex(text)
        if got != want:
            pytest.fail(
                f"scans differ on {text[:300]!r}:\n  automata {_show(got)}\n  regex    {_show(want)}"
            )
        count += 1
        hits += len(want)
    return count, hits


def texts_of(paths: list[Path]) -> Iterator[str]:
    """What recognition scans (each question, answer and section heading) of every note file
    under `paths`, and each file's whole text and paragraphs."""
    diags = Diagnostics()
    for found in sources.discover(paths, diags):
        src = sources.load(found, diags)
        if src is None:
            continue
        yield src.text
        yield from src.text.split("\n\n")
        for atom in split_document(read(src, diags, NO_RULES), src.text).atoms:
            yield atom.question
            yield atom.answer
            yield from atom.section


# --------------------------------------------------------------------------- corpora


def test_same_hits_on_the_starter_notes(shipped: Matcher) -> None:
    count, hits = compare(shipped, texts_of([NOTES]))
    assert count > 300 and hits > 1000


def test_same_hits_on_the_seed(shipped: Matcher) -> None:
    if not SEED.is_file():
        pytest.skip(f"seed notes not available at {SEED} (../shared is absent in this checkout)")
    count, hits = compare(shipped, texts_of([SEED]))
    assert count > 100 and hits > 500


def test_same_hits_on_every_file_of_the_shared_corpora(shipped: Matcher) -> None:
    if not CORPORA.is_dir():
        pytest.skip(f"corpora not available at {CORPORA} (../shared is absent in this checkout)")
    files = sorted(p for p in CORPORA.rglob("*") if p.is_file())
    raw: list[str] = []
    for path in files:
        try:
            raw.append(path.read_bytes().decode("utf-8"))
        except UnicodeDecodeError:
            continue  # (images)
    assert len(raw) > 100
    paragraphs = (part for text in raw for part in text.split("\n\n"))
    count, hits = compare(shipped, itertools.chain(raw, paragraphs, texts_of([CORPORA])))
    assert count > 5000 and hits > 10000


def test_same_hits_on_a_generated_corpus(shipped: Matcher, tmp_path: Path) -> None:
    """2,000 generated questions, with the shipped catalogue and with the generator's
    catalogue of 2,000 more concepts (a user catalogue of some size)."""
    out = tmp_path / "notes"
    generate = [sys.executable, str(ROOT / "benchmarks" / "generate.py"), "--atoms", "2000"]
    subprocess.run(
        [*generate, "--concepts", "2000", "--out", str(out)], check=True, capture_output=True
    )
    texts = list(texts_of([out]))
    count, hits = compare(shipped, texts)
    assert count > 8000 and hits > 20000
    user = Matcher(load_catalogue(out / "concepts.yaml", Diagnostics()))
    assert user._automata is not None
    count, hits = compare(user, texts)
    assert count > 8000 and hits > 100000


# --------------------------------------------------------------------------- made-up strings


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in text)


def _render(spelling: str, rng: random.Random) -> str:
    """The spelling with a random separator run (0-3 characters) at each seam."""
    out: list[str] = []
    for tok in _tokens(spelling):
        if tok == " ":
            out.append(
                "".join(rng.choice(SEPARATORS) for _ in range(rng.choice([0, 1, 1, 2, 2, 3])))
            )
        else:
            out.append(tok)
    text = "".join(out)
    shape = rng.random()
    if shape < 0.15:
        return _fullwidth(text)
    if shape < 0.3:
        return text.upper()
    return text


CONTEXT = ["", "", "x", "a1", "_", "9", "中", "的", " ", "  ", "😀", "𝐀", "ａ", "-", "。", "(", "\n",
           "_\n", "é", "ß", "İ", "\ud800"]  # fmt: skip


def test_same_hits_on_every_spelling_in_made_up_surroundings(shipped: Matcher) -> None:
    """Every alias, context word and ignored phrase, with separator runs of 0-3 characters of
    every kind at its seams, full-width or upper case, at the start or end of a text or touching
    letters, digits, `_`, Chinese, emoji and characters beyond the BMP; also run together."""
    rng = random.Random(17)
    spellings = _spellings(shipped_catalogue())
    texts: list[str] = []
    for spelling in spellings:
        for _ in range(6):
            texts.append(rng.choice(CONTEXT) + _render(spelling, rng) + rng.choice(CONTEXT))
    for _ in range(3000):  # several spellings in a row, some sharing characters (overlaps)
        parts = [_render(rng.choice(spellings), rng) for _ in range(rng.randint(2, 5))]
        glue = [rng.choice(CONTEXT + [""] * 6) for _ in parts]
        text = "".join(g + p for g, p in zip(glue, parts, strict=True))
        if rng.random() < 0.3:
            cut = rng.randint(1, 3)
            text = parts[0] + parts[1][cut:] if len(parts[1]) > cut else text
        texts.append(text)
    # An alias's end shared with the start of another (ab|bc) in both orders.
    for a, b in itertools.islice(_overlapping_pairs(spellings), 3000):
        texts.append(a + b[_shared(a, b) :])
    count, hits = compare(shipped, texts)
    assert count > 12000 and hits > 10000


def _shared(a: str, b: str) -> int:
    return max((k for k in range(1, min(len(a), len(b))) if a.endswith(b[:k])), default=0)


def _overlapping_pairs(spellings: list[str]) -> Iterator[tuple[str, str]]:
    by_start: dict[str, list[str]] = {}
    for s in spellings:
        by_start.setdefault(s[:1], []).append(s)
    for a in spellings:
        for k in range(1, min(len(a), 4)):
            for b in by_start.get(a[-k], []):
                if b != a and a.endswith(b[:k]):
                    yield a, b


_ALPHABET = st.sampled_from(
    sorted({ch for s in _spellings(shipped_catalogue()) for ch in s} - {" "})
    + SEPARATORS
    + ["x", "z", "_", "0", "😀", "ａ", "Ｋ", "中", "的"]
)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.one_of(_ALPHABET, st.sampled_from(_spellings(shipped_catalogue()))), max_size=30)
)
def test_same_hits_on_random_text(pieces: list[str]) -> None:
    compare(matcher_for(shipped_catalogue()), ["".join(pieces), "".join(pieces).upper()])


def _catalogue(*aliases: tuple[str, ...]) -> Catalogue:
    concepts = tuple(
        Concept(f"C{i}", names[0], names, "", "d", (), "shipped") for i, names in enumerate(aliases)
    )
    return Catalogue(concepts, domains=(("d", ("上下文",)),), ignore=("上下文窗口",))


def test_the_regex_takes_its_first_branch_not_the_longest() -> None:
    """A seam is tried before a character, so where `大 模` and `大模型` both match at one
    position the regex takes `大模` (a backtracking engine's first match): so do the automata."""
    m = Matcher(_catalogue(("大 模",), ("大模型",)))
    assert m._automata is not None
    assert _show(m._scan("大模型")) == _show(m._scan_regex("大模型")) == [(0, 2, "C0")]
    assert _show(m._scan("大 模型")) == [(0, 3, "C0")]


def test_a_match_of_one_regex_hides_later_matches_of_the_same_regex_only() -> None:
    """`ab中文` (Latin regex) hides `中文字` (the other regex), which still takes 字 from `字母`."""
    m = Matcher(_catalogue(("ab中文",), ("中文字",), ("字母",), ("cd",)))
    text = "ab中文字母 中文字母cd"
    assert (
        _show(m._scan(text))
        == _show(m._scan_regex(text))
        == [(0, 4, "C0"), (7, 10, "C1"), (11, 13, "C3")]
    )


@pytest.mark.parametrize(
    "text",
    ["kv cache", "kvcache", "kv-cache", "kv_cache", "kv  cache", "kv -cache", "kv   cache", "kv---cache",
     "kv\u3000cache", "kv\x85cache", "kv\u2028\u2029cache", "kv\x0b\x0b\x0bcache", "kv😀cache",
     "_kv cache", "kv cache_", "xkv cache", "kv cachex", "kv cache1", "1kv cache", "(kv cache)",
     "ＫＶ－Ｃａｃｈｅ", "KV Cache", "中kv cache中", "kv cache\ud800", "\ud800kv cache", "kv缓存", "kv 缓存",
     "kv  缓存", "kv   缓存", "kv_缓存", "kv cachekv cache", "kv cache kv cache", "dp", "dp[i]",
     "dp_tp", "dp-tp", "mla mlax mla", "mla2", "ppo2 ppo", "flash attention v2", "flashattention2",
     "多头注意力机制", "分组查询注意力", "注意力", "😀" * 3 + "gqa" + "😀", "𝐆𝐐𝐀", "gqa\u0301"]
)  # fmt: skip
def test_same_hits_at_the_corners(shipped: Matcher, text: str) -> None:
    compare(shipped, [text, f"在{text}里", f" {text} ", text * 3])


def test_a_catalogue_the_automata_cannot_spell_is_scanned_with_the_regexes() -> None:
    many_seams = "a b c d e f g h"[: 2 * (MAX_SEAMS + 1) + 1]
    assert _tokens(many_seams).count(" ") == MAX_SEAMS + 1
    for aliases in ((many_seams,), ("kv\x85cache",), ("ok", "x\ud800y")):
        m = Matcher(_catalogue(aliases))
        assert m._automata is None
        text = "kv\x85cache a b c d e f g h ok x\ud800y"
        assert m._scan(text) == m._scan_regex(text)
        assert m._scan(text)
    # At the limit the automata still do.
    m = Matcher(_catalogue((many_seams[:-2],), ("c++",), (".net",), ("c#",)))
    assert m._automata is not None
    compare(m, ["a b c d e f g", "a-b-c-d-e-fg", "c++ c# .net", "x.net c++x", ".net"])


def test_the_rare_separators_are_every_other_separator() -> None:
    """`_ONE_SEPARATOR` (regex `\\s`, hyphens, dashes, `_`) over the whole code space is the
    space, the common separators and `_rare_separators()`."""
    everything = "".join(map(chr, range(0x110000)))
    assert set(_ONE_SEPARATOR.findall(everything)) == {
        " ",
        *_COMMON_SEPARATORS,
        *_rare_separators(),
    }
    assert all(ch <= "\uffff" for ch in _rare_separators())


# --------------------------------------------------------------------------- linear time


def _cpu(scan: Callable[[str], list[Hit]], text: str) -> float:
    best = float("inf")
    for _ in range(5):
        start = time.process_time()
        scan(text)
        best = min(best, time.process_time() - start)
    return best


@pytest.mark.parametrize("kind", ["notes", "boundaries"])
def test_scan_time_grows_linearly(shipped: Matcher, kind: str) -> None:
    """Ten times the text takes about ten times as long (well under 25×). `boundaries` is a text
    where Latin aliases keep touching letters, so every scan takes the exact (overlapping) path."""
    if kind == "notes":
        base = "\n\n".join(p.read_text(encoding="utf-8") for p in sorted(NOTES.rglob("*.md")))[
            :20000
        ]
    else:
        base = "".join(f"url{i} dp_tp kv_cachex xmla ppo2 大模型lora微调 " for i in range(400))
    assert shipped._scan(base)
    small = _cpu(shipped._scan, base)
    large = _cpu(shipped._scan, base * 10)
    assert large < 25 * small, f"{small:.4f}s for {len(base)} characters, {large:.4f}s for 10×"


def test_the_exact_path_is_taken_where_boundaries_fail(shipped: Matcher) -> None:
    automata = shipped._automata
    assert automata is not None
    calls: list[bool] = []
    real = automata._exact

    def spy(*args: Any) -> list[tuple[int, int]]:
        calls.append(True)
        return real(*args)

    automata._exact = spy  # type: ignore[method-assign]
    try:
        compare(shipped, ["url 与 rl", "mla 与 mlax"])
        assert calls
        calls.clear()
        compare(shipped, ["mla 与 gqa"])
        assert not calls
    finally:
        del automata._exact


def test_hits_are_offsets_in_the_folded_text(shipped: Matcher) -> None:
    text = "😀Ｇ𝐐Ａ与 KV\u3000Cache"
    folded = shipped.fold(text)
    assert [folded[h.start : h.end] for h in shipped._scan(text)] == ["gqa", "kv cache"]
