"""The alias matcher: every catalogue spelling compiled once into two trie-shaped regexes.

`matcher_for(catalogue)` builds (and memoises on the catalogue) a `Matcher` whose `scan()` finds
alias and context-word mentions, longest first, never overlapping; the matching rules are
described in `recognize.py`, which decides what the mentions mean.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from bagu2anki.concepts.catalogue import Catalogue, alias_key, is_guarded, normalize

_SEP = "[\\s\\-_–—]{0,2}"
_SEPARATORS = re.compile("[\\s\\-_–—]+")
_SEP_TOKEN = " "
_WORD = "a-z0-9_"
BEYOND_BMP = re.compile("[\U00010000-\U0010ffff]")
_SEPARATOR_CHARS = frozenset(" \t\r\n\f\v-_–—")
FAMILY = 4
"""A domain root is a family name when at least FAMILY concepts of its domain build on it
directly (PEFT: LoRA, Adapter, prefix and prompt tuning)."""
FOUNDATION = 8
"""A concept is a foundation when at least 1/FOUNDATION of the catalogue (and at least
FOUNDATION concepts) have it as a prerequisite, directly or not."""


# Acronym candidates: letters/digits (with inner hyphens), 2-8 chars, mostly upper case.
@dataclass(frozen=True, slots=True)
class Term:
    concept: str | None
    """The concept this alias names; None for a context word or an ignored phrase."""
    guarded: bool
    domains: frozenset[str]


class Hit(NamedTuple):
    start: int
    end: int
    term: Term


class _TrieNode:
    __slots__ = ("children", "terminal")

    def __init__(self) -> None:
        self.children: dict[str, _TrieNode] = {}
        self.terminal = False


def _is_ascii_word(ch: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch == "_")


def _tokens(text: str) -> list[str]:
    """Characters of a normalised alias; separators, and Latin/Chinese seams, become SEP."""
    tokens: list[str] = []
    for ch in text:
        if ch in _SEPARATOR_CHARS:
            if tokens and tokens[-1] != _SEP_TOKEN:
                tokens.append(_SEP_TOKEN)
            continue
        if tokens and tokens[-1] != _SEP_TOKEN:
            prev = tokens[-1]
            if prev.isalnum() and ch.isalnum() and _is_ascii_word(prev) != _is_ascii_word(ch):
                tokens.append(_SEP_TOKEN)
        tokens.append(ch)
    while tokens and tokens[-1] == _SEP_TOKEN:
        tokens.pop()
    return tokens


def _token_pattern(token: str) -> str:
    return _SEP if token == _SEP_TOKEN else re.escape(token)


def _emit(node: _TrieNode, via: str) -> str:
    """Regex for everything below `node`; `via` is the token that led here."""
    branches = [
        _token_pattern(tok) + _emit(child, tok) for tok, child in sorted(node.children.items())
    ]
    if node.terminal:
        branches.append(f"(?![{_WORD}])" if _is_ascii_word(via) else "")
    if len(branches) == 1 and not node.terminal:
        return branches[0]
    return "(?:" + "|".join(branches) + ")"


def _trie(spellings: Iterable[str]) -> _TrieNode:
    root = _TrieNode()
    for text in spellings:
        tokens = _tokens(text)
        if not tokens:
            continue
        node = root
        for tok in tokens:
            node = node.children.setdefault(tok, _TrieNode())
        node.terminal = True
    return root


def _compile(root: _TrieNode, latin: bool) -> re.Pattern[str]:
    """One regex for the aliases that start with a Latin letter/digit (or for the others).

    Two regexes are faster than one: the engine tries a position's alternatives one by one,
    and each regex has fewer. Every alternative starts with a literal
    (the whole-term lookbehind sits after the first character) so the engine can skip
    positions whose character starts no alias.
    """
    branches = []
    for tok, child in sorted(root.children.items()):
        if _is_ascii_word(tok) != latin:
            continue
        start = re.escape(tok) + (f"(?<![{_WORD}].)" if latin else "")
        branches.append(start + _emit(child, tok))
    return re.compile("|".join(branches) if branches else "(?!)")


def _nfkc_that_matters(alias_chars: frozenset[str]) -> re.Pattern[str]:
    """Characters whose NFKC form can change what matches.

    NFKC of a whole note costs more than the scan itself, and almost all it changes in Chinese
    notes is full-width punctuation (，（）：), which no alias or word boundary looks at. So a
    text is normalised only when it holds a character that NFKC turns into a letter, digit,
    `_`, a non-ASCII character (ＧＱＡ, ⽤ -> 用) or a character some alias contains (＋).
    """
    matters: list[int] = []
    for cp in range(0x80, 0x10000):
        ch = chr(cp)
        if unicodedata.is_normalized("NFKC", ch):
            continue
        folded = unicodedata.normalize("NFKC", ch).lower()
        if any(c.isalnum() or c == "_" or not c.isascii() or c in alias_chars for c in folded):
            matters.append(cp)
    # Only BMP characters: the engine tests a class of those with one table lookup. Texts with
    # characters beyond the BMP (rare) are always normalised.
    ranges: list[list[int]] = []
    for cp in matters:
        if ranges and cp == ranges[-1][1] + 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    parts = (f"\\u{a:04x}" if a == b else f"\\u{a:04x}-\\u{b:04x}" for a, b in ranges)
    return re.compile("[" + "".join(parts) + "]")


class Matcher:
    """Everything recognition derives from one catalogue, built once (see Catalogue.memo)."""

    def __init__(self, catalogue: Catalogue) -> None:
        self._recent: dict[str, list[Hit]] = {}
        terms: dict[str, Term] = {}
        spellings: list[str] = []
        for concept in catalogue:
            for alias in concept.aliases:
                key = alias_key(alias)
                if key and key not in terms:
                    terms[key] = Term(concept.id, is_guarded(alias), frozenset({concept.domain}))
                spellings.append(normalize(alias))
        for domain, words in catalogue.domains:
            for word in words:
                key = alias_key(word)
                if not key:
                    continue
                old = terms.get(key)
                if old is None:
                    terms[key] = Term(None, False, frozenset({domain}))
                    spellings.append(normalize(word))
                else:
                    terms[key] = Term(old.concept, old.guarded, old.domains | {domain})
        for phrase in catalogue.ignore:
            key = alias_key(phrase)
            if key and key not in terms:
                terms[key] = Term(None, False, frozenset())
                spellings.append(normalize(phrase))
        # Most matches are spelled exactly like an alias: look those up without re-keying.
        self.terms = dict(terms)
        for spelling in spellings:
            term = terms.get(alias_key(spelling))
            if term is not None:
                self.terms.setdefault(spelling, term)
        root = _trie(spellings)
        self.latin = _compile(root, latin=True)
        self.other = _compile(root, latin=False)
        self.unsafe = _nfkc_that_matters(frozenset("".join(spellings)))
        self.domain = {c.id: c.domain for c in catalogue}
        neighbours: dict[str, set[str]] = {c.id: set() for c in catalogue}
        for c in catalogue:
            for p in c.prereqs:
                if p in neighbours:
                    neighbours[c.id].add(p)
                    neighbours[p].add(c.id)
        self.neighbours = {k: frozenset(v) for k, v in neighbours.items()}
        self.parents = {c.id: frozenset(c.prereqs) & neighbours.keys() for c in catalogue}
        """Each concept's direct prerequisites."""
        self.foundations = _foundations(self.parents)
        """Concepts that much of the catalogue builds on (see `_foundations`)."""
        self.domain_roots = frozenset(
            c.id for c in catalogue if all(self.domain.get(p) != c.domain for p in c.prereqs)
        )
        kin: Counter[str] = Counter(
            p for c in catalogue for p in c.prereqs if self.domain.get(p) == c.domain
        )
        self.families = frozenset(c for c in self.domain_roots if kin[c] >= FAMILY)
        """Domain roots that at least FAMILY concepts of their domain build on directly (RAG,
        Agent, PEFT, Attention): the family name of those concepts."""

    def fold(self, text: str) -> str:
        """`normalize(text)` for matching purposes (see `_nfkc_that_matters`)."""
        if text.isascii() or unicodedata.is_normalized("NFKC", text):
            return text.lower()
        if self.unsafe.search(text) or BEYOND_BMP.search(text):
            text = unicodedata.normalize("NFKC", text)
        return text.lower()

    def scan(self, text: str) -> list[Hit]:
        """Alias and context-word mentions, left to right, longest first, not overlapping.

        The last few results are kept: `recognize` and `acronyms_in` scan the same answer.
        """
        hits = self._recent.get(text)
        if hits is None:
            hits = self._scan(text)
            if len(self._recent) >= 8:
                self._recent.pop(next(iter(self._recent)))
            self._recent[text] = hits
        return hits

    def _scan(self, text: str) -> list[Hit]:
        text = self.fold(text)
        terms = self.terms
        found = [(m.start(), m.group()) for m in self.latin.finditer(text)]
        if not text.isascii():
            other = [(m.start(), m.group()) for m in self.other.finditer(text)]
            if other:
                # Both regexes never match at the same position (a position starts with a
                # Latin character or not), so sorting by start is enough.
                found = sorted(found + other) if found else other
        hits: list[Hit] = []
        last_end = 0
        for start, matched in found:
            if start < last_end:
                continue  # overlaps a mention found by the other regex
            term = terms.get(matched) or terms.get(_SEPARATORS.sub("", matched))
            if term is not None:
                last_end = start + len(matched)
                hits.append(Hit(start, last_end, term))
        return hits

    def supports(self, other: Hit, hit: Hit) -> bool:
        concept = hit.term.concept
        assert concept is not None
        if other is hit:
            return False
        if other.term.concept == concept:
            return not other.term.guarded
        if self.domain[concept] in other.term.domains:
            return True
        return other.term.concept is not None and other.term.concept in self.neighbours[concept]

    def supported(self, hit: Hit, pool: Iterable[Hit]) -> bool:
        return any(self.supports(other, hit) for other in pool)


def _foundations(parents: dict[str, frozenset[str]]) -> frozenset[str]:
    """Attention, Transformer, pretraining, …: concepts so many others build on that they are
    the background of most questions rather than their subject."""
    below: Counter[str] = Counter()
    for concept in parents:
        seen: set[str] = set()
        stack = list(parents[concept])
        while stack:
            p = stack.pop()
            if p not in seen:
                seen.add(p)
                stack.extend(parents.get(p, ()))
        seen.discard(concept)  # (a user catalogue may have a cycle)
        below.update(seen)
    return frozenset(
        c for c, n in below.items() if n >= FOUNDATION and n * FOUNDATION >= len(parents)
    )


def matcher_for(catalogue: Catalogue) -> Matcher:
    return catalogue.memo("recognize.Matcher", Matcher)
