"""An answer cut into parts, and where in each part a mention leads it: what `layout.roles`
reads positions against.

Takes an answer's text as the matcher folds it (positions line up with `Hit`s).

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
What is an aside inside a part is `layout.py`'s to say.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import NamedTuple

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
_NOT_A_TITLE = re.compile(r"[。！？!?；;，,]|[.:：]\s*$")
_COLON = re.compile(r"[:：]")
_SENTENCE_END = re.compile(r"[。！？!?\n]|\.(?=\s|$)")
_QUESTION_LINE = re.compile(r"[?？]\s*$")
_DIVISION = re.compile(
    r"(?:分[为成]?|有|包括)(?:以下|如下)?[两二三四五六七八九十几多\d]+(?:大)?(?:类|种|个?方面|部分)[^，,。；;：:\n]{0,6}?[:：]"
)
"""An announced division (`分两类：A 和 B`): the rest of its sentence names the answer's parts."""
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
