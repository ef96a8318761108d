"""Related questions: the other questions a card lists, about the same things, most specific first.

Made for every card (`cards.make_cards`) from the concepts each question was linked to, and
kept in the build cache under all a list is made of, so a rebuild that leaves a question's
neighbourhood as it was does not weigh it again.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

from bagu2anki.cache import BuildCache, key_of

RELATED = 5  # related questions listed on a card
NEAREST = 40  # per shared concept, the questions nearest in the notes that are weighed
COMMON = 4.0  # a concept on more than 1/COMMON of the questions relates nothing on its own


Window = tuple[int, list[int]]
"""A shared concept as `related_questions` weighs it: how many questions use it, and the
NEAREST of them around the question."""


def windows_of(i: int, concepts: Sequence[str], by_concept: dict[str, list[int]]) -> list[Window]:
    windows = []
    for c in dict.fromkeys(concepts):
        members = by_concept.get(c)
        if members:
            at = bisect.bisect_left(members, i)
            windows.append((len(members), members[max(0, at - NEAREST // 2) : at + NEAREST // 2 + 1]))
    return windows


def related_questions(i: int, concepts: Sequence[str], by_concept: dict[str, list[int]], total: int) -> list[int]:
    """Other questions about the same things, most specific first: each shared concept weighs
    log(total / questions using it), so a concept on most of the deck (the page's topic) adds
    little, and one on most of it relates nothing alone. Ties go to the question nearest in
    the notes. Only the NEAREST questions of each concept are weighed (linear in the deck)."""
    return _related(i, windows_of(i, concepts, by_concept), total)


def related_remembered(
    cache: BuildCache, i: int, concepts: Sequence[str], by_concept: dict[str, list[int]], total: int
) -> list[int]:
    """`related_questions`, kept in the build cache under all it is made of: the question's
    place, the deck's size and its concepts' windows (an edit elsewhere changes none of them)."""
    windows = windows_of(i, concepts, by_concept)
    if cache.path is None:
        return _related(i, windows, total)
    key = key_of("related", i, total, windows)
    hit = cache.get(key)
    if isinstance(hit, str):
        return [int(j) for j in hit.split(",")] if hit else []
    found = _related(i, windows, total)
    cache.put(key, ",".join(map(str, found)))
    return found


def _related(i: int, counted: list[Window], total: int) -> list[int]:
    windows = [
        (math.log(max(total, 1) / n), window, total < 2 * COMMON or n * COMMON <= total) for n, window in counted
    ]
    if len(windows) == 1:  # most questions: every candidate weighs the same, so nearest first
        _w, window, specific_one = windows[0]
        return _nearest(window, i) if specific_one else []
    score: dict[int, float] = {}
    specific: set[int] = set()
    for w, window, specific_one in windows:
        get = score.get
        for j in window:
            score[j] = get(j, 0.0) + w
        if specific_one:
            specific.update(window)
    specific.discard(i)
    ranked = sorted([(-score[j], abs(j - i), j) for j in specific])
    return [j for _score, _apart, j in ranked[:RELATED]]


def _nearest(window: list[int], i: int) -> list[int]:
    """The RELATED members of a sorted `window` nearest to `i` (not `i`), the earlier on a tie:
    walked outwards from where `i` stands, in order of (distance, index)."""
    right = bisect.bisect_left(window, i)
    left = right - 1
    if right < len(window) and window[right] == i:
        right += 1
    out: list[int] = []
    while len(out) < RELATED and (left >= 0 or right < len(window)):
        if right >= len(window) or (left >= 0 and i - window[left] <= window[right] - i):
            out.append(window[left])
            left -= 1
        else:
            out.append(window[right])
            right += 1
    return out
