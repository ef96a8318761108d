"""References between questions: an answer that only says `见模板2 第5题`, `同 3.2` or `同上`
shows the answer it points at. Resolved across all files once every atom is known."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from bagu2anki.model import Atom
from bagu2anki.parse import rules


class References:
    """`见模板2 第5题` / `同 3.2` / `同上` -> the atom it points at (same file first), or None.

    The number is the question's own number where it has one, else its position in its section.
    """

    def __init__(self, atoms: Sequence[Atom]) -> None:
        self.by_number: dict[str, list[Atom]] = defaultdict(list)
        self._titles: dict[tuple[str, ...], list[str]] = {}  # section -> its titles, normalised
        self.before: dict[tuple[str, int], Atom] = {}  # (source, line) -> the answered question before it
        last: dict[str, Atom] = {}
        for cand in atoms:
            if cand.source in last:
                self.before[(cand.source, cand.line)] = last[cand.source]
            if cand.status == "answered":
                last[cand.source] = cand
        counters: dict[tuple[str, tuple[str, ...]], int] = defaultdict(int)
        for cand in atoms:
            counters[(cand.source, cand.section)] += 1
            if cand.status in ("unanswered", "reference"):
                continue
            own = cand.number if cand.number is not None else str(counters[(cand.source, cand.section)])
            self.by_number[own].append(cand)
            head = own.split(".")[0]
            if head != own:
                self.by_number[head].append(cand)

    def resolve(self, atom: Atom) -> Atom | None:
        if not atom.reference:
            return None
        section, _, number = atom.reference.partition("#")
        if number == "^":  # `同上`: the answered question before it in its file
            return self.before.get((atom.source, atom.line))
        sec = rules.nfkc(section).strip().lower()
        best: Atom | None = None
        for cand in self.by_number.get(number, ()):
            if cand is atom:
                continue
            titles = self._titles.get(cand.section)
            if titles is None:
                titles = self._titles[cand.section] = [rules.nfkc(t).lower() for t in cand.section]
            if sec and not any(t == sec or t.endswith(sec) or sec.endswith(t) for t in titles):
                continue
            if best is None or (cand.source == atom.source and best.source != atom.source):
                best = cand
        return best
