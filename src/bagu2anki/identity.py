"""Stable note identity across edits: atoms + lock file (`lockfile.py`) -> GUIDs.

Matching order: an explicit `<!-- id: … -->` in the
notes; the same question (normalised) as before, copies of one question each keeping their
own GUID by where they sit (file, section, place among their neighbours); for questions that
are new, the vanished question they best resemble (rapidfuzz), chosen for all new questions
together (most similar first, closeness in the notes breaking equal similarity) — a tie nothing
breaks is reported and gets a new GUID rather than a guess.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import re
import unicodedata
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from bagu2anki.diagnostics import Diagnostics, clip
from bagu2anki.lockfile import Lock, LockEntry
from bagu2anki.model import Atom

FUZZY_MIN = 72.0
_PUNCT_RE = re.compile(r"[\s\W_]+", re.UNICODE)
NEAR = 4
"""Ranks apart (among a file's questions) from which closeness no longer tells questions apart."""
WINDOW = 8
"""Vanished questions looked at on each side of where a new question is expected."""
TOP = 8
"""Best vanished questions kept per new question, and twice that many new ones per vanished."""
ALL_PAIRS = 250_000
"""Up to this many (new, vanished) pairs, every pair is compared (in C, a few hundredths of a
second); beyond, only the vanished questions near where each new one is expected, and all of
them only for new questions with nothing similar nearby."""
SMALL_GROUP = 4096
"""Copies of one question paired by nearest place when new x old copies are at most this."""


def fingerprint(atom: Atom) -> str:
    """The question as a person would recognise it: no spacing, case, width or punctuation; its
    first line only (a choice question's options, on the lines below, may be reworded or
    reordered without making it another question)."""
    q = unicodedata.normalize("NFKC", atom.question.split("\n", 1)[0]).lower()
    return _PUNCT_RE.sub("", q) or _PUNCT_RE.sub("", unicodedata.normalize("NFKC", atom.answer)[:80])


def short_hash(text: str, n: int = 10) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:n]


def guid_for(seed: str) -> str:
    return "b2a" + short_hash(seed, 12)


@dataclass(frozen=True, slots=True)
class Identity:
    guids: tuple[str, ...]  # one per atom, same order
    matched: tuple[tuple[str, str], ...]  # (guid, how) for atoms that inherited a GUID by fuzzy match
    orphans: tuple[LockEntry, ...]
    fingerprints: tuple[str, ...] = ()  # one per atom, same order (what the lock file keeps)


_UNKNOWN = 1 << 40

Position = tuple[int, int, int]
"""How far a lock entry is from a question: (other file, other section, ranks apart)."""


class _Places:
    """Where questions sit: their file and rank among the file's question lines, before and now.

    Questions already matched in the same file are anchors: a question's expected old rank is
    its rank now shifted as its nearest anchor shifted, so inserting or deleting other
    questions does not move it.
    """

    def __init__(self, atoms: Sequence[Atom], live: dict[str, LockEntry]) -> None:
        self.atoms = atoms
        self.sections = [" › ".join(a.section) for a in atoms]
        self.new_rank = _ranks([(a.source, a.line) for a in atoms])
        where = {g: _split_source(e.source) for g, e in live.items()}
        # orphans keep the place they had when they vanished, which later edits have reused
        known = [(g, f, line) for g, (f, line) in where.items() if line is not None and not live[g].orphan]
        ranks = _ranks([(f, line) for _, f, line in known])
        self.old_file = {g: f for g, (f, _) in where.items()}
        self.old_rank: dict[str, int | None] = dict.fromkeys(where)
        for (g, _, _), r in zip(known, ranks, strict=True):
            self.old_rank[g] = r
        self.anchors: dict[str, list[tuple[int, int]]] = {}

    def anchor(self, matched: Sequence[tuple[int, str]]) -> None:
        anchors: dict[str, list[tuple[int, int]]] = {}
        for i, g in matched:
            old = self.old_rank.get(g)
            if old is not None and self.old_file[g] == self.atoms[i].source:
                anchors.setdefault(self.atoms[i].source, []).append((self.new_rank[i], old))
        for lst in anchors.values():
            lst.sort()
        self.anchors = anchors

    def expected(self, i: int) -> int:
        """The rank question `i` had before, judging by its nearest anchor."""
        r = self.new_rank[i]
        anchors = self.anchors.get(self.atoms[i].source)
        if not anchors:
            return r
        k = bisect.bisect_right(anchors, (r, _UNKNOWN))
        if k == len(anchors) or (k > 0 and r - anchors[k - 1][0] <= anchors[k][0] - r):
            k -= 1  # the anchor before is nearer (or the only one)
        anchor_new, anchor_old = anchors[k]
        return anchor_old + r - anchor_new

    def position(self, i: int, e: LockEntry, expected: int) -> Position:
        same_file = self.old_file[e.guid] == self.atoms[i].source
        old = self.old_rank[e.guid]
        apart = (abs(expected - old) if old is not None else _UNKNOWN) if same_file else 0
        return (0 if same_file else 1, 0 if e.section == self.sections[i] else 1, apart)


def _split_source(source: str) -> tuple[str, int | None]:
    """`notes/a.md:12` -> (`notes/a.md`, 12)."""
    file, sep, line = source.rpartition(":")
    if sep and line.isascii() and line.isdigit() and len(line) <= 18:
        return file, int(line)
    return source, None


def _ranks(places: Sequence[tuple[str, int]]) -> list[int]:
    """Each (file, line)'s rank among the distinct lines of its file."""
    lines: dict[str, set[int]] = {}
    for f, line in places:
        lines.setdefault(f, set()).add(line)
    rank = {f: {line: r for r, line in enumerate(sorted(s))} for f, s in lines.items()}
    return [rank[f][line] for f, line in places]


def assign(atoms: Sequence[Atom], lock: Lock, diags: Diagnostics) -> Identity:
    n = len(atoms)
    guids: list[str | None] = [None] * n
    used: set[str] = set()
    fps = [fingerprint(a) for a in atoms]
    live = {g: e for g, e in lock.entries.items() if not g.startswith("b2a-concept-")}
    places: _Places | None = None  # made only when copies or new questions need it

    # 1. explicit ids written in the notes
    seen_explicit: dict[str, int] = {}
    for i, a in enumerate(atoms):
        if a.explicit_id:
            g = guid_for("id:" + a.explicit_id)
            if g in used:
                other = atoms[seen_explicit[a.explicit_id]]
                diags.error(
                    a.source,
                    a.line,
                    f"id '{a.explicit_id}' is used twice (also at {other.source}:{other.line}); ids must be unique",
                    "duplicate-id",
                )
                continue
            seen_explicit[a.explicit_id] = i
            guids[i] = g
            used.add(g)

    # 2. the same question as before; copies of one question each keep their own GUID
    old_by_fp: dict[str, list[LockEntry]] = {}
    for e in live.values():
        if e.guid not in used:
            old_by_fp.setdefault(e.fingerprint, []).append(e)
    new_by_fp: dict[str, list[int]] = {}
    for i in range(n):
        if guids[i] is None and fps[i] in old_by_fp:
            new_by_fp.setdefault(fps[i], []).append(i)
    copies: list[tuple[list[int], list[LockEntry]]] = []
    for fp, idx in new_by_fp.items():
        olds = old_by_fp[fp]
        if len(idx) == 1 and len(olds) == 1:
            guids[idx[0]] = olds[0].guid
            used.add(olds[0].guid)
        else:
            copies.append((idx, olds))
    if copies:
        places = places or _Places(atoms, live)
        places.anchor([(i, g) for i, g in enumerate(guids) if g is not None])
        for idx, olds in copies:
            for i, g in _pair_copies(idx, olds, places):
                guids[i] = g
                used.add(g)

    # 3. new questions that may be edited old ones
    vanished = [e for e in live.values() if e.guid not in used]
    matched: list[tuple[str, str]] = []
    new_idx = [i for i in range(n) if guids[i] is None]
    if vanished and new_idx:
        places = places or _Places(atoms, live)
        places.anchor([(i, g) for i, g in enumerate(guids) if g is not None])
        pairs = _similar_pairs(new_idx, vanished, fps, places)
        for s, i, g in _best_matches(pairs, atoms, live, used, diags):
            guids[i] = g
            used.add(g)
            matched.append((g, f"fuzzy {s:.0f}"))

    # 4. brand-new questions: the first free GUID of the question's own sequence; later copies
    # carry on where the previous copy's search stopped (what a fresh search would find anyway)
    next_try: dict[str, int] = {}
    for i in range(n):
        if guids[i] is None:
            fp = fps[i]
            k = next_try.get(fp, 1)
            g = guid_for("q:" + fp if k == 1 else f"q:{fp}#{k}")
            while g in used or (g in live and live[g].fingerprint != fp):
                k += 1
                g = guid_for(f"q:{fp}#{k}")
            next_try[fp] = k + 1
            guids[i] = g
            used.add(g)

    orphans = tuple(sorted((e for e in live.values() if e.guid not in used), key=lambda e: e.source))
    return Identity(tuple(g for g in guids if g is not None), tuple(matched), orphans, tuple(fps))


def _pair_copies(idx: list[int], olds: list[LockEntry], places: _Places) -> list[tuple[int, str]]:
    """Copies of one question now (`idx`) and before (`olds`): each copy to the old copy that sat
    where it sits — same file, same section, nearest expected rank."""
    expected = {i: places.expected(i) for i in idx}
    out: list[tuple[int, str]] = []
    if len(idx) * len(olds) <= SMALL_GROUP:
        ranked = sorted(
            (places.position(i, e, expected[i]), i, places.old_rank[e.guid] or 0, e.guid)
            for i in idx
            for e in olds
        )
        done_new: set[int] = set()
        done_old: set[str] = set()
        for _, i, _, g in ranked:
            if i not in done_new and g not in done_old:
                done_new.add(i)
                done_old.add(g)
                out.append((i, g))
        return out
    # Many copies: first those at exactly their expected place, then the rest in order within
    # their section, their file, anywhere.
    free = {e.guid: e for e in olds}
    at: dict[tuple[str, int], list[str]] = {}
    for e in sorted(olds, key=lambda e: e.guid, reverse=True):
        rank = places.old_rank[e.guid]
        if rank is not None:
            at.setdefault((places.old_file[e.guid], rank), []).append(e.guid)
    rest: list[int] = []
    for i in idx:
        spot = at.get((places.atoms[i].source, expected[i]))
        if spot:
            g = spot.pop()
            del free[g]
            out.append((i, g))
        else:
            rest.append(i)
    keys: tuple[tuple[Callable[[int], Hashable], Callable[[LockEntry], Hashable]], ...] = (
        (lambda i: (places.atoms[i].source, places.sections[i]), lambda e: (places.old_file[e.guid], e.section)),
        (lambda i: places.atoms[i].source, lambda e: places.old_file[e.guid]),
        (lambda i: None, lambda e: None),
    )
    for new_key, old_key in keys:
        if not rest or not free:
            break
        buckets: dict[Hashable, list[str]] = {}
        for e in sorted(free.values(), key=lambda e: (places.old_rank[e.guid] or 0, e.guid), reverse=True):
            buckets.setdefault(old_key(e), []).append(e.guid)
        left: list[int] = []
        for i in sorted(rest, key=lambda i: (expected[i], i)):
            bucket = buckets.get(new_key(i))
            if bucket:
                g = bucket.pop()
                del free[g]
                out.append((i, g))
            else:
                left.append(i)
        rest = left
    return out


_Pair = tuple[float, Position, int, str]


def _similar_pairs(new_idx: list[int], vanished: list[LockEntry], fps: list[str], places: _Places) -> list[_Pair]:
    """(score, position, new question, vanished GUID) for the vanished questions each new one
    resembles (fuzzy ratio of the fingerprints, +3 in the same section): the best TOP per new
    question, the best 2*TOP per vanished one. Looked at: the vanished questions around where
    the new one is expected, and all of them when that is cheap or nothing nearby resembles it."""
    vfps = [e.fingerprint for e in vanished]
    everything = len(new_idx) * len(vanished) <= ALL_PAIRS
    by_file: dict[str, list[tuple[int, int]]] = {}
    for v, e in enumerate(vanished):
        rank = places.old_rank[e.guid]
        if rank is not None:
            by_file.setdefault(places.old_file[e.guid], []).append((rank, v))
    for lst in by_file.values():
        lst.sort()
    per_guid: dict[str, list[_Pair]] = {}
    for i in new_idx:
        expected = places.expected(i)
        found: dict[int, float] = {}
        nearby = by_file.get(places.atoms[i].source)
        if nearby:  # always: at equal similarity the nearest must be among the candidates
            k = bisect.bisect_left(nearby, (expected, -1))
            for _, v in nearby[max(0, k - WINDOW) : k + WINDOW]:
                s = fuzz.ratio(fps[i], vfps[v], score_cutoff=FUZZY_MIN)
                if s >= FUZZY_MIN:
                    found[v] = s
        if everything or not found:
            for _, s, v in process.extract(fps[i], vfps, scorer=fuzz.ratio, score_cutoff=FUZZY_MIN, limit=TOP):
                found[v] = s
        mine: list[_Pair] = []
        for v, s in found.items():
            e = vanished[v]
            bonus = 3.0 if e.section == places.sections[i] else 0.0
            mine.append((round(s + bonus, 6), _near(places.position(i, e, expected)), i, e.guid))
        mine.sort(key=_order)
        for pair in mine[:TOP]:
            per_guid.setdefault(pair[3], []).append(pair)
    pairs: list[_Pair] = []
    for theirs in per_guid.values():
        theirs.sort(key=_order)
        pairs.extend(theirs[: 2 * TOP])
    pairs.sort(key=_order)
    return pairs


def _near(pos: Position) -> Position:
    """Closeness counts only nearby: further apart than NEAR ranks is simply far."""
    return (pos[0], pos[1], min(pos[2], NEAR))


def _order(pair: _Pair) -> tuple[float, Position, int, str]:
    return (-pair[0], pair[1], pair[2], pair[3])


def _best_matches(
    pairs: list[_Pair], atoms: Sequence[Atom], live: dict[str, LockEntry], used: set[str], diags: Diagnostics
) -> list[tuple[float, int, str]]:
    """The most similar pair first, over all new questions at once; at equal similarity the
    closer pair first. A pair tied with another of the same new or vanished question in both
    similarity and closeness is a guess: reported, and the new questions involved get new
    GUIDs (a vanished question two new ones claim equally goes to neither)."""
    by_atom: dict[int, list[_Pair]] = {}
    by_guid: dict[str, list[_Pair]] = {}
    for p in pairs:  # already in order
        by_atom.setdefault(p[2], []).append(p)
        by_guid.setdefault(p[3], []).append(p)
    done: set[int] = set()
    taken: set[str] = set(used)
    out: list[tuple[float, int, str]] = []
    for p in pairs:
        s, pos, i, g = p
        if i in done or g in taken:
            continue
        # earlier pairs of i or g are spent, so a tie is among the next ones
        ties_g = [r for r in by_atom[i] if r is not p and r[3] not in taken and r[:2] == (s, pos)]
        ties_i = [r for r in by_guid[g] if r is not p and r[2] not in done and r[:2] == (s, pos)]
        if ties_g or ties_i:
            earlier = clip(live[g].question, 40)
            if ties_g:
                others = f"resembles several earlier ones equally (e.g. '{earlier}')"
            else:
                first = atoms[ties_i[0][2]]
                others = f"and the one at {first.source}:{first.line} resemble the earlier '{earlier}' equally"
            diags.warning(
                atoms[i].source,
                atoms[i].line,
                f"ambiguous identity: this question {others}; it gets a new id. Add "
                "`<!-- id: … -->` to the question to decide.",
                "ambiguous-identity",
            )
            done.add(i)
            for r in ties_i:  # a vanished question two new ones claim equally goes to neither
                here = atoms[r[2]]
                diags.warning(
                    here.source,
                    here.line,
                    f"ambiguous identity: this question and the one at {atoms[i].source}:{atoms[i].line} "
                    f"resemble the earlier '{earlier}' equally; it gets a new id. Add `<!-- id: … -->` "
                    "to the question to decide.",
                    "ambiguous-identity",
                )
                done.add(r[2])
            if ties_i:
                taken.add(g)
            continue
        done.add(i)
        taken.add(g)
        out.append((s, i, g))
    return out
