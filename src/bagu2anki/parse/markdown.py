"""Reader for Markdown notes (Obsidian, Typora, VS Code, Hexo, VitePress): SourceFile -> Document.

markdown-it-py finds the block structure (so a `#` inside a code fence or a `$$` block is never
a heading); `events.py` finds where questions start, by the rules in `rules.py`. Atoms are then
cut from the source lines, so every line lands in exactly one atom or section preamble.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import replace

from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.container import container_plugin
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.front_matter import front_matter_plugin
from rapidfuzz import fuzz

from bagu2anki import prepare
from bagu2anki.diagnostics import Diagnostics
from bagu2anki.model import Atom, Document, SourceFile, Unattached
from bagu2anki.parse import hexo, rules
from bagu2anki.parse.common import (
    Event,
    ReadingRules,
    classify_answer,
    explicit_id,
    find_chain,
    is_container,
    options_to_front,
)
from bagu2anki.parse.events import demote_containers, find_events
from bagu2anki.parse.titles import ordinal_prefix
from bagu2anki.sources import file_title


def block_parser() -> MarkdownIt:
    # maxNesting: CommonMark's 20 levels (ten nested lists) would end the file's reading silently
    md = MarkdownIt("commonmark", {"html": True, "maxNesting": 100}).enable(["table", "strikethrough"])
    md.use(front_matter_plugin)
    md.use(dollarmath_plugin, allow_space=True, allow_digits=False, double_inline=True)
    md.use(container_plugin, name="box", validate=is_container)
    # Only the block structure is needed to find questions: inline parsing is left to rendering.
    md.disable(["inline", "text_join"])
    return md


_MD = block_parser()
_STRAY_LT = "\ue004"  # a stray tag's `<` while the block structure is read


def read_markdown(src: SourceFile, diags: Diagnostics, reading: ReadingRules | None = None) -> Document:
    admonitions = prepare.mkdocs_admonitions(src.text)
    if admonitions is not src.text:
        # MkDocs `??? question "…"` as the Obsidian callout it means, line for line: read, and
        # carried into the answers, as one (the reading pages show the file as written)
        src = replace(src, text=admonitions)
    lines = src.text.split("\n")
    # line for line: Hexo `{% codeblock %}` as fences, `句子。` over `---` a separator
    view = prepare.separators(hexo.block_view(src.text))
    # `<style>`, `List<Object>`: a tag that is no kept formatting HTML is text, never an HTML
    # block that swallows the questions after it (one character for one: lines stay in place)
    view = prepare.escape_stray_html(view, _STRAY_LT)
    tokens = _MD.parse(view)
    _check_fences(src, tokens, view.split("\n") if view is not src.text else lines, diags)
    _check_depth(src, tokens, diags)
    events = find_events(tokens, lines, reading)
    if _STRAY_LT in view:
        for ev in events:
            ev.title = ev.title.replace(_STRAY_LT, "<")
            ev.answer_head = ev.answer_head.replace(_STRAY_LT, "<")
    events = demote_containers(events, lines)
    doc = _assemble(src, lines, events, tokens, diags)
    asked = file_question(src, lines, doc)
    return asked if asked is not None else doc


def _check_depth(src: SourceFile, tokens: list[Token], diags: Diagnostics) -> None:
    """Lists or quotes nested deeper than the parser follows: past that depth the rest of the
    file is read as part of the deepest block, so say where it starts."""
    limit = _MD.options["maxNesting"]
    deep = next((t for t in tokens if t.level >= limit - 1 and t.map), None)
    if deep is not None and deep.map is not None:
        diags.warning(
            src.rel, deep.map[0] + 1,
            f"lists or quotes nested over {limit // 2} levels deep: what follows may be read as part of them",
            "deep-nesting",
        )


REPEATS_NAME = 85  # similarity (0-100) at which a first line repeats the file's name
_H1_RE = re.compile(r"^\s{0,3}#\s+(.*?)\s*#*\s*$")


MAX_ABSORBED = 3  # question headings a file-name question takes in as parts of its answer


def file_question(src: SourceFile, lines: list[str], doc: Document) -> Document | None:
    """One question per file, the file's name asking it (`大模型有哪些评估指标？.md`), often
    repeated as its first heading or line: the file is that question's answer.

    When the first line repeats the name, the whole file answers it and the questions its
    sub-headings ask are steps of that one answer. Otherwise the answer runs to the first question
    written as one (`Q:`, a bold or listed question: a follow-up card of its own, kept), taking in
    at most `MAX_ABSORBED` question headings before it (`## 哪个开销更大？` in an article that
    answers its name); more than that, or a file that opens with a question, is a question bank
    whose title asks, read as it was."""
    title = file_title(src.rel).strip()
    if not title or not rules.asks(title):
        return None
    structure = set(doc.structure)
    body = [k for k in range(len(lines)) if lines[k].strip() and (k + 1) not in structure]
    if not body:
        return None
    first = body[0]
    h1 = _H1_RE.match(lines[first])
    same = (h1.group(1) if h1 else lines[first]).strip().strip("*").strip()
    repeated = fuzz.ratio(_norm(same), _norm(title)) >= REPEATS_NAME  # `大家都谈的…` for `大家都在谈的…`
    kept: tuple[Atom, ...] = ()
    last = body[-1]
    if not repeated:
        ordered = sorted(doc.atoms, key=lambda a: a.line)
        cut = next((a for a in ordered if not _H_ANY.match(lines[a.line - 1])), None)
        absorbed = [a for a in ordered if cut is None or a.line < cut.line]
        if len(absorbed) > MAX_ABSORBED or (ordered and ordered[0].line == first + 1):
            return None  # a question bank whose title asks, or a file that opens with its questions
        if cut is not None:
            kept = tuple(a for a in doc.atoms if a.line >= cut.line)
            before = [k for k in body if k < cut.line - 1]
            if not before:
                return None
            last = before[-1]
    start = first + 1 if repeated else first  # the name again as its first line
    answer = "\n".join(lines[start : last + 1]).strip("\n")
    if not answer.strip():
        return None
    status, ref = classify_answer(answer)
    opening = next(k for k in range(len(lines)) if lines[k].strip())  # the file's start, structure or not
    atom = Atom(
        source=src.rel,
        line=min(first, opening) + 1,
        end_line=last + 1,
        section=(),
        number=None,
        kind=None,
        question=title,
        answer=answer,
        status=status,
        reference=ref,
        fmt="markdown",
    )
    rest = tuple(u for u in doc.unattached if u.line > last + 1)
    return Document(src, (atom, *kept), rest, doc.chains, doc.structure)


_H_ANY = re.compile(r"^\s{0,3}#{1,6}\s")


def _norm(text: str) -> str:
    return re.sub(r"[\s\W_]+", "", rules.nfkc(text)).lower()


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


_TRAILER = re.compile(  # what may close an answer and is no part of it (matched on the stripped line)
    r"(?:-{3,}|\*{3,}|_{3,})|(?:<a\s+(?:name|id)=\"[^\"]*\"\s*>\s*</a>\s*)+"
    r"|(?:编辑于|发布于)\s*\d{4}[-/.]\d{1,2}[-/.]\d{1,2}.*|.*著作权归作者所有.*"  # Zhihu's footer
)
_QUOTE_RE = re.compile(r"^[ \t]{0,3}> ?")
_DETAILS_END_RE = re.compile(r"\n*[ \t]*</details>\s*$", re.I)


def _assemble(
    src: SourceFile, lines: list[str], events: list[Event], tokens: list[Token], diags: Diagnostics
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
        ch = find_chain(ln)
        if ch:
            chains.append((ch, idx + 1))

    # Decide where each question ends: a heading question runs to the next heading of its
    # level or above (deeper headings are part of its answer); any other runs to the next event.
    kept: list[Event] = []
    stack_level = 0
    for ev in events:
        if stack_level and ev.level > stack_level and ev.kind == "topic":
            continue  # a sub-heading inside a heading question's answer
        kept.append(ev)
        stack_level = ev.level if (ev.kind == "question" and ev.level) else 0

    atoms: list[Atom] = []
    unattached: list[Unattached] = []
    separators: set[int] = set()  # `---` and anchors cut off the end of answers: structure
    # Footnote definitions (`[^1]: 出处`), wherever they sit, go with the answers that cite them.
    notes = {
        m.group(1): lines[k]
        for k in range(n)
        if k not in fence_lines and k not in meta_lines and (m := _FOOTNOTE_DEF.match(lines[k]))
    }
    if notes:
        lines = ["" if _FOOTNOTE_DEF.match(ln) and k not in fence_lines else ln for k, ln in enumerate(lines)]
        separators.update(k + 1 for k, ln in enumerate(src.text.split("\n")) if _FOOTNOTE_DEF.match(ln) and k not in fence_lines)
    section: list[tuple[int, str]] = []
    first = kept[0].line if kept else n
    _collect_unattached(src, lines, 0, first, (), meta_lines, unattached)
    for k, ev in enumerate(kept):
        end = kept[k + 1].line if k + 1 < len(kept) else n
        if ev.kind == "end":
            _collect_unattached(src, lines, ev.body_start, end, _titles(section), meta_lines, unattached)
            continue
        if ev.kind == "topic":
            while section and section[-1][0] >= ev.level:
                section.pop()
            if not _TOC_TITLE.match(ev.title):  # `# 目录` heads the page's links, not what follows them
                section.append((ev.level, ev.title))
            # a topic's text is no card, whatever it holds (an image included): it is listed
            _collect_unattached(src, lines, ev.body_start, end, _titles(section), meta_lines, unattached)
            continue
        if ev.level:
            while section and section[-1][0] >= ev.level:
                section.pop()
        body_lines = lines[ev.body_start : end]
        if ev.item_indent:
            cols = len(lines[ev.line][: ev.item_indent].expandtabs(4))  # tabs count to the next 4
            body_lines = [_dedent(b, cols) for b in body_lines]
        if ev.quote_end:
            body_lines = [
                _QUOTE_RE.sub("", b, count=1) if ev.body_start + k < ev.quote_end else b for k, b in enumerate(body_lines)
            ]
        while body_lines and (not body_lines[-1].strip() or _TRAILER.fullmatch(body_lines[-1].strip())):
            if body_lines[-1].strip():
                separators.add(ev.body_start + len(body_lines))  # 1-based line of what goes
            body_lines.pop()  # blank lines, a `---` between cards, an empty `<a name>` anchor
        last_line = ev.body_start + len(body_lines)
        body = "\n".join(body_lines).strip("\n")
        if ev.item_indent:
            body = textwrap.dedent(body)  # an outline's answer indented deeper than its question
        if ev.via == "details" and body.lower().count("</details") > body.lower().count("<details"):
            body = _DETAILS_END_RE.sub("", body)  # the wrapper's end is no part of the answer
        # a heading question's answer head is the heading that opened it (`#### A：…`): a block of its own
        answer = ("\n\n" if ev.level else "\n").join(x for x in (ev.answer_head.strip(), body) if x)
        if notes:
            answer = _with_footnotes(answer, notes)
        answer, given_id = explicit_id(answer)
        number, question = (ev.number, ev.title) if ev.number is not None else ordinal_prefix(ev.title)
        question, answer = options_to_front(question, answer)
        status, ref = classify_answer(answer)
        atoms.append(
            Atom(
                source=src.rel,
                line=ev.line + 1,
                end_line=max(ev.line + 1, last_line),
                section=_titles(section),
                number=number,
                kind=ev.qkind,
                question=question,
                answer=answer,
                status=status,
                explicit_id=given_id,
                reference=ref,
                fmt="markdown",
            )
        )
    structure = set(m + 1 for m in meta_lines) | separators
    for ev in kept:
        if ev.kind in ("topic", "end"):
            structure.update(range(ev.line + 1, ev.body_start + 1))
    return Document(src, tuple(atoms), tuple(unattached), tuple(chains), tuple(sorted(structure)))


_FOOTNOTE_DEF = re.compile(r"^ {0,3}\[\^([^\]\s]+)\]:\s")
_FOOTNOTE_REF = re.compile(r"\[\^([^\]\s]+)\](?!:)")


def _with_footnotes(answer: str, notes: dict[str, str]) -> str:
    """The answer with the definitions of the footnotes it cites appended."""
    cited = [k for k in dict.fromkeys(_FOOTNOTE_REF.findall(answer)) if k in notes]
    return answer + "\n\n" + "\n".join(notes[k] for k in cited) if cited else answer


_TOC_TITLE = re.compile(r"^(?:目\s*录|文章目录|索引|table of contents|contents|toc)$", re.I)


def _titles(section: list[tuple[int, str]]) -> tuple[str, ...]:
    return tuple(t for _, t in section)


def _dedent(line: str, indent: int) -> str:
    """`line` without up to `indent` columns of leading white space (a tab reaches the next 4)."""
    body = line.lstrip(" \t")
    lead = line[: len(line) - len(body)]
    if "\t" in lead:
        lead = lead.expandtabs(4)  # Logseq indents with tabs
    return lead[indent:] + body if len(lead) > indent else body


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
