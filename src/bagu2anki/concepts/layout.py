"""Where a mention sits in an answer: the role of a position in the answer's parts.

Takes an answer's text (as the matcher folds it, so positions line up with `Hit`s) and its parts
with their leads and whole-part asides (`parts.py`), and gives each mention its part and its
role: LEAD, PLAIN or ASIDE. What the roles mean for recognition is described in `recognize.py`;
this module only reads the layout.

Asides. Inside a part, a position is an aside when it is in brackets (`绝对位置编码（sinusoidal、…）`)
unless the brackets hold only the name and at most `GLOSS_EXTRA` other characters, in inline
math or a Markdown link, after an example marker in its clause (`比如…`, `例如…`, `（如 GPT…`), a
yardstick (`与标准 DP 相同`, `像数据并行一样`, `接近全参数微调`), or an item of a list in its
clause — `→` chains always, `、` lists unless the position leads: between the first and last
separator, right before the first (`…观察到的熵坍塌、训练不稳定`), or after the last one up to a
word that ends the list (`前向、反向都有 all-reduce`: all-reduce is not listed). `、` between
single letters (`K、V`) lists symbols, not names. With `lists_count` (a short answer) lists,
pipelines and brackets are content, not asides.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Sequence

from bagu2anki.concepts.parts import (
    _MD_LINK,
    Part,
    _visible,
    _visible_at_most,
)

LEAD, PLAIN, ASIDE = 2, 1, 0
"""Roles of a position in an answer."""


_SETTING = re.compile(r"\s*(?:时|的时候|之中|中|里|内部)")
_ARROW = re.compile(r"→|->|=>|⇒|⟶")
_CLAUSE_END = re.compile(r"[。！？!?，,；;：:\n]|\.(?=\s|$)")
_ENUMERATION = re.compile(r"、")
_LIST_END = re.compile(r"都|均|等|时|也|全|皆")
LIST_TAIL = 3
"""A name at most this many visible characters before the first `、` of a list is its first item."""
_LETTERS = re.compile(r"(?<=(?<![a-z0-9_])[a-z0-9])、(?=[a-z0-9](?![a-z0-9_]))")
"""`、` between single letters or digits (`K、V`, `Q、K、V`) lists symbols, not names."""
_QUALIFIER = r"(?:标准|传统|普通|原始|朴素|经典)?的?\s*"
_BEFORE_YARDSTICK = re.compile(
    r"(?:相比于?|相较于?|比起|接近|优于|胜于|好于|不如|弱于|强于|类似于?|像|不同于)\s*"
    + _QUALIFIER
    + r"$"
)
_WITH = re.compile(r"[与和跟同]\s*" + _QUALIFIER + r"$")
_AFTER_YARDSTICK = re.compile(
    r"[^，,。；;：:！？!?\n]{0,12}?(?:相同|一样|一致|相比|类似|相当|相近|差不多)"
)
_EXAMPLE = re.compile(
    r"比如|例如|譬如|诸如|e\.g\.|such as|for example|[（(，,]\s*如(?=[\s:：“「\"a-z0-9])"
)
_MATH = re.compile(r"\$[^$\n]+\$|\\\(.*?\\\)|\\\[.*?\\\]")
_QUOTES = re.compile(r"[\"'“”‘’「」`*]")
_OPEN = "(（["
_BRACKET = re.compile(r"[(（\[)）\]]")








def _visible_upto(text: str, n: int, start: int, end: int) -> int:
    """`min(_visible(text[start:end]), n + 1)`, looking no further than that."""
    if end <= start:
        return 0
    found = _some_visible(n).match(text, start, end)
    assert found is not None  # (it matches at least nothing)
    return _visible(found.group())


@functools.cache
def _some_visible(n: int) -> re.Pattern[str]:
    """Matches up to `n` + 1 visible characters (and the spaces before each)."""
    return re.compile(rf"(?:\s*\S){{0,{n + 1}}}")


















Span = tuple[int, int]


def _brackets(text: str, start: int, end: int) -> tuple[list[Span], list[Span], list[Span]]:
    """Bracketed spans (outermost), inline math and Markdown links in text[start:end]: three
    lists, each in order and without overlaps."""
    spans: list[Span] = []
    depth = 0
    opened = start
    for m in _BRACKET.finditer(text, start, end):
        if m.group() in _OPEN:
            if depth == 0:
                opened = m.start()
            depth += 1
        elif depth:
            depth -= 1
            if depth == 0:
                spans.append((opened, m.end()))
    if depth:
        spans.append((opened, end))
    # (inline math needs a `$` or a backslash, a link `](`)
    math = (
        [m.span() for m in _MATH.finditer(text, start, end)]
        if text.find("$", start, end) >= 0 or text.find("\\", start, end) >= 0
        else []
    )
    links = (
        [m.span() for m in _MD_LINK.finditer(text, start, end)]
        if text.find("](", start, end) >= 0
        else []
    )
    return spans, math, links


def _masked(text: str, part: Part, groups: Sequence[Sequence[Span]]) -> str:
    """The part's text with what is inside brackets (`_brackets`) blanked out, so that
    punctuation there (`（sinusoidal、可学习的位置 embedding，加在输入上）`) neither ends a clause
    nor enumerates; nor does `、` between single letters (`K、V`)."""
    spans = [span for group in groups for span in group]
    if len(spans) > len(groups[0]):  # (each group is in order; together they may not be)
        spans.sort()
    blanks = [(a + 1, b - 1) for a, b in spans if b - 1 > a + 1]
    if blanks:
        pieces: list[str] = []
        at = part.start
        for a, b in blanks:  # (spans of different kinds may overlap)
            if b <= at:
                continue
            if a > at:
                pieces.append(text[at:a])
                at = a
            pieces.append(" " * (b - at))
            at = b
        pieces.append(text[at : part.end])
        body = "".join(pieces)
    else:
        body = text[part.start : part.end]
    return _LETTERS.sub(" ", body) if "、" in body else body


class _Body:
    """A part as `roles` reads it, prepared once for all the mentions in it: its brackets, its
    text with them blanked (`_masked`), where its clauses end and where its lists are. A part
    may hold many mentions; what each asks then costs a lookup, not a pass over the part."""

    __slots__ = (
        "arrows",
        "brackets",
        "ends",
        "enumerations",
        "examples",
        "list_ends",
        "masked",
    )

    def __init__(self, text: str, part: Part) -> None:
        # (Each search below is tried only where what it looks for can be: most parts have no
        # arrow, many no bracket or `、`.)
        groups = _brackets(text, part.start, part.end)
        self.brackets = groups if any(groups) else None
        self.masked = masked = _masked(text, part, groups)
        self.ends = [m.start() for m in _CLAUSE_END.finditer(masked)]
        """Where each clause ends (all of `_CLAUSE_END` matches one character)."""
        if "→" in masked or ">" in masked or "⇒" in masked or "⟶" in masked:
            arrows = [m.span() for m in _ARROW.finditer(masked)]
            self.arrows = ([a for a, _ in arrows], [b for _, b in arrows])
        else:
            self.arrows = _NONE
        """Where the `_ARROW`s start and end (in order: they never overlap, as none starts with
        the `>` others end with)."""
        self.enumerations = (
            [m.start() for m in _ENUMERATION.finditer(masked)] if "、" in masked else []
        )
        self.examples = (
            _examples(masked)
            if "如" in masked or "e.g." in masked or "such as" in masked or "for example" in masked
            else _NONE
        )
        """Where example markers are (`_examples`; each form of one holds one of these four)."""
        self.list_ends: list[int] | None = None
        """Where each `_LIST_END` is, once asked for (`stop`)."""

    def bracket(self, s: int, e: int) -> Span | None:
        """The first of the brackets, math and links (in that order) that holds [s, e)."""
        if self.brackets is None:
            return None
        for group in self.brackets:
            # (in a group in order and without overlaps only the last span that starts at or
            # before `s` can hold a mention that starts there)
            k = bisect.bisect_right(group, (s, _NOWHERE)) - 1
            if k >= 0 and e <= group[k][1]:
                return group[k]
        return None

    def clause(self, at: int) -> Span:
        """The clause around position `at`: from just after the last clause end before `at` to
        the next clause end at or after it (tests/test_recognize_speed.py holds the plain search
        this must agree with)."""
        ends = self.ends
        k = bisect.bisect_left(ends, at)
        if at and self.masked[at - 1] == ".":
            # a full stop right before `at` ends the clause: a search up to `at` only meets
            # `.(?=\s|$)` at its end
            start = at
        else:
            start = ends[k - 1] + 1 if k else 0
        return start, ends[k] if k < len(ends) else len(self.masked)

    def example(self, a: int, at: int) -> bool:
        """Whether an example marker precedes position `at` in its clause (starting at `a`):
        `_EXAMPLE.search(self.masked, max(0, a - 1), at)`."""
        starts, reach = self.examples
        k = bisect.bisect_left(starts, max(0, a - 1))
        return k < len(starts) and reach[k] <= at

    def listed(self, arrows: bool, a: int, b: int, s: int, e: int) -> bool:
        """Whether the name at [s, e) is an item of a list (`→` or `、`) in the clause [a, b):
        between its first and last separator, right before the first one, or after the last one
        up to a word that ends the list (`前向、反向都有 all-reduce`: 都)."""
        if arrows:
            starts, ends = self.arrows
            i = bisect.bisect_left(starts, a)
            j = bisect.bisect_right(ends, b)
            if i >= j:
                return False
            first, last = starts[i], ends[j - 1]
        else:
            places = self.enumerations
            i = bisect.bisect_left(places, a)
            j = bisect.bisect_left(places, b)
            if i >= j:
                return False
            first, last = places[i], places[j - 1] + 1
        if s < first:
            return _visible_at_most(self.masked, LIST_TAIL, e, first)
        if s < last:
            return True
        stop = self.stop(last, b)
        return stop is None or s < stop

    def stop(self, start: int, end: int) -> int | None:
        """Where the first `_LIST_END` in masked[start:end] is, if any."""
        if self.list_ends is None:
            self.list_ends = [m.start() for m in _LIST_END.finditer(self.masked)]
        k = bisect.bisect_left(self.list_ends, start)
        if k < len(self.list_ends) and self.list_ends[k] < end:
            return self.list_ends[k]
        return None

    def yardstick(self, clause_start: int, s: int, e: int) -> bool:
        """`_yardstick(self.masked, clause_start, s, e)`, not tried where no word of one is."""
        if not _YARDSTICK_HINT.search(self.masked, max(clause_start, s - 12), s):
            return False
        return _yardstick(self.masked, clause_start, s, e)


_NOWHERE = 1 << 62
"""Past the end of any text (an end to bisect spans with)."""
_NONE: tuple[list[int], list[int]] = ([], [])


def _examples(body: str) -> tuple[list[int], list[int]]:
    """Every place an `_EXAMPLE` marker matches in `body`, overlapping ones too: where each
    starts, and how far a search must be allowed to look to find it (its end, or one past it for
    `，如` followed by what the marker's lookahead wants).

    A search from `lo` that stops at `at` finds a marker exactly when the first place at or
    after `lo` is reached by `at`: no form of the marker matches inside another, so the places
    are in order of both start and reach."""
    starts: list[int] = []
    reach: list[int] = []
    m = _EXAMPLE.search(body)
    while m is not None:
        p, q = m.span()
        starts.append(p)
        reach.append(q + 1 if body[p] in "（(，," else q)
        m = _EXAMPLE.search(body, p + 1)
    return starts, reach


_YARDSTICK_HINT = re.compile("[相比接优胜好不弱强类像与和跟同]")
"""The first characters of `_BEFORE_YARDSTICK` and `_WITH`: one of them is in every match."""


GLOSS_EXTRA = 2
"""A bracket holding one name and at most this many other visible characters is a gloss
(`…犯错后的状态（exposure bias）`), not an aside."""


def roles(
    text: str,
    found: Sequence[Part],
    spans: Sequence[tuple[int, int, str]],
    lists_count: bool = False,
) -> list[tuple[int, int]]:
    """(role, part index) of each (start, end, concept) mention in `text` (in order, none empty,
    none overlapping), given the text's `parts`; part -1 for code and display math. With `lists_count`, a name in an
    enumeration, a pipeline or brackets is no aside (in a short answer, all of it is content)."""
    starts = [p.start for p in found]
    compared = _comparison_rows(text, found, spans)
    bodies: dict[int, _Body] = {}
    out: list[tuple[int, int]] = []
    last_end: dict[str, int] = {}
    for s, e, key in spans:
        before = last_end.get(key, 0)
        last_end[key] = e
        k = bisect.bisect_right(starts, s) - 1
        if k < 0 or s >= found[k].end:
            out.append((ASIDE, -1))
            continue
        part = found[k]
        if part.aside:
            out.append((ASIDE, k))
            continue
        body = bodies.get(k)
        if body is None:
            body = bodies[k] = _Body(text, part)
        bracket = body.bracket(s, e)
        if bracket is not None and not (lists_count and text[bracket[0]] not in "!["):
            link = text[bracket[0]] in "!["
            # (what else the bracket holds is counted no further than GLOSS_EXTRA: a long
            # bracket may name many concepts)
            extra = _visible_upto(text, GLOSS_EXTRA, bracket[0] + 1, s) + _visible_upto(
                text, GLOSS_EXTRA, e, bracket[1] - 1
            )
            if link or extra > GLOSS_EXTRA:
                out.append((ASIDE, k))
                continue
            around = text[bracket[0] + 1 : s] + text[e : bracket[1] - 1]
            pure = not _visible(_QUOTES.sub("", around))
            if pure and part.kind != "row" and not _visible_at_most(text, 0, before, bracket[0]):
                # nothing but a name, after a description: a term the answer defines here
                out.append((LEAD, k))
                continue
        at, to = s - part.start, e - part.start
        a, b = body.clause(at)
        if (
            body.example(a, at)
            or (not lists_count and body.listed(True, a, b, at, to))
            or body.yardstick(a, at, to)
        ):
            out.append((ASIDE, k))
            continue
        led = False
        if k not in compared:
            for x, y in part.leads:
                if x <= s < y:
                    led = True
                    break
        if led and (part.whole or not _SETTING.match(text, e)):
            out.append((LEAD, k))
            continue
        if not lists_count and body.listed(False, a, b, at, to):
            out.append((ASIDE, k))
            continue
        out.append((PLAIN, k))
    return out


def _yardstick(body: str, clause_start: int, s: int, e: int) -> bool:
    """A name used as the yardstick of a comparison (`与标准 DP 相同`, `像数据并行一样`,
    `接近全参数微调的性能`, `相比 PPO`) is not what the sentence explains."""
    before = body[max(clause_start, s - 12) : s]
    if _BEFORE_YARDSTICK.search(before):
        return True
    return bool(_WITH.search(before) and _AFTER_YARDSTICK.match(body, e))


def _comparison_rows(
    text: str, found: Sequence[Part], spans: Sequence[tuple[int, int, str]]
) -> set[int]:
    """Rows of tables that compare concepts named in their header (`| 特性 | DPO | PPO |`): their
    first cells name features, not topics, so they lead nothing."""
    rows: set[int] = set()
    span_starts: list[int] | None = None
    k = 0
    while k < len(found):
        if found[k].kind != "row":
            k += 1
            continue
        end = k
        while end + 1 < len(found) and found[end + 1].kind == "row":
            end += 1
        header = found[k]
        first_cell_end = header.leads[0][1] if header.leads else header.start
        if span_starts is None:
            span_starts = [sp[0] for sp in spans]
        # (mentions are in order: the first one after the first cell is the one to look at)
        lo = bisect.bisect_left(span_starts, first_cell_end)
        if lo < len(spans) and spans[lo][0] < header.end:
            rows.update(range(k, end + 1))
        k = end + 1
    return rows
