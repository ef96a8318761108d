"""Long answers lead with their essence: the answer's own summary first, the rest folded.

Takes an answer's top-level blocks (markdown-it tokens) and their sanitised HTML; gives the
card body. The summary is a part titled 总结 / 小结 / 结论 / Summary (or a closing table),
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


def fold_answer(blocks: list[list[Token]], parts: list[str], threshold: int) -> tuple[str, int, bool]:
    """(card body, visible characters of the whole answer, whether the rest was folded)."""
    full = "".join(parts)
    visible = visible_chars(full)
    if visible <= threshold or len(parts) < 2:
        return full, visible, False
    lead = _summary_lead(blocks, parts)
    if len(lead) >= len(blocks):
        lead = [0]
    shown = "".join(parts[k] for k in lead)
    rest = "".join(p for k, p in enumerate(parts) if k not in lead)
    # Folding away a closing sentence saves nothing: a long code answer stays whole.
    if len(plain_text(rest)) < MIN_FOLDED:
        return full, visible, False
    body = f'<div class="lead">{shown}</div><details class="full"><summary>展开全文</summary>{rest}</details>'
    return body, visible, True


def split_blocks(tokens: list[Token]) -> list[list[Token]]:
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


_INLINE_SUMMARY_RE = re.compile(
    r"^(?:\*\*)?(?:一句话总结|核心结论|总结|小结|结论|总之|tl;dr)(?:\*\*)?\s*[:：,，](?:\*\*)?\s*\S.{20,}",
    re.I | re.S,
)
_TITLE_NUMBER_RE = re.compile(r"^(?:[0-9一二三四五六七八九十]+\s*[、.．)）]|[a-z](?=[\u4e00-\u9fff]))\s*")


def _is_summary_title(block: list[Token]) -> bool:
    """`### 总结`, `小结：`, `五、总结`, `4. 总结` (and the export's stray `s总结`)."""
    if block[0].type not in ("heading_open", "paragraph_open"):
        return False
    title = _TITLE_NUMBER_RE.sub("", _block_title(block))
    return any(title == s or (title.startswith(s) and len(title) <= len(s) + 6) for s in _SUMMARY_TITLES)


def _summary_lead(blocks: list[list[Token]], parts: list[str]) -> list[int]:
    """Which blocks open a folded answer: its own summary when it has one, else its opening.

    A summary is a `总结` / `小结` title (heading or a short paragraph) with the blocks after it,
    up to the next heading and about SUMMARY_CHARS visible characters; or a closing table.
    The rest of the answer goes into `<details>`.
    """
    for k, b in enumerate(blocks):
        if _is_summary_title(b):
            rest: list[int] = []
            size = 0
            for j in range(k + 1, len(blocks)):
                if blocks[j][0].type == "heading_open" or (rest and size >= SUMMARY_CHARS):
                    break
                rest.append(j)
                size += len(plain_text(parts[j]))
            if rest:
                return [k, *rest]
    # `总结：……` / `一句话总结：……`: a paragraph that is its own summary
    for k, b in enumerate(blocks):
        if b[0].type == "paragraph_open" and _INLINE_SUMMARY_RE.match(_block_text(b).strip()):
            return [k]
    # a closing summary table
    if len(blocks) > 1 and blocks[-1][0].type == "table_open":
        return [len(blocks) - 1]
    # the opening: the first paragraph that says something (not a bare link or a fragment)
    first = next((k for k, b in enumerate(blocks) if not _says_nothing(b)), 0)
    lead = [first]
    if len(blocks) > first + 2 and blocks[first][0].type == "paragraph_open" and blocks[first + 1][0].type in (
        "bullet_list_open",
        "ordered_list_open",
    ) and len(_block_text(blocks[first])) < 60:
        lead.append(first + 1)  # `主要有三点：` and its list
    return lead


def _says_nothing(block: list[Token]) -> bool:
    """A paragraph not worth opening with: a bare link or a `fp16 fp32` fragment."""
    if block[0].type != "paragraph_open":
        return False
    text = _URL_RE.sub("", _block_text(block)).strip()
    return len(text) < 15 and not (len(text) >= 4 and text.endswith(("。", "！", "？", ".", "!", "?")))


def _block_text(block: list[Token]) -> str:
    return "".join(t.content for t in block if t.type == "inline")


# -- render rules ---------------------------------------------------------------------------------
