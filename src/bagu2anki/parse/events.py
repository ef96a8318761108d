"""Where questions start in a Markdown note: block tokens -> question and topic events.

`find_events` walks markdown-it's top-level blocks (headings, paragraphs, quotes, `<details>`,
lists) and applies the rules of `rules.py` and `lists.py`; `markdown.py` then cuts the atoms
from the source lines between events.
"""

from __future__ import annotations

import re
from collections import Counter

from markdown_it.token import Token

from bagu2anki.parse import rules
from bagu2anki.parse.common import Event, ReadingRules
from bagu2anki.parse.declared import declared_block
from bagu2anki.parse.headings import (
    FOLLOW_UPS,
    HANDS_ON_RE,
    HANDS_ON_SECTION,
    TASK_WORDS,
    asks_as_heading,
    asks_reader,
    heading_question,
    strip_heading,
    title_question,
)
from bagu2anki.parse.lists import (
    BOLD_LABEL_RE,
    OUTLINE_LEVEL,
    answer_folds,
    details_question,
    inline_text,
    item_bodies,
    outline_topics,
    qa_table_rows,
    skip_block,
    top_items,
)
from bagu2anki.parse.numbering import introduced, numbered_unmarked
from bagu2anki.parse.spine import SpineItem, fenced_questions, question_spine


def find_events(tokens: list[Token], lines: list[str], reading: ReadingRules | None = None) -> list[Event]:
    # Numbered headings at a level are questions when most of them ask (an interview file),
    # topics when most do not (a tutorial's `### 1.1 直觉`).
    asked: Counter[int] = Counter()
    numbered: Counter[int] = Counter()
    for i, t in enumerate(tokens):
        if t.type == "heading_open" and t.level == 0:
            lvl = int(t.tag[1])
            num, _k, q = rules.split_question(strip_heading(inline_text(tokens, i)))
            if num is not None:
                numbered[lvl] += 1
                if rules.asks_unmarked(q):  # `原理`, `理解` name a tutorial's parts as often as they ask
                    asked[lvl] += 1
    majority = {lvl: asked[lvl] * 2 >= numbered[lvl] for lvl in numbered}
    # Sibling headings (same parent, same level) of which a third or more end in `？` make the others
    # among them that ask in words (`说一说…`, `…的区别`, `A vs B`) questions too.
    marked: Counter[tuple[int, int]] = Counter()
    siblings: Counter[tuple[int, int]] = Counter()
    group_of: dict[int, tuple[int, int]] = {}
    parents: list[tuple[int, int]] = []  # (level, token index) of the open headings
    for i, t in enumerate(tokens):
        if t.type == "heading_open" and t.level == 0:
            lvl = int(t.tag[1])
            while parents and parents[-1][0] >= lvl:
                parents.pop()
            group = (parents[-1][1] if parents else -1, lvl)
            parents.append((lvl, i))
            group_of[i] = group
            siblings[group] += 1
            title = strip_heading(inline_text(tokens, i))
            marked[group] += rules.ends_with_question_mark(title) or bool(HANDS_ON_RE.match(title)) or asks_reader(title)
    marked_majority = {g: marked[g] >= 1 and marked[g] * 3 >= siblings[g] for g in siblings}

    events: list[Event] = []
    open_kind: str | None = None  # "heading" | "inline" | None
    plain_section = False
    quote_section = False
    after_heading = True  # the file's start opens a section as a heading does
    # numbers written inside code fences (an answer's own `1.` points in a ```text block) are
    # not the file's numbering: the numbering heuristics read the lines with fences blanked
    spine = question_spine(tokens, lines)
    refused_runs: set[int] = set()
    listed: dict[str, str] = {}  # an interview log's questions (number -> text), answered later or not
    heading_parent: int | None = None  # level of the question heading whose answer is open
    hands_on: int | None = None  # level of an open `## 手撕代码` section

    def spine_item(line: int) -> SpineItem | None:
        """The file's question of a repeated form at this line. A numbered or lettered run that
        starts inside an open answer is that answer's own points; a quote or bullet inside a
        heading question's answer is part of it."""
        item = spine.get(line)
        if item is None or item.run in refused_runs:
            return None
        if item.form in ("quoted", "bulleted"):
            # `正文里引用一句话：` then `> …？`: a quotation the sentence introduces
            return None if open_kind == "heading" or _after_colon(lines, item.line) else item
        if item.line == item.run and (
            (open_kind is not None and _answered_before(events, lines, item.line)) or _after_colon(lines, item.line)
        ):
            # the points of an open answer, or of a sentence that introduces them (`建议按：`)
            refused_runs.add(item.run)
            return None
        return item
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t.level != 0 or t.map is None:
            i += 1
            continue
        start = t.map[0]
        if reading and (declared := declared_block(reading, tokens, i, t)) is not None:
            # the user's own `[reading]` patterns win: a question, or text that is none
            i, open_kind = declared(events, start)
            after_heading = t.type == "heading_open"
            continue
        if t.type == "heading_open":
            lvl = int(t.tag[1])
            text = inline_text(tokens, i)
            if (
                open_kind == "heading"
                and events[-1].kind == "question"
                and not any(x.strip() for x in lines[events[-1].body_start : start])
                and (head := rules.answer_heading(strip_heading(text))) is not None
            ):
                # `#### Q：…？` then `#### A：…` (or `## 答案`): the labelled heading opens the answer
                events[-1].answer_head = head
                events[-1].body_start = t.map[1]
                i += 1
                continue
            asked_around = marked_majority.get(group_of.get(i, (-1, lvl)), False)
            in_answer = heading_parent is not None and heading_parent < lvl
            if lvl > 1:
                hq = heading_question(text, majority.get(lvl, False), asked_around, in_answer)
            else:
                hq = title_question(text, asked_around)
            if hq is None and lvl > 1 and _answers_listed(listed, strip_heading(text)):
                hq = strip_heading(text), None, None  # `### DeepSpeed` answering the log's `2.deepspeed…`
            if hands_on is not None and lvl <= hands_on:
                hands_on = None
            if hq is None and hands_on is not None and lvl == hands_on + 1:
                # `### LayerNorm` / `### 1. 实现 RMSNorm` under `## 手撕代码`: one task each
                t_num, _t_kind, task = rules.split_question(strip_heading(text))
                hq = (task if TASK_WORDS.match(task) else f"手撕 {task}"), t_num, "手撕"
            if heading_parent is not None and lvl <= heading_parent:
                heading_parent = None
            if hq is None and HANDS_ON_SECTION.match(strip_heading(text)):
                hands_on = lvl
            if hq is not None:
                q, num, kind = hq
                if heading_parent is None:
                    heading_parent = lvl
                via = "labelled-heading" if rules.labelled_number(strip_heading(text)) else "heading"
                events.append(Event(start, "question", lvl, q, num, kind, "", t.map[1], via=via))
                open_kind = "heading"
            else:
                events.append(Event(start, "topic", lvl, strip_heading(text), body_start=t.map[1]))
                open_kind = None
            plain_section = quote_section = False
            after_heading = True
            i += 1
            continue
        if t.type == "paragraph_open":
            content = inline_text(tokens, i)
            first = content.split("\n", 1)[0]
            mark = rules.match_line(first)
            rows = content.split("\n")
            problem = rules.problem_label(first) if mark is None else None
            if problem is not None and _answer_label_follows(rows, lines, t.map[1]):
                p_num, p_kind, p_question = rules.split_question(problem)  # `问题：LoRA 的原理` / `答案：…`
                mark = rules.QuestionMark(p_question, p_num, p_kind, rule="q-label")
            card = next((k for k, row in enumerate(rows[:4]) if row.strip() in ("?", "??")), 0)
            if card and mark is None:
                # `问题` / `?` / `答案`: a multi-line card of Obsidian's Spaced Repetition plugin
                num, kind, qtext = rules.split_question(" ".join(r.strip() for r in rows[:card]))
                events.append(Event(start, "question", 0, qtext, num, kind, "", start + card + 1, via="flashcard"))
                open_kind = "inline"
            elif mark is not None and open_kind == "heading" and mark.question.startswith(FOLLOW_UPS):
                pass  # `**那为什么 NLP 里不用 BN 呢？**` inside an answer: the answer's own turn
            elif mark is not None:
                events.append(
                    Event(
                        start, "question", 0, mark.question, mark.number, mark.kind, mark.answer_head, start + 1, via=mark.rule
                    )
                )
                open_kind = "inline"
                form = rules.label_form(first, mark)
                if form is not None:
                    # `Q1：…？` / `A1：…` / `Q2：…？` / `A2：…` with no blank line between the pairs:
                    # the paragraph's later lines of the first one's form are its next questions
                    for k, row in enumerate(rows[1:], 1):
                        more = rules.match_line(row)
                        if more is not None and rules.label_form(row, more) == form:
                            events.append(
                                Event(start + k, "question", 0, more.question, more.number, more.kind,
                                      more.answer_head, start + k + 1, via=more.rule)
                            )
                if mark.rule == "flashcard":
                    # one-line cards are often written one per line, without blank lines
                    for k, row in enumerate(rows[1:], 1):
                        more = rules.rule_flashcard(row)
                        if more is not None and more.question:
                            events.append(
                                Event(
                                    start + k, "question", 0, more.question, more.number, more.kind,
                                    more.answer_head, start + k + 1, via="flashcard",
                                )
                            )
            elif (item := spine_item(start)) is not None:
                qtext, kind, head = _spine_question(item)
                events.append(Event(start, "question", 0, qtext, item.number, kind, head, start + 1, via=f"{item.form}-spine"))
                open_kind = "inline"
            elif (unmarked := numbered_unmarked(content, events, after_heading, open_kind, lines, start)) is not None:
                events.append(
                    Event(start, "question", 0, unmarked.question, unmarked.number, unmarked.kind, "", start + 1, via=unmarked.rule)
                )
                open_kind = "inline"
                plain_section = True  # later lines that ask in this section are questions too
                for k, row in enumerate(rows[1:], 1):
                    # `1、…？` / answer / `2、…？` / answer in one paragraph: the next number, asking
                    # with a mark, is the next question
                    more = rules.rule_numbered_unmarked(row) if rules.ends_with_question_mark(row) else None
                    head = (events[-1].number or "").split(".")[0]
                    if more is not None and more.number is not None and head.isdigit() and more.number == str(int(head) + 1):
                        events.append(Event(start + k, "question", 0, more.question, more.number, more.kind, "", start + k + 1,
                                            via=more.rule))
            elif (
                (bold := rules.bold_only(content)) is not None
                and (open_kind is None or (open_kind == "inline" and events[-1].via in _BOLD_VIAS))
                and (asks_as_heading(bold[0]) or rules.asks_unmarked(bold[0]) or asks_reader(bold[0]))
            ):
                # `**什么是扣子**` alone on its line outside any answer, or among bold questions
                # (`**学习率怎么衰减**` after `**为什么要 warmup**？`): a heading that asks, in bold
                num, kind, q = rules.split_question(bold[0])
                events.append(Event(start, "question", 0, q, num, kind, "", start + 1, via="bold-heading"))
                open_kind = "inline"
            elif open_kind == "inline" and events[-1].via == "bold-heading" and bold is not None:
                # the next bold line of the same form (`**发布平台**`) is the next part of the page
                events.append(Event(start, "end", body_start=start))
                open_kind = None
            elif (
                rules.ends_with_question_mark(first)
                and len(first) <= 80
                and (after_heading or plain_section)
                and open_kind != "heading"
            ):
                # a line that asks, alone or over its answer (no blank line between them)
                num, kind, q = rules.split_question(first)
                events.append(Event(start, "question", 0, q, num, kind, "", start + 1, via="plain"))
                open_kind = "inline"
                plain_section = True
            after_heading = False
            i += 1
            continue
        if t.type == "blockquote_open" and (item := spine_item(start)) is not None:
            qtext, kind, head = _spine_question(item)
            events.append(Event(start, "question", 0, qtext, item.number, kind, head, start + 1, via="quote"))
            open_kind = "inline"
            after_heading = False
            i = skip_block(tokens, i)
            continue
        if t.type == "blockquote_open" and i + 1 < len(tokens) and tokens[i + 1].type == "paragraph_open":
            quoted = inline_text(tokens, i + 1)
            titled = rules.callout_question(quoted.split("\n", 1)[0])
            if titled is not None:
                # `> [!question] 问题` / `> 答案…`: the callout's body is the answer
                num, kind, qtext = rules.split_question(titled)
                end = t.map[1]
                events.append(Event(start, "question", 0, qtext, num, kind, "", start + 1, via="callout", quote_end=end))
                open_kind = "inline"
                after_heading = False
                i = skip_block(tokens, i)
                continue
            mark = rules.match_line(quoted.split("\n", 1)[0])
            asks_alone = (
                "\n" not in quoted
                and len(quoted) <= 80
                and rules.ends_with_question_mark(quoted)
                and (after_heading or plain_section or quote_section)
                and open_kind != "heading"
            )
            if mark is not None or asks_alone:
                # `> 问：…？` / `> 为什么…？` with the answer below the quote
                if mark is None:
                    num, kind, qtext = rules.split_question(quoted)
                    mark = rules.QuestionMark(qtext, num, kind, rule="quote")
                quote_section = True  # later quotes that ask in this section are questions too
                events.append(
                    Event(start, "question", 0, mark.question, mark.number, mark.kind, mark.answer_head, start + 1, via="quote")
                )
                open_kind = "inline"
                after_heading = False
                i = skip_block(tokens, i)
                continue
        if t.type == "html_block":
            summary = details_question(t.content)
            if summary is not None:
                # `<details><summary>问题？</summary>` … answer … `</details>` (GitHub notes)
                d_q, d_num, d_kind, d_head, d_offset = summary
                events.append(
                    Event(start, "question", 0, d_q, d_num, d_kind, d_head, start + d_offset + 1, via="details")
                )
                open_kind = "inline"
                after_heading = False
                i += 1
                continue
        if t.type == "fence" and open_kind is None and (logged := fenced_questions(t.content)):
            # an interview log in a ```text fence: the day's questions, one per numbered line
            for offset, number, text in logged:
                listed[number] = text
                q_line = start + 1 + offset
                _num, kind, qtext = rules.split_question(text)
                events.append(Event(q_line, "question", 0, qtext, number, kind, "", q_line + 1, via="fenced-list"))
            close = start + 2 + logged[-1][0]
            events.append(Event(close, "end", body_start=close))
            after_heading = False
            i += 1
            continue
        if t.type == "table_open" and open_kind is None:
            table_rows = qa_table_rows(tokens, i)
            if table_rows:
                # `| 问题 | 答案 |`: a row per card; the header and what follows the table belong
                # to no card
                events.append(Event(start, "end", body_start=table_rows[0][0]))
                for row_line, question, answer in table_rows:
                    num, kind, qtext = rules.split_question(question)
                    events.append(Event(row_line, "question", 0, qtext, num, kind, answer, row_line + 1, via="qa-table"))
                events.append(Event(t.map[1], "end", body_start=t.map[1]))
                open_kind = None
                after_heading = False
                i = skip_block(tokens, i)
                continue
        if t.type in ("bullet_list_open", "ordered_list_open"):
            items = top_items(tokens, i)
            spined = [spine_item(it[0]) for it in items]
            if spined and all(spined):
                # one-line questions, none answered (not even after `→`): a to-do list, and what
                # follows it answers none of them
                todo = len(items) >= 2 and not any(item_bodies(lines, tokens, i).values()) and not any(
                    "→" in it[1] for it in items
                )
                for (line0, _text, indent0, _num), item in zip(items, spined, strict=True):
                    assert item is not None
                    qtext, kind, head = _spine_question(item)
                    events.append(
                        Event(line0, "question", 0, qtext, item.number, kind, head, line0 + 1,
                              item_indent=indent0, via=f"{item.form}-spine")
                    )
                    open_kind = "inline"
                if todo:
                    listed.update((item.number or "", item.text) for item in spined if item is not None)
                    events.append(Event(t.map[1], "end", body_start=t.map[1]))
                    open_kind = None
                after_heading = False
                i = skip_block(tokens, i)
                continue
            if t.type == "bullet_list_open" and open_kind is not None and _todo_list(items, lines, start, t.map[1], events):
                # `- …？` lines after an answer, up to the section's end: questions left to answer
                for item_line, item_text, indent, _num in items:
                    num, kind, qtext = rules.split_question(item_text)
                    events.append(Event(item_line, "question", 0, qtext, num, kind, "", item_line + 1,
                                        item_indent=indent, via="todo-run"))
                open_kind = "inline"
                after_heading = False
                i = skip_block(tokens, i)
                continue
            if t.type == "bullet_list_open" and open_kind is None and (after_heading or plain_section) and _question_list(
                items, lines, t.map[1]
            ):
                # `- [ ] 什么是 ring attention？` …, one-line questions alone under a heading, none
                # answered: a list of questions still to answer (a review list, a to-do list)
                for item_line, item_text, indent, _num in items:
                    num, kind, qtext = rules.split_question(item_text)
                    events.append(Event(item_line, "question", 0, qtext, num, kind, "", item_line + 1,
                                        item_indent=indent, via="todo-run"))
                events.append(Event(t.map[1], "end", body_start=t.map[1]))
                open_kind = None
                after_heading = False
                i = skip_block(tokens, i)
                continue
            if open_kind is not None and introduced(lines, start, events):
                # `主要有三个原因：` then `- **…？** …`: the list is that answer's, bold questions and all
                after_heading = False
                i = skip_block(tokens, i)
                continue
            asking = [
                it for it in items
                if (rules.asks(it[1].split("\n", 1)[0]) and not BOLD_LABEL_RE.match(it[1]))
                or rules.rule_bold_task(it[1].split("\n", 1)[0]) is not None
            ]
            folds = answer_folds(lines, tokens, i)
            folded_answers = sum(1 for it in items if it[0] in folds)
            # an outline (幕布, XMind, Logseq): `- 问题？` with its answer nested under it
            bodies = item_bodies(lines, tokens, i) if len(asking) >= 2 else {}
            outline = t.type == "bullet_list_open" and open_kind is None and len(asking) >= 2 and all(
                bodies.get(it[0], False) for it in asking
            )
            # `建议按：` then `1. 为什么需要 Agent，而不是普通问答。` …: steps the sentence introduces
            stated_steps = _after_colon(lines, start) and sum(it[1].rstrip().endswith("。") for it in items) * 2 > len(items)
            q_list = (
                not stated_steps
                and (t.type == "ordered_list_open" or folded_answers or outline)
                and (open_kind is None or folded_answers * 2 >= len(items))
                and len(items) >= 1 + (0 if folded_answers else 1)
                and len(asking) * 5 >= len(items) * 3
            )
            if (
                not q_list
                and t.type == "bullet_list_open"
                and len(items) == 1
                and "\n" not in items[0][1]
                and len(items[0][1]) <= 80
                and rules.ends_with_question_mark(items[0][1])
                and (after_heading or plain_section)
                and open_kind != "heading"
            ):
                # `- 解决显存不足的方法有哪些？` alone under a heading or at the file's start, as a lone
                # line that asks
                line0, text0, indent0, _num = items[0]
                num, kind, qtext = rules.split_question(text0)
                events.append(Event(line0, "question", 0, qtext, num, kind, "", line0 + 1, item_indent=indent0, via="plain"))
                open_kind = "inline"
                plain_section = True
                after_heading = False
                i = skip_block(tokens, i)
                continue
            if not q_list and t.type == "ordered_list_open" and len(items) == 1:
                # `1. LoRA 的原理是什么？` / (blank) / `答案…` / `2. …`: each question its own list
                single = numbered_unmarked(
                    f"{items[0][3]}. {items[0][1]}", events, after_heading, open_kind, lines, start
                )
                if single is None and _answers_listed(listed, items[0][1], items[0][3]):
                    # `12. ffn` answering question 12 of the log listed above
                    _n, s_kind, s_text = rules.split_question(items[0][1].strip().rstrip(":："))
                    single = rules.QuestionMark(s_text, items[0][3], s_kind, rule="answers-listed")
                if single is not None:
                    line0, _text, indent0, _num = items[0]
                    events.append(
                        Event(line0, "question", 0, single.question, single.number, single.kind, "", line0 + 1,
                              item_indent=indent0, via="numbered-item")
                    )
                    open_kind = "inline"
                    after_heading = False
                    i = skip_block(tokens, i)
                    continue
            nested = (
                outline_topics(tokens, i, lines)
                if t.type == "bullet_list_open" and not q_list and open_kind is None and not asking
                else None
            )
            if nested:
                # `- 注意力` / `  - 为什么…？` / `    - 答案`: the top items are topics
                for topic_line, topic, questions in nested:
                    events.append(Event(topic_line, "topic", OUTLINE_LEVEL, topic, body_start=topic_line + 1))
                    for q_line, q_text, q_indent in questions:
                        num, kind, qtext = rules.split_question(q_text)
                        events.append(
                            Event(q_line, "question", 0, qtext, num, kind, "", q_line + 1, item_indent=q_indent, via="outline")
                        )
                        open_kind = "inline"
                items = []
            for item_line, item_text, indent, item_number in items:
                first = item_text.split("\n", 1)[0]
                mark = rules.match_line(first)
                if mark is None and q_list:
                    mark = rules.rule_bold_task(first)
                if mark is None and q_list:
                    q, _, after = first.partition("→")
                    num, kind, qtext = rules.split_question(strip_heading(q))  # `1. **简述 …**`: no stars
                    mark = rules.QuestionMark(qtext, num or item_number, kind, after.strip(), "list-question")
                if mark is not None and mark.number is None and item_number is not None and q_list:
                    mark = rules.QuestionMark(mark.question, item_number, mark.kind, mark.answer_head, mark.rule)
                if mark is not None and mark.question:
                    events.append(
                        Event(
                            item_line,
                            "question",
                            0,
                            mark.question,
                            mark.number,
                            mark.kind,
                            mark.answer_head,
                            item_line + 1,
                            item_indent=indent,
                            via=mark.rule or "list",
                        )
                    )
                    open_kind = "inline"
            after_heading = False
            i = skip_block(tokens, i)
            continue
        after_heading = False if t.type not in ("front_matter",) else after_heading
        i += 1
    return events


_BOLD_VIAS = ("bold-q", "bold-heading", "bold-q-label")


TODO_RUN = 3  # asking one-line bullets after an answer, to the section's end: a to-do list


def _todo_list(items: list[tuple[int, str, int, str | None]], lines: list[str], start: int, end: int,
               events: list[Event]) -> bool:
    """The list at `start`..`end` is a run of one-line questions after the open question's answer
    (which does not introduce it with a colon), running to the section's end."""
    if len(items) < TODO_RUN or not _question_list(items, lines, end):
        return False  # (items with text under them: an outline)
    if not _answered_before(events, lines, start) or _after_colon(lines, start):
        return False
    nxt = next((ln for ln in lines[end:] if ln.strip()), None)
    return nxt is None or nxt.lstrip().startswith("#")


def _question_list(items: list[tuple[int, str, int, str | None]], lines: list[str], end: int) -> bool:
    """Two or more list items, each one line that ends with a question mark, nothing under any."""
    if len(items) < 2 or not all("\n" not in text and rules.ends_with_question_mark(text) for _l, text, _i, _n in items):
        return False
    return not any(
        ln.strip() for k in range(len(items)) for ln in lines[items[k][0] + 1 : (items[k + 1][0] if k + 1 < len(items) else end)]
    )


def _spine_question(item: SpineItem) -> tuple[str, str | None, str]:
    """(question, kind, answer written on its line) of a spine's question: `**Q？** answer` as a
    bold question is read; `… → [页面](…)` points to its answer elsewhere; `1. **简述 …**` loses its
    stars."""
    mark = rules.match_line(item.text) or rules.rule_bold_task(item.text)
    if mark is not None and mark.question:
        return mark.question, mark.kind, mark.answer_head
    q, _, after = item.text.partition("→")
    _num, kind, qtext = rules.split_question(strip_heading(q))
    return qtext, kind, after.strip()


def _grams(text: str) -> set[str]:
    t = re.sub(r"[\W_]+", "", rules.nfkc(text)).lower()
    return {t[k : k + 2] for k in range(len(t) - 1)}


def _answers_listed(listed: dict[str, str], text: str, number: str | None = None) -> bool:
    """A later title that answers a question of the log above: `12. ffn` for the log's `12.ffn的细节`
    (same number, a word in common), `### DeepSpeed` for `2.deepspeed之类的了解` (the whole title
    within the question)."""
    if not listed:
        return False
    bare = re.sub(r"[\W_]+", "", rules.nfkc(text)).lower()
    if number is not None:
        asked = listed.get(number)
        return asked is not None and bool(_grams(text) & _grams(asked))
    return len(bare) >= 3 and any(bare in re.sub(r"[\W_]+", "", rules.nfkc(q)).lower() for q in listed.values())


def _answered_before(events: list[Event], lines: list[str], line: int) -> bool:
    """The open question has text of its own before `line` (or answers on its own line)."""
    if not events:
        return False
    last = events[-1]
    return bool(last.answer_head) or any(ln.strip() for ln in lines[last.body_start : line])


def _after_colon(lines: list[str], line: int) -> bool:
    """The last non-blank line before `line` ends with a colon (and is no heading)."""
    for k in range(line - 1, max(-1, line - 20), -1):
        text = lines[k].strip()
        if text:
            return not text.startswith("#") and text.rstrip("*_ ").endswith((":", "："))
    return False


def _fences_blanked(tokens: list[Token], lines: list[str]) -> list[str]:
    spans = [t.map for t in tokens if t.type in ("fence", "code_block") and t.map is not None]
    if not spans:
        return lines
    out = list(lines)
    for begin, end in spans:
        for k in range(begin + 1, min(end, len(out))):
            out[k] = ""
    return out


def _answer_label_follows(rows: list[str], lines: list[str], end: int) -> bool:
    """The paragraph's next row, or the next non-blank line after it, opens with `答案：`."""
    nxt = rows[1] if len(rows) > 1 else next((ln for ln in lines[end : end + 3] if ln.strip()), "")
    return bool(rules.ANSWER_LABEL.match(nxt.lstrip()))


def demote_containers(events: list[Event], lines: list[str]) -> list[Event]:
    """A heading that asks but holds two or more questions, with no answer of its own before
    them, is a topic heading (`## 高频追问？` over a list of questions); so is a heading without
    a question mark over question headings (`### 2.1 解码策略`, `### 训练中常见的数值问题有哪些`),
    or over other questions with no answer of its own before them."""
    out = list(events)
    for k, ev in enumerate(out):
        if ev.kind != "question" or ev.level == 0 or ev.via == "labelled-heading":
            continue  # `## Q07 · …` is a question whatever it holds (its follow-ups are cards of their own)
        inner = inner_headings = 0
        first_inner: int | None = None
        for m in range(k + 1, len(out)):  # no copy of the rest per heading: linear in what it holds
            later = out[m]
            if later.level and later.level <= ev.level:
                break
            if later.kind == "question":
                inner += 1
                inner_headings += later.level > 0
                if first_inner is None:
                    first_inner = later.line
        own_answer = first_inner is not None and any(
            ln.strip() for ln in lines[ev.body_start : first_inner]
        )
        marked = rules.ends_with_question_mark(ev.title)
        # deeper question headings make an unmarked heading a section; a bold follow-up under
        # `### 1. 介绍一下 LoRA` after its answer does not
        if (not marked and (inner_headings >= 1 or (inner >= 1 and not own_answer))) or (inner >= 2 and not own_answer):
            out[k] = Event(ev.line, "topic", ev.level, ev.title, body_start=ev.body_start)
    return out
