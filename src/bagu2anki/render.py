"""Atom -> card HTML: Markdown rendering behind math protection, highlighting, sanitising.

Formulas are swapped for placeholders before markdown-it-py sees the text and come back as
Anki MathJax delimiters. Code is highlighted by Pygments into CSS classes. Every fragment is
cleaned by nh3 before it reaches a card or the map, so no script, event handler or
`javascript:` URL survives. Images are resolved inside the notes folder only.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.container import container_plugin
from mdit_py_plugins.front_matter import front_matter_plugin
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

from bagu2anki.diagnostics import Diagnostics
from bagu2anki.model import Atom
from bagu2anki.parse import math as mathx
from bagu2anki.parse.markdown import CONTAINERS
from bagu2anki.parse.textexport import to_markdown

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl", "dt", "em",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "mark", "ol", "p", "pre",
    "s", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "th", "thead", "tr",
    "u", "ul", "input",
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
_WIKI_EMBED_RE = re.compile(r"!\[\[([^\]|#]+)(?:#[^\]|]*)?(?:\|([^\]]*))?\]\]")
_WIKI_LINK_RE = re.compile(r"\[\[([^\]|#]+)(?:#[^\]|]*)?(?:\|([^\]]*))?\]\]")
_TAG_STRIP_RE = re.compile(r"<[^>]+>")
_SUMMARY_TITLES = ("总结", "小结", "结论", "总之", "summary", "tl;dr", "tldr", "一句话总结", "核心结论")
_ANSWER_LABEL_RE = re.compile(r"^(?:A|答|答案|回答)\s*[:：]\s*", re.I)
FOLD_THRESHOLD = 1000


@dataclass(frozen=True, slots=True)
class Rendered:
    html: str
    media: tuple[Path, ...]
    visible_chars: int
    folded: bool


@dataclass
class _Env:
    atom: Atom
    base: Path
    root: Path
    media: dict[Path, str] = field(default_factory=dict)
    diags: Diagnostics | None = None


def media_name(path: Path) -> str:
    digest = hashlib.sha1(path.read_bytes()).hexdigest()[:16]
    return f"b2a-{digest}{path.suffix.lower()}"


class Renderer:
    """One configured markdown-it instance; `answer()` and `question()` give sanitised HTML."""

    def __init__(self, diags: Diagnostics, fold_threshold: int = FOLD_THRESHOLD) -> None:
        self.diags = diags
        self.fold_threshold = fold_threshold
        md = MarkdownIt("commonmark", {"html": True, "linkify": True, "typographer": False})
        md.enable(["table", "strikethrough", "linkify"])
        md.use(front_matter_plugin)
        for name in CONTAINERS:
            md.use(container_plugin, name=name, render=_render_container)
        md.add_render_rule("fence", _render_fence)
        md.add_render_rule("code_block", _render_fence)
        md.add_render_rule("html_inline", _render_html)
        md.add_render_rule("html_block", _render_html)
        md.add_render_rule("image", _render_image)
        self.md = md
        self.formatter = HtmlFormatter(cssclass="highlight", nowrap=False)

    # -- public ---------------------------------------------------------------------------------

    def question(self, atom: Atom) -> str:
        text = atom.question
        if atom.fmt == "text":
            text = to_markdown(text)
        protected, spans = mathx.protect(_wiki(text))
        out = self.md.renderInline(protected)
        return clean(mathx.restore(out, spans))

    def answer(self, atom: Atom, base: Path, root: Path, answer: str | None = None) -> Rendered:
        src = atom.answer if answer is None else answer
        src = _ANSWER_LABEL_RE.sub("", src.lstrip(), count=1)
        if atom.fmt == "text":
            src = to_markdown(src)
        protected, spans = mathx.protect(_wiki(src))
        env = _Env(atom, base, root, diags=self.diags)
        tokens = self.md.parse(protected, {"b2a": env})
        blocks = _split_blocks(tokens)
        parts = [
            clean(mathx.restore(self.md.renderer.render(b, self.md.options, {"b2a": env}), spans))
            for b in blocks
        ]
        full = "".join(parts)
        visible = len(_TAG_STRIP_RE.sub("", full).strip())
        folded = False
        if visible > self.fold_threshold and len(parts) > 1:
            lead = _summary_lead(blocks, parts)
            body = (
                f'<div class="lead">{lead}</div>'
                f'<details class="full"><summary>展开全文</summary>{full}</details>'
            )
            folded = True
        else:
            body = full
        return Rendered(body, tuple(sorted(env.media)), visible, folded)

    def pygments_css(self) -> str:
        light = HtmlFormatter(style="default").get_style_defs(".highlight")
        dark = HtmlFormatter(style="monokai").get_style_defs(".nightMode .highlight")
        dark2 = HtmlFormatter(style="monokai").get_style_defs(".night_mode .highlight")
        return "\n".join((light, dark, dark2))


def clean(fragment: str) -> str:
    """nh3 with our allow-list: the one gate every note fragment passes."""
    return nh3.clean(
        fragment,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRS,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


def plain_text(fragment: str) -> str:
    return html.unescape(_TAG_STRIP_RE.sub("", fragment)).strip()


def _wiki(text: str) -> str:
    """Obsidian `![[x.png]]` embeds become images, `[[Page|alias]]` links become plain text."""
    if "[[" not in text:
        return text
    text = _WIKI_EMBED_RE.sub(lambda m: f"![{m.group(2) or ''}](<{m.group(1).strip()}>)", text)
    return _WIKI_LINK_RE.sub(lambda m: f"**{(m.group(2) or m.group(1)).strip()}**", text)


def _split_blocks(tokens: list[Token]) -> list[list[Token]]:
    blocks: list[list[Token]] = []
    cur: list[Token] = []
    depth = 0
    for t in tokens:
        cur.append(t)
        depth += t.nesting
        if depth == 0:
            blocks.append(cur)
            cur = []
    if cur:
        blocks.append(cur)
    return blocks


def _block_title(block: list[Token]) -> str:
    for t in block:
        if t.type == "inline":
            return t.content.strip().strip("*_#:： ").lower()
    return ""


def _summary_lead(blocks: list[list[Token]], parts: list[str]) -> str:
    """The answer's own summary when it has one, else its opening block."""
    for k, b in enumerate(blocks):
        title = _block_title(b)
        if b[0].type in ("heading_open", "paragraph_open") and any(
            title == s or (title.startswith(s) and len(title) <= len(s) + 6) for s in _SUMMARY_TITLES
        ):
            rest = []
            for b2, p2 in zip(blocks[k + 1 :], parts[k + 1 :], strict=False):
                if b2[0].type == "heading_open":
                    break
                rest.append(p2)
            if rest:
                return parts[k] + "".join(rest)
    # a closing summary table
    if blocks and blocks[-1][0].type == "table_open":
        return parts[-1]
    lead = parts[0]
    if len(parts) > 1 and blocks[0][0].type == "paragraph_open" and blocks[1][0].type in (
        "bullet_list_open",
        "ordered_list_open",
    ) and len(plain_text(parts[0])) < 60:
        lead += parts[1]
    return lead


# -- render rules ---------------------------------------------------------------------------------


def _render_fence(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    tok = tokens[idx]
    lang = (tok.info or "").strip().split()[0].lower() if tok.info else ""
    code = tok.content
    if lang in ("math", "latex", "tex") and False:
        return ""
    if lang and lang not in ("text", "txt", "plain"):
        try:
            lexer = get_lexer_by_name(lang)
            return str(highlight(code, lexer, HtmlFormatter(cssclass="highlight")))
        except ClassNotFound:
            pass
    return f'<div class="highlight"><pre><code>{html.escape(code)}</code></pre></div>\n'


def _render_html(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    content = tokens[idx].content
    if _HTML_COMMENT_RE.match(content.strip()):
        return ""
    m = _TAG_NAME_RE.match(content.strip())
    if m and m.group(1).lower() in PASS_THROUGH_TAGS:
        return content  # nh3 decides what of it survives
    return html.escape(content)


def _render_container(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    tok = tokens[idx]
    if tok.nesting == 1:
        info = tok.info.strip().split(maxsplit=1)
        kind = info[0] if info else "note"
        title = info[1] if len(info) > 1 else ""
        head = f'<p class="callout-title">{html.escape(title)}</p>' if title else ""
        return f'<div class="callout {html.escape(kind)}">{head}\n'
    return "</div>\n"


def _render_image(self: Any, tokens: list[Token], idx: int, options: Any, env: Any) -> str:
    tok = tokens[idx]
    src = str(tok.attrs.get("src", ""))
    alt = html.escape(tok.content or "")
    e: _Env | None = env.get("b2a") if isinstance(env, dict) else None
    if e is None:
        return ""
    if re.match(r"^[a-z][a-z0-9+.-]*:", src, re.I):
        if src.lower().startswith(("http://", "https://")):
            # remote images are never fetched: show a link instead
            return f'<a class="remote-image" href="{html.escape(src)}">[图片] {alt}</a>'
        return f"[图片] {alt}"
    resolved = _resolve_image(src, e)
    if resolved is None:
        return f'<span class="missing-image">[图片缺失: {html.escape(src)}]</span>'
    name = media_name(resolved)
    e.media[resolved] = name
    return f'<img src="{html.escape(name)}" alt="{alt}">'


def _resolve_image(src: str, e: _Env) -> Path | None:
    from urllib.parse import unquote

    where = f"{e.atom.source}"
    line = e.atom.line
    rel = unquote(src.split("#", 1)[0].split("?", 1)[0]).strip()
    root = e.root.resolve()
    if rel.startswith("/"):
        candidates = [root / rel.lstrip("/"), root / "public" / rel.lstrip("/")]
    else:
        candidates = [e.base / rel, root / rel]
    for c in candidates:
        try:
            real = c.resolve()
        except OSError:
            continue
        if not real.is_relative_to(root):
            if e.diags:
                e.diags.error(where, line, f"image path leaves the notes folder, refused: {src}", "image-outside")
            return None
        if real.is_file():
            return real
    if e.diags:
        e.diags.warning(where, line, f"image not found: {src} (looked next to the note and in the notes root)", "missing-image")
    return None
