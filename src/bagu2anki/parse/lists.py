"""List items and `<details>` in the Markdown reader: which lists hold questions, where their
answers are, and a `<details>` whose summary asks.

Works on markdown-it block tokens (`parse/markdown.py` makes them): the items of a list, whether
an item says more than its first line or folds its answer in `<details>`, and outlines whose top
items are topics with the questions nested under them.
"""

from __future__ import annotations

import bisect
import html
import re

from markdown_it.token import Token

from bagu2anki.parse import rules


def inline_text(tokens: list[Token], i: int) -> str:
    nxt = tokens[i + 1] if i + 1 < len(tokens) else None
    return nxt.content if nxt is not None and nxt.type == "inline" else ""


_FOLD_RE = re.compile(r"<summary>\s*(?:答案|答|参考答案|解析|answer|solution)\s*</summary>", re.I)


def answer_folds(lines: list[str], tokens: list[Token], list_idx: int) -> set[int]:
    """First lines of the items of the list opened at `list_idx` that have
    `<details><summary>答案</summary>…</details>` under them: questions with their answers.

    An item reaches to the next item at its level (for the last one, the first such item of a
    later list, else the end of the list). One pass over the list: linear in its size.
    """
    items, close = _item_tokens(tokens, list_idx)
    if not items:
        return set()
    level = tokens[list_idx].level + 1
    opened = tokens[list_idx].map
    after = opened[1] if opened else len(lines)
    last_line = _map(tokens[items[-1]])[0]
    for j in range(close + 1, len(tokens)):  # (no copy of the rest of the tokens per list)
        t = tokens[j]
        if t.type == "list_item_open" and t.map and t.map[0] > last_line and t.level == level:
            after = t.map[0]
            break
    starts = [_map(tokens[k])[0] for k in items]
    ends = starts[1:] + [after]
    return {a for a, b in zip(starts, ends, strict=True) if any(_FOLD_RE.search(ln) for ln in lines[a:b])}


def _map(t: Token) -> tuple[int, int]:
    assert t.map is not None
    return t.map[0], t.map[1]


def _item_tokens(tokens: list[Token], i: int) -> tuple[list[int], int]:
    """Token indices of the items (with a line map) of the list opened at i, and the index of
    the list's closing token (len(tokens) when it never closes)."""
    depth = tokens[i].level
    items: list[int] = []
    j = i + 1
    while j < len(tokens):
        t = tokens[j]
        if t.type in ("bullet_list_close", "ordered_list_close") and t.level == depth:
            break
        if t.type == "list_item_open" and t.level == depth + 1 and t.map is not None:
            items.append(j)
        j += 1
    return items, j


OUTLINE_LEVEL = 7  # a topic item of an outline sits below every heading level
_ITEM_START_RE = re.compile(r"^(\s*(?:[-*+]|\d{1,9}[.)])[ \t]+)")


def outline_topics(
    tokens: list[Token], i: int, lines: list[str]
) -> list[tuple[int, str, list[tuple[int, str, int]]]] | None:
    """An outline two levels deep: top items that are topics, each with a nested list of
    questions that carry their answers further in. None when it does not read that way.

    One pass over the list's tokens: each nested list is given to the top item that holds its
    first line (a binary search over the items' lines), so a long outline reads in linear time.
    """
    level = tokens[i].level
    item_idx, close = _item_tokens(tokens, i)
    spans = [_map(tokens[k]) for k in item_idx]
    starts = [a for a, _ in spans]
    found: dict[int, list[tuple[int, str, int]]] = {a: [] for a in starts}
    for j in range(i + 1, close):
        sub = tokens[j]
        if sub.type not in ("bullet_list_open", "ordered_list_open") or sub.level != level + 2 or not sub.map:
            continue
        owner = _owner(spans, starts, sub.map[0])
        if owner is None or not sub.map[0] > owner:
            continue
        bodies = item_bodies(lines, tokens, j)
        for q_line, q_text, _ind, _num in top_items(tokens, j):
            first = q_text.split("\n", 1)[0]
            if not rules.asks(first):
                continue
            if not bodies.get(q_line, False):
                return None  # a question without its answer under it: not this style
            m = _ITEM_START_RE.match(lines[q_line])
            found[owner].append((q_line, first.strip(), len(m.group(1)) if m else 0))
    topics: list[tuple[int, str, list[tuple[int, str, int]]]] = []
    asked = 0
    for item_line, item_text, _indent, _number in top_items(tokens, i):
        questions = found.get(item_line, [])
        asked += len(questions)
        topics.append((item_line, item_text.split("\n", 1)[0].strip(), questions))
    return topics if asked >= 2 else None


def _owner(spans: list[tuple[int, int]], starts: list[int], line: int) -> int | None:
    """The first line of the top item (of the sorted, disjoint `spans`) that contains `line`."""
    k = bisect.bisect_right(starts, line) - 1
    if k >= 0 and spans[k][0] <= line < spans[k][1]:
        return spans[k][0]
    return None


def item_bodies(lines: list[str], tokens: list[Token], list_idx: int) -> dict[int, bool]:
    """For each item of the list opened at `list_idx` (by its first line): whether it says more
    than its first line."""
    bodies: dict[int, bool] = {}
    for k in _item_tokens(tokens, list_idx)[0]:
        a, b = _map(tokens[k])
        if a not in bodies:
            bodies[a] = any(ln.strip() for ln in lines[a + 1 : b])
    return bodies


BOLD_LABEL_RE = re.compile(r"^\*\*[^*]+\*\*\s*[:：]")


def top_items(tokens: list[Token], i: int) -> list[tuple[int, str, int, str | None]]:
    """(line, first paragraph text, content indent, number) of each item of the list opened at i."""
    items: list[tuple[int, str, int, str | None]] = []
    for j in _item_tokens(tokens, i)[0]:
        t = tokens[j]
        text = ""
        k = j + 1
        if k < len(tokens) and tokens[k].type == "paragraph_open":
            text = inline_text(tokens, k)
        marker = t.markup or "-"
        indent = len(t.info) + len(marker) + 1 if t.info else len(marker) + 1
        items.append((_map(t)[0], text, indent, t.info or None))
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


_Q_HEADER = re.compile(r"^(?:问题|问|题目|面试题|面试问题|常见问题|Q|Question)$", re.I)
_A_HEADER = re.compile(
    r"^(?:答案|答|回答|我的回答|我的答案|参考答案|参考回答|解答|解析|参考解析|简答|要点|答题要点|回答要点|A|Answer)$", re.I
)
_N_HEADER = re.compile(r"^(?:序号|编号|题号|#|No\.?|\d*)$", re.I)  # a numbering column before the question


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
    q = 1 if len(head) >= 3 and _N_HEADER.match(head[0]) else 0  # `| 序号 | 问题 | 答案 |`
    if not (_Q_HEADER.match(head[q]) and _A_HEADER.match(head[q + 1])):
        return []
    body = zip(lines[1:], cells[1:], strict=True)
    return [(line, row[q], " / ".join(c for c in row[q + 1 :] if c)) for line, row in body if len(row) > q and row[q]]
