"""List items and `<details>` in the Markdown reader: which lists hold questions, where their
answers are, and a `<details>` whose summary asks.

Works on markdown-it block tokens (`parse/markdown.py` makes them): the items of a list, whether
an item says more than its first line or folds its answer in `<details>`, and outlines whose top
items are topics with the questions nested under them.
"""

from __future__ import annotations

import html
import re

from markdown_it.token import Token

from bagu2anki.parse import rules


def inline_text(tokens: list[Token], i: int) -> str:
    nxt = tokens[i + 1] if i + 1 < len(tokens) else None
    return nxt.content if nxt is not None and nxt.type == "inline" else ""


_FOLD_RE = re.compile(r"<summary>\s*(?:答案|答|参考答案|解析|answer|solution)\s*</summary>", re.I)


def has_answer_fold(lines: list[str], tokens: list[Token], list_idx: int, item_line: int) -> bool:
    """`<details><summary>答案</summary>…</details>` under a list item: a question with its answer."""
    opened = tokens[list_idx].map
    nxt = opened[1] if opened else len(lines)
    for t in tokens[list_idx + 1 :]:
        if t.type == "list_item_open" and t.map and t.map[0] > item_line and t.level == tokens[list_idx].level + 1:
            nxt = t.map[0]
            break
    return any(_FOLD_RE.search(ln) for ln in lines[item_line:nxt])


OUTLINE_LEVEL = 7  # a topic item of an outline sits below every heading level
_ITEM_START_RE = re.compile(r"^(\s*(?:[-*+]|\d{1,9}[.)])[ \t]+)")


def outline_topics(
    tokens: list[Token], i: int, lines: list[str]
) -> list[tuple[int, str, list[tuple[int, str, int]]]] | None:
    """An outline two levels deep: top items that are topics, each with a nested list of
    questions that carry their answers further in. None when it does not read that way."""
    level = tokens[i].level
    topics: list[tuple[int, str, list[tuple[int, str, int]]]] = []
    asked = 0
    for item_line, item_text, _indent, _number in top_items(tokens, i):
        questions: list[tuple[int, str, int]] = []
        for j in range(i + 1, len(tokens)):
            sub = tokens[j]
            if sub.type in ("bullet_list_close", "ordered_list_close") and sub.level == level:
                break
            if sub.type not in ("bullet_list_open", "ordered_list_open") or sub.level != level + 2:
                continue
            if not sub.map or not (sub.map[0] > item_line) or _owner(tokens, i, sub.map[0]) != item_line:
                continue
            for q_line, q_text, _ind, _num in top_items(tokens, j):
                first = q_text.split("\n", 1)[0]
                if not rules.asks(first):
                    continue
                if not item_has_body(lines, tokens, j, q_line):
                    return None  # a question without its answer under it: not this style
                m = _ITEM_START_RE.match(lines[q_line])
                questions.append((q_line, first.strip(), len(m.group(1)) if m else 0))
        asked += len(questions)
        topics.append((item_line, item_text.split("\n", 1)[0].strip(), questions))
    return topics if asked >= 2 else None


def _owner(tokens: list[Token], list_idx: int, line: int) -> int | None:
    """The first line of the top item (of the list at list_idx) that contains `line`."""
    level = tokens[list_idx].level + 1
    owner = None
    for t in tokens[list_idx + 1 :]:
        if t.type == "list_item_open" and t.level == level and t.map:
            if t.map[0] <= line < t.map[1]:
                owner = t.map[0]
        if t.type in ("bullet_list_close", "ordered_list_close") and t.level == level - 1:
            break
    return owner


def item_has_body(lines: list[str], tokens: list[Token], list_idx: int, item_line: int) -> bool:
    """Whether the list item starting at `item_line` says more than its first line."""
    level = tokens[list_idx].level + 1
    for j in range(list_idx + 1, len(tokens)):
        t = tokens[j]
        if t.level < level:
            break  # past the end of the list
        if t.type == "list_item_open" and t.level == level and t.map and t.map[0] == item_line:
            return any(ln.strip() for ln in lines[item_line + 1 : t.map[1]])
    return False


BOLD_LABEL_RE = re.compile(r"^\*\*[^*]+\*\*\s*[:：]")


def top_items(tokens: list[Token], i: int) -> list[tuple[int, str, int, str | None]]:
    """(line, first paragraph text, content indent, number) of each item of the list opened at i."""
    items: list[tuple[int, str, int, str | None]] = []
    depth = tokens[i].level
    j = i + 1
    while j < len(tokens):
        t = tokens[j]
        if t.type in ("bullet_list_close", "ordered_list_close") and t.level == depth:
            break
        if t.type == "list_item_open" and t.level == depth + 1 and t.map is not None:
            text = ""
            k = j + 1
            if k < len(tokens) and tokens[k].type == "paragraph_open":
                text = inline_text(tokens, k)
            marker = t.markup or "-"
            indent = len(t.info) + len(marker) + 1 if t.info else len(marker) + 1
            items.append((t.map[0], text, indent, t.info or None))
        j += 1
    return items


def skip_block(tokens: list[Token], i: int) -> int:
    open_type = tokens[i].type
    close_type = open_type.replace("_open", "_close")
    level = tokens[i].level
    j = i + 1
    while j < len(tokens):
        if tokens[j].type == close_type and tokens[j].level == level:
            return j + 1
        j += 1
    return j


_DETAILS_RE = re.compile(r"^\s*<details[^>]*>\s*<summary[^>]*>(.*?)</summary>", re.I | re.S)
_ANSWER_LABELS = ("答案", "答", "参考答案", "解析", "answer", "solution", "展开", "点击展开", "查看答案")


def details_question(html_text: str) -> tuple[str, str | None, str | None, str, int] | None:
    """(question, number, kind, answer on the summary's own line, line of `</summary>` within
    the block) when a `<details>` block's summary asks; None otherwise."""
    m = _DETAILS_RE.match(html_text)
    if m is None:
        return None
    title = html.unescape(re.sub(r"<[^>]+>", "", m.group(1))).strip()
    if not title or title.strip("：: ").lower() in _ANSWER_LABELS:
        return None
    num, kind, q = rules.split_question(title)
    if not (rules.asks(q) or kind is not None or rules.ends_with_question_mark(q)):
        return None
    rest = html_text[m.end() :].split("\n", 1)[0]
    rest = re.sub(r"</details>\s*$", "", rest, flags=re.I).strip()
    return q, num, kind, rest, html_text[: m.end()].count("\n")


_Q_HEADER = re.compile(r"^(?:问题|问|题目|面试题|Q|Question)$", re.I)
_A_HEADER = re.compile(r"^(?:答案|答|回答|参考答案|解答|要点|A|Answer)$", re.I)


def qa_table_rows(tokens: list[Token], i: int) -> list[tuple[int, str, str]]:
    """(line, question, answer) per body row of a table whose header reads 问题 | 答案 (or Q | A),
    the cheat-sheet style; other tables (comparisons) give nothing."""
    cells: list[list[str]] = []
    lines: list[int] = []
    j = i + 1
    while j < len(tokens) and tokens[j].type != "table_close":
        t = tokens[j]
        if t.type == "tr_open" and t.map is not None:
            cells.append([])
            lines.append(t.map[0])
        elif t.type == "inline" and cells:
            cells[-1].append(t.content.strip())
        j += 1
    if len(cells) < 2 or len(cells[0]) < 2:
        return []
    head = [re.sub(r"[*_`]", "", c).strip() for c in cells[0]]
    if not (_Q_HEADER.match(head[0]) and _A_HEADER.match(head[1])):
        return []
    body = zip(lines[1:], cells[1:], strict=True)
    return [(line, row[0], " / ".join(c for c in row[1:] if c)) for line, row in body if row and row[0]]
