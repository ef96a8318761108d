"""Which catalogue concepts an atom is about, and its main concept.

Takes an `Atom` and a `Catalogue`; gives concept ids, most relevant first. How it decides:

Matching. Question, answer and section headings are NFKC-normalised (full-width ＧＱＡ is GQA)
and lower-cased, then scanned by two regexes built once per catalogue from every alias, as
tries (`matcher.py`): one for aliases that start with a Latin letter or digit, one for the rest. Mentions
never overlap and the longest alias wins, so 分组查询注意力 is GQA and not also 注意力. Latin aliases match whole terms only: no letter, digit or `_` may touch either
end (MLA is not found in MLAX, PPO not in PPO2). A space, `-` or `_` inside an alias matches
any of them or nothing (KV-Cache, kv cache, KVCache), and so does the seam between Latin and
Chinese (kv缓存, KV 缓存). Chinese aliases match as substrings.

Guarded aliases. A Latin alias of one or two letters/digits (DP, TP, PP, RM, RL, KL, BN, LN,
PI) counts only with support. Support is another mention of: the same concept under a longer
alias, any concept of the same domain (DP, TP and PP support each other), a concept that is a
direct prerequisite or dependant of it, or a context word of its domain (catalogue `domains`,
e.g. 并行, 显存 for distributed). A mention in the question or a section heading is supported
by such a mention anywhere in the atom; a mention in the answer by one in the question, the
headings, or within 40 characters of it in the answer. So `dp[i]` in a 动态规划 answer is not
data parallelism.

Selection. The focus is every concept named in the question, in order of first mention. A
section or page title does not put its concepts on a question that names its own subject
(`Agent八股` does not make `Embedding 有哪些方法？` about agents). Only a question with no subject
of its own — short, no Latin term: `原理是什么？`, `优缺点？` — takes the concepts of the innermost
heading that names any, and never from the outermost title of a nested section path (the
page's title).

The answer adds the concepts it is about, not those it mentions in passing. Mentions are
counted per place: a bilingual name written twice (`稀疏注意力(Sparse Attention)`) or a name with
its gloss (`Encoder-only(如 BERT)`) is one mention — hits of the same concept at most 6
characters apart with no clause punctuation between them. A concept's evidence is its number
of mentions, plus one when it is a direct prerequisite or dependant of a focus concept that is
not a domain root (a root such as RAG or Agent is the setting of its many dependants: `RAG 是什么`
naming the pipeline's steps once each is not about each step). The evidence needed grows with
the answer: in a short answer (at most 160 visible characters, a list of keywords or a line or
two) every concept it names counts; otherwise 2, and 3 in a long answer (more than 600 visible
characters, where a name that recurs twice is usually used rather than explained). When the
focus is empty and the answer names at most three distinct concepts, all of them count.
Added concepts are ranked by evidence (more first), then by first position, and cut so that at
most six concepts are returned (focus concepts are always kept). An answer that names thirty
concepts once each in passing therefore adds only those linked to the question's concepts.

Main concept. The first focus concept that is not a domain root; if every focus concept is a
domain root, the first focus concept; with no focus, None. A domain root is a concept none of
whose prerequisites is in its own domain: the entry points Attention, Transformer, RAG, Agent,
PEFT, DP, ... — usually the setting of a question, not its subject ("RAG 中 Rerank 怎么做" is
about Rerank). We deliberately do not pick the deepest concept: in "MHA、MQA、GQA、MLA 的区别"
the first-named MHA is the main concept, not MLA. The returned tuple starts with the main
concept, then the other focus concepts in mention order, then the added answer concepts.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence

from bagu2anki.concepts.catalogue import Catalogue, alias_key
from bagu2anki.concepts.matcher import BEYOND_BMP, Hit, Matcher, matcher_for
from bagu2anki.model import Atom

_CLAUSE = re.compile(r"[。，、；：！？,;:!?\n]")
_SPACE = re.compile(r"\s+")

MAX_CONCEPTS = 6
"""At most this many concepts per atom, unless the question itself names more."""
NEED = 2
"""Evidence an answer-only concept needs (mentions, plus one for a link to the question's concepts)."""
NEED_LONG = 3
"""... in a long answer (more than `LONG_ANSWER` visible characters)."""
LONG_ANSWER = 600
SHORT_ANSWER = 160
"""An answer of at most this many visible characters is all content: every concept it names counts."""
FEW = 3
"""With nothing named in question or heading, an answer naming this few concepts keeps all."""
NEAR = 40
"""How close (in characters) support must be to a guarded mention in the answer."""
SAME_PLACE = 6
"""Hits of one concept at most this many characters apart, no clause punctuation between, are
one mention (`稀疏注意力(Sparse Attention)`)."""

_ACRONYM = re.compile(r"(?<![A-Za-z0-9_])[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*(?![A-Za-z0-9_])")
_NOT_CONCEPTS = frozenset(
    "AI ML DL NLP CV LLM LLMS GPU GPUS CPU TPU NPU API SDK JSON XML YAML HTML CSS HTTP HTTPS URL "
    "SQL PDF ID IO OS OK QA FAQ TODO NOTE CUDA OOM PS KV QK QKT KB MB GB TB".split()
)


def _ordered(hits: Iterable[Hit]) -> list[str]:
    seen: dict[str, None] = {}
    for hit in hits:
        if hit.term.concept is not None:
            seen.setdefault(hit.term.concept, None)
    return list(seen)


def recognize(atom: Atom, catalogue: Catalogue) -> tuple[tuple[str, ...], str | None]:
    """The concepts `atom` is about (main concept first) and its main concept, or None."""
    m = matcher_for(catalogue)
    question = m.scan(atom.question)
    answer = m.scan(atom.answer)
    # Headings repeat across atoms and are only needed for guarded aliases or a question with no
    # subject of its own, so they are scanned only then.
    guarded = any(h.term.guarded for h in question) or any(h.term.guarded for h in answer)
    elliptical = not any(h.term.concept for h in question) and _elliptical(atom.question)
    headings = [m.scan(h) for h in atom.section] if guarded or elliptical else []
    heading_hits = [h for hs in headings for h in hs]
    everywhere = [*question, *answer, *heading_hits]
    outside_answer = [*question, *heading_hits]

    def counts_anywhere(hit: Hit) -> bool:
        return hit.term.concept is not None and (
            not hit.term.guarded or m.supported(hit, everywhere)
        )

    def counts_in_answer(hit: Hit) -> bool:
        if hit.term.concept is None:
            return False
        if not hit.term.guarded or m.supported(hit, outside_answer):
            return True
        near = (h for h in answer if h.end >= hit.start - NEAR and h.start <= hit.end + NEAR)
        return m.supported(hit, near)

    focus = _ordered(h for h in question if counts_anywhere(h))
    if not focus and elliptical:
        own = headings[1:] if len(headings) > 1 else headings  # not the page's title
        for hs in reversed(own):
            focus = _ordered(h for h in hs if counts_anywhere(h))
            if focus:
                break

    accepted = [h for h in answer if counts_in_answer(h)]
    mentions = _mentions(accepted, m, atom.answer)
    in_answer = [c for c in _ordered(accepted) if c not in focus]
    linked = {n for c in focus if c not in m.domain_roots for n in m.neighbours[c]}

    def evidence(c: str) -> int:
        return mentions[c] + (1 if c in linked else 0)

    visible = len(_SPACE.sub("", atom.answer))
    if visible <= SHORT_ANSWER or (not focus and len(mentions) <= FEW):
        added = in_answer
    else:
        need = NEED_LONG if visible > LONG_ANSWER else NEED
        added = [c for c in in_answer if evidence(c) >= need]
    # `in_answer` is in first-mention order, so a stable sort by evidence keeps that as tie-break.
    added.sort(key=lambda c: -evidence(c))
    added = added[: max(0, MAX_CONCEPTS - len(focus))]

    main = next((c for c in focus if c not in m.domain_roots), focus[0] if focus else None)
    rest = [c for c in focus if c != main]
    concepts = ([main] if main is not None else []) + rest + added
    return tuple(concepts), main


def _mentions(hits: Sequence[Hit], m: Matcher, text: str) -> Counter[str]:
    """Mentions per concept, counting hits of one concept in one place once (`SAME_PLACE`)."""
    mentions: Counter[str] = Counter()
    last_end: dict[str, int] = {}
    folded: str | None = None
    for hit in hits:
        concept = hit.term.concept
        assert concept is not None
        end = last_end.get(concept)
        last_end[concept] = hit.end
        if end is not None and hit.start - end <= SAME_PLACE:
            if folded is None:
                folded = m.fold(text)  # hit positions are positions in the folded text
            if not _CLAUSE.search(folded, end, hit.start):
                continue
        mentions[concept] += 1
    return mentions


_SUBJECTLESS = re.compile(r"[\s\W_]+")
ELLIPTICAL_MAX = 8
"""A question of at most this many characters (punctuation aside) and no Latin letter has no
subject of its own (`原理是什么？`): its heading names what it asks about."""


def _elliptical(question: str) -> bool:
    core = _SUBJECTLESS.sub("", question)
    return len(core) <= ELLIPTICAL_MAX and not re.search(r"[A-Za-z]", core)


def _new_term_memo(_catalogue: Catalogue) -> dict[str, bool]:
    return {}


def acronyms_in(atom: Atom, catalogue: Catalogue) -> tuple[tuple[str, str], ...]:
    """The (key, spelling) of each candidate acronym in one atom (see `candidate_acronyms`)."""
    matcher = matcher_for(catalogue)
    known: dict[str, bool] = catalogue.memo("recognize._known_terms", _new_term_memo)
    found: dict[str, str] = {}
    for text in (atom.question, atom.answer):
        if not text.isascii() and (matcher.unsafe.search(text) or BEYOND_BMP.search(text)):
            text = unicodedata.normalize("NFKC", text)
        candidates: list[tuple[int, int, str, str]] = []
        for m in _ACRONYM.finditer(text):
            term = m.group()
            if not 2 <= len(term) <= 8 or term[1:].islower():
                continue  # (a word with at most one capital is no acronym)
            letters = [ch for ch in term if ch.isalpha()]
            upper = sum(ch.isupper() for ch in letters)
            if upper < 2 or 2 * upper < len(letters):
                continue
            key = alias_key(term)
            if key in found or key.upper() in _NOT_CONCEPTS:
                continue
            resolved = known.get(term)
            if resolved is None:
                resolved = known[term] = catalogue.resolve(term) is not None
            if not resolved:
                candidates.append((m.start(), m.end(), key, term))
        if not candidates:
            continue
        # Positions of alias mentions line up with `text` unless lower-casing changed its
        # length (a handful of exotic letters); then only whole aliases are excluded.
        same_length = len(text.lower()) == len(text)
        mentions = sorted(
            (h.start, h.end)
            for h in (matcher.scan(text) if same_length else [])
            if h.term.concept is not None
        )
        starts = [s for s, _ in mentions]
        for start, end, key, term in candidates:
            # mentions do not overlap each other: only the last one starting before `end` can
            # overlap this term
            k = bisect.bisect_left(starts, end) - 1
            if k < 0 or mentions[k][1] <= start:
                found.setdefault(key, term)
    return tuple(found.items())


def candidate_acronyms(
    atoms: Sequence[Atom],
    catalogue: Catalogue,
    per_atom: Sequence[tuple[tuple[str, str], ...]] | None = None,
) -> list[tuple[str, int, str]]:
    """Upper-case-heavy Latin terms (2-8 chars, e.g. DCA, EQR) that recur in at least two atoms
    and are not (part of) an alias mention: candidates to add to the catalogue.

    Gives (term, number of atoms, first `path:line`), most frequent first, then by term.
    Everyday acronyms and matrix names (GPU, API, JSON, KV, QK, ...) are skipped.
    `per_atom` may carry `acronyms_in()` of each atom, computed earlier (and cached).
    """
    count: Counter[str] = Counter()
    spelling: dict[str, str] = {}
    first: dict[str, str] = {}
    for k, atom in enumerate(atoms):
        terms = per_atom[k] if per_atom is not None else acronyms_in(atom, catalogue)
        for key, term in terms:
            spelling.setdefault(key, term)
            first.setdefault(key, f"{atom.source}:{atom.line}")
        count.update(key for key, _ in terms)
    ranked = sorted((k for k, n in count.items() if n >= 2), key=lambda k: (-count[k], spelling[k]))
    return [(spelling[k], count[k], first[k]) for k in ranked]
