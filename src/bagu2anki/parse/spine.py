"""A file's question spine: top-level lines of one form that together read as its questions,
whatever each one says alone.

Many notes mark their questions only by a shape they repeat: `1. transformer模型结构图`, an image,
a fenced answer, `2. Transformer为何使用多头注意力机制`, …; lettered lines `a. …`, `b. …`; one-line
quotes `> …`; one-line bullets `- …`, each followed by its answer. One line read alone may not ask
(a topic phrase, an error message), but the file's consistency does: lines of one form, most of
which ask, are the file's questions — each with the text up to the next one as its answer (or
none: an interview log's list of the day's questions). Lines of a form that mostly state are an
outline or a tutorial's steps and stay text; so does a run inside an answer (its points), which
`events.py` decides when it meets the run's first line.

The forms, each read from top-level blocks only (lines inside code fences never count):

* numbered: items of top-level ordered lists and one-line paragraphs opening with a number
  (`1.如何…` without a space is no Markdown list, but the same shape); a run counts 1, 2, 3, …
  (a heading or a number out of turn ends it);
* lettered: one-line paragraphs `a. …` / `b、…`, letters rising (gaps allowed: notes skip the
  ones they have not written yet); a heading ends a run;
* quoted: one-line block quotes, all of the file's;
* bulleted: one-item bullet lists whose item is one line, all of the file's, each followed by
  text of its own — or none of them, a list of to-do questions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from markdown_it.token import Token

from bagu2anki.parse import rules
from bagu2anki.parse.lists import inline_text, skip_block, top_items

Form = Literal["numbered", "lettered", "quoted", "bulleted"]

MIN_RUN = 3  # lines of one form (two numbers are as often an answer's own points)
MIN_QUOTED = 2  # one-line quotes, most of which ask: rarely anything but questions
MAX_CHARS = 160  # a question line, not a paragraph that happens to open like one
MAX_LETTER_GAP = 3
FENCED_ASKING_SHARE = 0.25
QUOTED_ASKING_SHARE = 2 / 3
_NUMBERED = re.compile(r"^\s{0,3}(?:\*\*|__)?(?P<n>\d{1,3})\s*(?:[.．、)）](?!\d)|\s)\s*(?P<rest>\S.*)$")
_LETTERED = re.compile(r"^\s{0,3}(?:\*\*|__)?[（(]?(?P<l>[a-z])\s*[.．、)）]\s*(?P<rest>\S.*)$")
_STATED_END = ("。", "：", ":", "；", ";", "，", ",")
# a troubleshooting FAQ asks with the error it met: `AttributeError: … has no attribute …`
_PROBLEM = re.compile(
    r"\b[A-Z]\w*(?:Error|Exception)\b|\b(?:error|exception|failed|cannot|can't|unsupported|killed|"
    r"invalid|missing|not found|not supported|is not|does not|has no)\b|报错",
    re.I,
)
# a task set in a list of questions: `实现 RoPE 的旋转操作`, `用 NumPy 手写 Self-Attention`
_TASK = re.compile(r"(?:^|[\s，,])(?:请)?(?:实现|手写|手撕|推导|写出|写一个|设计)")
_URL = re.compile(r"https?://|www\.")


@dataclass(frozen=True, slots=True)
class SpineItem:
    line: int  # 0-based line of the question
    form: Form
    number: str | None  # `3`, `c`; None for quotes and bullets
    text: str  # the line without its marker
    run: int  # the run it belongs to: line of the run's first item


@dataclass(frozen=True, slots=True)
class _Cand:
    line: int
    form: Form
    order: int  # the number, the letter's place; 0 for quotes and bullets
    text: str
    body: bool = True  # text follows before the next candidate (set for bullets)


def _candidates(tokens: list[Token], lines: list[str]) -> list[_Cand | None]:
    """Each top-level line of a spine form, in order; None where a heading breaks the count."""
    out: list[_Cand | None] = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t.level != 0 or t.map is None:
            i += 1
            continue
        if t.type == "heading_open":
            out.append(None)
        elif t.type == "ordered_list_open":
            for line, text, _indent, number in top_items(tokens, i):
                first = text.split("\n", 1)[0].strip()
                if number is not None and number.isdigit() and first:
                    out.append(_Cand(line, "numbered", int(number), first))
                else:
                    out.append(None)
        elif t.type == "bullet_list_open":
            items = top_items(tokens, i)
            end = skip_block(tokens, i)
            close = tokens[end - 1].map if end - 1 < len(tokens) else None
            if len(items) == 1 and "\n" not in items[0][1] and items[0][1].strip():
                span_end = t.map[1] if close is None else close[1]
                if span_end - t.map[0] <= 2:  # the item holds nothing below its line
                    out.append(_Cand(items[0][0], "bulleted", 0, items[0][1].strip()))
        elif t.type == "paragraph_open":
            content = inline_text(tokens, i)
            if "\n" not in content:
                num = _NUMBERED.match(content)
                letter = _LETTERED.match(content) if num is None else None
                if num is not None:
                    out.append(_Cand(t.map[0], "numbered", int(num.group("n")), _bare(num.group("rest"))))
                elif letter is not None and not content.lstrip().lower().startswith(("e.g", "i.e")):
                    out.append(_Cand(t.map[0], "lettered", ord(letter.group("l")) - 96, _bare(letter.group("rest"))))
        elif t.type == "blockquote_open":
            end = skip_block(tokens, i)
            inner = [tok for tok in tokens[i + 1 : end - 1] if tok.type == "paragraph_open"]
            content = inline_text(tokens, i + 1) if len(inner) == 1 and tokens[i + 1].type == "paragraph_open" else ""
            if content and "\n" not in content and not content.lstrip().startswith("[!"):
                out.append(_Cand(t.map[0], "quoted", 0, content.strip()))
        if t.type.endswith("_open") and t.type != "heading_open":
            i = skip_block(tokens, i)
            continue
        i += 1
    return _mark_bodies(out, lines)


def _bare(text: str) -> str:
    return text.strip().strip("*_").strip()


def _mark_bodies(cands: list[_Cand | None], lines: list[str]) -> list[_Cand | None]:
    """Whether text follows each bullet before the next one-line bullet (its answer may hold
    numbered points, quotes, anything)."""
    bullets = [c.line for c in cands if c is not None and c.form == "bulleted"] + [len(lines)]
    out: list[_Cand | None] = []
    k = 0
    for c in cands:
        if c is not None and c.form == "bulleted":
            k += 1
            body = any(ln.strip() for ln in lines[c.line + 1 : bullets[k]])
            c = _Cand(c.line, c.form, c.order, c.text, body)
        out.append(c)
    return out


def _runs(cands: list[_Cand | None]) -> list[list[_Cand]]:
    runs: list[list[_Cand]] = []
    current: dict[Form, list[_Cand]] = {"numbered": [], "lettered": []}
    whole: dict[Form, list[_Cand]] = {"quoted": [], "bulleted": []}
    for c in cands:
        if c is None:
            for form in current:
                if current[form]:
                    runs.append(current[form])
                current[form] = []
            continue
        if c.form in whole:
            whole[c.form].append(c)
            continue
        run = current[c.form]
        last = run[-1].order if run else None
        follows = last is not None and (
            c.order == last + 1 if c.form == "numbered" else last < c.order <= last + MAX_LETTER_GAP
        )
        if run and not follows:
            runs.append(run)
            current[c.form] = []
        current[c.form].append(c)
    runs.extend(run for run in current.values() if run)
    runs.extend(group for group in whole.values() if group)
    return runs


def item_asks(text: str) -> bool:
    """A line of a spine that asks: holds a question mark, asks in words as a question line does
    (not a sentence that happens to hold 怎么), sets a task, or reports an error."""
    return bool(
        rules.ends_with_question_mark(text)
        or "？" in text
        or "?" in text
        or rules.asks_unmarked(text)
        or _PROBLEM.search(text)
        or _TASK.search(text)
    )


def _reads_as_questions(run: list[_Cand], asking_share: float = 0.5) -> bool:
    if any(len(c.text) > MAX_CHARS for c in run):
        return False
    form = run[0].form
    if len(run) < (MIN_QUOTED if form == "quoted" else MIN_RUN):
        return False
    if form == "bulleted" and len({c.body for c in run}) > 1:
        return False  # some with text below, some without: a list split by blank lines
    asks = [item_asks(c.text) for c in run]
    asking = sum(asks)
    # lines that end like a sentence or open a list of points, asking nothing, are an answer's
    # own (a task may end in `。`)
    stated = sum(1 for c, a in zip(run, asks, strict=True) if not a and c.text.rstrip("*_ ").endswith(_STATED_END))
    if form == "quoted":
        asking_share = max(asking_share, QUOTED_ASKING_SHARE)  # quotes are remarks as often as questions
    return asking >= asking_share * len(run) and stated * 3 < len(run)


def question_spine(tokens: list[Token], lines: list[str]) -> dict[int, SpineItem]:
    """The lines (0-based) of every run that reads as the file's questions."""
    spine: dict[int, SpineItem] = {}
    for run in _runs(_candidates(tokens, lines)):
        if run[0].form in ("bulleted", "quoted"):
            # `- 解决方法：https://…` points, asks nothing; a quote or bullet that states is a
            # remark among questions (`> 从 4K 到 128K，长上下文…。`)
            run = [
                c for c in run
                if not _URL.search(c.text) and ("？" in c.text or "?" in c.text or not c.text.endswith(_STATED_END))
            ]
        if not run or not _reads_as_questions(run):
            continue
        for c in run:
            number = None
            if c.form == "numbered":
                number = str(c.order)
            elif c.form == "lettered":
                number = chr(96 + c.order)
            spine[c.line] = SpineItem(c.line, c.form, number, c.text, run[0].line)
    return spine


def fenced_questions(content: str) -> list[tuple[int, str, str]]:
    """An interview log written inside a code fence (```` ```text ````): (offset of the line within
    the fence's content, number, text) of its numbered lines, when they count 1, 2, 3, … and read
    as questions by the rules of a spine; [] otherwise (code, an answer's own points)."""
    cands: list[_Cand] = []
    for k, row in enumerate(content.split("\n")):
        m = _NUMBERED.match(row)
        if m is not None:
            cands.append(_Cand(k, "numbered", int(m.group("n")), _bare(m.group("rest"))))
        elif cands and row.strip():
            break  # the log ends at its first other line (`还有很多…`); numbers after it are no log
    if not cands or cands[0].order != 1:
        return []
    rest = content.split("\n")[cands[-1].line + 1 :]
    if any(_NUMBERED.match(row) for row in rest):
        return []  # numbers with lines under them: an answer template's steps, not a log
    run = [cands[0]]
    for c in cands[1:]:
        if c.order != run[-1].order + 1:
            return []  # numbering out of turn: points of several answers, or code
        run.append(c)
    # a numbered list alone in a fence outside any answer is a log of what was asked; its topic
    # lines (`6.注意力的公式`) ask less often in words than a spine in the open
    if not _reads_as_questions(run, FENCED_ASKING_SHARE):
        return []
    return [(c.line, str(c.order), c.text) for c in run]
