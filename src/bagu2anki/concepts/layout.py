"""Where a mention sits in an answer: the answer's parts, and the role of a position in them.

Takes an answer's text (as the matcher folds it, so positions line up with `Hit`s) and gives its
parts and, for each mention, its part and its role: LEAD, PLAIN or ASIDE. What the roles mean
for recognition is described in `recognize.py`; this module only reads the layout.

Parts. Lines inside code fences (except ```text / ```markdown fences, which some notes use for
prose) and `$$` display math belong to no part. A heading (`#`, or a numbered section line such
as `一、` or `第 2 步`), a table row and a list item (`-`, `1.`, `（1）`, an emoji bullet) each
start a part. In Markdown, other lines continue the part above them until a blank line (a
paragraph); in a flat text export, where line breaks are the only layout left, every line is a
part. Items are sub-items when indented, or when the answer groups its lists under two or more
title lines (short lines that are no sentence: `数据处理阶段:` … `训练阶段:` …, `2. 检索阶段去噪技术`).

Leads. A heading leads the part under it (all of a `#` heading, the first sentence of a
numbered line that goes on as prose; a heading directly followed by another leads nothing).
A table row is led by its first cell, unless its table compares concepts named in its header
(`| 特性 | DPO | PPO |`: the first column then holds features). A top-level item or a
paragraph is led by its label: the words before a colon near its start (`zero2: 切分梯度`,
`检索：…`), else a bold phrase at its start (`**Pre-Norm**：`, `召回用的是 **bi-encoder**`), else
all of a short line that is no sentence (`混合专家moe`). The answer's opening (after an `A：`
prefix, and after a line that only restates the question) is led by its first `OPENING`
characters, or by its whole first sentence with `whole_opening`; the first sentence after a
`总结` / `小结` line is a lead. After an announced division (`分两类：`), the rest of the sentence
names the parts. A name in brackets right after a description, with nothing else in the
brackets, is a term the answer defines (`犯错后的状态（exposure bias）`): a lead. A first-words
mention that only sets the scene (`自回归生成时`, `X 中`) does not lead.

Asides. A whole part is an aside when it is a link line (a link and a few words, or a `详见 …`
pointer), a chat closer (`如果你对…感兴趣`) or an item listed after an example marker (`…，如：`).
Inside a part, a position is an aside when it is in brackets (`绝对位置编码（sinusoidal、…）`)
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
from typing import NamedTuple

LEAD, PLAIN, ASIDE = 2, 1, 0
"""Roles of a position in an answer."""

LABEL_MAX = 16
"""A colon at most this many characters into an item or paragraph ends its label."""
SHORT_PART = 16
"""An item or paragraph of at most this many visible characters is a label as a whole."""
OPENING = 6
"""A mention starting at most this many characters into the answer's opening sentence (or a
summary's first sentence) is its lead (`这属于 context engineering 的问题`)."""
BOLD_MAX = 40
"""Longest bold label (`_BOLD` spells it out)."""

_FENCE = re.compile(r"\s*(?:```|~~~)\s*(\w*)")
_PROSE_FENCE = frozenset({"text", "txt", "plain", "plaintext", "markdown", "md"})
"""Fenced blocks in these languages hold prose (some notes put whole answers in ```text)."""
_TABLE_RULE = re.compile(r"\s*\|[\s|:\-]*")
_HEADING = re.compile(
    r"\s*(?:#{1,6}\s+|[一二三四五六七八九十]{1,3}[、.．]\s*"
    r"|第\s*[一二三四五六七八九十\d]{1,2}\s*[步点部分章节]\s*[:：、.]?\s*)"
)
_ITEM = re.compile(
    r"\s*(?:(?:[*+]\s|[-•·▪◦–—](?![-\d>])|\d{1,2}[.、)）](?!\d)|[(（]\d{1,2}[)）])\s*"
    r"|[✅❌📌⚠👉➤▶✔☑⭐🔹🔸\ufe0f]+\s*(?:\d{1,2}[.、]\s*)?)"
)
_HEADING_FIRST = frozenset("#一二三四五六七八九十第")
"""The characters a `_HEADING` starts with (after spaces)."""
_ITEM_FIRST = frozenset("*+-•·▪◦–—(（✅❌📌⚠👉➤▶✔☑⭐🔹🔸\ufe0f")
"""The characters an `_ITEM` starts with (after spaces), other than decimal digits."""
_NUMBERED = re.compile(r"\s*(?:\d{1,2}[.、)）]|[(（]\d{1,2}[)）])")
_PREFIX = re.compile(r"\s*(?:a|答|回答|答案)\s*[:：]\s*")
_BOLD = re.compile(r"\*\*([^*\n]{1,40}?)\*\*")
_SETTING = re.compile(r"\s*(?:时|的时候|之中|中|里|内部)")
_NOT_A_TITLE = re.compile(r"[。！？!?；;，,]|[.:：]\s*$")
_ARROW = re.compile(r"→|->|=>|⇒|⟶")
_COLON = re.compile(r"[:：]")
_SENTENCE_END = re.compile(r"[。！？!?\n]|\.(?=\s|$)")
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
_QUESTION_LINE = re.compile(r"[?？]\s*$")
_DIVISION = re.compile(
    r"(?:分[为成]?|有|包括)(?:以下|如下)?[两二三四五六七八九十几多\d]+(?:大)?(?:类|种|个?方面|部分)[^，,。；;：:\n]{0,6}?[:：]"
)
"""An announced division (`分两类：A 和 B`): the rest of its sentence names the answer's parts."""
_EXAMPLE = re.compile(
    r"比如|例如|譬如|诸如|e\.g\.|such as|for example|[（(，,]\s*如(?=[\s:：“「\"a-z0-9])"
)
_INTRO_EXAMPLES = re.compile(r"(?:比如|例如|譬如|诸如|如|e\.g\.|such as)\s*[:：]\s*$")
_CLOSER = re.compile(r"\s*(?:如果你|如果您|如需|如有需要|希望(?:对你|这|以上)|欢迎|if you\b)")
_CLOSER_FIRST = "如希欢i"
"""The characters `_CLOSER` starts with (after spaces)."""
_URL = re.compile(r"https?://\S+")
_MD_LINK = re.compile(r"!?\[[^\]\n]*\]\([^)\s]*\)")
_POINTER = re.compile(r"\s*(?:[-*>]\s*)?(?:详见|参见|参考|更多|延伸阅读|see also)", re.IGNORECASE)
LINK_LINE = 24
"""A part that holds a link and at most this many other visible characters is a link line."""
_SUMMARY = re.compile(
    r"\s*(?:#{1,6}\s*)?(?:\*\*)?\s*[a-z]?\s*(?:总结|小结|summary)\s*(?:\*\*)?\s*[:：]?\s*$"
)
_MATH = re.compile(r"\$[^$\n]+\$|\\\(.*?\\\)|\\\[.*?\\\]")
_QUOTES = re.compile(r"[\"'“”‘’「」`*]")
_OPEN = "(（["
_BRACKET = re.compile(r"[(（\[)）\]]")


class Part(NamedTuple):
    start: int
    end: int
    kind: str
    """heading, row, item or para."""
    leads: tuple[tuple[int, int], ...]
    aside: bool
    whole: bool = False
    """Its whole first sentence leads (the answer's opening when the question names no subject
    of its own, or a summary)."""


_new_part = tuple.__new__  # (`Part(...)` costs twice as much)


def _visible(text: str) -> int:
    """Characters of `text` other than whitespace (what `\\s` of `re` and `str.split` agree on)."""
    return len("".join(text.split()))


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


@functools.cache
def _more_visible(n: int) -> re.Pattern[str]:
    """Matches (at a position) where at least `n` + 1 visible characters follow."""
    return re.compile(rf"(?:\s*\S){{{n + 1}}}")


def _visible_at_most(text: str, n: int, start: int = 0, end: int | None = None) -> bool:
    """`_visible(text[start:end]) <= n`, looking no further than the (n+1)-th visible character:
    a bound on a long paragraph or clause costs what the bound is, not what the text is."""
    stop = len(text) if end is None else end
    if stop - start <= n:
        return True
    # Most texts are dense: their first few characters settle it.
    window = min(stop, start + 2 * n + 8)
    seen = _visible(text[start:window])
    if seen > n or window == stop:
        return seen <= n
    return _more_visible(n).match(text, start, stop) is None


def _label(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The label of an item or paragraph whose content is text[start:end]: a bold phrase near
    its start, the words before a colon near its start (when something follows the colon), or
    the whole of a short line that is not a sentence or an introduction (`…如下：`)."""
    content = text[start:end].rstrip()
    colon = _COLON.search(content, 0, LABEL_MAX + 1)
    if colon and colon.end() < len(content) and not _URL.match(content, colon.end()):
        return start, start + colon.start()
    bold = _BOLD.search(content, 0, OPENING + 2 * BOLD_MAX)
    if bold and bold.start() <= OPENING:
        return start + bold.start(1), start + bold.end(1)
    if not _NOT_A_TITLE.search(content) and _visible_at_most(content, SHORT_PART):
        return start, end
    return None


def _opening(text: str, start: int, end: int, whole: bool) -> tuple[int, int]:
    """Where a mention must start to lead the sentence at `start`: its first `OPENING`
    characters, or anywhere in it when `whole`."""
    stop = _SENTENCE_END.search(text, start, end)
    stop_at = stop.start() if stop else end
    return start, stop_at if whole else min(start + OPENING, stop_at)


def parts(text: str, markdown: bool, whole_opening: bool = False) -> list[Part]:
    """The parts of an answer, in order (see the module docstring). With `whole_opening`, all of
    the answer's first sentence is a lead, not only its first words."""
    found: list[tuple[int, int, str, int]] = []  # start, end, kind, where the content starts
    indented: list[bool] = []
    title_of: list[int] = []  # an item's title line (a heading or a short label), else -1
    pos = 0
    in_fence = in_code = in_math = False
    open_para = False  # a Markdown line may continue the part above
    for line in text.split("\n"):
        start, end = pos, pos + len(line)
        pos = end + 1
        stripped = line.strip()
        # (Each pattern below starts with `\s*` and then a character of a known few: a line whose
        # first visible character is none of them is not tried.)
        if stripped.startswith(("```", "~~~")):
            fence = _FENCE.match(line)
            assert fence is not None
            in_fence = not in_fence
            in_code = in_fence and fence.group(1).lower() not in _PROSE_FENCE
            open_para = False
            continue
        if in_code:
            continue
        if stripped.startswith("$$"):
            if not (len(stripped) > 4 and stripped.endswith("$$")):
                in_math = not in_math
            open_para = False
            continue
        if in_math:
            continue
        if not stripped:
            open_para = False
            continue
        first = stripped[0]
        if first == "|" and _TABLE_RULE.fullmatch(line):
            continue
        indent = len(line) - len(line.lstrip())
        if first == "|":
            found.append((start, end, "row", start + indent + 1))
            indented.append(False)
            title_of.append(-1)
            open_para = False
            continue
        heading = _HEADING.match(line) if first in _HEADING_FIRST else None
        if heading:
            found.append((start, end, "heading", start + heading.end()))
            indented.append(False)
            title_of.append(-1)
            open_para = False
            continue
        item = _ITEM.match(line) if first in _ITEM_FIRST or first.isdecimal() else None
        if item and item.end() < len(line):
            title = -1
            numbered = _NUMBERED.match(line) is not None
            part = (start, end, "item", start + item.end())
            if numbered and _is_title(text, part):
                pass  # `2. 检索阶段去噪技术`: a numbered title line of its own
            elif found and (found[-1][2] == "heading" or _is_title(text, found[-1])):
                title = len(found) - 1
            elif found and found[-1][2] == "item":
                title = title_of[-1]
            found.append(part)
            indented.append(markdown and indent >= 2)
            title_of.append(title)
            open_para = markdown
            continue
        if open_para and found:
            s0, _, kind, c0 = found[-1]
            found[-1] = (s0, end, kind, c0)
            continue
        found.append((start, end, "para", start + indent))
        indented.append(False)
        title_of.append(-1)
        open_para = markdown
    # Items are sub-items when indented, or when the answer groups its lists under two or more
    # title lines (`数据处理阶段:` … `训练阶段:` …): then the groups are its top-level parts.
    grouped = len({t for t in title_of if t >= 0}) >= 2
    nested = [i or (grouped and t >= 0) for i, t in zip(indented, title_of, strict=True)]
    result: list[Part] = []
    examples = False  # items listed after `…，如：` are examples
    summary = False  # the part after a `总结` line opens the summary
    opened = False
    # (A link line needs `://` or `](`; `_INTRO_EXAMPLES` and `_QUESTION_LINE` need a colon or a
    # question mark as the last visible character: what no part has is not searched for.)
    links = "://" in text or "](" in text
    for n, ((s, e, kind, c), sub) in enumerate(zip(found, nested, strict=True)):
        body = text[s:e]
        first = text[c : c + 1]  # ("" is in every string: at the end, `_CLOSER` is tried)
        aside = (
            (links and _is_link_line(body))
            or ((first in _CLOSER_FIRST or first.isspace()) and bool(_CLOSER.match(text, c)))
            or (examples and kind == "item")
        )
        if kind != "item":
            examples = False
        last = body.rstrip()[-1:]
        if last in (":", "：") and _INTRO_EXAMPLES.search(body):
            examples = True
        leads: list[tuple[int, int]] = []
        whole = False
        if kind == "heading":
            # a heading leads the part under it; one directly followed by another heading (its
            # content lost) leads nothing. A numbered line that goes on as prose (`第一步，…`)
            # is led by its first sentence.
            if n + 1 < len(found) and found[n + 1][2] != "heading":
                stop = _SENTENCE_END.search(text, c, e) if text[s] != "#" else None
                leads.append((c, stop.start() if stop else e))
        elif kind == "row":
            bar = text.find("|", c, e)
            leads.append((c, bar if bar >= 0 else e))
        else:
            if not opened and not aside:
                prefix = _PREFIX.match(text, c, e)
                if prefix:
                    c = prefix.end()
                leads.append(_opening(text, c, e, whole_opening))
                whole = whole_opening
            elif summary:
                leads.append(_opening(text, c, e, True))
                whole = True
            label = None if sub else _label(text, c, e)
            if label:
                leads.append(label)
            for division in _DIVISION.finditer(text, c, e):
                stop = _SENTENCE_END.search(text, division.end(), e)
                leads.append((division.end(), stop.start() if stop else e))
        if not aside and not (last in ("?", "？") and _QUESTION_LINE.search(body)):
            opened = True  # (an opening line that restates the question does not open it)
        summary = ("结" in body or "summary" in body) and bool(_SUMMARY.match(body))
        result.append(_new_part(Part, (s, e, kind, tuple(leads), aside, whole)))
    return result


def _is_link_line(body: str) -> bool:
    """A line that only points elsewhere: a link with a few words, or a `详见 […](…)` pointer."""
    if not (_URL.search(body) or _MD_LINK.search(body)):
        return False
    return bool(_POINTER.match(body)) or _visible(_MD_LINK.sub("", _URL.sub("", body))) <= LINK_LINE


def content_length(text: str, found: Sequence[Part], cap: int | None = None) -> int:
    """Visible characters of the answer's parts, links lines, closers, code and math aside.
    With `cap`, counting stops once past it (the result is then some number above `cap`): a
    long answer is known to be long after its first parts."""
    total = 0
    for p in found:
        if not p.aside:
            total += _visible(text[p.start : p.end])
            if cap is not None and total > cap:
                break
    return total


def _is_title(text: str, part: tuple[int, int, str, int]) -> bool:
    """A short line that is not a sentence: a title for the items under it (`数据处理阶段:`,
    `2. 检索阶段去噪技术`)."""
    if part[2] == "heading":
        return True
    if part[2] == "item" and not _NUMBERED.match(text, part[0]):
        return False
    content = text[part[3] : part[1]].rstrip()
    return _visible_at_most(content, SHORT_PART) and not _SENTENCE_END.search(content)


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
