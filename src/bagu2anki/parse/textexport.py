"""Reader for flat text exports (a blog page copied as plain text): SourceFile -> Document.

Headings and code fences are lost in such files. Sections are short title lines; questions
are kind-prefixed lines (`八股:…`) or numbered lines whose numbers go up within a section;
a section with neither may still hold questions written as lines that ask. `to_markdown()`
rebuilds what the export flattened (code, tables, list items, formulas) for rendering.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from bagu2anki.diagnostics import Diagnostics, clip
from bagu2anki.model import Atom, Document, SourceFile, Unattached
from bagu2anki.parse import rules
from bagu2anki.parse.common import (
    ReadingRules,
    classify_answer,
    explicit_id,
    find_chain,
    is_placeholder,
    options_to_front,
)
from bagu2anki.parse.titles import (
    KIND_TITLE,
    SECTION_WORD,
    Shapes,
    cn_value,
    shape,
    title_like,
)

_CODE_ROW = re.compile(
    r"^\s*\d{1,4}\s*\|.*\|\s*$|^\s*\d{1,4} +(?:import|from|def|class|return|for|while|if|elif|else|try|except|with|print)\b"
)
_TASK = re.compile(r"^(?:手撕|手写|实现|设计|推导|写一个)")
_PAREN_NUMBER = re.compile(r"^\s*(?:[（(]\d{1,3}[）)]|\d{1,3}[)）])")
LOOKAHEAD = 300  # lines looked ahead to settle an ambiguous number
_STYLE = re.compile(r"^\s*(?:[（(]\d+[）)]|\d+\s*([.．、)）])(\s?))")


def _number_style(line: str) -> tuple[str, str]:
    """How a numbered line is written: `1.` / `1. ` / `1、` / `（1）` differ."""
    m = _STYLE.match(line)
    if m is None:
        return ("", "")
    return (m.group(1) or "()", m.group(2) or "")


@dataclass
class _Open:
    line: int  # 0-based index of the question line
    number: str | None
    kind: str | None
    question: str
    section: tuple[str, ...]
    answer_head: str = ""


@dataclass
class _State:
    section: tuple[str, ...] = ()
    mode: str | None = None  # "prefixed" | "numbered" | "plain" within the current section
    current_number: int = 0
    sublist_last: int = 0
    section_shapes: Shapes = field(default_factory=Shapes)
    title_depth: int = 0
    cn_last: int = 0  # the last `一、` / `二、` section title's number
    q_paren: bool | None = None  # the section's numbered questions are written `(3)` / `3)`


def read_text(src: SourceFile, diags: Diagnostics, reading: ReadingRules | None = None) -> Document:
    lines = src.text.split("\n")
    n = len(lines)
    marks: list[tuple[int, str, object]] = []  # (index, "q"|"section", payload)
    st = _State()
    atom_open = False
    atom_open_flag = False

    after: list[int] = [n] * (n + 1)  # after[i]: the first non-blank line after line i (n: none)
    for k in range(n - 1, 0, -1):
        after[k - 1] = k if lines[k].strip() else after[k]

    def next_nonblank(i: int) -> int:
        return after[i] if i < n else n

    def numbered_candidate(idx: int, restart_ok: bool) -> tuple[str, str] | None:
        if _CODE_ROW.match(lines[idx]):
            return None  # `3 | # 作用:… |`, `4 import torch`: code that lost its fences
        num, rest = rules.number_prefix(lines[idx])
        if num is None or not rest:
            return None
        paren = _PAREN_NUMBER.match(lines[idx]) is not None
        if st.q_paren is not None and paren != st.q_paren:
            return None  # `(3) 为什么…` under questions numbered `3.`: the answer's own steps
        if st.q_paren is None and paren and st.current_number:
            return None
        try:
            value = int(num.split(".")[0])
        except ValueError:
            return None
        score = rules.question_score(lines[idx])
        if score < 0:
            return None
        if restart_ok and value <= 3:
            return num, rest
        if st.mode == "prefixed":
            return None
        if st.current_number == 0:
            if value <= 5 and (score >= 1 or not atom_open):
                return num, rest
            return None
        if value == st.current_number and not st.sublist_last and score >= 1 and comes_later(idx, value + 1, value + 1):
            # `5.DPO有哪些变体` … `5.在线和离线偏好优化的区别` … `6.…`: a number written twice, the
            # second one a question of its own (it asks, no list of the answer's is under way,
            # and the count goes on after it)
            return num, rest
        if value <= st.current_number or value > st.current_number + 10:
            return None
        if st.sublist_last and value == st.sublist_last + 1:
            # It continues the answer's own list and the question numbering alike: it is the
            # list's when a question numbered up to it still comes (`3.` after the list 1, 2, 3).
            if comes_later(idx, st.current_number + 1, value):
                return None
            if score < 1 and not rules.asks_unmarked(rest) and not _TASK.match(rest):
                return None
        return num, rest

    def comes_later(idx: int, low: int, high: int) -> bool:
        """A question-like line numbered `low`..`high` follows before the next section title."""
        for j in range(idx + 1, min(n, idx + LOOKAHEAD)):
            s2 = lines[j].strip()
            if not s2 or _CODE_ROW.match(s2):
                continue
            num2, rest2 = rules.number_prefix(s2)
            if num2 is None:
                k = next_nonblank(j)
                if title_like(s2) and not rules.kind_prefix(s2)[0] and k < n and (
                    rules.number_prefix(lines[k])[0] == "1" or rules.kind_prefix(lines[k].strip())[0]
                ):
                    return False  # a new section starts
                continue
            head = num2.split(".")[0]
            if not head.isdigit() or (_PAREN_NUMBER.match(s2) is not None) != bool(st.q_paren):
                continue  # `（3）` in a later answer is no question number here
            if low <= int(head) <= high and rest2 and rules.question_score(s2) >= 0:
                return True
            if int(head) > high and rules.question_score(s2) >= 1:
                return False  # the questions have moved past: a later `3.` is another answer's step
        return False

    def old_numbering_goes_on(j: int) -> bool:
        """From line `j` (a `1.` under a short title), the section's numbering resumes (`4.` after
        the title's own 1, 2 under question 3): the title is a sub-heading of that answer."""
        run = 0
        run_style = _number_style(lines[j])
        for k in range(j, min(n, j + LOOKAHEAD)):
            s2 = lines[k].strip()
            if not s2 or _CODE_ROW.match(s2):
                continue
            num2, rest2 = rules.number_prefix(s2)
            if num2 is None or not num2.split(".")[0].isdigit() or not rest2:
                if title_like(s2) and k > j:
                    return False
                continue
            value2 = int(num2.split(".")[0])
            if value2 == run + 1 and _number_style(s2) == run_style:
                run = value2
            elif value2 == st.current_number + 1 and _number_style(s2) != run_style:
                # the section's next number, written as its questions are and not as the
                # title's own steps (`1. 先拆…` / `2. …` then `4.效果怎么评估的`)
                return True
        return False

    # A line the title test passes over whatever has been read (a title over another title, with
    # nothing that could make it more) -> the first line after it in its run of titles that it
    # does not pass over: a run of titles is walked once, not once for each of its lines.
    passed_over: dict[int, int] = {}

    def section_title_at(i: int) -> bool:
        """Line i starts a section. A title over another title is one when that title is, so the
        test walks down a run of titles (iteratively: a run may be thousands of lines long)."""
        plain: list[int] = []
        while True:
            if not atom_open_flag:
                i = passed_over.get(i, i)
            step, free = _title_step(i)
            if isinstance(step, bool) or not free or atom_open_flag:
                for k in plain:
                    passed_over[k] = i
                plain = []
            if isinstance(step, bool):
                return step
            if free and not atom_open_flag:
                plain.append(i)
            i = step

    def _title_step(i: int) -> tuple[bool | int, bool]:
        """Whether line i starts a section, or the line whose answer is line i's (a title over a
        title); and whether that next line comes whatever has been read so far (with no question
        open: no `一、` count, no known shape over a question can stop the walk here)."""
        if not title_like(lines[i]):
            return False, False
        cn = cn_value(lines[i])
        if cn is not None and ((st.cn_last and cn != st.cn_last + 1) or (not st.cn_last and atom_open_flag)):
            # `一、数据并行` inside an answer: the count starts outside any answer and goes on
            return False, False
        # a question whose answer has not started yet does not hold this line
        after_question = bool(atom_open_flag and marks and marks[-1][1] == "q" and marks[-1][0] == i - 1)
        atom_open = atom_open_flag and not after_question
        if after_question and (
            is_placeholder(lines[i]) or rules.ANSWER_LABEL.match(lines[i].strip()) or rules.parse_reference(lines[i])
        ):
            return False, False  # `略`, `待补充`, `A1：router是线性层`, `同上` under a question: its answer
        j = next_nonblank(i)
        if j >= n:
            return False, False
        nxt = lines[j]
        if _PAREN_NUMBER.match(nxt):
            return False, False  # `主要有三点原因` over `（1）…`: an answer's own points

        def known_shape() -> bool:
            return (
                shape(lines[i]) in st.section_shapes
                or st.section_shapes.same_family(lines[i])
                or bool(SECTION_WORD.search(lines[i]))
                or KIND_TITLE.match(rules.nfkc(lines[i]).strip()) is not None
            )

        if rules.kind_prefix(rules.number_prefix(nxt)[1])[0]:
            # `八股:…?` / `用的vLLM` / `八股:…`: a short line under a question is its answer,
            # unless it is titled as the sections are
            return ((not atom_open) and not after_question) or known_shape(), False
        num, rest = rules.number_prefix(nxt)
        if num is not None and rest:
            value = int(num.split(".")[0]) if num.split(".")[0].isdigit() else 0
            score = rules.question_score(nxt)
            if score < 0:
                return False, False
            if after_question and not known_shape():
                # `2.什么是QLoRA` / `4bit量化底座` / `3.…`: the count goes on, so the short line
                # is the answer; a count that starts again at 1 opens a section
                return value == 1, False
            if not atom_open or known_shape():
                return value <= 3, False
            # numbering that starts again at 1 right under a short title: a new section, unless
            # the section's own numbering goes on after it
            # Where the titles so far are numbered (`项目一 …`, `模板3`), a title of another shape
            # (`解决方法`) over steps that do not ask is that answer's sub-heading.
            numbered_titles = st.section_shapes.numbered
            return (
                value == 1
                and value < st.current_number
                and (score >= 1 or (st.current_number >= 3 and not numbered_titles))
                and not old_numbering_goes_on(j)
            ), False
        if after_question and not known_shape():
            return False, False  # `6.lc 25 …` / `写出来了` / `阿里 通义 二面`: the short line answers
        standalone = _standalone_question(lines, j)
        if standalone and known_shape():
            return True, False  # `HR面` after `一面` / `二面`, holding questions that only ask
        if cn is None and st.section_shapes and (shape(lines[i]) in st.section_shapes or st.section_shapes.same_family(lines[i])):
            return True, False  # `HR面` / `聊人生…` closing a 面经 of `一面`, `二面`: no answer's text
        if title_like(nxt) and not atom_open:
            # A title over a section title: the page title, or a part heading.
            return j, cn is None and not standalone
        if not atom_open and st.title_depth == 0 and not marks:
            return True, False  # the very first line of the page: its title
        return False, False

    def _page_title(i: int) -> bool:
        """A first title line is the page's title when another section title comes before any question."""
        for j in range(i + 1, min(n, i + 200)):
            s = lines[j].strip()
            if not s or s == lines[i].strip():
                continue
            if rules.kind_prefix(rules.number_prefix(s)[1])[0] or rules.number_prefix(s)[0]:
                return False
            if title_like(s) and section_title_at(j):
                return True
        return False

    def open_question(i: int, num: str | None, kind: str | None, rest: str) -> bool:
        """Line i opens a question (its answer follows): True, for the open-answer flags."""
        st.sublist_last = 0
        marks.append((i, "q", _Open(i, num, kind, rest, st.section)))
        return True

    i = 0
    chains: list[tuple[tuple[str, ...], int]] = []
    while i < n:
        raw = lines[i]
        s = raw.strip()
        if not s:
            i += 1
            continue
        chain = find_chain(s)
        if chain:
            chains.append((chain, i + 1))
        if reading:
            # the user's own `[reading]` patterns win: a question, or text that is none
            declared = reading.question_text(s)
            if declared is not None:
                num, kind, rest = rules.split_question(declared)
                atom_open = atom_open_flag = True
                marks.append((i, "q", _Open(i, num, kind, rest, st.section)))
                i += 1
                continue
            if reading.refuses(s):
                i += 1
                continue
        kind, rest = rules.kind_prefix(rules.number_prefix(s)[1])
        labelled = rules.q_label_numbered(s) if kind is None else None
        if labelled is not None and (
            rules.ANSWER_LABEL.match(lines[next_nonblank(i)].strip() if next_nonblank(i) < n else "")
            or rules.ends_with_question_mark(labelled[1])
            or rules.asks_unmarked(labelled[1])
        ):
            # `Q：…` / `问：…` / `Q1. …` that asks, or over an `A：` / `答：` line: a question,
            # its label off the front
            num, (kind, rest) = labelled[0], rules.kind_prefix(labelled[1])
            st.mode = st.mode or "prefixed"
            atom_open = atom_open_flag = open_question(i, num, kind, rest)
            i += 1
            continue
        if kind is None and section_title_at(i):
            title = s
            prev_title = st.section[-1] if st.section else None
            if prev_title is not None and title == prev_title and not atom_open:
                marks.append((i, "dup", None))  # the export repeats the page title
                i += 1
                continue
            if not atom_open and not st.section_shapes and st.title_depth == 0 and _page_title(i):
                # an outer title (page title) above the first real section title
                st.section = (title,)
                st.title_depth = 1
            else:
                st.section = st.section[: st.title_depth] + (title,)
                st.section_shapes.add(shape(title))
            st.mode = None
            st.current_number = 0
            st.sublist_last = 0
            st.q_paren = None
            st.cn_last = cn_value(title) or st.cn_last
            atom_open = atom_open_flag = False
            marks.append((i, "section", st.section))
            i += 1
            continue
        if kind is not None:
            num, _ = rules.number_prefix(s)
            if num is not None and num.split(".")[0].isdigit():
                st.current_number = max(st.current_number, int(num.split(".")[0]))
                st.mode = st.mode or "numbered"
            else:
                st.mode = st.mode or "prefixed"
            atom_open = atom_open_flag = open_question(i, num, kind, rest)
            i += 1
            continue
        cand = numbered_candidate(i, restart_ok=False)
        if cand is not None and st.mode in (None, "numbered", "plain"):
            num, rest = cand
            st.mode = "numbered"
            st.q_paren = _PAREN_NUMBER.match(s) is not None
            st.current_number = int(num.split(".")[0])
            st.sublist_last = 0
            atom_open = atom_open_flag = True
            marks.append((i, "q", _Open(i, num, None, rest.rstrip(":： ") or rest, st.section)))
            i += 1
            continue
        num, _rest = rules.number_prefix(s)
        same_style = (_PAREN_NUMBER.match(s) is not None) == bool(st.q_paren)
        if num is not None and num.split(".")[0].isdigit() and atom_open and not _CODE_ROW.match(s) and same_style:
            st.sublist_last = int(num.split(".")[0])
            if st.mode == "numbered" and st.sublist_last == st.current_number + 1 and rules.question_score(s) >= 1:
                diags.info(
                    src.rel, i + 1,
                    f"'{clip(s, 30)}' could be question {st.sublist_last}; it was read as part of the answer to question "
                    f"{st.current_number} (its numbered list)",
                    "kept-in-answer",
                )
        if atom_open and (run := _todo_run(lines, i, next_nonblank)):
            # `- …？` lines after an answer, up to the section's end: questions left to answer,
            # not that answer's text
            for k in run:
                marks.append((k, "q", _Open(k, None, None, _BULLET.sub("", lines[k].strip()), st.section)))
            atom_open = atom_open_flag = True
            i = run[-1] + 1
            continue
        if (st.mode in (None, "plain") and _standalone_question(lines, i)) or (
            st.mode == "plain" and _asks_alone(s)
        ):
            # in a section of questions that ask, those left unanswered before the next count too
            st.mode = "plain"
            atom_open = atom_open_flag = True
            marks.append((i, "q", _Open(i, None, None, s, st.section)))
            i += 1
            continue
        i += 1

    return _assemble(src, lines, marks, chains, diags)


TODO_RUN = 3  # asking bullets in a row at a section's end that make a to-do list
_BULLET = re.compile(r"^[-*•]\s*")


def _todo_run(lines: list[str], i: int, next_nonblank: Callable[[int], int]) -> list[int]:
    """Lines from `i` that are bullets ending in `？`, at least `TODO_RUN` of them, after an
    answer that does not introduce them (no colon before), running to the end of the section (the
    file's end, a title or a numbered or prefixed line); [] otherwise."""
    if not _BULLET.match(lines[i]) or not rules.ends_with_question_mark(lines[i]):
        return []
    before = next((lines[k].strip() for k in range(i - 1, max(-1, i - 5), -1) if lines[k].strip()), "")
    if not before or before.endswith((":", "：")) or (_BULLET.match(before) and rules.ends_with_question_mark(before)):
        return []
    run: list[int] = []
    k = i
    n = len(lines)
    while k < n and _BULLET.match(lines[k].strip()) and rules.ends_with_question_mark(lines[k]):
        run.append(k)
        k = next_nonblank(k)
    if len(run) < TODO_RUN:
        return []
    if k < n:
        nxt = lines[k].strip()
        if not (title_like(nxt) or rules.number_prefix(nxt)[0] or rules.kind_prefix(nxt)[0]):
            return []
    return run


def _asks_alone(s: str) -> bool:
    """A line that is a question by itself: short, ends with `?` (or asks in words, shorter, with
    no comma: `评测集怎么构造`, as this export's author often writes), no list item, table or
    formula."""
    return (
        len(s) <= 80
        and (rules.ends_with_question_mark(s) or (len(s) <= 40 and not any(c in s for c in "，,") and rules.asks_unmarked(s)))
        and not rules.LIST_START.match(s)
        and not s.startswith(("|", "\\", "(", "（"))
    )


def _standalone_question(lines: list[str], i: int) -> bool:
    if i >= len(lines):
        return False
    s = lines[i].strip()
    if not _asks_alone(s):
        return False
    # followed by an answer line that is not itself a question
    j = i + 1
    while j < len(lines) and not lines[j].strip():
        j += 1
    return j < len(lines) and not rules.ends_with_question_mark(lines[j].strip())


def _assemble(
    src: SourceFile,
    lines: list[str],
    marks: list[tuple[int, str, object]],
    chains: list[tuple[tuple[str, ...], int]],
    diags: Diagnostics,
) -> Document:
    atoms: list[Atom] = []
    unattached: list[Unattached] = []
    n = len(lines)
    bounds = [m[0] for m in marks] + [n]
    first = marks[0][0] if marks else n
    if any(ln.strip() for ln in lines[:first]):
        _add_unattached(src, lines, 0, first, (), unattached)
    section: tuple[str, ...] = ()
    for k, (idx, what, payload) in enumerate(marks):
        end = bounds[k + 1]
        if what == "section":
            assert isinstance(payload, tuple)
            section = payload
            if any(ln.strip() for ln in lines[idx + 1 : end]):
                _add_unattached(src, lines, idx + 1, end, section, unattached)
            continue
        if what == "dup":
            if any(ln.strip() for ln in lines[idx + 1 : end]):
                _add_unattached(src, lines, idx + 1, end, section, unattached)
            continue
        assert isinstance(payload, _Open)
        body = lines[idx + 1 : end]
        question = payload.question
        carried = 0
        if question.rstrip().endswith(("，", ",")) and body and 0 < len(body[0].strip()) <= 30 and rules.ends_with_question_mark(body[0]):
            # `场景题:用户反馈模型越来越慢,` / `你怎么定位?`: one question written over two lines
            question, carried = question.rstrip() + body[0].strip(), 1
            body = body[1:]
        while body and not body[-1].strip():
            body.pop()
        answer = "\n".join(body).strip("\n")
        answer, given_id = explicit_id(answer)
        question, answer = options_to_front(question, answer)
        status, ref = classify_answer(answer)
        last = idx + 1 + carried + len(body)
        atoms.append(
            Atom(
                source=src.rel,
                line=idx + 1,
                end_line=max(idx + 1, last),
                section=payload.section,
                number=payload.number,
                kind=payload.kind,
                question=question,
                answer=answer,
                status=status,
                explicit_id=given_id,
                reference=ref,
                fmt="text",
            )
        )
    structure = tuple(idx + 1 for idx, what, _ in marks if what in ("section", "dup"))
    return Document(src, tuple(atoms), tuple(unattached), tuple(chains), structure)


def _add_unattached(
    src: SourceFile,
    lines: list[str],
    start: int,
    end: int,
    section: tuple[str, ...],
    out: list[Unattached],
) -> None:
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    if start < end:
        out.append(Unattached(src.rel, start + 1, end, section, "\n".join(lines[start:end])))
