"""Note text made ready for Markdown: what the editors people write in add to it.

Obsidian callouts, `[[wiki links]]`, `![[embeds]]` (an embedded image is found by its name, as
Obsidian does), `^block-ids` and `%%comments%%`; formulas pasted from Zhihu or CSDN as images
(the TeX is in the URL); `==highlight==`; `<details>` in an answer (opened when it folds the
answer, a titled box otherwise). Each step leaves code fences and code spans alone. `render.py`
runs these before Markdown runs; `wiki_links` and `highlights` after the formulas are protected,
so nothing inside a formula is touched either.
"""

from __future__ import annotations

import bisect
import functools
import html
import re
from collections.abc import Callable
from urllib.parse import unquote, unquote_plus

from bagu2anki.parse import rules
from bagu2anki.parse.common import CONTAINERS

# `[[target|alias]]` / `![[target|alias]]`, the target `file#Heading#Sub` or `file#^block-id`
# (the file may be left out: `[[#^id]]`); `[[x]](url)` is a Markdown link, not ours.
_WIKI_RE = re.compile(r"(!?)\[\[([^\[\]|\n]+)(?:\|([^\[\]\n]*))?\]\](?!\()")
# An Obsidian block id: `^id` ending a line (after a space) or alone on its line, an anchor for
# `[[#^id]]` links.
_BLOCK_ID_RE = re.compile(r"(?:^|[ \t]+)\^[A-Za-z0-9-]+[ \t]*$", re.M)
_EMBED_SIZE_RE = re.compile(r"^\d+(?:x\d+)?$")  # `![[a.png|300]]`: a width, not a caption
# An embedded file (`x.png`, `paper.pdf`) rather than a note (`Note`, `Note.md`, `RoPE 2.0`)
_ATTACHMENT_RE = re.compile(r"\.(?!md$)[A-Za-z][A-Za-z0-9]{0,4}$", re.I)


_CALLOUT_RE = re.compile(r"^> ?\[!(\w+)\][+-]? ?(.*)$")


# MkDocs Material admonitions: `!!! note "标题"`, `??? question "问题"` (folded), `???+` (open),
# the body indented four spaces under them
_ADMONITION_RE = re.compile(
    r'^(?P<mark>\?\?\?\+?|!!!)[ \t]+(?P<kind>[A-Za-z][\w-]*)(?:[ \t]+inline(?:[ \t]+end)?)?(?:[ \t]+"(?P<title>[^"]*)")?[ \t]*$'
)
_FENCE_LINE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})")


def _in_body(line: str) -> bool:
    return line.startswith(("    ", "\t"))


def mkdocs_admonitions(text: str) -> str:
    """MkDocs admonitions as the Obsidian callouts they mean (`??? question "问题"` ->
    `> [!question]- 问题`, the body quoted instead of indented), line for line; code fences
    outside them are left alone."""
    if "!!!" not in text and "???" not in text:
        return text
    if not any(_ADMONITION_RE.match(line) for line in text.split("\n") if line[:1] in ("!", "?")):
        return text  # the same object: nothing to rewrite
    lines = text.split("\n")
    out: list[str] = []
    fence: str | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        fm = _FENCE_LINE.match(line)
        if fence is not None or fm:
            if fence is None:
                fence = fm.group(1) if fm else None
            elif fm and fm.group(1)[0] == fence[0] and len(fm.group(1)) >= len(fence):
                fence = None
            out.append(line)
            i += 1
            continue
        m = _ADMONITION_RE.match(line)
        if m is None:
            out.append(line)
            i += 1
            continue
        fold = {"???": "-", "???+": "+"}.get(m.group("mark"), "")
        title = (m.group("title") or "").strip()
        out.append(f"> [!{m.group('kind').lower()}]{fold}" + (f" {title}" if title else ""))
        i += 1
        while i < len(lines):
            if not lines[i].strip():
                j = i
                while j < len(lines) and not lines[j].strip():
                    j += 1
                if j < len(lines) and _in_body(lines[j]):
                    out.extend([">"] * (j - i))
                    i = j
                    continue
                break
            if not _in_body(lines[i]):
                break
            body = lines[i][1:] if lines[i].startswith("\t") else lines[i][4:]
            out.append("> " + body)
            i += 1
    return "\n".join(out)


def obsidian_callouts(text: str) -> str:
    """`> [!note] 标题` blockquotes (Obsidian callouts) become the same boxes as `::: note`."""
    if "[!" not in text:
        return text
    out: list[str] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        m = _CALLOUT_RE.match(lines[i])
        if not m:
            out.append(lines[i])
            i += 1
            continue
        kind = m.group(1).lower()
        kind = kind if kind in CONTAINERS else "note"
        out.append(f"::: {kind} {m.group(2).strip()}".rstrip())
        i += 1
        while i < len(lines) and lines[i].startswith(">"):
            out.append(lines[i][2:] if lines[i].startswith("> ") else lines[i][1:])
            i += 1
        out.append(":::")
    return "\n".join(out)


_OBSIDIAN_COMMENT_RE = re.compile(r"%%.*?%%", re.S)


def wiki(text: str) -> str:
    """Obsidian `%%comments%%` are the writer's own and stay off the card (taken out before the
    formulas are, so a `$` in a comment opens no formula)."""
    if "%%" in text:
        text = outside_code(text, lambda part: _OBSIDIAN_COMMENT_RE.sub("", part))
    return text


def wiki_links(text: str) -> str:
    """Obsidian `![[x.png]]` embeds become images, `[[Page#Heading|alias]]` links bold text
    naming their target (`Page › Heading`), trailing `^block-ids` go. Outside code; run on
    text whose formulas are placeholders."""
    if "^" in text:
        # on the whole text (a line's end is only seen there), but not where code is
        code = [m.span() for m in CODE_SPANS.finditer(text)]
        starts = [a for a, _b in code]

        def in_code(at: int) -> bool:  # spans do not overlap: only the last one starting before counts
            k = bisect.bisect_right(starts, at) - 1
            return k >= 0 and at < code[k][1]

        text = _BLOCK_ID_RE.sub(lambda m: m.group() if in_code(m.start()) else "", text)
    if "[[" not in text:
        return text
    return outside_code(text, lambda part: _WIKI_RE.sub(_wiki, part))


def _wiki(m: re.Match[str]) -> str:
    embed, target, alias = m.group(1), m.group(2).strip(), (m.group(3) or "").strip()
    file, _, sub = target.partition("#")
    file = file.strip()
    if embed and _ATTACHMENT_RE.search(file) and not sub:
        return f"![{'' if _EMBED_SIZE_RE.match(alias) else alias}](<{file}>)"
    if alias and not (embed and _EMBED_SIZE_RE.match(alias)):
        return f"**{alias}**"
    # `note.md#A#^b` -> `note › A › b`: the file as written (without `.md`), then each heading
    # or block id of the path
    parts = [file.removesuffix(".md")] + [p.strip().lstrip("^") for p in sub.split("#")]
    name = " › ".join(p for p in parts if p)
    return f"**{name}**" if name else ""


# Formulas as images from an equation service (notes copied from Zhihu or CSDN): the TeX is in
# the URL. Remote images are never fetched, so these become real formulas instead.
_EQUATION_IMAGE_RE = re.compile(
    r"!\[(?:[^\[\]\n]|\[[^\]\n]*\])*\]\(<?https?://(?:www\.)?(?:zhihu\.com/equation\?tex=|(?:latex|private)\.codecogs\.com/"
    r"(?:gif|png|svg)\.(?:latex|image|download)\?)([^)\s>]+)>?(?:\s+\"[^\"]*\")?\)"
)
_CODECOGS_PREFIX_RE = re.compile(r"^(?:\\(?:dpi\{\d+\}|bg_\w+|bg\{\w+\}|inline|large|small|fn_\w+)\s*)+")


def equation_images(text: str) -> str:
    if "equation?tex=" not in text and "codecogs.com" not in text:
        return text
    lines = text.split("\n")
    for k, line in enumerate(lines):
        if "equation?tex=" in line or "codecogs.com" in line:
            alone = _EQUATION_IMAGE_RE.fullmatch(line.strip()) is not None  # a formula of its own
            lines[k] = _EQUATION_IMAGE_RE.sub(functools.partial(_equation, display=alone), line)
    return "\n".join(lines)


def _equation(m: re.Match[str], display: bool) -> str:
    url = m.group(0)
    if "zhihu.com" in url:
        tex = unquote_plus(m.group(1).split("&", 1)[0])
    else:
        tex = _CODECOGS_PREFIX_RE.sub("", unquote(m.group(1)))
    tex = tex.strip()
    if not tex or "$" in tex:
        return url
    return f"$${tex}$$" if display else f"${tex}$"


# The fence's run of backticks is taken whole (possessive): a closing fence repeats it exactly,
# and a long line of backticks is not retried at every shorter length.
CODE_SPANS = re.compile(r"^[ \t>]*(`{3,}+|~{3,}+)[^\n]*\n.*?^[ \t>]*\1[ \t]*$|`[^`\n]+`", re.M | re.S)


_MARK_RE = re.compile(r"(?<!=)==(?=[^\s=])([^=\n]+?)(?<=[^\s=])==(?!=)")


def highlights(text: str) -> str:
    """Obsidian / Typora `==highlight==` outside code (formulas are placeholders by now)."""
    if "==" not in text:
        return text
    return outside_code(text, lambda part: _MARK_RE.sub(r"<mark>\1</mark>", part))


def outside_code(text: str, change: Callable[[str], str]) -> str:
    """`change` applied to the text between code fences and code spans."""
    out: list[str] = []
    pos = 0
    for code in CODE_SPANS.finditer(text):
        out.append(change(text[pos : code.start()]))
        out.append(code.group())
        pos = code.end()
    out.append(change(text[pos:]))
    return "".join(out)


# `<details><summary>答案</summary>…</details>`: on the back of a card the answer is shown,
# not folded away again. Any other `<details>` in an answer becomes a titled box.
_DETAILS_RE = re.compile(r"<details[^>]*>\s*<summary[^>]*>(.*?)</summary>|</details\s*>", re.I | re.S)
_ANSWER_SUMMARY_RE = re.compile(r"^\s*(?:答案|答|参考答案|解析|answer|solution)\s*$", re.I)


def unfold_details(text: str) -> str:
    """Answer folds go; other `<details>` become `::: details 标题` boxes; a `</details>` that
    closes nothing (the question's own wrapper) goes. Code is left alone."""
    stack: list[bool] = []  # per open <details>, across code blocks: is it a box?

    def segment(part: str) -> str:
        out: list[str] = []
        pos = 0
        for m in _DETAILS_RE.finditer(part):
            out.append(part[pos : m.start()])
            pos = m.end()
            if m.group(0).lower().startswith("</details"):
                if stack and stack.pop():
                    out.append("\n\n:::\n\n")
                continue
            title = html.unescape(re.sub(r"<[^>]+>", "", m.group(1))).strip()
            box = not _ANSWER_SUMMARY_RE.match(title)
            stack.append(box)
            if box:
                out.append(f"\n\n::: details {' '.join(title.split())}\n\n")
        out.append(part[pos:])
        return "".join(out)

    return outside_code(text, segment)


# Logseq block properties (`id:: 65a1…`, `collapsed:: true`) are the outliner's bookkeeping.
LOGSEQ_PROPERTY = re.compile(r"^[ \t]*(?:[-*][ \t]+)?(?:" + rules.LOGSEQ_KEYS + r")::(?:[ \t].*)?$\n?", re.M)


def logseq_properties(text: str) -> str:
    """Logseq's property lines left out (never inside code)."""
    if "::" not in text:
        return text
    return outside_code(text, lambda part: LOGSEQ_PROPERTY.sub("", part))


# `[返回目录](#目录)`, `[⬆ 回到顶部](#top)`: a way back up the page, nowhere to go on a card
BACK_TO_TOP = re.compile(
    r"^[ \t]*\[\s*(?:⬆️?|↑|🔝)?\s*(?:返回|回到)?(?:目录|顶部|top|back to top|↑|⬆️?)\s*\]\(#[^()\s]*\)[ \t]*$\n?", re.M | re.I
)


def back_links(text: str) -> str:
    """Lines that only link back up the page left out (never inside code)."""
    if "](#" not in text:
        return text
    return outside_code(text, lambda part: BACK_TO_TOP.sub("", part))


_SENTENCE_THEN_RULE = re.compile(r"^(?P<text>[^\n]*[^\s#|][。！!；;.])[ \t]*\n(?P<rule> {0,3}-{3,}[ \t]*)$", re.M)


def separators(text: str) -> str:
    """`答案的最后一句。` directly over `---`: a separator between cards, not a heading (CommonMark
    would make the sentence a setext heading). The rule becomes `***`, the same break, on the
    same line; titles and questions (`什么是 KV Cache？` over `---`, as pandoc writes headings)
    keep their setext reading. Front matter and code are left alone."""
    if "---" not in text:
        return text
    body_from = 0
    if text.startswith("---"):
        close = re.search(r"^(?:---|\.\.\.)[ \t]*$", text[3:], re.M)
        body_from = 3 + close.end() if close else len(text)
    head, body = text[:body_from], text[body_from:]

    def fix(part: str) -> str:
        return _SENTENCE_THEN_RULE.sub(lambda m: m.group("text") + "\n" + m.group("rule").replace("-", "*"), part)

    return head + outside_code(body, fix)


# -- raw HTML ---------------------------------------------------------------------------------
# Interview notes talk about tags and generics all the time (`<style> 和 <link> 的区别？`,
# `List<Object>`, `<eos>`): raw HTML is kept only for formatting elements, and only where it is
# well formed (a paired tag closed, in order); every other `<` that starts a tag is text. Left
# as HTML, `<style>` or `<script>` would swallow the rest of the note (markdown-it reads an HTML
# block to its closing tag) and the sanitiser would delete what it holds.
KEPT_HTML_TAGS = frozenset({
    "a", "abbr", "aside", "b", "blockquote", "br", "center", "code", "dd", "del", "details", "div",
    "dl", "dt", "em", "figcaption", "figure", "font", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i",
    "img", "input", "ins", "kbd", "li", "mark", "ol", "p", "pre", "s", "section", "small", "span",
    "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
})
VOID_HTML_TAGS = frozenset({"br", "hr", "img", "input", "wbr"})
_SWALLOWERS = frozenset({"script", "pre", "style", "textarea"})
_TAG_START_RE = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)")
_TAG_REST_RE = re.compile(r"""(?:\s(?:[^<>"']|"[^"\n]*"|'[^'\n]*')*)?/?>""")
_AUTOLINK_RE = re.compile(r"<(?:[A-Za-z][A-Za-z0-9+.-]{1,31}:[^<>\s]*|[^\s<>@]+@[^\s<>]+)>")


def stray_tag_starts(text: str) -> list[int]:
    """Offsets of the `<` of every tag in `text` that is not kept formatting HTML: an element
    outside `KEPT_HTML_TAGS`, a paired tag never closed or closing nothing, one cut off by a
    line end. Linear: each tag is pushed and popped at most once."""
    stray: list[int] = []
    stack: list[tuple[str, int]] = []
    depth: dict[str, int] = {}
    for m in _TAG_START_RE.finditer(text):
        if _AUTOLINK_RE.match(text, m.start()):
            continue
        closing, name = m.group(1) == "/", m.group(2).lower()
        rest = _TAG_REST_RE.match(text, m.end())
        if rest is None:  # no tag to Markdown either (`<kv/cache.png>`), unless it opens one
            if name in _SWALLOWERS:  # of the HTML blocks that run to their closing tag
                stray.append(m.start())
            continue
        if name not in KEPT_HTML_TAGS:
            stray.append(m.start())
            continue
        if name in VOID_HTML_TAGS or rest.group().endswith("/>"):
            continue
        if not closing:
            stack.append((name, m.start()))
            depth[name] = depth.get(name, 0) + 1
            continue
        if not depth.get(name):
            stray.append(m.start())  # closes nothing
            continue
        while stack:  # tags opened inside this one and never closed are text
            open_name, at = stack.pop()
            depth[open_name] -= 1
            if open_name == name:
                break
            stray.append(at)
    stray.extend(at for _name, at in stack)
    return sorted(stray)


def escape_stray_html(text: str, mark: str = "&lt;") -> str:
    """`text` with the `<` of each stray tag (see `stray_tag_starts`) replaced by `mark`: the
    entity for Markdown, or one placeholder character where lines and columns must not move.
    Code spans and fences are left as written."""
    if "<" not in text:
        return text

    def escaped(part: str, at: int) -> bool:  # `\<think>`: Markdown shows that `<` as written
        k = at
        while k > 0 and part[k - 1] == "\\":
            k -= 1
        return (at - k) % 2 == 1

    def change(part: str) -> str:
        starts = [at for at in stray_tag_starts(part) if not escaped(part, at)]
        if not starts:
            return part
        out: list[str] = []
        pos = 0
        for at in starts:
            out.append(part[pos:at])
            out.append(mark)
            pos = at + 1
        out.append(part[pos:])
        return "".join(out)

    return outside_code(text, change)
