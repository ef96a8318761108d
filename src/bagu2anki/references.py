"""References between questions: an answer that only says `见模板2 第5题`, `同 3.2` or `同上`
shows the answer it points at. Resolved across all files once every atom is known."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from bagu2anki.diagnostics import Diagnostics
from bagu2anki.model import Atom
from bagu2anki.parse import rules


class References:
    """`见模板2 第5题` / `同 3.2` / `同上` -> the atom it points at (same file first), or None.

    The number is the question's own number where it has one, else its position in its section.
    """

    def __init__(self, atoms: Sequence[Atom]) -> None:
        self.by_number: dict[str, list[Atom]] = defaultdict(list)
        self._in_file: dict[tuple[str, str], list[Atom]] = defaultdict(list)  # by_number, per file
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
            head = own.split(".")[0]
            for number in (own, head) if head != own else (own,):
                self.by_number[number].append(cand)
                self._in_file[(cand.source, number)].append(cand)

    def resolve(self, atom: Atom) -> Atom | None:
        if not atom.reference:
            return None
        section, _, number = atom.reference.partition("#")
        if number == "^":  # `同上`: the answered question before it in its file
            return self.before.get((atom.source, atom.line))
        sec = rules.nfkc(section).strip().lower()
        # the first question of that number and section in the same file, else in any file
        for cands in (self._in_file.get((atom.source, number), ()), self.by_number.get(number, ())):
            for cand in cands:
                if cand is not atom and self._in_section(cand, sec):
                    return cand
        return None

    def _in_section(self, cand: Atom, sec: str) -> bool:
        """`sec` (normalised; empty: any) names one of the candidate's sections, or ends one."""
        if not sec:
            return True
        titles = self._titles.get(cand.section)
        if titles is None:
            titles = self._titles[cand.section] = [rules.nfkc(t).lower() for t in cand.section]
        return any(t == sec or t.endswith(sec) or sec.endswith(t) for t in titles)


def check_references(
    atoms: Sequence[Atom], links: Sequence[tuple[tuple[str, ...], str | None]], diags: Diagnostics
) -> None:
    """Warn where a reference most likely points one question off: the question it resolves to
    shares no concept with the asking one, while a question next to that one does (`模板2 问题4`
    written for 问题5). Says which question the reference reaches and which one it may mean."""
    refs = References(atoms)
    position = {id(a): i for i, a in enumerate(atoms)}
    for i, a in enumerate(atoms):
        if a.status != "reference" or not a.reference or a.reference.endswith("#^"):
            continue
        mine = set(links[i][0])
        target = refs.resolve(a)
        if target is None or not mine:
            continue
        t = position[id(target)]
        if mine & set(links[t][0]):
            continue
        for k in (t - 1, t + 1):
            if not 0 <= k < len(atoms) or k == i:
                continue
            near = atoms[k]
            if near.source == target.source and near.section == target.section and mine & set(links[k][0]):
                diags.warning(
                    a.source,
                    a.line,
                    f"reference '{a.answer.strip()}' reaches '{target.question}' ({target.source}:{target.line}), "
                    f"which shares no concept with this question; '{near.question}' ({near.source}:{near.line}) "
                    "next to it does: is that the one meant?",
                    "unlikely-reference",
                )
                break
