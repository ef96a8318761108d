"""Related questions: the fast paths give exactly what weighing every shared concept gives."""

from __future__ import annotations

import math
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bagu2anki.related import COMMON, NEAREST, RELATED, related_questions


def weighed(i: int, concepts: list[str], by_concept: dict[str, list[int]], total: int) -> list[int]:
    """The rule in full: every question near `i` in a shared concept's list scores that concept's
    weight, log(total / its questions); questions of a concept on more than 1/COMMON of the deck
    are candidates only through another concept; best score, then nearest, then earliest."""
    score: dict[int, float] = {}
    candidates: set[int] = set()
    for c in dict.fromkeys(concepts):
        members = by_concept.get(c, [])
        if not members:
            continue
        at = sum(1 for m in members if m < i)
        window = members[max(0, at - NEAREST // 2) : at + NEAREST // 2 + 1]
        for j in window:
            score[j] = score.get(j, 0.0) + math.log(max(total, 1) / len(members))
        if total < 2 * COMMON or len(members) * COMMON <= total:
            candidates.update(window)
    candidates.discard(i)
    return sorted(candidates, key=lambda j: (-score[j], abs(j - i), j))[:RELATED]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from("abcdefg"), max_size=4), min_size=1, max_size=120),
    st.data(),
)
def test_related_questions_match_the_full_weighing(links: list[list[str]], data: st.DataObject) -> None:
    by_concept: dict[str, list[int]] = {}
    for i, concepts in enumerate(links):
        for c in dict.fromkeys(concepts):
            by_concept.setdefault(c, []).append(i)
    total = data.draw(st.integers(min_value=len(links), max_value=len(links) * 3))
    for i, concepts in enumerate(links):
        assert related_questions(i, concepts, by_concept, total) == weighed(i, concepts, by_concept, total)


def test_one_concept_lists_the_nearest_earlier_first() -> None:
    by_concept = {"gqa": [2, 4, 6, 8, 10, 12, 14, 16]}
    assert related_questions(8, ["gqa"], by_concept, 100) == [6, 10, 4, 12, 2]
    assert related_questions(9, ["gqa"], by_concept, 100) == [8, 10, 6, 12, 4]  # not itself a member
    assert related_questions(8, ["gqa", "gqa"], by_concept, 100) == [6, 10, 4, 12, 2]
    assert related_questions(8, ["mla"], by_concept, 100) == []


def test_remembered_lists_are_the_lists(tmp_path: Path) -> None:
    from bagu2anki.cache import BuildCache
    from bagu2anki.related import related_remembered

    by_concept = {"gqa": [2, 4, 6, 8, 10, 12, 14, 16], "mla": [4, 8, 9], "rope": list(range(0, 40, 3))}
    links = {i: [c for c, members in by_concept.items() if i in members] for i in range(40)}
    cache = BuildCache.open(tmp_path)
    first = [related_remembered(cache, i, cs, by_concept, 40) for i, cs in links.items()]
    assert first == [related_questions(i, cs, by_concept, 40) for i, cs in links.items()]
    cache.save()
    again = BuildCache.open(tmp_path)
    assert [related_remembered(again, i, cs, by_concept, 40) for i, cs in links.items()] == first
    assert again.hits == len(links) and again.misses == 0
    by_concept["mla"].append(30)  # a question far away takes the concept: the lists near it change
    assert [related_remembered(again, i, cs, by_concept, 40) for i, cs in links.items()] == [
        related_questions(i, cs, by_concept, 40) for i, cs in links.items()
    ]
