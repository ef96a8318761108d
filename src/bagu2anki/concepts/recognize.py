"""Which catalogue concepts an atom is about, and its main concept.

Takes an `Atom` and a `Catalogue`; gives concept ids, most relevant first. How it decides:

Matching. Question, answer and section headings are NFKC-normalised (full-width ＧＱＡ is GQA)
and lower-cased, then scanned for every alias (`matcher.py`: Aho-Corasick automata that find
exactly what two trie-shaped regexes built from the aliases would, one for aliases that start with
a Latin letter or digit, one for the rest). Mentions never overlap and the longest alias wins, so
分组查询注意力 is GQA and not also 注意力. Latin aliases match whole terms only: no letter, digit or `_` may touch either end (MLA
is not found in MLAX, PPO not in PPO2). A space, `-` or `_` inside an alias matches any of them
or nothing (KV-Cache, kv cache, KVCache), and so does the seam between Latin and Chinese
(kv缓存, KV 缓存). Chinese aliases match as substrings.

Guarded aliases. A Latin alias of one or two letters/digits (DP, TP, PP, RM, RL, KL, BN, LN,
PI) counts only with support. Support is another mention of: the same concept under a longer
alias, any concept of the same domain (DP, TP and PP support each other), a concept that is a
direct prerequisite or dependant of it, or a context word of its domain (catalogue `domains`,
e.g. 并行, 显存 for distributed). A mention in the question or a section heading is supported
by such a mention anywhere in the atom; a mention in the answer by one in the question, the
headings, or within 40 characters of it in the answer. So `dp[i]` in a 动态规划 answer is not
data parallelism.

Focus. Every concept named in the question, in order of first mention, any spelling. Section
and page titles add nothing to a question that names a concept (`Agent八股` does not make
`Embedding 有哪些方法？` about agents). A question that names none (`原理是什么？`, `为什么要除以
√d_k？`) takes the concepts of the innermost heading that names any, never those of the
outermost heading of its section path (the page's title).

The answer adds the concepts it is about, read from its layout rather than by counting names
(`parts.py` splits it into parts, `layout.py` gives every mention a role; their docstrings have
the details):

- Parts: paragraphs (in a flat text export, lines), list items, table rows, headings.
- A LEAD mention opens a part: a heading; the first cell of a table row (not in a table that
  compares concepts named in its header); the label of a top-level item or a paragraph
  (`**Pre-Norm**：`, `zero2: 切分梯度`, a keyword line such as `混合专家moe`), but not of
  sub-items; the first words of the answer's opening sentence — all of it when the question
  names no concept or only entry points (roots without prerequisites: RAG, Agent, Attention),
  whose answers say in their opening what they are about; a summary's first sentence; a term
  defined by a gloss (`犯错后的状态（exposure bias）`); the members of an announced division
  (`分两类：绝对位置编码和相对位置编码`).
- An ASIDE is passing: link lines and pointers, chat closers, code and math, examples, names in
  brackets (other than a gloss), items of an enumeration or a pipeline (`切块 → embedding → 向量库`),
  yardsticks (`与标准 DP 相同`).
- Other mentions are PLAIN.

A concept named only in the answer is added when it leads a part, or when it is explained: its
plain or lead mentions fall in two or more parts, or make at least three mentions in two or
more sentences of one part (a paragraph about it). Mentions are counted per place: a bilingual
name written twice (`稀疏注意力(Sparse Attention)`) is one mention (hits of one concept at most
6 characters apart, no clause punctuation between). Setting concepts need both: a concept is
the setting of a question when it is a foundation (a concept that at least an eighth of the
catalogue builds on: Attention, Transformer, pretraining, …) or the family name of a question
concept (its direct prerequisite that is the root of the same domain with at least four
concepts of that domain built on it directly: PEFT on a LoRA card, RAG on a rerank card). An
answer that keeps using Attention while explaining KV cache is not about attention; one with a
section `标准注意力的瓶颈` that explains it is. In a short answer (at most 160 visible characters
outside link lines, code and math: a few keywords or lines) every concept named outside
examples, links and closers counts.

Added concepts are ranked: setting concepts last, concepts that lead a part first, then by the
number of parts, mentions and hits, then by first position; they are cut so that at most eight
concepts are returned (focus concepts are always kept).

Main concept. The first focus concept that is not a domain root; if every focus concept is a
domain root, the first focus concept; with no focus, None. A domain root is a concept none of
whose prerequisites is in its own domain: the entry points Attention, Transformer, RAG, Agent,
PEFT, ... — usually the setting of a question, not its subject ("RAG 中 Rerank 怎么做" is about
Rerank). We deliberately do not pick the deepest concept: in "MHA、MQA、GQA、MLA 的区别" the
first-named MHA is the main concept, not MLA. The returned tuple starts with the main concept,
then the other focus concepts in mention order, then the added answer concepts.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Iterable, Sequence

from bagu2anki.concepts.catalogue import Catalogue, alias_key
from bagu2anki.concepts.layout import ASIDE, LEAD, roles
from bagu2anki.concepts.matcher import Hit, matcher_for
from bagu2anki.concepts.parts import content_length, parts
from bagu2anki.model import Atom

_CLAUSE = re.compile(r"[。，、；：！？,;:!?\n]")
_SENTENCE_END = re.compile(r"[。！？!?\n]|\.(?=\s|$)")

MAX_CONCEPTS = 8
"""At most this many concepts per atom, unless the question itself names more."""
MANY = 3
"""Mentions (in two or more sentences) that make a concept named in one part of the answer only
the subject of that part."""
SHORT_ANSWER = 160
"""An answer of at most this many visible characters is all content (see the module docstring)."""
NEAR = 40
"""How close (in characters) support must be to a guarded mention in the answer."""
SAME_PLACE = 6
"""Hits of one concept at most this many characters apart, no clause punctuation between, are
one mention (`稀疏注意力(Sparse Attention)`)."""

_ACRONYM = re.compile(r"[A-Za-z](?<![A-Za-z0-9_].)[A-Za-z0-9]*(?:-[A-Za-z0-9]+)*(?![A-Za-z0-9_])")
"""A Latin term: letters and digits (with inner hyphens), no letter, digit or `_` either side.
(The check before it sits after its first letter, so the engine skips to the next letter.)"""
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
    question = m.scan(atom.question.split("\n", 1)[0])  # not a choice question's options: distractors
    read = m.read(atom.answer)
    answer = read.hits
    # Headings repeat across atoms and are only needed for guarded aliases or a question with no
    # subject of its own, so they are scanned only then.
    guarded = any(h.term.guarded for h in question) or any(h.term.guarded for h in answer)
    subjectless = not any(h.term.concept for h in question)
    headings = [m.scan(h) for h in atom.section] if guarded or subjectless else []
    heading_hits = [h for hs in headings for h in hs]
    everywhere = [*question, *answer, *heading_hits]
    outside_answer = [*question, *heading_hits]

    def counts_anywhere(hit: Hit) -> bool:
        return hit.term.concept is not None and (
            not hit.term.guarded or m.supported(hit, everywhere)
        )

    answer_ends: list[int] = []

    def counts_in_answer(hit: Hit) -> bool:
        if hit.term.concept is None:
            return False
        if not hit.term.guarded or m.supported(hit, outside_answer):
            return True
        # The answer's hits are in order and do not overlap: those near `hit` are a run of them.
        if not answer_ends:
            answer_ends.extend(h.end for h in answer)
        k = bisect.bisect_left(answer_ends, hit.start - NEAR)
        near: list[Hit] = []
        while k < len(answer) and answer[k].start <= hit.end + NEAR:
            near.append(answer[k])
            k += 1
        return m.supported(hit, near)

    focus = _ordered(h for h in question if counts_anywhere(h))
    if not focus and subjectless:
        for hs in reversed(headings[1:]):  # never the outermost: the page's title
            focus = _ordered(h for h in hs if counts_anywhere(h))
            if focus:
                break

    accepted = [
        h
        for h in answer
        if h.term.concept is not None and (not h.term.guarded or counts_in_answer(h))
    ]
    if all(h.term.concept in focus for h in accepted):
        accepted = []  # it names only the question's concepts: nothing to add, no need to read it
    folded = read.folded if accepted else ""
    entry_points = all(c in m.domain_roots and not m.parents[c] for c in focus)
    layout = parts(folded, atom.fmt == "markdown", whole_opening=entry_points)
    short = content_length(folded, layout, cap=SHORT_ANSWER) <= SHORT_ANSWER
    placed = roles(
        folded, layout, [(h.start, h.end, h.term.concept or "") for h in accepted], short
    )
    # One pass over the mentions that count (not asides), in order: each concept's parts (in
    # first-mention order), hits, mentions (hits of one concept in one place count once,
    # `SAME_PLACE`), where its hits start, and whether it leads a part.
    leads: set[str] = set()
    places: dict[str, set[int]] = {}
    starts: dict[str, list[int]] = {}
    hits: Counter[str] = Counter()
    mentions: Counter[str] = Counter()
    last_end: dict[str, int] = {}
    for h, (role, part) in zip(accepted, placed, strict=True):
        if role == ASIDE:
            continue
        c = h.term.concept
        assert c is not None
        if role == LEAD:
            leads.add(c)
        places.setdefault(c, set()).add(part)
        starts.setdefault(c, []).append(h.start)
        hits[c] += 1
        end = last_end.get(c)
        last_end[c] = h.end
        if (
            end is None
            or h.start - end > SAME_PLACE
            or _CLAUSE.search(folded, end, h.start) is not None
        ):
            mentions[c] += 1
    ends: list[int] = []

    def sentences(c: str) -> int:
        """In how many sentences of the answer `c` is counted (sentence ends found when first
        asked: most answers never ask)."""
        if not ends:
            ends.extend(e.start() for e in _SENTENCE_END.finditer(folded))
            ends.append(len(folded) + 1)  # (never empty once found)
        return len({bisect.bisect_left(ends, start) for start in starts[c]})

    in_answer = [c for c in places if c not in focus]
    setting = set(m.foundations) if focus else set()
    setting.update(
        p for c in focus for p in m.parents[c] if p in m.families and m.domain[p] == m.domain[c]
    )

    def explained(c: str) -> bool:
        return len(places[c]) >= 2 or (mentions[c] >= MANY and sentences(c) >= 2)

    if short:
        added = in_answer
    else:
        added = [
            c
            for c in in_answer
            if (c in leads or explained(c)) and (c not in setting or (c in leads and explained(c)))
        ]
    # `in_answer` is in first-mention order, so a stable sort keeps that as the last tie-break.
    added.sort(
        key=lambda c: (c in setting, c not in leads, -len(places[c]), -mentions[c], -hits[c])
    )
    added = added[: max(0, MAX_CONCEPTS - len(focus))]

    main = next((c for c in focus if c not in m.domain_roots), focus[0] if focus else None)
    rest = [c for c in focus if c != main]
    concepts = ([main] if main is not None else []) + rest + added
    return tuple(concepts), main


class _Acronyms:
    """What `acronyms_in` decides about a term from the term alone (its shape, whether the
    catalogue knows it), decided once per term: notes repeat the same words over and over."""

    LIMIT = 1 << 17
    """Terms judged before the record starts over (a bound on memory in a long session)."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self.judged: set[str] = set()
        self.keys: dict[str, str] = {}
        """The key of each judged term that is a candidate."""

    def judge(self, terms: set[str]) -> None:
        """Judge the terms not judged yet."""
        new = terms - self.judged
        if not new:
            return
        if len(self.judged) > self.LIMIT:
            self.judged.clear()
            self.keys.clear()
            new = terms
        self.judged.update(new)
        for term in new:
            if not 2 <= len(term) <= 8 or term[1:].islower():
                continue  # (a word with at most one capital is no acronym)
            letters = [ch for ch in term if ch.isalpha()]
            upper = sum(ch.isupper() for ch in letters)
            if upper < 2 or 2 * upper < len(letters):
                continue
            key = alias_key(term)
            if key.upper() in _NOT_CONCEPTS or self.catalogue.resolve(term) is not None:
                continue
            self.keys[term] = key


def acronyms_in(atom: Atom, catalogue: Catalogue) -> tuple[tuple[str, str], ...]:
    """The (key, spelling) of each candidate acronym in one atom (see `candidate_acronyms`)."""
    matcher = matcher_for(catalogue)
    judged = catalogue.memo("recognize._Acronyms", _Acronyms)
    keys = judged.keys
    found: dict[str, str] = {}
    for text in (atom.question, atom.answer):
        text = matcher.normalized(text)
        terms = set(_ACRONYM.findall(text))
        judged.judge(terms)
        if keys.keys().isdisjoint(terms):
            continue  # (most texts: every term in it is a word or a known name)
        candidates: list[tuple[int, int, str, str]] = []
        for m in _ACRONYM.finditer(text):
            term = m.group()
            key = keys.get(term)
            if key is not None and key not in found:
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
