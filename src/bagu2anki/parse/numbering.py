"""Numbered lines in the Markdown reader: when a `2、…` or a one-item `2. …` list that asks
only in words starts a question, and when numbers are an answer's own points."""

from __future__ import annotations

import re

from bagu2anki.parse import rules
from bagu2anki.parse.common import Event


def numbered_unmarked(
    content: str, events: list[Event], after_heading: bool, open_kind: str | None, lines: list[str], start: int
) -> rules.QuestionMark | None:
    """A one-line paragraph `N、…` / `**N. …**` (or one-item list) that asks without a mark,
    continuing the numbering of the questions before it (or opening it with 1 under a heading).
    Not when the numbering is the answer's own: inside a heading question's answer, after a `1`
    of the open question's answer, or when the same number comes again before the next heading
    (a real question 2 after the answer's point 2) or the next number does not ask (a tutorial's
    `1. 为什么需要归一化` / `2. 常见的归一化方法`), for a line that asks only in words."""
    if open_kind == "heading":
        return None
    if "\n" in content:
        # `2、什么是 teacher forcing？` with its answer on the next line, no blank line between:
        # the first line is the one to judge
        content = content.split("\n", 1)[0]
    mark = rules.rule_numbered_unmarked(content)
    if mark is None or mark.number is None or not mark.number.split(".")[0].isdigit():
        return None
    value = int(mark.number.split(".")[0])
    previous = next((ev for ev in reversed(events) if ev.kind == "question" or ev.level), None)
    if previous is None or previous.kind == "topic":
        last_q = next((ev for ev in reversed(events) if ev.kind == "question"), None)
        goes_on = (
            last_q is not None
            and (last_q.number or "").isdigit()
            and value == int(last_q.number or "0") + 1
            and rules.ends_with_question_mark(content)
        )  # `## 填空题` then `5. …______。` after question 4: the file's count goes on
        if not ((value == 1 and after_heading) or goes_on):
            return None
    else:
        head = (previous.number or "").split(".")[0]
        if not (head.isdigit() and value == int(head) + 1):
            return None
    if rules.ends_with_question_mark(content):
        return mark  # `2. …？` continuing the numbering: a question, as a lone line that asks is
    if previous is not None and previous.kind != "topic" and any(
        _numbered(lines[k]) == 1 for k in range(max(previous.body_start, start - 300), start)
    ):
        return None  # the open answer counts its own points from 1
    # asking only in words: not when the number comes again (a real question 2 after the
    # answer's point 2), nor when the next number does not ask (a tutorial's subsections)
    again, following = _numbers_ahead(lines, start, value)
    if again or (following is not None and not rules.asks_unmarked(following)):
        return None
    return mark


_NUMBERED_LINE = re.compile(r"^\s{0,3}(?:\*\*|__)?[（(]?(\d{1,3})(?:[.．、)）]|\s)")


def _numbered(line: str) -> int | None:
    m = _NUMBERED_LINE.match(line)
    return int(m.group(1)) if m else None


def _numbers_ahead(lines: list[str], start: int, value: int) -> tuple[bool, str | None]:
    """Before the next heading: does `value` come again, and what does `value + 1` say."""
    following: str | None = None
    for k in range(start + 1, min(len(lines), start + 300)):
        line = lines[k]
        if line.startswith("#"):
            break
        number = _numbered(line)
        if number == value:
            return True, following
        if number == value + 1 and following is None:
            following = re.sub(r"^\s*(?:\*\*|__)?[（(]?\d{1,3}(?:[.．、)）]|\s)\s*", "", line).strip(" *_")
    return False, following


def introduced(lines: list[str], start: int, events: list[Event]) -> bool:
    """The open question's answer leads into this list with a line ending in a colon."""
    begin = events[-1].body_start if events else 0
    for k in range(start - 1, begin - 1, -1):
        text = lines[k].strip()
        if text:
            return k >= begin and text.rstrip("*_ ").endswith((":", "："))
    return False
