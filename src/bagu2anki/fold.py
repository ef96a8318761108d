"""Long answers lead with their essence: the answer's own summary first, the rest folded.

Takes an answer's top-level blocks (what kind each is, and its sanitised HTML; either renderer
can say, see `token_kind` and `html_blocks`); gives the card body. The summary is the answer's
own conclusion when it has one (a part titled 总结 / 小结 / 结论 / 一句话 / TL;DR, a `总结：…`
paragraph, a closing `综上…` paragraph or a closing table); otherwise its skeleton: its headings,
the bold leads of its list, or the first sentence of each part, about 120–250 characters; an
opening paragraph that says enough on its own is kept as it is. Never a bare link, never chat
filler (`下面逐一解释`, `希望对你有帮助`); a chat closer at the very end leaves the answer
altogether. The whole answer stays one tap away behind 展开全文.
"""

from __future__ import annotations

import html
import re

from markdown_it.token import Token

_SUMMARY_TITLES = ("总结", "小结", "结论", "总之", "summary", "tl;dr", "tldr", "一句话总结", "核心结论", "一句话", "一句话答案")
MIN_FOLDED = 200  # visible characters worth hiding behind 展开全文
SUMMARY_CHARS = 500  # a summary found by its title is cut after about this many characters
_URL_RE = re.compile(r"https?://\S+")
_BARE_HOST_RE = re.compile(r"(?<![\w.])(?:www\.)?[\w-]+(?:\.[\w-]+)*\.(?:com|cn|org|net|io|ai|dev|me|co)(?:/\S*)?")  # a link's shown text
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
    texts = [plain_text(p) for p in parts]
    lead, own = _summary_lead(kinds, texts)
    if len(lead) >= len(parts):
        lead = [0]
    shown = "".join(parts[k] for k in lead)
    if not own and lead == [lead[0]] and _introduces_list(kinds, texts, lead[0]):
        # `…优势如下：` as the opening: it promises what the list says, so its outline comes too
        shown += _list_outline(parts[lead[0] + 1])
    shown_at = set(lead)
    rest = "".join(p for k, p in enumerate(parts) if k not in shown_at)
    if not own and not _enough(shown):
        skeleton = _skeleton(kinds, parts, texts)
        if skeleton:  # an outline of the whole answer: all of it goes behind 展开全文
            shown, rest = skeleton, full
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
_ONE_LINE_RE = re.compile(r"^(?:\*\*)?一句话(?:总结|回答|答案|概括|解释)?(?:\*\*)?\s*[:：](?:\*\*)?\s*\S")
_TITLE_NUMBER_RE = re.compile(r"^(?:[0-9一二三四五六七八九十]+\s*[、.．)）]|[a-z](?=[\u4e00-\u9fff]))\s*")


def _is_summary_title(kind: str, text: str) -> bool:
    """`### 总结`, `小结：`, `五、总结`, `4. 总结` (and the export's stray `s总结`)."""
    if kind not in ("heading", "paragraph"):
        return False
    title = _TITLE_NUMBER_RE.sub("", _title(text))
    return any(title == s or (title.startswith(s) and len(title) <= len(s) + 6) for s in _SUMMARY_TITLES)


FILLER_CHARS = 80  # chat filler is a short paragraph
LEAD_CHARS = 40  # a summary says at least this much (visible, links aside)
SKELETON_CHARS = 250  # a skeleton summary stops after about this many characters
_CLOSER_RE = re.compile(
    r"希望(?:这|以上|上面|本文|我的)?.{0,12}(?:对你|对您|能)(?:有所?)?帮助|如果你.{0,40}(?:可以|欢迎)继续(?:问|提问|交流)"
    r"|(?:欢迎|可以)继续(?:问|提问|追问)|有(?:任何|其他)?(?:问题|疑问).{0,10}(?:欢迎|随时)"
)
_FILLER_RE = re.compile(
    r"^(?:下面|以下|接下来)(?:我们?)?(?:来|将)?(?:逐一|分别|详细|具体|简单)?(?:解释|说明|介绍|展开|分析|讲解|看看|讲讲)"
    r"|^(?:好的|当然|没问题)[，,。!！]|^这是一个(?:很|非常)?好的问题"
)


def without_chat_closer(answer: str) -> str:
    """The answer without a chat closer as its last line (`希望对你有帮助！`, `如果你对 … 感兴趣，
    也可以继续问！`): no part of the answer. Done on the source, so both renderers agree."""
    body = answer.rstrip()
    cut = body.rfind("\n")
    last = body[cut + 1 :].strip()
    if cut > 0 and len(last) <= FILLER_CHARS and _CLOSER_RE.search(last) and not re.match(r"^(?:[-*+>#|]|\d+[.、)])", last):
        return body[:cut].rstrip()
    return answer


def _is_filler(kind: str, text: str) -> bool:
    return kind == "paragraph" and len(text) <= FILLER_CHARS and bool(_FILLER_RE.search(text) or _CLOSER_RE.search(text))


def _enough(fragment: str) -> bool:
    """A summary worth opening with: LEAD_CHARS visible characters once links are left out."""
    without_links = re.sub(r"<a\b[^>]*>.*?</a>", "", fragment, flags=re.S)
    return visible_chars(_URL_RE.sub("", without_links)) >= LEAD_CHARS


_BOLD_LEAD_RE = re.compile(r"<li>\s*(?:<p>\s*)?<strong>(.+?)</strong>", re.S)
_SENTENCE_RE = re.compile(r"^.+?(?:[。！？!?；;]|$)", re.S)


def _first_sentence(text: str) -> str:
    m = _SENTENCE_RE.match(_URL_RE.sub("", text).strip())
    return " ".join(m.group().split()) if m else ""


def _skeleton(kinds: list[str], parts: list[str], texts: list[str]) -> str:
    """The answer's outline when it has no conclusion: its headings, else the bold leads of its
    lists, else the first sentence of each part — about SKELETON_CHARS characters in all."""
    items: list[str] = []
    headings = [k for k, kind in enumerate(kinds) if kind == "heading" and texts[k]]
    if len(headings) >= 2:
        said: list[int | None] = [None] * (len(kinds) + 1)  # said[j]: the first block from j on that says something
        for j in range(len(kinds) - 1, -1, -1):
            said[j] = j if kinds[j] != "heading" and not _is_filler(kinds[j], texts[j]) else said[j + 1]
        for k in headings:  # each heading with the first sentence under it
            under = said[k + 1]
            if under is not None and (k + 1 == len(kinds) or kinds[k + 1] == "heading"):
                under = None  # a heading with nothing of its own under it
            first = _first_sentence(texts[under]) if under is not None else ""
            items.append(f"<strong>{html.escape(texts[k])}</strong>" + (f"：{html.escape(first)}" if first else ""))
    else:
        leads = [m.group(1) for k, kind in enumerate(kinds) if kind in ("bullet_list", "ordered_list")
                 for m in _BOLD_LEAD_RE.finditer(parts[k])]
        if len(leads) >= 2:
            items = leads
        else:
            for k, kind in enumerate(kinds):
                if kind in ("paragraph", "bullet_list", "ordered_list") and not _is_filler(kind, texts[k]):
                    first = _first_sentence(texts[k])
                    if len(first) >= 4:
                        items.append(html.escape(first))
    out, size = _capped(items)
    return f'<ul class="skeleton">{"".join(out)}</ul>' if len(out) >= 2 or size >= LEAD_CHARS else ""


def _capped(items: list[str]) -> tuple[list[str], int]:
    """Items as `<li>`s up to about SKELETON_CHARS visible characters, and how many they hold."""
    out: list[str] = []
    size = 0
    for item in items:
        if size >= SKELETON_CHARS:
            break
        out.append(f"<li>{item}</li>")
        size += visible_chars(item)
    return out, size


def _introduces_list(kinds: list[str], texts: list[str], k: int) -> bool:
    return (
        kinds[k] == "paragraph"
        and k + 1 < len(kinds)
        and kinds[k + 1] in ("bullet_list", "ordered_list")
        and texts[k].rstrip().endswith((":", "："))
    )


_LI_TAG_RE = re.compile(r"<(/?)(li|ul|ol)\b[^>]*>")


def _list_outline(list_html: str) -> str:
    """A list's outline: the bold leads of its items, else the first sentence of each top-level
    item, about SKELETON_CHARS characters in all."""
    leads = [m.group(1) for m in _BOLD_LEAD_RE.finditer(list_html)]
    items: list[str] = leads if len(leads) >= 2 else []
    if not items:
        depth = 0
        start = -1
        for m in _LI_TAG_RE.finditer(list_html):
            closing, name = m.group(1), m.group(2)
            if name == "li" and not closing:
                depth += 1
                if depth == 1:
                    start = m.end()
            elif name == "li" and closing:
                if depth == 1 and start != -1:
                    first = _first_sentence(plain_text(list_html[start : m.start()]).split("\n", 1)[0])
                    if first:
                        items.append(html.escape(first))
                depth -= 1
    out, _size = _capped(items)
    return f'<ul class="skeleton">{"".join(out)}</ul>' if out else ""


def _summary_lead(kinds: list[str], texts: list[str]) -> tuple[list[int], bool]:
    """Which blocks open a folded answer: its own summary when it has one, else its opening.

    A summary is a `总结` / `小结` title (heading or a short paragraph) with the blocks after it,
    up to the next heading and about SUMMARY_CHARS visible characters; or a closing table.
    The rest of the answer goes into `<details>`. The flag says whether the lead is the
    answer's own conclusion (kept whatever its length) or just its opening.
    """
    for k, kind in enumerate(kinds):
        if _is_summary_title(kind, texts[k]):
            rest: list[int] = []
            size = 0
            for j in range(k + 1, len(kinds)):
                if kinds[j] == "heading" or (rest and size >= SUMMARY_CHARS):
                    break
                if _is_filler(kinds[j], texts[j]):
                    continue
                rest.append(j)
                size += len(texts[j])
            if rest:
                return [k, *rest], True
    # `总结：……` / `一句话总结：……`: a paragraph that is its own summary
    for k, kind in enumerate(kinds):
        if kind == "paragraph" and (_INLINE_SUMMARY_RE.match(texts[k].strip()) or _ONE_LINE_RE.match(texts[k].strip())):
            return [k], True
    # a closing `综上…` paragraph
    last = len(kinds) - 1
    if kinds[last] == "paragraph" and re.match(r"^(?:综上|总而言之|总的来说|简而言之|一言以蔽之)", texts[last]):
        return [last], True
    # a closing summary table
    if len(kinds) > 1 and kinds[-1] == "table":
        return [len(kinds) - 1], True
    # the opening: the first paragraph that says something (not a bare link, a fragment or filler)
    first = next(
        (k for k, kind in enumerate(kinds) if not _says_nothing(kind, texts[k]) and not _is_filler(kind, texts[k])), 0
    )
    lead = [first]
    if (
        len(kinds) > first + 2
        and kinds[first] == "paragraph"
        and kinds[first + 1] in ("bullet_list", "ordered_list")
        and len(texts[first]) < 60
    ):
        lead.append(first + 1)  # `主要有三点：` and its list
    return lead, False


def _says_nothing(kind: str, text: str) -> bool:
    """A paragraph not worth opening with: a bare link or a `fp16 fp32` fragment."""
    if kind != "paragraph":
        return False
    text = without_hosts(_URL_RE.sub("", text)).strip()
    return len(text) < 15 and not (len(text) >= 4 and text.endswith(("。", "！", "？", ".", "!", "?")))


# -- render rules ---------------------------------------------------------------------------------


_RUN_RE = re.compile(r"[\w-]+")
_TLDS = ("com", "cn", "org", "net", "io", "ai", "dev", "me", "co")  # in _BARE_HOST_RE's order


def without_hosts(text: str) -> str:
    """`_BARE_HOST_RE.sub("", text)` in time linear in the text (the expression itself starts
    again after every `-` of a long hyphenated word and reads to its end each time).

    A host is read from a run of word characters and `-`, through the runs joined to it by
    `.`, up to the last of them that opens with a top-level domain (and a `/path`). Every
    place a match may start inside one run ends at the same place, so each run is tried once:
    from its start when no `.` stands before it, else from just after its first `-`.
    """
    if "." not in text:
        return text
    runs = [m.span() for m in _RUN_RE.finditer(text)]
    n = len(runs)
    # ends[k]: where a host whose first part ends with run k ends (-1: no host)
    ends = [-1] * n
    last_tld = [-1] * n  # the last run joined after run k that opens with a domain
    for k in range(n - 2, -1, -1):
        if runs[k + 1][0] == runs[k][1] + 1 and text[runs[k][1]] == ".":
            nxt = runs[k + 1][0]
            last_tld[k] = last_tld[k + 1] if last_tld[k + 1] != -1 else (k + 1 if text.startswith(_TLDS, nxt) else -1)
        j = last_tld[k]
        if j != -1:
            start = runs[j][0]
            end = start + next(len(t) for t in _TLDS if text.startswith(t, start))
            if text.startswith("/", end):
                space = _SPACE_RE.search(text, end)
                end = space.start() if space is not None else len(text)
            ends[k] = end
    out: list[str] = []
    pos = 0
    for k, (a, b) in enumerate(runs):
        if ends[k] == -1 or b <= pos:
            continue
        if a >= pos and (a == 0 or text[a - 1] != "."):
            start = a
        else:
            dash = text.find("-", max(a, pos - 1), b - 1)
            if dash == -1:
                continue
            start = dash + 1
        out.append(text[pos:start])
        pos = ends[k]
    out.append(text[pos:])
    return "".join(out)
