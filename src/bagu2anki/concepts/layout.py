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
import re
from collections.abc import Sequence
from dataclasses import dataclass

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
_NUMBERED = re.compile(r"\s*(?:\d{1,2}[.、)）]|[(（]\d{1,2}[)）])")
_PREFIX = re.compile(r"\s*(?:a|答|回答|答案)\s*[:：]\s*")
_BOLD = re.compile(r"\*\*([^*\n]{1,40}?)\*\*")
_SETTING = re.compile(r"\s*(?:时|的时候|之中|中|里|内部)")
_NOT_A_TITLE = re.compile(r"[。！？!?；;，,]|[.:：]\s*$")
_ARROW = re.compile(r"→|->|=>|⇒|⟶")
_COLON = re.compile(r"[:：]")
_SPACE = re.compile(r"\s+")
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


@dataclass(frozen=True, slots=True)
class Part:
    start: int
    end: int
    kind: str
    """heading, row, item or para."""
    leads: tuple[tuple[int, int], ...]
    aside: bool
    whole: bool = False
    """Its whole first sentence leads (the answer's opening when the question names no subject
    of its own, or a summary)."""


def _visible(text: str) -> int:
    return len(_SPACE.sub("", text))


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
    if _visible(content) <= SHORT_PART and not _NOT_A_TITLE.search(content):
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
        fence = _FENCE.match(line)
        if fence:
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
        if _TABLE_RULE.fullmatch(line):
            continue
        indent = len(line) - len(line.lstrip())
        if stripped.startswith("|"):
            found.append((start, end, "row", start + indent + 1))
            indented.append(False)
            title_of.append(-1)
            open_para = False
            continue
        heading = _HEADING.match(line)
        if heading:
            found.append((start, end, "heading", start + heading.end()))
            indented.append(False)
            title_of.append(-1)
            open_para = False
            continue
        item = _ITEM.match(line)
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
    for n, ((s, e, kind, c), sub) in enumerate(zip(found, nested, strict=True)):
        body = text[s:e]
        aside = _is_link_line(body) or bool(_CLOSER.match(text, c)) or (examples and kind == "item")
        if kind != "item":
            examples = False
        if _INTRO_EXAMPLES.search(body):
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
        if not aside and not _QUESTION_LINE.search(body):
            opened = True  # (an opening line that restates the question does not open it)
        summary = bool(_SUMMARY.match(body))
        result.append(Part(s, e, kind, tuple(leads), aside, whole))
    return result


def _is_link_line(body: str) -> bool:
    """A line that only points elsewhere: a link with a few words, or a `详见 […](…)` pointer."""
    if not (_URL.search(body) or _MD_LINK.search(body)):
        return False
    return bool(_POINTER.match(body)) or _visible(_MD_LINK.sub("", _URL.sub("", body))) <= LINK_LINE


def content_length(text: str, found: Sequence[Part]) -> int:
    """Visible characters of the answer's parts, links lines, closers, code and math aside."""
    return sum(_visible(text[p.start : p.end]) for p in found if not p.aside)


def _is_title(text: str, part: tuple[int, int, str, int]) -> bool:
    """A short line that is not a sentence: a title for the items under it (`数据处理阶段:`,
    `2. 检索阶段去噪技术`)."""
    if part[2] == "heading":
        return True
    if part[2] == "item" and not _NUMBERED.match(text, part[0]):
        return False
    content = text[part[3] : part[1]].rstrip()
    return _visible(content) <= SHORT_PART and not _SENTENCE_END.search(content)


def _brackets(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Bracketed spans (outermost), inline math and Markdown links in text[start:end]."""
    spans: list[tuple[int, int]] = []
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
    spans.extend(m.span() for m in _MATH.finditer(text, start, end))
    spans.extend(m.span() for m in _MD_LINK.finditer(text, start, end))
    return spans


def _clause(masked: str, at: int) -> tuple[int, int]:
    """The clause of `masked` (a part with its brackets blanked) around position `at`."""
    start = 0
    for m in _CLAUSE_END.finditer(masked, 0, at):
        start = m.end()
    stop = _CLAUSE_END.search(masked, at)
    return start, stop.start() if stop else len(masked)


def _masked(text: str, part: Part, brackets: Sequence[tuple[int, int]]) -> str:
    """The part's text with what is inside brackets blanked out, so that punctuation there
    (`（sinusoidal、可学习的位置 embedding，加在输入上）`) neither ends a clause nor enumerates;
    nor does `、` between single letters (`K、V`)."""
    chars = list(text[part.start : part.end])
    for a, b in brackets:
        for k in range(a + 1 - part.start, b - 1 - part.start):
            chars[k] = " "
    return _LETTERS.sub(" ", "".join(chars))


GLOSS_EXTRA = 2
"""A bracket holding one name and at most this many other visible characters is a gloss
(`…犯错后的状态（exposure bias）`), not an aside."""


def roles(
    text: str,
    found: Sequence[Part],
    spans: Sequence[tuple[int, int, str]],
    lists_count: bool = False,
) -> list[tuple[int, int]]:
    """(role, part index) of each (start, end, concept) mention in `text` (in order), given the
    text's `parts`; part -1 for code and display math. With `lists_count`, a name in an
    enumeration, a pipeline or brackets is no aside (in a short answer, all of it is content)."""
    starts = [p.start for p in found]
    compared = _comparison_rows(text, found, starts, spans)
    brackets: dict[int, list[tuple[int, int]]] = {}
    masked: dict[int, str] = {}
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
        if k not in brackets:
            brackets[k] = _brackets(text, part.start, part.end)
            masked[k] = _masked(text, part, brackets[k])
        bracket = next(((a, b) for a, b in brackets[k] if a <= s and e <= b), None)
        if bracket is not None and not (lists_count and text[bracket[0]] not in "!["):
            link = text[bracket[0]] in "!["
            around = text[bracket[0] + 1 : s] + text[e : bracket[1] - 1]
            if link or _visible(around) > GLOSS_EXTRA:
                out.append((ASIDE, k))
                continue
            pure = not _visible(_QUOTES.sub("", around))
            if pure and part.kind != "row" and _visible(text[before : bracket[0]]) > 0:
                # nothing but a name, after a description: a term the answer defines here
                out.append((LEAD, k))
                continue
        body = masked[k]
        a, b = _clause(body, s - part.start)
        if (
            _EXAMPLE.search(body, max(0, a - 1), s - part.start)
            or (not lists_count and _listed(_ARROW, body, a, b, s - part.start, e - part.start))
            or _yardstick(body, a, s - part.start, e - part.start)
        ):
            out.append((ASIDE, k))
            continue
        led = k not in compared and any(x <= s < y for x, y in part.leads)
        if led and (part.whole or not _SETTING.match(text, e)):
            out.append((LEAD, k))
            continue
        if not lists_count and _listed(_ENUMERATION, body, a, b, s - part.start, e - part.start):
            out.append((ASIDE, k))
            continue
        out.append((PLAIN, k))
    return out


def _listed(separator: re.Pattern[str], body: str, a: int, b: int, s: int, e: int) -> bool:
    """Whether the name at [s, e) is an item of a list in the clause body[a:b]: between its
    first and last separator (`、`, `→`), right before the first one (`…观察到的熵坍塌、训练不稳定`),
    or after the last one, up to a word that ends the list (`前向、反向都有 all-reduce`: 都)."""
    seps = list(separator.finditer(body, a, b))
    if not seps:
        return False
    first, last = seps[0].start(), seps[-1].end()
    if s < first:
        return _visible(body[e:first]) <= LIST_TAIL
    if s < last:
        return True
    stop = _LIST_END.search(body, last, b)
    return stop is None or s < stop.start()


def _yardstick(body: str, clause_start: int, s: int, e: int) -> bool:
    """A name used as the yardstick of a comparison (`与标准 DP 相同`, `像数据并行一样`,
    `接近全参数微调的性能`, `相比 PPO`) is not what the sentence explains."""
    before = body[max(clause_start, s - 12) : s]
    if _BEFORE_YARDSTICK.search(before):
        return True
    return bool(_WITH.search(before) and _AFTER_YARDSTICK.match(body, e))


def _comparison_rows(
    text: str, found: Sequence[Part], starts: Sequence[int], spans: Sequence[tuple[int, int, str]]
) -> set[int]:
    """Rows of tables that compare concepts named in their header (`| 特性 | DPO | PPO |`): their
    first cells name features, not topics, so they lead nothing."""
    rows: set[int] = set()
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
        lo = bisect.bisect_left([sp[0] for sp in spans], first_cell_end)
        if any(s < header.end for s, _, _ in spans[lo:]):
            rows.update(range(k, end + 1))
        k = end + 1
    return rows
