"""Long answers lead with their essence: the answer's own summary first, the rest folded.

Takes an answer's top-level blocks (what kind each is, and its sanitised HTML; either renderer
can say, see `token_kind` and `html_blocks`); gives the card body. The summary is a part titled 总结 / 小结 / 结论 / Summary (or a closing table),
otherwise the opening paragraph; the whole answer stays one tap away behind 展开全文.
"""

from __future__ import annotations

import html
import re

from markdown_it.token import Token

_SUMMARY_TITLES = ("总结", "小结", "结论", "总之", "summary", "tl;dr", "tldr", "一句话总结", "核心结论")
MIN_FOLDED = 200  # visible characters worth hiding behind 展开全文
SUMMARY_CHARS = 500  # a summary found by its title is cut after about this many characters
_URL_RE = re.compile(r"https?://\S+")
_TAG_STRIP_RE = re.compile(r"<[^>]+>")


def plain_text(fragment: str) -> str:
    return html.unescape(_TAG_STRIP_RE.sub("", fragment)).strip()


_SPACE_RE = re.compile(r"\s+")


def visible_chars(fragment: str) -> int:
    """Characters a reader sees: no tags, entities as one character, no white space (so the
    line breaks a renderer puts between tags do not count)."""
    return len(_SPACE_RE.sub("", plain_text(fragment)))


def fold_answer(kinds: list[str], parts: list[str], threshold: int) -> tuple[str, int, bool]:
    """(card body, visible characters of the whole answer, whether the rest was folded).

    `kinds[k]` says what top-level block `parts[k]` (its sanitised HTML) is: heading,
    paragraph, bullet_list, ordered_list, table or other (see `token_kind` / `html_blocks`).
    """
    full = "".join(parts)
    visible = visible_chars(full)
    if visible <= threshold or len(parts) < 2:
        return full, visible, False
    lead = _summary_lead(kinds, [plain_text(p) for p in parts])
    if len(lead) >= len(parts):
        lead = [0]
    shown = "".join(parts[k] for k in lead)
    rest = "".join(p for k, p in enumerate(parts) if k not in lead)
    # Folding away a closing sentence saves nothing: a long code answer stays whole.
    if len(plain_text(rest)) < MIN_FOLDED:
        return full, visible, False
    body = f'<div class="lead">{shown}</div><details class="full"><summary>展开全文</summary>{rest}</details>'
    return body, visible, True


def split_blocks(tokens: list[Token]) -> list[list[Token]]:
    """markdown-it tokens cut into top-level blocks."""
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


_KINDS = {"heading_open": "heading", "paragraph_open": "paragraph", "bullet_list_open": "bullet_list",
          "ordered_list_open": "ordered_list", "table_open": "table"}


def token_kind(block: list[Token]) -> str:
    return _KINDS.get(block[0].type, "other")


_HTML_KINDS = {"p": "paragraph", "ul": "bullet_list", "ol": "ordered_list", "table": "table",
               "h1": "heading", "h2": "heading", "h3": "heading", "h4": "heading", "h5": "heading",
               "h6": "heading"}
_BLOCK_TAG_RE = re.compile(r"<(/?)(p|h[1-6]|ul|ol|blockquote|table|pre|div|hr)\b[^>]*?(/?)>")


def html_blocks(fragment: str, atom_marks: str = "") -> list[tuple[str, str]]:
    """pulldown-cmark's HTML cut into top-level blocks: (kind, html). `atom_marks` are
    characters that stand for a whole block by themselves (code boxes put in later)."""
    blocks: list[tuple[str, str]] = []
    depth = 0
    start = 0
    kind = "other"
    pos = 0
    text = fragment
    tags = list(_BLOCK_TAG_RE.finditer(text))
    t = 0
    while pos < len(text):
        if depth == 0:
            # between blocks: white space, a stand-alone mark, or the next block's opening tag
            while pos < len(text) and text[pos] in " \n":
                pos += 1
            if pos >= len(text):
                break
            if atom_marks and text[pos] == atom_marks[0]:
                close = text.find(atom_marks[1], pos)
                end = close + 1 if close != -1 else len(text)
                blocks.append(("other", text[pos:end]))
                pos = end
                continue
            while t < len(tags) and tags[t].start() < pos:
                t += 1
            if t >= len(tags) or tags[t].start() != pos:
                # loose text at the top level: up to the next line break
                end = text.find("\n", pos)
                end = len(text) if end == -1 else end + 1
                blocks.append(("other", text[pos:end]))
                pos = end
                continue
            start = pos
            opening = tags[t].group(0)
            kind = "table" if 'class="table-wrap"' in opening else _HTML_KINDS.get(tags[t].group(2), "other")
        m = tags[t]
        t += 1
        closing, name, void = m.group(1), m.group(2), m.group(3)
        if name == "hr" or void:
            pass
        elif closing:
            depth -= 1
        else:
            depth += 1
        pos = m.end()
        if depth == 0:
            end = pos + 1 if text.startswith("\n", pos) else pos
            blocks.append((kind, text[start:end]))
            pos = end
    return blocks


def _title(text: str) -> str:
    return text.strip().strip("*_#:： ").lower()


_INLINE_SUMMARY_RE = re.compile(
    r"^(?:\*\*)?(?:一句话总结|核心结论|总结|小结|结论|总之|tl;dr)(?:\*\*)?\s*[:：,，](?:\*\*)?\s*\S.{20,}",
    re.I | re.S,
)
_TITLE_NUMBER_RE = re.compile(r"^(?:[0-9一二三四五六七八九十]+\s*[、.．)）]|[a-z](?=[\u4e00-\u9fff]))\s*")


def _is_summary_title(kind: str, text: str) -> bool:
    """`### 总结`, `小结：`, `五、总结`, `4. 总结` (and the export's stray `s总结`)."""
    if kind not in ("heading", "paragraph"):
        return False
    title = _TITLE_NUMBER_RE.sub("", _title(text))
    return any(title == s or (title.startswith(s) and len(title) <= len(s) + 6) for s in _SUMMARY_TITLES)


def _summary_lead(kinds: list[str], texts: list[str]) -> list[int]:
    """Which blocks open a folded answer: its own summary when it has one, else its opening.

    A summary is a `总结` / `小结` title (heading or a short paragraph) with the blocks after it,
    up to the next heading and about SUMMARY_CHARS visible characters; or a closing table.
    The rest of the answer goes into `<details>`.
    """
    for k, kind in enumerate(kinds):
        if _is_summary_title(kind, texts[k]):
            rest: list[int] = []
            size = 0
            for j in range(k + 1, len(kinds)):
                if kinds[j] == "heading" or (rest and size >= SUMMARY_CHARS):
                    break
                rest.append(j)
                size += len(texts[j])
            if rest:
                return [k, *rest]
    # `总结：……` / `一句话总结：……`: a paragraph that is its own summary
    for k, kind in enumerate(kinds):
        if kind == "paragraph" and _INLINE_SUMMARY_RE.match(texts[k].strip()):
            return [k]
    # a closing summary table
    if len(kinds) > 1 and kinds[-1] == "table":
        return [len(kinds) - 1]
    # the opening: the first paragraph that says something (not a bare link or a fragment)
    first = next((k for k, kind in enumerate(kinds) if not _says_nothing(kind, texts[k])), 0)
    lead = [first]
    if (
        len(kinds) > first + 2
        and kinds[first] == "paragraph"
        and kinds[first + 1] in ("bullet_list", "ordered_list")
        and len(texts[first]) < 60
    ):
        lead.append(first + 1)  # `主要有三点：` and its list
    return lead


def _says_nothing(kind: str, text: str) -> bool:
    """A paragraph not worth opening with: a bare link or a `fp16 fp32` fragment."""
    if kind != "paragraph":
        return False
    text = _URL_RE.sub("", text).strip()
    return len(text) < 15 and not (len(text) >= 4 and text.endswith(("。", "！", "？", ".", "!", "?")))


# -- render rules ---------------------------------------------------------------------------------
