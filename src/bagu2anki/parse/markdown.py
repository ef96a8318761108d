"""Reader for Markdown notes (Obsidian, Typora, VS Code, Hexo, VitePress): SourceFile -> Document.

markdown-it-py finds the block structure (so a `#` inside a code fence or a `$$` block is never
a heading); the rules in `rules.py` decide which blocks ask a question. Atoms are then cut
from the source lines, so every line lands in exactly one atom or section preamble.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.container import container_plugin
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.front_matter import front_matter_plugin

from bagu2anki.diagnostics import Diagnostics
from bagu2anki.model import Atom, Document, SourceFile, Unattached
from bagu2anki.parse import hexo, rules
from bagu2anki.parse.common import classify_answer, explicit_id
from bagu2anki.parse.lists import (
    BOLD_LABEL_RE,
    OUTLINE_LEVEL,
    has_answer_fold,
    inline_text,
    item_has_body,
    outline_topics,
    skip_block,
    top_items,
)

CONTAINERS = (
    "tip", "info", "warning", "danger", "details", "note", "important", "caution", "success", "code-group",
)


def is_container(params: str, *_: object) -> bool:
    """`::: tip 标题` opens a box of one of the known kinds. One container rule for all the
    kinds: markdown-it tries every block rule on every line, so nine rules cost nine times."""
    words = params.split(maxsplit=1)
    return bool(words) and words[0] in CONTAINERS


def block_parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    md.use(front_matter_plugin)
    md.use(dollarmath_plugin, allow_space=True, allow_digits=False, double_inline=True)
    md.use(container_plugin, name="box", validate=is_container)
    # Only the block structure is needed to find questions: inline parsing is left to rendering.
    md.disable(["inline", "text_join"])
    return md


_MD = block_parser()


@dataclass
class _Event:
    line: int  # 0-based first line
    kind: str  # "topic" | "question"
    level: int = 0  # heading level (0 for inline questions)
    title: str = ""
    number: str | None = None
    qkind: str | None = None
    answer_head: str = ""
    body_start: int = 0  # first line of the answer body
    item_indent: int = 0  # list item content indent to strip from the answer
    via: str = ""


_HEADING_ATTRS_RE = re.compile(r"\s*\{\s*#[\w\-:.]+(?:\s+[.#]?[\w\-:.=\"']+)*\s*\}\s*$")


def _strip_heading(text: str) -> str:
    """A heading's text without `**…**` around it or a trailing `{#id .class}` (Pandoc, Hugo)."""
    t = _HEADING_ATTRS_RE.sub("", text.strip())
    lead = rules.bold_lead(t)
    if lead is not None and not lead[1]:
        t = lead[0]
    return t.strip()


def read_markdown(src: SourceFile, diags: Diagnostics) -> Document:
    lines = src.text.split("\n")
    view = hexo.block_view(src.text)  # Hexo `{% codeblock %}` as fences, line for line
    tokens = _MD.parse(view)
    _check_fences(src, tokens, view.split("\n") if view is not src.text else lines, diags)
    events = _find_events(tokens, lines)
    events = _demote_containers(events, lines)
    return _assemble(src, lines, events, tokens, diags)


_CN_NUMBER = re.compile(r"^[一二三四五六七八九十百]+\s*[、.．]\s*")


def _check_fences(src: SourceFile, tokens: list[Token], lines: list[str], diags: Diagnostics) -> None:
    """A code fence that never closes swallows the rest of the file: say where it opened."""
    for t in tokens:
        if t.type != "fence" or t.map is None:
            continue
        end = t.map[1]
        closing = lines[end - 1].strip() if end - 1 < len(lines) else ""
        marker = t.markup
        closed = end - 1 > t.map[0] and closing.startswith(marker) and closing.strip(marker[0]) == ""
        if not closed:
            diags.warning(
                src.rel,
                t.map[0] + 1,
                f"code fence {marker} opened here never closes: the rest of the file is read as code",
                "unclosed-fence",
            )


def _heading_question(text: str, numbered_majority: bool) -> tuple[str, str | None, str | None] | None:
    t = _CN_NUMBER.sub("", _strip_heading(text))
    num, kind, q = rules.split_question(t)
    if kind is not None or rules.q_label(t) is not None:
        return q, num, kind
    if rules.ends_with_question_mark(t):
        return q, num, kind
    if num is not None and (rules.asks(q) or numbered_majority):
        return q, num, kind
    return None


_DETAILS_END_RE = re.compile(r"\n*[ \t]*</details>\s*$", re.I)


def _find_events(tokens: list[Token], lines: list[str]) -> list[_Event]:
    # Numbered headings at a level are questions when most of them ask (an interview file),
    # topics when most do not (a tutorial's `### 1.1 直觉`).
    asked: Counter[int] = Counter()
    numbered: Counter[int] = Counter()
    for i, t in enumerate(tokens):
        if t.type == "heading_open" and t.level == 0:
            lvl = int(t.tag[1])
            num, _k, q = rules.split_question(_strip_heading(inline_text(tokens, i)))
            if num is not None:
                numbered[lvl] += 1
                if rules.asks(q):
                    asked[lvl] += 1
    majority = {lvl: asked[lvl] * 2 >= numbered[lvl] for lvl in numbered}

    events: list[_Event] = []
    open_kind: str | None = None  # "heading" | "inline" | None
    plain_section = False
    quote_section = False
    after_heading = False
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t.level != 0 or t.map is None:
            i += 1
            continue
        start = t.map[0]
        if t.type == "heading_open":
            lvl = int(t.tag[1])
            text = inline_text(tokens, i)
            hq = _heading_question(text, majority.get(lvl, False)) if lvl > 1 else None
            if hq is not None:
                q, num, kind = hq
                events.append(_Event(start, "question", lvl, q, num, kind, "", t.map[1], via="heading"))
                open_kind = "heading"
            else:
                events.append(_Event(start, "topic", lvl, _strip_heading(text), body_start=t.map[1]))
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
            card = next((k for k, row in enumerate(rows[:4]) if row.strip() in ("?", "??")), 0)
            if card and mark is None:
                # `问题` / `?` / `答案`: a multi-line card of Obsidian's Spaced Repetition plugin
                num, kind, qtext = rules.split_question(" ".join(r.strip() for r in rows[:card]))
                events.append(_Event(start, "question", 0, qtext, num, kind, "", start + card + 1, via="flashcard"))
                open_kind = "inline"
            elif mark is not None:
                events.append(
                    _Event(
                        start, "question", 0, mark.question, mark.number, mark.kind, mark.answer_head, start + 1, via=mark.rule
                    )
                )
                open_kind = "inline"
                if mark.rule == "flashcard":
                    # one-line cards are often written one per line, without blank lines
                    for k, row in enumerate(rows[1:], 1):
                        more = rules.rule_flashcard(row)
                        if more is not None and more.question:
                            events.append(
                                _Event(
                                    start + k, "question", 0, more.question, more.number, more.kind,
                                    more.answer_head, start + k + 1, via="flashcard",
                                )
                            )
            elif (
                "\n" not in content
                and rules.ends_with_question_mark(content)
                and len(content) <= 80
                and (after_heading or plain_section)
                and open_kind != "heading"
            ):
                num, kind, q = rules.split_question(content)
                events.append(_Event(start, "question", 0, q, num, kind, "", start + 1, via="plain"))
                open_kind = "inline"
                plain_section = True
            after_heading = False
            i += 1
            continue
        if t.type == "blockquote_open" and i + 1 < len(tokens) and tokens[i + 1].type == "paragraph_open":
            quoted = inline_text(tokens, i + 1)
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
                    _Event(start, "question", 0, mark.question, mark.number, mark.kind, mark.answer_head, start + 1, via="quote")
                )
                open_kind = "inline"
                after_heading = False
                i = skip_block(tokens, i)
                continue
        if t.type == "html_block":
            summary = rules.details_question(t.content)
            if summary is not None:
                # `<details><summary>问题？</summary>` … answer … `</details>` (GitHub notes)
                d_q, d_num, d_kind, d_head, d_offset = summary
                events.append(
                    _Event(start, "question", 0, d_q, d_num, d_kind, d_head, start + d_offset + 1, via="details")
                )
                open_kind = "inline"
                after_heading = False
                i += 1
                continue
        if t.type in ("bullet_list_open", "ordered_list_open"):
            items = top_items(tokens, i)
            asking = [
                it for it in items
                if rules.asks(it[1].split("\n", 1)[0]) and not BOLD_LABEL_RE.match(it[1])
            ]
            folded_answers = sum(1 for it in items if has_answer_fold(lines, tokens, i, it[0]))
            # an outline (幕布, XMind, Logseq): `- 问题？` with its answer nested under it
            outline = t.type == "bullet_list_open" and len(asking) >= 2 and all(
                item_has_body(lines, tokens, i, it[0]) for it in asking
            )
            q_list = (
                (t.type == "ordered_list_open" or folded_answers or outline)
                and (open_kind is None or folded_answers * 2 >= len(items))
                and len(items) >= 1 + (0 if folded_answers else 1)
                and len(asking) * 5 >= len(items) * 3
            )
            nested = (
                outline_topics(tokens, i, lines)
                if t.type == "bullet_list_open" and not q_list and open_kind is None and not asking
                else None
            )
            if nested:
                # `- 注意力` / `  - 为什么…？` / `    - 答案`: the top items are topics
                for topic_line, topic, questions in nested:
                    events.append(_Event(topic_line, "topic", OUTLINE_LEVEL, topic, body_start=topic_line + 1))
                    for q_line, q_text, q_indent in questions:
                        num, kind, qtext = rules.split_question(q_text)
                        events.append(
                            _Event(q_line, "question", 0, qtext, num, kind, "", q_line + 1, item_indent=q_indent, via="outline")
                        )
                        open_kind = "inline"
                items = []
            for item_line, item_text, indent, item_number in items:
                first = item_text.split("\n", 1)[0]
                mark = rules.match_line(first)
                if mark is None and q_list:
                    q, _, after = first.partition("→")
                    num, kind, qtext = rules.split_question(q.strip())
                    mark = rules.QuestionMark(qtext, num or item_number, kind, after.strip(), "list-question")
                if mark is not None and mark.question:
                    events.append(
                        _Event(
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


def _demote_containers(events: list[_Event], lines: list[str]) -> list[_Event]:
    """A heading that asks but holds two or more questions, with no answer of its own before
    them, is a topic heading (`## 高频追问？` over a list of questions)."""
    out = list(events)
    for k, ev in enumerate(out):
        if ev.kind != "question" or ev.level == 0:
            continue
        inner = 0
        first_inner: int | None = None
        for later in out[k + 1 :]:
            if later.level and later.level <= ev.level:
                break
            if later.kind == "question":
                inner += 1
                if first_inner is None:
                    first_inner = later.line
        own_answer = first_inner is not None and any(
            ln.strip() for ln in lines[ev.body_start : first_inner]
        )
        if inner >= 2 and not own_answer:
            out[k] = _Event(ev.line, "topic", ev.level, ev.title, body_start=ev.body_start)
    return out


def _assemble(
    src: SourceFile, lines: list[str], events: list[_Event], tokens: list[Token], diags: Diagnostics
) -> Document:
    n = len(lines)
    meta_lines: set[int] = set()
    for t in tokens:
        if t.type == "front_matter" and t.map is not None:
            meta_lines.update(range(t.map[0], t.map[1]))
    fence_lines: set[int] = set()
    for t in tokens:
        if t.type in ("fence", "code_block", "math_block") and t.map is not None:
            fence_lines.update(range(t.map[0], t.map[1]))
    chains: list[tuple[tuple[str, ...], int]] = []
    for idx, ln in enumerate(lines):
        if idx in fence_lines or idx in meta_lines:
            continue
        ch = rules.find_chain(ln)
        if ch:
            chains.append((ch, idx + 1))

    # Decide where each question ends: a heading question runs to the next heading of its
    # level or above (deeper headings are part of its answer); any other runs to the next event.
    kept: list[_Event] = []
    stack_level = 0
    for ev in events:
        if stack_level and ev.level > stack_level and ev.kind == "topic":
            continue  # a sub-heading inside a heading question's answer
        kept.append(ev)
        stack_level = ev.level if (ev.kind == "question" and ev.level) else 0

    atoms: list[Atom] = []
    unattached: list[Unattached] = []
    section: list[tuple[int, str]] = []
    first = kept[0].line if kept else n
    _collect_unattached(src, lines, 0, first, (), meta_lines, unattached)
    for k, ev in enumerate(kept):
        end = kept[k + 1].line if k + 1 < len(kept) else n
        if ev.kind == "topic":
            while section and section[-1][0] >= ev.level:
                section.pop()
            section.append((ev.level, ev.title))
            overview = _overview(src, lines, ev.body_start, end, _titles(section), meta_lines)
            if overview is not None:
                atoms.append(overview)
            else:
                _collect_unattached(src, lines, ev.body_start, end, _titles(section), meta_lines, unattached)
            continue
        if ev.level:
            while section and section[-1][0] >= ev.level:
                section.pop()
        body_lines = lines[ev.body_start : end]
        if ev.item_indent:
            body_lines = [_dedent(b, ev.item_indent) for b in body_lines]
        while body_lines and not body_lines[-1].strip():
            body_lines.pop()
        last_line = ev.body_start + len(body_lines)
        body = "\n".join(body_lines).strip("\n")
        if ev.via == "details" and body.lower().count("</details") > body.lower().count("<details"):
            body = _DETAILS_END_RE.sub("", body)  # the wrapper's end is no part of the answer
        answer = "\n".join(x for x in (ev.answer_head.strip(), body) if x)
        answer, given_id = explicit_id(answer)
        status, ref = classify_answer(answer)
        atoms.append(
            Atom(
                source=src.rel,
                line=ev.line + 1,
                end_line=max(ev.line + 1, last_line),
                section=_titles(section),
                number=ev.number,
                kind=ev.qkind,
                question=ev.title,
                answer=answer,
                status=status,
                explicit_id=given_id,
                reference=ref,
                fmt="markdown",
            )
        )
    structure = set(m + 1 for m in meta_lines)
    for ev in kept:
        if ev.kind == "topic":
            structure.update(range(ev.line + 1, ev.body_start + 1))
    return Document(src, tuple(atoms), tuple(unattached), tuple(chains), tuple(sorted(structure)))


def _titles(section: list[tuple[int, str]]) -> tuple[str, ...]:
    return tuple(t for _, t in section)


def _dedent(line: str, indent: int) -> str:
    k = 0
    while k < indent and k < len(line) and line[k] == " ":
        k += 1
    return line[k:]


_RICH_RE = re.compile(r"!\[[^\]]*\]\(|!\[\[")


def _overview(
    src: SourceFile, lines: list[str], start: int, end: int, section: tuple[str, ...], skip: set[int]
) -> Atom | None:
    """A section introduction with a figure is worth a card of its own (`标题：概览`), so the figure is kept."""
    run = [i for i in range(start, end) if i not in skip and lines[i].strip()]
    if not run or not section:
        return None
    a, b = run[0], run[-1] + 1
    text = "\n".join(lines[a:b])
    if not _RICH_RE.search(text):
        return None
    return Atom(
        source=src.rel,
        line=a + 1,
        end_line=b,
        section=section,
        number=None,
        kind="概览",
        question=f"{section[-1]}：概览",
        answer=text,
        status="answered",
        fmt="markdown",
    )


def _collect_unattached(
    src: SourceFile,
    lines: list[str],
    start: int,
    end: int,
    section: tuple[str, ...],
    skip: set[int],
    out: list[Unattached],
) -> None:
    run: list[int] = [i for i in range(start, end) if i not in skip and lines[i].strip()]
    if not run:
        return
    a, b = run[0], run[-1] + 1
    out.append(Unattached(src.rel, a + 1, b, section, "\n".join(lines[a:b])))
