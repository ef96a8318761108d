"""Atom -> card HTML: Markdown rendering behind math protection, highlighting, sanitising.

Formulas are swapped for placeholders before the Markdown renderer sees the text and come back
as Anki MathJax delimiters. Plain answers go through pulldown-cmark (pyromark), the rest through
markdown-it-py with our rules; both give the same HTML. Code boxes come from `code.py`. Every fragment is
cleaned by nh3 before it reaches a card or the map, so no script, event handler or
`javascript:` URL survives. Images are resolved inside the notes folder only.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nh3
import pyromark
from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.container import container_plugin
from mdit_py_plugins.footnote import footnote_plugin
from mdit_py_plugins.front_matter import front_matter_plugin

from bagu2anki import prepare
from bagu2anki.code import code_box, code_css
from bagu2anki.config import FOLD_THRESHOLD as FOLD_THRESHOLD
from bagu2anki.diagnostics import Diagnostics
from bagu2anki.fold import (
    fold_answer,
    html_blocks,
    split_blocks,
    token_kind,
    visible_chars,
    without_chat_closer,
)
from bagu2anki.fold import plain_text as plain_text
from bagu2anki.images import RAW_IMG_RE, ImageEnv, image_html, raw_image
from bagu2anki.model import Atom
from bagu2anki.parse import hexo, rules
from bagu2anki.parse import math as mathx
from bagu2anki.parse.common import container_head, is_container
from bagu2anki.parse.flatten import to_markdown

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl", "dt", "em",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "mark", "ol", "p", "pre",
    "s", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "th", "thead", "tr",
    "u", "ul", "input", "aside", "figure", "figcaption", "section",
}
ALLOWED_ATTRS = {
    "*": {"class"},
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"align", "colspan", "rowspan"},
    "th": {"align", "colspan", "rowspan"},
    "ol": {"start"},
    "input": {"type", "checked", "disabled"},
}
# Raw HTML a note may use on purpose; anything else that looks like a tag (`<eos>`, `<pad>`)
# is prose and stays visible as text.
PASS_THROUGH_TAGS = ALLOWED_TAGS | {"script", "style", "iframe", "object", "embed", "svg", "math", "font", "center"}
_TAG_NAME_RE = re.compile(r"^</?\s*([A-Za-z][A-Za-z0-9-]*)")
_HTML_COMMENT_RE = re.compile(r"^<!--.*-->$", re.S)


@dataclass(frozen=True, slots=True)
class Rendered:
    html: str
    media: tuple[Path, ...]
    visible_chars: int
    folded: bool


class Renderer:
    """One configured markdown-it instance; `answer()` and `question()` give sanitised HTML."""

    def __init__(self, diags: Diagnostics, fold_threshold: int = FOLD_THRESHOLD) -> None:
        self.diags = diags
        self.fold_threshold = fold_threshold
        # `breaks`: a line break inside a paragraph is kept, as Obsidian, Typora and Hexo show it
        # (`①…` / `②…` on lines of their own, an error message over its cause), not run together
        md = MarkdownIt("commonmark", {"html": True, "linkify": True, "typographer": False, "breaks": True, "maxNesting": 100})
        md.enable(["table", "strikethrough", "linkify"])
        md.use(front_matter_plugin)
        md.use(container_plugin, name="box", validate=is_container, render=_render_container)
        md.use(footnote_plugin)  # `[^1]` and its `[^1]: …` (the reader brings them to the answer)
        md.add_render_rule("fence", _render_fence)
        md.add_render_rule("code_block", _render_fence)
        md.add_render_rule("html_inline", _render_html)
        md.add_render_rule("html_block", _render_html)
        md.add_render_rule("image", _render_image)
        md.add_render_rule("table_open", _render_table_open)
        md.add_render_rule("table_close", _render_table_close)
        md.add_render_rule("th_open", _render_cell_open)
        md.add_render_rule("td_open", _render_cell_open)
        self.md = md
        self.fast = True
        self.vaults: dict[Path, dict[str, list[Path]]] = {}  # images by name per root (`images.in_vault`)

    def _fast_answer(self, protected: str, spans: list[mathx.MathSpan]) -> Rendered:
        """pulldown-cmark (pyromark) for the plain answers most notes are made of.

        Only for text with nothing that needs our markdown-it rules (see `_FAST_BLOCKERS`):
        tables get the same wrapper and `align`, code the same Pygments box, and the result
        passes the same nh3 gate (highlighted code is put in after it: Pygments escapes it).
        A long answer is cut into its top-level blocks to fold, as markdown-it's would be.
        """
        raw = pyromark.html(protected, options=_PYROMARK_OPTIONS)
        codes: list[str] = []

        def code(m: re.Match[str]) -> str:
            codes.append(code_box(m.group(1) or "", html.unescape(m.group(2))))
            return f"{_CODE_OPEN}{len(codes) - 1}{_CODE_CLOSE}"

        raw = _PRE_RE.sub(code, raw)
        raw = _SOFT_BREAK_RE.sub("<br>\n", raw)  # kept, as markdown-it's `breaks` (and nh3) render them
        if "<table>" in raw:
            raw = _CELL_ALIGN_RE.sub(r'<\1 align="\2">', raw)
            raw = raw.replace("<table>", '<div class="table-wrap"><table>').replace("</table>", "</table></div>")
        gate = _needs_gate(protected)

        def finish(fragment: str) -> str:
            fragment = mathx.restore(fragment, spans)
            if gate:
                fragment = clean(fragment)
            if codes:
                fragment = _CODE_RE.sub(lambda m: codes[int(m.group(1))], fragment)
            return fragment

        body = finish(raw)
        visible = visible_chars(body)
        if visible <= self.fold_threshold:
            return Rendered(body, (), visible, False)
        blocks = html_blocks(raw, _CODE_OPEN + _CODE_CLOSE)
        body, visible, folded = fold_answer([kind for kind, _ in blocks], [finish(h) for _, h in blocks], self.fold_threshold)
        return Rendered(body, (), visible, folded)

    # -- public ---------------------------------------------------------------------------------

    def question(self, atom: Atom) -> str:
        text = atom.question
        if atom.fmt == "text":
            text = to_markdown(text)
        protected, spans = _protected(text)
        if self.fast and "\n" not in protected and _fast_ok(protected):
            # one line of inline Markdown: pulldown-cmark makes it one paragraph, unless the
            # line reads as a block (`- x`, `# x`, `1. x`), which is left to markdown-it
            raw = pyromark.html(protected, options=_PYROMARK_OPTIONS)
            if raw.startswith("<p>") and raw.endswith("</p>\n") and raw.count("<p>") == 1:
                raw = mathx.restore(raw[3:-5], spans)
                return clean(raw) if _needs_gate(protected) else raw
        out = self.md.renderInline(protected)
        return clean(mathx.restore(out, spans))

    def answer(self, atom: Atom, base: Path, root: Path, answer: str | None = None) -> Rendered:
        src = atom.answer if answer is None else answer
        # `<br>` left over from the question's line would make the answer one raw HTML block
        src = rules.ANSWER_LABEL.sub("", rules.LEADING_BREAKS.sub("", src.lstrip()), count=1)
        src = without_chat_closer(rules.ANSWER_TITLE.sub("", src, count=1))
        if atom.fmt == "markdown" and hexo.has_tags(src):
            src = hexo.to_markdown(src, Path(atom.source).stem)  # first: its code tags become fences
        if "</details" in src.lower() or "<details" in src.lower():
            src = prepare.unfold_details(src)
        src = prepare.obsidian_callouts(src)
        if atom.fmt == "text":
            src = to_markdown(src)
        else:
            src = prepare.separators(prepare.logseq_properties(prepare.back_links(src)))
        protected, spans = _protected(src)
        if self.fast and _fast_ok(protected):
            return self._fast_answer(protected, spans)
        own = atom.fmt == "markdown" and answer in (None, atom.answer)  # the answer's lines are the note's
        env = ImageEnv(atom, base, root, diags=self.diags, vaults=self.vaults, lines=atom.answer.split("\n") if own else [])
        tokens = self.md.parse(protected, {"b2a": env})
        blocks = split_blocks(tokens)
        parts = [
            clean(mathx.restore(self.md.renderer.render(b, self.md.options, {"b2a": env}), spans))
            for b in blocks
        ]
        body, visible, folded = fold_answer([token_kind(b) for b in blocks], parts, self.fold_threshold)
        return Rendered(body, tuple(sorted(env.media)), visible, folded)

    def pygments_css(self) -> str:
        """Token colours for light cards and for Anki's night mode (`.nightMode` on body).

        Only token rules: the code box's own background and padding come from card.css.
        """
        return code_css()


def clean(fragment: str) -> str:
    """nh3 with our allow-list: the one gate every note fragment passes."""
    cleaned = nh3.clean(
        fragment,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRS,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
        strip_comments=True,
    )
    return _BARE_LINK_RE.sub(_readable_link, cleaned) if "://" in cleaned else cleaned


# A bare URL shows as its host and path (`zhuanlan.zhihu.com/p/123`), shortened: a phone screen
# has no room for `https://` and tracking parameters; the link itself is untouched.
_BARE_LINK_RE = re.compile(r'(<a href="(https?://[^"]+)"[^>]*>)(https?://[^<]+)</a>')


def _readable_link(m: re.Match[str]) -> str:
    opening, href, text = m.group(1), html.unescape(m.group(2)), html.unescape(m.group(3))
    if text != href:
        return m.group(0)
    shown = re.sub(r"^https?://(?:www\.)?", "", text).split("?", 1)[0].split("#", 1)[0].rstrip("/")
    if len(shown) > 48:
        shown = shown[:45] + "…"
    return f"{opening}{html.escape(shown)}</a>"


_PYROMARK_OPTIONS = pyromark.Options.ENABLE_TABLES | pyromark.Options.ENABLE_STRIKETHROUGH
# What only our markdown-it instance reads right: raw HTML and autolinks (`<`), bare links
# (linkify), images, containers, front matter, a single `~` (pulldown-cmark strikes it
# through), our own placeholder characters.
_FAST_BLOCKERS = re.compile(r"[<\ue002\ue003]|!\[|:::|https?:|www\.|^---|(?<!~)~(?!~)|\[\^", re.M)


def _protected(text: str) -> tuple[str, list[mathx.MathSpan]]:
    """Editor syntax turned into Markdown, formulas swapped for placeholders, `==marks==`."""
    protected, spans = mathx.protect(prepare.wiki(prepare.equation_images(text)))
    protected = prepare.highlights(prepare.wiki_links(protected))
    return prepare.escape_stray_html(protected), spans


def _needs_gate(protected: str) -> bool:
    """Whether pyromark's HTML of `protected` must pass nh3. Without `<` (on the fast path only
    code may hold one), a link target or a reference definition, pulldown-cmark can only write
    its own attribute-free tags around escaped text: nothing for nh3 to remove."""
    return "<" in protected or "](" in protected or "]:" in protected


def _fast_ok(text: str) -> bool:
    """No blocker outside code (a `<` in code is just code to both renderers)."""
    if _FAST_BLOCKERS.search(text) is None:
        return True
    return _FAST_BLOCKERS.search(prepare.CODE_SPANS.sub("", text)) is None


_CODE_OPEN, _CODE_CLOSE = "\ue002", "\ue003"
_CODE_RE = re.compile(_CODE_OPEN + r"(\d+)" + _CODE_CLOSE)
# A line break pulldown-cmark left inside a paragraph or item: not after a hard break, not
# before a block's tag, a code box's placeholder or the end (code boxes are out by then).
_SOFT_BREAK_RE = re.compile(
    r"(?<!<br />)\n(?=[^<\n\ue002]|<(?!/?(?:p|ul|ol|li|h[1-6]|table|thead|tbody|tr|th|td|blockquote|hr|div|pre|dl|dt|dd)\b))"
)
_PRE_RE = re.compile(r'<pre><code(?: class="language-([^"]*)")?>(.*?)</code></pre>\n?', re.S)
_CELL_ALIGN_RE = re.compile(r'<(th|td) style="text-align: (left|center|right)">')


def _render_fence(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    tok = tokens[idx]
    return code_box(tok.info or "", tok.content)


def _render_table_open(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    """Wide tables scroll inside their own box instead of widening the card."""
    return '<div class="table-wrap">' + str(self.renderToken(tokens, idx, options, env))


def _render_table_close(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    return str(self.renderToken(tokens, idx, options, env)) + "</div>\n"


def _render_cell_open(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    """`|---:|` alignment as an `align` attribute: the sanitiser drops every `style`."""
    tok = tokens[idx]
    style = tok.attrGet("style")
    align = re.fullmatch(r"text-align:(left|center|right)", str(style)) if style else None
    if align:
        tok.attrs.pop("style", None)
        tok.attrSet("align", align.group(1))
    return str(self.renderToken(tokens, idx, options, env))


def _render_html(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    content = tokens[idx].content
    if _HTML_COMMENT_RE.match(content.strip()):
        return ""
    m = _TAG_NAME_RE.match(content.strip())
    if m and m.group(1).lower() in PASS_THROUGH_TAGS:
        if "<img" in content.lower():
            # `<img src="assets/x.png" style="zoom:50%">` (Typora's resized image): bundled like
            # a Markdown image
            e: ImageEnv | None = env.get("b2a") if isinstance(env, dict) else None
            return RAW_IMG_RE.sub(lambda t: raw_image(t.group(0), e), content)
        return content  # nh3 decides what of it survives
    return html.escape(content)


def _render_container(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    tok = tokens[idx]
    if tok.nesting == 1:
        kind, title = container_head(tok.info) or ("note", "")
        head = f'<p class="callout-title">{html.escape(title)}</p>' if title else ""
        return f'<div class="callout {html.escape(kind)}">{head}\n'
    return "</div>\n"


def _render_image(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    tok = tokens[idx]
    e: ImageEnv | None = env.get("b2a") if isinstance(env, dict) else None
    return image_html(str(tok.attrs.get("src", "")), tok.content or "", e)
