"""The alias matcher: every catalogue spelling compiled once into Aho-Corasick automata.

`matcher_for(catalogue)` builds (and memoises on the catalogue) a `Matcher` whose `scan()` finds
alias and context-word mentions, longest first, never overlapping; the matching rules are
described in `recognize.py`, which decides what the mentions mean.

The rules are written down as two trie-shaped regexes (`Matcher.latin`, `Matcher.other`; the
reference scan is `Matcher._scan_regex`). `_Automata` finds exactly the same mentions with
Aho-Corasick automata (ahocorasick-rs) in about 0.6 of the time (its docstring says why they
agree; tests/test_matcher.py compares both on every corpus at hand). The regexes still scan
where the automata cannot: a text with a lone surrogate, a catalogue `_Automata.build` refuses.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

import ahocorasick_rs

from bagu2anki.concepts.catalogue import Catalogue, alias_key, is_guarded, normalize

_SEP = "[\\s\\-_–—]{0,2}"
_SEPARATORS = re.compile("[\\s\\-_–—]+")
_SEP_TOKEN = " "
_WORD = "a-z0-9_"
BEYOND_BMP = re.compile("[\U00010000-\U0010ffff]")
_SEPARATOR_CHARS = frozenset(" \t\r\n\f\v-_–—")
_ONE_SEPARATOR = re.compile("[\\s\\-_–—]")
"""One character `_SEP` counts as a separator (every Unicode space: `\\s` of `re`)."""
_COMMON_SEPARATORS = "\n\t\r-_"
"""Separators `_Automata` replaces by spaces with `str.replace`; the others are rare."""
_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")
MAX_SEAMS = 5
"""`_Automata` spells each alias out with every separator run it may meet (none, one or two
characters per seam: 3**seams spellings); a catalogue with an alias of more seams than this is
scanned with the regexes instead."""
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


Span = tuple[int, int]


class Hit(NamedTuple):
    start: int
    end: int
    term: Term


class Scan(NamedTuple):
    """One text as recognition reads it (`Matcher.read`)."""

    normalized: str
    """The text, NFKC-normalised where that can change what matches (`_nfkc_that_matters`)."""
    folded: str
    """`normalized` lower-cased: the text the hits' offsets are in."""
    hits: list[Hit]


RECENT = 16
"""Texts whose `Scan` a `Matcher` keeps."""


_new_hit = tuple.__new__


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


def _trie(paths: Iterable[tuple[str, ...]]) -> _TrieNode:
    """The trie of the aliases' tokens (`_tokens`, none empty)."""
    root = _TrieNode()
    for tokens in paths:
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


def _priority(path: tuple[str, ...]) -> tuple[int, ...]:
    """The order in which a trie regex tries its aliases at one position: the branches of a
    node by token (a seam, `_SEP_TOKEN`, before any character), the end of an alias after every
    longer alias it begins."""
    return (*map(ord, path), 0x110000)


@functools.cache
def _rare_separators() -> tuple[str, ...]:
    """Separator characters (`_ONE_SEPARATOR`; all are in the BMP) other than the common ones."""
    return tuple(
        ch
        for ch in map(chr, range(0x10000))
        if ch != " " and ch not in _COMMON_SEPARATORS and _ONE_SEPARATOR.fullmatch(ch)
    )


class _Stream:
    """The automata for the aliases of one regex (`Matcher.latin` or `Matcher.other`), their
    spellings added in `_priority` order."""

    __slots__ = ("count", "ends_word", "every", "first", "latin")

    def __init__(self, spellings: dict[str, bool], latin: bool, rare: Iterable[str] = ()) -> None:
        self.latin = latin
        """Whether its aliases start with a Latin letter or digit (a word boundary before)."""
        self.count = len(spellings)
        self.ends_word = list(spellings.values())
        """For each spelling, whether it ends with a Latin letter or digit (a boundary after)."""
        self.first = ahocorasick_rs.AhoCorasick(
            [*spellings, *rare],
            matchkind=ahocorasick_rs.MatchKind.LeftmostFirst,
            implementation=ahocorasick_rs.Implementation.ContiguousNFA,
        )
        """Leftmost-first search; `rare` characters, if any, come after the spellings."""
        self.every = ahocorasick_rs.AhoCorasick(
            spellings,
            matchkind=ahocorasick_rs.MatchKind.Standard,
            implementation=ahocorasick_rs.Implementation.ContiguousNFA,
        )
        """Every place every spelling matches (overlapping)."""


class _Automata:
    """Aho-Corasick automata (ahocorasick-rs) that find exactly what the regexes
    `Matcher.latin` and `Matcher.other` find, in time linear in the text.

    How the regexes match, and how the automata do the same:

    - An alias is a sequence of tokens (`_tokens`): characters, and seams where its spelling
      has separators or Latin meets Chinese. A seam matches 0-2 separator characters
      (`_ONE_SEPARATOR`); as no character of an alias is a separator (a catalogue with one is
      scanned with the regexes), a seam takes the whole run of separators before the next
      character. The automata search a copy of the text with every separator turned into a
      space (same length, so same offsets) for each alias spelled with nothing, one or two
      spaces at each seam: one of those spellings matches exactly where the alias's tokens do.
    - At each position a regex tries its aliases in `_priority` order and takes the first that
      matches, then goes on after it. Leftmost-first Aho-Corasick does the same with the
      spellings added in that order: the leftmost start, there the earliest spelling, then on
      from its end.
    - What the automata do not see are word boundaries: a Latin alias may not start after a
      letter, digit or `_`, nor, when it ends with a letter or digit, end before one. A
      leftmost-first match that meets them is the regex's match (no earlier position, and no
      earlier alias at its position, matched at all). From the first that does not (`rl` in
      `url`) on, the text is searched for every place every spelling matches and the regex's
      choice is made from those: left to right, at each start the earliest spelling that meets
      the boundaries, skipping starts inside the match before.
    - The two regexes scan independently (a match of one does not hide a later match of the
      other; `Matcher._hits` settles overlaps), and so do the two sets of automata.
    """

    def __init__(self, latin: _Stream, other: _Stream) -> None:
        self.latin = latin
        self.other = other

    @classmethod
    def build(cls, paths: Iterable[tuple[str, ...]]) -> _Automata | None:
        """The automata for these aliases (`_tokens` of each spelling, none empty); None when
        the regexes must scan (an alias of more than MAX_SEAMS seams, a separator or a lone
        surrogate among its characters)."""
        streams: tuple[dict[str, bool], dict[str, bool]] = ({}, {})
        for path in sorted(paths, key=_priority):
            if path.count(_SEP_TOKEN) > MAX_SEAMS:
                return None
            chars = "".join(tok for tok in path if tok != _SEP_TOKEN)
            if _ONE_SEPARATOR.search(chars):
                return None
            try:
                chars.encode()
            except UnicodeEncodeError:  # (ahocorasick-rs would drop the spellings after it)
                return None
            spellings = streams[0 if _is_ascii_word(path[0]) else 1]
            ends_word = _is_ascii_word(path[-1])
            choices = (("", " ", "  ") if tok == _SEP_TOKEN else (tok,) for tok in path)
            for spelled in itertools.product(*choices):
                spellings.setdefault("".join(spelled), ends_word)
        # The first Latin automaton also looks for the rare separators (never part of a match,
        # so they change nothing else it finds): a text with one is searched again with every
        # separator turned into a space.
        return cls(_Stream(streams[0], True, _rare_separators()), _Stream(streams[1], False))

    def spans(self, text: str) -> list[Span] | None:
        """(start, end) of each match of the two regexes in `text` (folded), by start; None
        when the text cannot be searched (it holds a lone surrogate)."""
        squeezed = text
        for ch in _COMMON_SEPARATORS:
            squeezed = squeezed.replace(ch, " ")
        try:
            found = self._search(text, squeezed, self.latin)
        except UnicodeEncodeError:
            return None
        if found is None:
            squeezed = _ONE_SEPARATOR.sub(" ", text)
            found = self._search(text, squeezed, self.latin)
            assert found is not None
        if not text.isascii():
            other = self._search(text, squeezed, self.other)
            if other:
                # No start is in both (a position starts with a Latin character or not).
                found = sorted(found + other) if found else other
        return found

    def _search(self, text: str, squeezed: str, stream: _Stream) -> list[Span] | None:
        """The matches of one regex; None when `squeezed` still has a rare separator."""
        found = stream.first.find_matches_as_indexes(squeezed)
        if stream.latin and found and max(found)[0] >= stream.count:
            return None
        ends_word = stream.ends_word
        latin = stream.latin
        size = len(text)
        for n, (i, start, end) in enumerate(found):
            if (latin and start and text[start - 1] in _WORD_CHARS) or (
                end < size and ends_word[i] and text[end] in _WORD_CHARS
            ):
                # The matches before are the regex's; it goes on from here.
                spans = [(start, end) for _, start, end in found[:n]]
                spans += self._exact(text, squeezed, stream, start)
                return spans
        return [(start, end) for _, start, end in found]

    @staticmethod
    def _exact(text: str, squeezed: str, stream: _Stream, begin: int) -> list[Span]:
        """The matches of one regex from `begin` on (no match starts between the end of the
        one before and `begin`), chosen from every place every spelling matches."""
        ends_word = stream.ends_word
        latin = stream.latin
        size = len(text)
        best: dict[int, tuple[int, int]] = {}  # start -> earliest spelling there, its end
        rest = squeezed[begin:] if begin else squeezed
        for i, start, end in stream.every.find_matches_as_indexes(rest, overlapping=True):
            start += begin
            end += begin
            if (latin and start and text[start - 1] in _WORD_CHARS) or (
                end < size and ends_word[i] and text[end] in _WORD_CHARS
            ):
                continue
            known = best.get(start)
            if known is None or i < known[0]:
                best[start] = (i, end)
        spans: list[Span] = []
        reached = 0
        for start in sorted(best):
            if start >= reached:
                reached = best[start][1]
                spans.append((start, reached))
        return spans


class Matcher:
    """Everything recognition derives from one catalogue, built once (see Catalogue.memo)."""

    def __init__(self, catalogue: Catalogue) -> None:
        self._recent: dict[str, Scan] = {}
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
        paths = {tuple(_tokens(text)) for text in spellings}
        paths.discard(())
        self._root = _trie(paths)
        self._automata = _Automata.build(paths)
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

    @functools.cached_property
    def latin(self) -> re.Pattern[str]:
        """The regex of the aliases that start with a Latin letter or digit (see `_compile`)."""
        return _compile(self._root, latin=True)

    @functools.cached_property
    def other(self) -> re.Pattern[str]:
        """The regex of the other aliases."""
        return _compile(self._root, latin=False)

    def fold(self, text: str) -> str:
        """`normalize(text)` for matching purposes (see `_nfkc_that_matters`)."""
        return self._normalized(text).lower()

    def _normalized(self, text: str) -> str:
        """`text` NFKC-normalised where that can change what matches, not lower-cased."""
        if text.isascii() or unicodedata.is_normalized("NFKC", text):
            return text
        if self.unsafe.search(text) or BEYOND_BMP.search(text):
            return unicodedata.normalize("NFKC", text)
        return text

    def normalized(self, text: str) -> str:
        """`text` as `fold` has it before lower-casing (kept by `read` if read lately)."""
        known = self._recent.get(text)
        return known.normalized if known is not None else self._normalized(text)

    def scan(self, text: str) -> list[Hit]:
        """Alias and context-word mentions, left to right, longest first, not overlapping."""
        return self.read(text).hits

    def read(self, text: str) -> Scan:
        """`text` normalised, folded and scanned (`Scan`).

        The last RECENT texts read are kept, the most recently used last: `recognize` and
        `acronyms_in` read the same question and answer, and one question after another reads
        the same section headings.
        """
        recent = self._recent
        known = recent.pop(text, None)
        if known is None:
            normalized = self._normalized(text)
            folded = normalized.lower()
            known = Scan(normalized, folded, self._find(folded))
            if len(recent) >= RECENT:
                del recent[next(iter(recent))]
        recent[text] = known
        return known

    def _scan(self, text: str) -> list[Hit]:
        return self._find(self.fold(text))

    def _find(self, folded: str) -> list[Hit]:
        spans = None if self._automata is None else self._automata.spans(folded)
        if spans is None:
            return self._scan_folded(folded)
        return self._hits(folded, spans)

    def _scan_regex(self, text: str) -> list[Hit]:
        """`_scan` with the regexes: the reference the automata agree with."""
        return self._scan_folded(self.fold(text))

    def _scan_folded(self, text: str) -> list[Hit]:
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

    def _hits(self, text: str, spans: list[Span]) -> list[Hit]:
        terms = self.terms
        hits: list[Hit] = []
        last_end = 0
        for start, end in spans:
            if start < last_end:
                continue  # overlaps a mention found by the other regex
            matched = text[start:end]
            term = terms.get(matched) or terms.get(_SEPARATORS.sub("", matched))
            if term is not None:
                last_end = end
                hits.append(_new_hit(Hit, (start, end, term)))  # (`Hit(...)` costs twice as much)
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
