"""What the readers left out of every question: a file with text but no question, and text
attached to no question. Takes a read `Document` (its source text still there) and gives
diagnostics, so `check` shows each place where notes may have been misread."""

from __future__ import annotations

import re

from bagu2anki.diagnostics import Diagnostics, counted
from bagu2anki.model import Atom, Document, Unattached

OVERVIEW = "概览"  # the kind of a section introduction kept for its figure; no question
STYLES_HINT = (
    "questions are headings that ask (？) or are numbered, bold questions, `八股：`-style prefixes, "
    "`Q：`/`A：` lines, outlines and <details> (docs/reading.md)"
)

# A question and its answer take two lines at least. Three lines of text with something that asks
# (a heading or a line ending in ？) is the smallest set of notes seen misread in practice: headings
# answered in a line each. Without anything that asks, a file needs more Chinese prose than an
# introduction (one to three lines) before it is surely notes and not a README. Files with no
# Chinese prose and nothing that asks (licences, provenance, English READMEs) are not flagged.
MIN_LINES_ASKING = 3
MIN_LINES_CHINESE = 5
# Unattached text right after an answer is worth a warning only when it is this long or holds a
# list, table, code or display formula: a short paragraph under a heading is a normal introduction.
MIN_LINES_CUT = 3
# A file with questions whose text reaches no card for this share of its characters (and at least
# this many) is worth a warning: a misread drops whole answers, an introduction does not.
UNPLACED_SHARE = 0.30
MIN_UNPLACED_CHARS = 200
# Without questions, this many headings that state topics and Chinese prose make an article.
MIN_ARTICLE_HEADINGS = 2

_FENCE = re.compile(r"^\s*(?:`{3,}|~{3,}|\{%\s*(?:end)?(?:codeblock|highlight)\b)")
# (each pattern reads in time linear in the line: none can start again and again inside a long
# run of white space, dashes or brackets)
_MARKUP = re.compile(  # matched at the line's first character that is not white space
    r"(?:#{1,6}(?:\s|$)|<!--|\[TOC\]|(?:<[^>]*>\s*)+$|\{[:%].*[%}]\s*$)",
    re.I,
)
_RULE = re.compile(r"[\s:|-]*")  # `|---|:--|`, a table's rule (with a `-` in it), or `---`
_LINK = re.compile(r"\]\(|\[\[|https?://|www\.")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_RICH = re.compile(r"^[^\S\n]*(?:[-*+]\s|\d+[.)、]\s|\||`{3}|~{3}|\$\$|<(?:table|pre)\b)", re.M | re.I)
# what may follow the question mark of a title: emoji, stars, tags such as （高频） or 【字节一面】
_BRACKETS = {"（": "）", "(": ")", "【": "】", "[": "]"}
_ASKING_TITLE = re.compile(
    r"[?？]|^(?:说一说|说说|讲讲|讲一下|谈谈|聊聊|介绍一下|简述|请解释)|为什么|为何|什么|如何|怎么|怎样|区别"
)


def check_reading(doc: Document, diags: Diagnostics) -> None:
    """Warn about a file with text but no question; note every block of unattached text, and
    warn where a block looks like the rest of the answer above it, cut off by a heading."""
    _check_no_questions(doc, diags)
    _check_coverage(doc, diags)
    _check_unattached(doc, diags)


def _asks(line: str) -> bool:
    """A line, or a table cell, that ends in a question mark (tags and emoji after it aside)."""
    return any(_undecorated(part.strip()).endswith(("？", "?")) for part in line.split("|"))


def _undecorated(s: str) -> str:
    r"""`s` without what follows its last words: white space, signs and emoji (anything but a
    word character or a question mark), and bracketed tags (`（高频）`, `[必考]`, `(a?)`).

    That is `re.sub(r"(?:（[^）]*）|\([^)]*\)|【[^】]*】|\[[^\]]*\]|[^\w\s？?]|\s)+$", "", s)`, worked
    out from the end in one pass: the regular expression backtracks exponentially on `（）（）…x`.
    """
    n = len(s)
    tail = [False] * (n + 1)  # tail[p]: s[p:] is decoration only
    tail[n] = True
    closing: dict[str, int] = {}  # each closing bracket's nearest place after p
    cut = n
    for p in range(n - 1, -1, -1):
        c = s[p]
        ok = (c.isspace() or not (c.isalnum() or c in "_？?")) and tail[p + 1]
        if not ok and c in _BRACKETS:
            q = closing.get(_BRACKETS[c], -1)
            ok = q != -1 and tail[q + 1]
        tail[p] = ok
        if ok:
            cut = p
        if c in "）)】]":
            closing[c] = p
    return s[:cut]


def _without_tags(s: str, toc: bool = False) -> str:
    r"""`re.sub(r"<[^>]*>", "", s)` (with `toc`, `re.sub(r"<[^>]*>|\[TOC\]", "", s, flags=re.I)`),
    in one pass: a `<` with no `>` after it opens no tag, and neither does any later one."""
    pattern = _TAG_OR_TOC if toc else _TAG_OPEN
    out: list[str] = []
    pos = i = 0
    closes = True  # a `>` may still follow
    while (m := pattern.search(s, i)) is not None:
        a = m.start()
        if m.group() == "<":
            b = s.find(">", a + 1) if closes else -1
            if b == -1:
                closes = False
                if not toc:
                    break
                i = a + 1
                continue
            end = b + 1
        else:
            end = m.end()
        out.append(s[pos:a])
        pos = i = end
    out.append(s[pos:])
    return "".join(out)


_TAG_OPEN = re.compile("<")
_TAG_OR_TOC = re.compile(r"<|\[TOC\]", re.I)


def _markup(line: str) -> bool:
    """A heading, comment, table rule, `[TOC]`, tags alone or a template tag: no text."""
    if "-" in line and _RULE.fullmatch(line):
        return True
    return _MARKUP.match(line.lstrip()) is not None


def _text_lines(start: int, text: str) -> list[tuple[int, str]]:
    """(line number, line) of the lines that carry text: not code, markup, headings or links."""
    out: list[tuple[int, str]] = []
    in_code = False
    for k, line in enumerate(text.split("\n")):
        if _FENCE.match(line):
            in_code = not in_code
            continue
        if in_code or not line.strip() or _markup(line) or _LINK.search(line):
            continue
        if re.search(r"\w", _without_tags(line)):
            out.append((start + k, line))
    return out


def _check_no_questions(doc: Document, diags: Diagnostics) -> None:
    if any(a.kind != OVERVIEW for a in doc.atoms):
        return
    blocks: list[Unattached | Atom] = [*doc.unattached, *doc.atoms]
    lines = sorted(
        ln
        for b in blocks
        for ln in _text_lines(b.line, b.text if isinstance(b, Unattached) else b.answer)
    )
    titles = {t for b in blocks for t in b.section}
    asking = any(_ASKING_TITLE.search(t) for t in titles) or any(_asks(s) for _, s in lines)
    chinese = sum(1 for _, s in lines if _CJK.search(s))
    headings = len(titles)
    if not asking and headings >= MIN_ARTICLE_HEADINGS and chinese >= MIN_LINES_CHINESE:
        diags.warning(
            doc.source.rel,
            lines[0][0],
            f"read as an article: {counted(headings, 'heading')} that state topics and {counted(len(lines), 'line')} "
            "of prose, nothing that asks; no cards (a question heading ends in ？ or asks in words: docs/reading.md)",
            "article",
        )
        return
    if (asking and len(lines) >= MIN_LINES_ASKING) or chinese >= MIN_LINES_CHINESE:
        diags.warning(
            doc.source.rel,
            lines[0][0],
            f"no question read from {len(lines)} lines of text: {STYLES_HINT}",
            "no-questions",
        )


def _visible(start: int, text: str) -> int:
    """Characters a card would show of `text`: its text lines without white space."""
    return sum(len("".join(line.split())) for _, line in _text_lines(start, text))


def _check_coverage(doc: Document, diags: Diagnostics) -> None:
    """A file with questions where much of the text reaches no card (`UNPLACED_SHARE` of its
    characters or more): one warning naming the largest blocks left out, by line."""
    if not doc.atoms or not doc.unattached:
        return
    placed = sum(len(a.question) + _visible(a.line, a.answer) for a in doc.atoms if a.part <= 1)
    blocks = sorted(((_visible(u.line, u.text), u) for u in doc.unattached), key=lambda b: (-b[0], b[1].line))
    unplaced = sum(size for size, _ in blocks)
    if unplaced < MIN_UNPLACED_CHARS or unplaced < UNPLACED_SHARE * (placed + unplaced):
        return
    largest = ", ".join(f"lines {u.line}–{u.end_line} ({size} characters)" for size, u in blocks[:3] if size)
    share = round(100 * unplaced / (placed + unplaced))
    diags.warning(
        doc.source.rel,
        blocks[0][1].line,
        f"{share}% of this file's text ({unplaced} of {placed + unplaced} characters) is in no card; the largest "
        f"parts left out: {largest} (`bagu2anki show {doc.source.rel}` marks every line)",
        "uncarded-text",
    )


def _check_unattached(doc: Document, diags: Diagnostics) -> None:
    source_lines = doc.source.text.split("\n")
    structure = set(doc.structure)
    items: list[Atom | Unattached] = sorted([*doc.atoms, *doc.unattached], key=lambda x: x.line)
    for k, u in enumerate(items):
        if not isinstance(u, Unattached):
            continue
        before = items[k - 1] if k else None
        after = items[k + 1] if k + 1 < len(items) else None
        body = [s for s in u.text.split("\n") if s.strip()]
        if not re.search(r"\w", _without_tags(u.text, toc=True)):
            continue  # anchors, comments, a table-of-contents marker: nothing a card would show
        under = f" (under “{u.section[-1]}”)" if u.section else ""
        if (
            isinstance(before, Atom)
            and _cut_answer(before, u, after, source_lines, structure)
            and (len(body) >= MIN_LINES_CUT or _RICH.search(u.text))
        ):
            diags.warning(
                u.source,
                u.line,
                f"{counted(len(body), 'line')}{under} right after the answer at line {before.line} are in no question: "
                "the heading above them cut that answer short, or asks a question the reader missed",
                "unattached-after-answer",
            )
            continue
        opening = body[0].strip()
        if len(opening) > 40:
            opening = opening[:40] + "…"
        diags.info(u.source, u.line, f"text in no question{under}: {opening}", "unattached")


def _cut_answer(
    before: Atom,
    u: Unattached,
    after: Atom | Unattached | None,
    lines: list[str],
    structure: set[int],
) -> bool:
    """Does `u` look like the rest of `before`'s answer? Only headings stand between them; the
    heading sits inside the question's section, where a heading question would have kept it (a
    bold, list or quoted question's answer ends at any heading); and nothing else follows under
    that heading, so the text is no introduction to questions below it."""
    if before.kind == OVERVIEW or lines[before.line - 1].lstrip().startswith("#"):
        return False
    for n in range(before.end_line + 1, u.line):
        if n not in structure and n - 1 < len(lines) and lines[n - 1].strip():
            return False
    depth = len(before.section)
    if len(u.section) <= depth or u.section[:depth] != before.section:
        return False
    return after is None or after.section[: len(u.section)] != u.section
