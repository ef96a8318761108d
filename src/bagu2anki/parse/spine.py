"""A file's numbered spine: top-level numbered lines that count 1, 2, 3, … through the file and
together read as its questions, whatever each one says.

Many notes number their questions and nothing else: `1. transformer模型结构图`, an image, a
fenced answer, `2. Transformer为何使用多头注意力机制`, … One line read alone may not ask (a topic
phrase), but the file's shape does: a run of numbered lines at the top level that count up by one,
most of which ask, is the file's list of questions — each with the text up to the next number as
its answer (or none: an interview log's list of the day's questions). A run in which few lines ask
is an outline or a tutorial's steps and stays text; so does a run inside an answer (its points),
which `events.py` decides when it meets the run's first line.

Candidates are top-level blocks only: the items of top-level ordered lists, and one-line
paragraphs that open with a number (`1.如何…` without a space is no Markdown list, but is the
same shape). Headings end a run. Lines inside code fences are never candidates (markdown-it
keeps them out of the block tokens).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from markdown_it.token import Token

from bagu2anki.parse import rules
from bagu2anki.parse.lists import inline_text, skip_block, top_items

MIN_RUN = 3  # numbered lines (two numbers are as often an answer's own points)
MAX_CHARS = 100  # a question line, not a paragraph that happens to start with a number
_NUMBERED = re.compile(r"^\s{0,3}(?:\*\*|__)?(?P<n>\d{1,3})\s*(?:[.．、)）](?!\d)|\s)\s*(?P<rest>\S.*)$")


@dataclass(frozen=True, slots=True)
class SpineItem:
    line: int  # 0-based line of the numbered line
    number: int
    text: str  # the line without its number
    run: int  # the run it belongs to (index of the run's first item in the file)


def _candidates(tokens: list[Token]) -> list[tuple[int, int, str] | None]:
    """(line, number, text) of each top-level numbered line in order; None where a heading
    breaks the count."""
    out: list[tuple[int, int, str] | None] = []
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
                    out.append((line, int(number), first))
                else:
                    out.append(None)
            i = skip_block(tokens, i)
            continue
        elif t.type == "paragraph_open":
            content = inline_text(tokens, i)
            m = _NUMBERED.match(content) if "\n" not in content else None
            if m is not None:
                out.append((t.map[0], int(m.group("n")), m.group("rest").strip().strip("*_").strip()))
            i = skip_block(tokens, i)
            continue
        elif t.type.endswith("_open"):
            i = skip_block(tokens, i)
            continue
        i += 1
    return out


def _reads_as_questions(items: list[tuple[int, int, str]]) -> bool:
    if any(len(text) > MAX_CHARS for _l, _n, text in items):
        return False
    asking = sum(1 for _l, _n, text in items if rules.asks(text) or rules.asks_unmarked(text))
    if len(items) < MIN_RUN:
        return False
    # lines that end like a sentence or open a list of points are an answer's own, not questions
    stated = sum(1 for _l, _n, text in items if text.rstrip("*_ ").endswith(("。", "：", ":", "；", ";")))
    return asking * 2 >= len(items) and stated * 3 < len(items)


def numbered_spine(tokens: list[Token]) -> dict[int, SpineItem]:
    """The numbered lines (by 0-based line) of every run that reads as the file's questions."""
    runs: list[list[tuple[int, int, str]]] = []
    current: list[tuple[int, int, str]] = []
    for cand in _candidates(tokens):
        if cand is None:
            if current:
                runs.append(current)
            current = []
            continue
        if current and cand[1] == current[-1][1] + 1:
            current.append(cand)
        else:
            if current:
                runs.append(current)
            current = [cand]
    if current:
        runs.append(current)
    spine: dict[int, SpineItem] = {}
    for run in runs:
        if _reads_as_questions(run):
            for line, number, text in run:
                spine[line] = SpineItem(line, number, text, run[0][0])
    return spine
