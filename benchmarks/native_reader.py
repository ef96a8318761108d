"""Can the reader's block parse run on a native parser, our rules unchanged? (issue #17)

A measurement, run on demand: not a test, not used by bagu2anki. It

1. times the block parse of every Markdown note of the corpora with markdown-it-py as the reader
   configures it (`parse.markdown.block_parser()`) and with the native parsers that are installed
   (markdown-it-pyrs, pyromark, cmark-gfm through cmarkgfm's library);
2. turns what markdown-it-pyrs and pyromark give into markdown-it-py `Token`s shaped as ours
   (block types, nesting levels, 0-based line maps, heading tags, list markers and numbers, fence
   markup, inline text read back from the source lines), with the plugins that no native parser
   has (front matter, `$$` blocks, `::: box` containers) redone around it;
3. runs our own `find_events` and the whole reader (`parse.read`, its parser swapped) on both and
   counts the files whose tokens (the fields our rules read), events and Documents are identical,
   and whether the parse goldens still hold.

Findings: `benchmarks/native-reader.md`.

    python benchmarks/generate.py --atoms 10000 --out /tmp/n10k
    python3.11 -m venv /tmp/nativevenv                    # a scratch environment, not .venv-test
    /tmp/nativevenv/bin/pip install . markdown-it-pyrs cmarkgfm
    /tmp/nativevenv/bin/python benchmarks/native_reader.py --corpus /tmp/n10k --corpus notes \
        --corpus tests/fixtures --corpus ../shared/corpora [--repeat 5] [--show 3] \
        [--fuzz 5000 --seed 3] [--time-only] [--src src --tests tests]

pyromark is already one of bagu2anki's dependencies; markdown-it-pyrs and cmarkgfm are not (the
extra packages above), and a parser that is not installed is skipped. `--src` picks the reader
that is measured (bagu2anki is imported from there, ahead of any installed copy).
"""

from __future__ import annotations

import argparse
import bisect
import ctypes
import gc
import importlib.util
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _have(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


# -- the generic block tree each native parser is turned into ---------------------------------


class Blk:
    """A block with its 0-based line range [a, b) in the view and what our rules read of it."""

    __slots__ = ("kind", "a", "b", "attrs", "kids")

    def __init__(self, kind: str, a: int, b: int, attrs: dict[str, Any] | None = None) -> None:
        self.kind = kind
        self.a = a
        self.b = b
        # few objects per block: every one the garbage collector tracks costs (see the notes)
        self.attrs = _NO_ATTRS if attrs is None else attrs
        self.kids: list[Blk] = _NO_KIDS  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Blk({self.kind} {self.a}-{self.b} {self.attrs} {self.kids})"


_NO_ATTRS: dict[str, Any] = {}  # shared, never written: blocks that need attributes get their own
_NO_KIDS: tuple[()] = ()


class LineIndex:
    """UTF-8 byte offset -> 0-based line of `text`."""

    __slots__ = ("starts", "ascii")

    def __init__(self, text: str, lines: list[str]) -> None:
        self.ascii = text.isascii()
        starts = [0]
        pos = 0
        for ln in lines:
            pos += (len(ln) if self.ascii else len(ln.encode())) + 1
            starts.append(pos)
        self.starts = starts

    def line(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset) - 1


# -- markdown-it-pyrs -> Blk ----------------------------------------------------------------------

_PYRS_BLOCKS = {
    "paragraph", "heading", "lheading", "blockquote", "bullet_list", "ordered_list", "list_item",
    "fence", "code_block", "html_block", "hr", "table", "front_matter",
}


def pyrs_parser() -> Callable[[str, list[str]], list[Blk]]:
    import markdown_it_pyrs

    md = markdown_it_pyrs.MarkdownIt("zero").enable_many(
        ["blockquote", "code", "fence", "heading", "hr", "lheading", "list", "paragraph", "reference",
         "html_block", "table"]
    )

    def parse(view: str, lines: list[str]) -> list[Blk]:
        idx = LineIndex(view, lines)
        root = md.tree(view)
        return _pyrs_kids(root, idx)

    return parse


def _pyrs_span(node: Any, idx: LineIndex) -> tuple[int, int]:
    a, b = node.srcmap
    return idx.line(a), idx.line(max(a, b - 1)) + 1


def _pyrs_kids(node: Any, idx: LineIndex) -> list[Blk]:
    out: list[Blk] = []
    run: Blk | None = None  # a tight item's paragraph: its inline nodes sit right in the item
    for ch in node.children:
        name = ch.name
        if name not in _PYRS_BLOCKS:
            if ch.srcmap is None or name == "softbreak":
                continue
            a, b = _pyrs_span(ch, idx)
            if run is None:
                run = Blk("paragraph", a, b, {"hidden": True})
                out.append(run)
            else:
                run.b = max(run.b, b)
            continue
        run = None
        a, b = _pyrs_span(ch, idx)
        if name in ("heading", "lheading"):
            blk = Blk("heading", a, b, {"level": ch.meta["level"], "setext": name == "lheading"})
        elif name == "bullet_list" or name == "ordered_list":
            blk = Blk(name, a, b)
            blk.kids = [Blk("list_item", *_pyrs_span(it, idx)) for it in ch.children]
            for it, item_node in zip(blk.kids, ch.children, strict=True):
                it.kids = _pyrs_kids(item_node, idx)
        elif name == "blockquote":
            blk = Blk(name, a, b)
            blk.kids = _pyrs_kids(ch, idx)
        elif name == "table":
            blk = Blk(name, a, b, {})
            rows: list[int] = []
            for part in ch.children:  # thead, tbody
                rows.extend(_pyrs_span(tr, idx)[0] for tr in part.children)
            blk.attrs["rows"] = rows
        else:  # paragraph, fence, code_block, html_block, hr
            blk = Blk(name, a, b)
        out.append(blk)
    return out


# -- pyromark (pulldown-cmark) -> Blk --------------------------------------------------------------

_PM_CONTAINERS = {"blockquote", "bullet_list", "ordered_list", "list_item", "table"}
_PM_BLOCK_STR = {"Paragraph": "paragraph", "HtmlBlock": "html_block", "Item": "list_item", "TableHead": "tr",
                 "TableRow": "tr"}


def pyromark_parser() -> Callable[[str, list[str]], list[Blk]]:
    import pyromark

    md = pyromark.Markdown(options=pyromark.Options.ENABLE_TABLES | pyromark.Options.ENABLE_STRIKETHROUGH)

    def parse(view: str, lines: list[str]) -> list[Blk]:
        idx = LineIndex(view, lines)
        top = Blk("root", 0, len(lines))
        top.kids = []
        stack = [top]
        run: Blk | None = None
        for ev, rng in md.events_with_range(view, merge_text=True):
            if type(ev) is str:
                if ev == "Rule":
                    a = idx.line(rng["start"])
                    stack[-1].kids.append(Blk("hr", a, a + 1))
                    run = None
                    continue
                kind = None  # SoftBreak / HardBreak: inline
            elif "Start" in ev:
                tag = ev["Start"]
                if type(tag) is str:
                    kind = _PM_BLOCK_STR.get(tag)
                else:
                    (key, val), = tag.items()
                    kind = {"Heading": "heading", "BlockQuote": "blockquote", "CodeBlock": "code", "List": "list",
                            "Table": "table", "MetadataBlock": "front_matter"}.get(key)
                    if kind == "list":
                        kind = "bullet_list" if val is None else "ordered_list"
                    elif kind == "code":
                        kind = "code_block" if val == "Indented" else "fence"
                    elif kind == "heading":
                        val = int(val["level"][1])
                if kind is not None:
                    start = rng["start"]
                    a = idx.line(start)
                    blk = Blk(kind, a, idx.line(max(start, rng["end"] - 1)) + 1,
                              {"level": val} if kind == "heading" else {} if kind == "table" else None)
                    if kind in _PM_CONTAINERS:
                        blk.kids = []
                    stack[-1].kids.append(blk)
                    stack.append(blk)
                    run = None
                    continue
            elif "End" in ev:
                tag = ev["End"]
                if type(tag) is str:
                    block = tag in _PM_BLOCK_STR or tag in ("CodeBlock", "Table")
                else:
                    block = next(iter(tag)) in ("Heading", "BlockQuote", "List", "MetadataBlock")
                if block:
                    stack.pop()
                    run = None
                    continue
            # inline: text right in an item is a tight item's paragraph
            top_blk = stack[-1]
            if top_blk.kind == "list_item":
                start = rng["start"]
                a, b = idx.line(start), idx.line(max(start, rng["end"] - 1)) + 1
                if run is None:
                    run = Blk("paragraph", a, b, {"hidden": True})
                    top_blk.kids.append(run)
                elif b > run.b:
                    run.b = b
        for blk in _walk(top.kids):
            if blk.kind == "heading":
                blk.attrs["setext"] = _ATX_RE.match(lines[blk.a].lstrip(" >")) is None
            elif blk.kind == "table":
                blk.attrs["rows"] = [tr.a for tr in blk.kids]
                blk.kids = []
        return top.kids

    return parse


def _walk(blks: list[Blk]) -> Any:
    for b in blks:
        yield b
        if b.kids:
            yield from _walk(b.kids)


# -- front matter, `$$` blocks and `::: box` containers: no native parser has them ------------------

_MATH_START = re.compile(r"^ {0,3}\$\$")
_DOLLAR_EQNO_REV = re.compile(r"^\s*\)([^)$\r\n]+?)\(\s*\${2}")
_CONTAINER_OPEN = re.compile(r"^ {0,3}(:{3,})(.*)$")
_ATX_RE = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+|$)")
MATH_MARK = "######"  # a line-long block that interrupts paragraphs: what a rewritten line becomes


def front_matter_end(lines: list[str]) -> int:
    """mdit-py-plugins' front matter rule on the first lines: the line after it, 0 if none."""
    if not lines or not lines[0].startswith("-"):
        return 0
    count = len(lines[0]) - len(lines[0].lstrip("-"))
    if count < 3:
        return 0
    for k in range(1, len(lines)):
        ln = lines[k]
        if ln.startswith("...") and not ln[3:].strip():
            return k + 1
        body = ln.lstrip(" ")
        if len(ln) - len(body) >= 4 or not body.startswith("-"):
            continue
        run = len(body) - len(body.lstrip("-"))
        if run >= count and not body[run:].strip():
            return k + 1
    return 0


def _math_end(rows: list[str], k: int) -> tuple[int, bool] | None:
    """dollarmath's block rule (allow_labels, allow_blank_lines: its defaults, which the reader keeps)
    on `rows` (container prefixes taken off) from row k,
    which opens with `$$`: (the row after the block, whether it ends in a label `$$ (1)`), None
    when it is none."""
    text = rows[k].lstrip(" ")
    if len(text.strip()) > 3:
        stripped = text.strip()
        if stripped.endswith("$$"):
            return k + 1, False
        if _DOLLAR_EQNO_REV.match(text[::-1]):
            return k + 1, True
        if "$$" in text[2:]:
            return None
    for m in range(k + 1, len(rows)):
        row = rows[m]
        if row.strip().endswith("$$"):
            return m + 1, False
        if _DOLLAR_EQNO_REV.match(row.lstrip(" ")[::-1]):
            return m + 1, True
    return None


# -- Blk -> markdown-it-py Tokens -----------------------------------------------------------------


class Tok:
    """The fields of markdown-it-py's `Token` that a block parse fills, without its dataclass
    machinery: creating 390,000 `Token`s for the 10k corpus costs about 0.7 s, as much as the rest
    of the adapter."""

    __slots__ = ("type", "tag", "nesting", "level", "map", "content", "markup", "info", "hidden", "attrs",
                 "children", "block", "meta")

    def __init__(self, type: str, tag: str, nesting: int, level: int, map: list[int] | None, content: str = "",
                 markup: str = "", info: str = "", hidden: bool = False, children: list[Any] | None = None) -> None:
        self.type = type
        self.tag = tag
        self.nesting = nesting
        self.level = level
        self.map = map
        self.content = content
        self.markup = markup
        self.info = info
        self.hidden = hidden
        self.attrs = _NO_ATTRS  # shared and never written (markdown-it-py makes two dicts a token)
        self.children = children
        self.block = True
        self.meta = _NO_ATTRS


class Reader:
    """What markdown-it-py's block parse would give, built from a native parser's blocks.
    `tokens`: markdown-it-py's own `Token` class (as typed in bagu2anki) or the lighter `Tok`."""

    def __init__(self, native: Callable[[str, list[str]], list[Blk]], tokens: str = "Tok") -> None:
        from markdown_it.rules_block.table import escapedSplit
        from markdown_it.token import Token

        from bagu2anki.parse.common import is_container

        self.native = native
        if tokens == "Token":
            def make(type_: str, tag: str, nesting: int, level: int, map_: list[int] | None, content: str = "",
                     markup: str = "", info: str = "", hidden: bool = False, children: list[Any] | None = None) -> Any:
                return Token(type_, tag, nesting, map=map_, level=level, content=content, markup=markup, info=info,
                             hidden=hidden, children=children, block=True)
            self._tok = make
        else:
            self._tok = Tok
        self.escapedSplit = escapedSplit
        self.is_container = is_container

    # markdown-it's `parse(view)`
    def parse(self, view: str, env: Any = None) -> list[Any]:
        lines = view.split("\n")
        nl = len(lines) - 1 if lines[-1] == "" else len(lines)  # markdown-it's line count
        fm = front_matter_end(lines)
        native_lines = lines
        if fm:
            native_lines = [""] * fm + lines[fm:]
        blks = self.native("\n".join(native_lines) if fm else view, native_lines)
        rewrite = self._plugins(blks, lines, {})
        more = rewrite
        while more:  # a `$$` block that ends inside a paragraph: the rest is read again
            marked = list(native_lines)
            for k in rewrite:
                marked[k] = rewrite[k][0]
            blks = self.native("\n".join(marked), marked)
            more = {k: v for k, v in self._plugins(blks, lines, rewrite).items() if k not in rewrite}
            rewrite.update(more)
        out: list[Any] = []
        if fm:
            out.append(self._tok("front_matter", "", 0, 0, [0, fm], markup="---", hidden=True,
                                 content="\n".join(lines[1 : fm - 1])))
        self._emit(blks, 0, (), lines, out, rewrite, nl)
        if rewrite and any(v[1] == "container_open" for v in rewrite.values()):
            out = self._containers(out)
        return out

    def _plugins(self, blks: list[Blk], lines: list[str], done: dict[int, tuple[str, str, int]]
                 ) -> dict[int, tuple[str, str, int]]:
        """`$$` blocks and containers, which markdown-it's plugins read and no native parser does.
        A paragraph that is one whole `$$` block becomes one; any other is rewritten, line for
        line, into one-line blocks the native parser cannot join to their neighbours (`######`),
        and so is each container's opening and closing line: line -> (its rewrite, what it
        stands for, the block's end)."""
        rewrite: dict[int, tuple[str, str, int]] = {}
        boxes = not done and any(":::" in ln for ln in lines)
        for blk, chain in self._walk_chain(blks, (), lines):
            # a `$$` line opens a block where a paragraph could start (`$$ (1)` over `===` is
            # no setext heading, nor over `|---|` a table)
            if blk.kind != "paragraph" and not (blk.kind == "heading" and blk.attrs.get("setext")) and blk.kind != "table":
                continue
            row0 = self._strip(blk.a, chain, lines)
            if _MATH_START.match(row0):
                rows = [row0]
                k = blk.a + 1
                while k < len(lines):  # to the closing `$$`, blank lines and all
                    rows.append(self._strip(k, chain, lines))
                    if rows[-1].strip().endswith("$$") or _DOLLAR_EQNO_REV.match(rows[-1].lstrip(" ")[::-1]):
                        break
                    k += 1
                found = _math_end(rows, 0)
                if found is not None:
                    end = found[0] + blk.a
                    what = "math_block_label" if found[1] else "math_block"
                    if end == blk.b:
                        blk.kind = what  # the common case: the whole paragraph
                    elif blk.a not in done:
                        for m in range(blk.a, end):
                            row = rows[m - blk.a]
                            prefix = lines[m][: len(lines[m]) - len(row)]
                            rewrite[m] = (prefix + MATH_MARK, what if m == blk.a else "math_inner", end)
            if boxes:
                for k in range(blk.a, blk.b):
                    row = row0 if k == blk.a else self._strip(k, chain, lines)
                    m = _CONTAINER_OPEN.match(row)
                    if m is None or not self.is_container(m.group(2)):
                        continue
                    close = len(lines) - 1 if lines[-1] == "" else len(lines)
                    for j in range(k + 1, len(lines)):
                        r = lines[j].strip()
                        if r.startswith(m.group(1)) and not r.strip(":"):
                            close = j
                            break
                    prefix = lines[k][: len(lines[k]) - len(row)]
                    rewrite[k] = (prefix + MATH_MARK, "container_open", close)
                    if close < len(lines):
                        rewrite[close] = (prefix + MATH_MARK, "container_close", close)
        return rewrite

    def _walk_chain(self, blks: list[Blk], chain: tuple[Any, ...], lines: list[str]) -> Any:
        for b in blks:
            yield b, chain
            if b.kind == "blockquote":
                yield from self._walk_chain(b.kids, (*chain, ("q", b.a, 0)), lines)
            elif b.kind in ("bullet_list", "ordered_list"):
                for it in b.kids:
                    yield from self._walk_chain(it.kids, (*chain, ("i", it.a, self._item_col(it.a, chain, lines))), lines)

    def _item_col(self, k: int, chain: tuple[Any, ...], lines: list[str]) -> int:
        row = self._strip(k, chain, lines)
        m = _ITEM_RE.match(row)
        return _content_col(row, m) if m else len(row) - len(row.lstrip(" ")) + 2

    def _strip(self, k: int, chain: tuple[Any, ...], lines: list[str]) -> str:
        """Line k without the prefixes of the containers in `chain` (outermost first): `> `, an
        item's marker or indentation; a lazy line keeps what is left."""
        s = lines[k] if k < len(lines) else ""
        for kind, first, col in chain:
            if kind == "q":
                m = _QUOTE.match(s)
                if m is None:
                    return s
                s = s[m.end():]
            elif k == first:
                s = s[col:]
            else:
                s = _dedent_cols(s, col)
        return s

    def _inline(self, content: str, a: int, b: int, level: int) -> Any:
        return self._tok("inline", "", 0, level, [a, b], content, children=[])

    def _emit(self, blks: list[Blk], level: int, chain: tuple[Any, ...], lines: list[str], out: list[Any],
              rewrite: dict[int, tuple[str, str, int]], limit: int) -> None:
        """Tokens of `blks` at `level`, inside the containers of `chain`, which end at `limit`."""
        T = self._tok
        for blk in blks:
            k, a, b = blk.kind, blk.a, blk.b
            if k == "paragraph":
                hidden = blk.attrs.get("hidden", False)
                if not chain:
                    content = "\n".join(lines[a:b]).strip()
                else:
                    content = "\n".join(self._strip(m, chain, lines) for m in range(a, b)).strip()
                out.append(T("paragraph_open", "p", 1, level, [a, b], hidden=hidden))
                out.append(self._inline(content, a, b, level + 1))
                out.append(T("paragraph_close", "p", -1, level, None, hidden=hidden))
            elif k == "heading":
                if a in rewrite:
                    what, end = rewrite[a][1], rewrite[a][2]
                    if what == "math_inner":
                        continue
                    if what.startswith("math_block"):
                        out.append(T(what, "math", 0, level, [a, end], markup="$$"))
                    else:
                        out.append(T(what, "div", 1 if what.endswith("open") else -1, level,
                                     [a, end] if what.endswith("open") else None, markup=":::"))
                    continue
                lvl = blk.attrs["level"]
                row = self._strip(a, chain, lines) if chain else lines[a]
                if blk.attrs.get("setext"):
                    content = "\n".join(self._strip(m, chain, lines) for m in range(a, b - 1)).strip()
                    markup = "=" if lvl == 1 else "-"
                else:
                    content = _atx_text(row)
                    markup = "#" * lvl
                tag = f"h{lvl}"
                out.append(T("heading_open", tag, 1, level, [a, b], markup=markup))
                out.append(self._inline(content, a, b - 1 if blk.attrs.get("setext") else b, level + 1))
                out.append(T("heading_close", tag, -1, level, None, markup=markup))
            elif k == "blockquote":
                out.append(T("blockquote_open", "blockquote", 1, level, [a, b], markup=">"))
                self._emit(blk.kids, level + 1, (*chain, ("q", a, 0)), lines, out, rewrite, b)
                out.append(T("blockquote_close", "blockquote", -1, level, None, markup=">"))
            elif k in ("bullet_list", "ordered_list"):
                self._list(blk, level, chain, lines, out, rewrite, limit)
            elif k == "fence":
                row = self._strip(a, chain, lines)
                body = row.lstrip(" ")
                indent = len(row) - len(body)
                ch = body[:1]
                markup = body[: len(body) - len(body.lstrip(ch))]
                info = body[len(markup):].strip()
                last = self._strip(b - 1, chain, lines).strip() if b - 1 > a else ""
                closed = b - 1 > a and last.startswith(markup) and not last.strip(ch)
                inner = [_dedent_cols(self._strip(m, chain, lines), indent) for m in range(a + 1, b - 1 if closed else b)]
                content = "\n".join(inner) + ("\n" if closed or b < len(lines) else "") if inner else ""
                out.append(T("fence", "code", 0, level, [a, b], markup=markup, info=info, content=content))
            elif k == "code_block":
                out.append(T("code_block", "code", 0, level, [a, b]))
            elif k == "math_block" or k == "math_block_label":
                out.append(T(k, "math", 0, level, [a, b], markup="$$"))
            elif k == "html_block":
                content = "\n".join(self._strip(m, chain, lines) for m in range(a, b)) + ("\n" if b < len(lines) else "")
                out.append(T("html_block", "", 0, level, [a, b], content=content))
            elif k == "hr":
                out.append(T("hr", "hr", 0, level, [a, b]))
            elif k == "table":
                self._table(blk, level, chain, lines, out)
            elif k == "front_matter":  # pyromark's metadata block (not enabled: ours is redone above)
                out.append(T("front_matter", "", 0, level, [a, b], hidden=True))

    def _list(self, blk: Blk, level: int, chain: tuple[Any, ...], lines: list[str], out: list[Any],
              rewrite: dict[int, tuple[str, str, int]], limit: int) -> None:
        T = self._tok
        ordered = blk.kind == "ordered_list"
        items = blk.kids
        tight = all(p.attrs.get("hidden") for it in items for p in it.kids if p.kind == "paragraph")
        # markdown-it's maps run to the next item or block: trailing blank lines are the item's
        spans = []
        for n, it in enumerate(items):
            if n + 1 < len(items):
                end = items[n + 1].a
            else:  # the last item takes the blank lines after it, within its container
                end = it.b
                while end < limit and not self._strip(end, chain, lines).strip():
                    end += 1
            spans.append((it.a, max(it.b, end)))
        list_end = spans[-1][1] if spans else blk.b
        first = self._strip(items[0].a, chain, lines) if items else ""
        m0 = _ITEM_RE.match(first)
        marker = m0.group(2) if m0 else "-"
        open_t = T(f"{blk.kind}_open", "ol" if ordered else "ul", 1, level, [blk.a, list_end],
                   markup=marker[-1] if ordered else marker)
        if ordered and m0 and int(m0.group(2)[:-1]) != 1:
            open_t.attrs = {"start": int(m0.group(2)[:-1])}
        out.append(open_t)
        for it, (ia, ib) in zip(items, spans, strict=True):
            row = self._strip(ia, chain, lines)
            m = _ITEM_RE.match(row)
            if m is None:  # should not happen
                mk, info, col = marker, "", len(row) - len(row.lstrip(" ")) + 2
            else:
                mk = m.group(2)
                info = mk[:-1] if ordered else ""
                col = _content_col(row, m)
                mk = mk[-1] if ordered else mk
            out.append(T("list_item_open", "li", 1, level + 1, [ia, ib], markup=mk, info=info))
            kids = it.kids
            if not tight:
                for p in kids:
                    if p.kind == "paragraph" and p.attrs.get("hidden"):
                        p.attrs["hidden"] = False
            self._emit(kids, level + 2, (*chain, ("i", ia, col)), lines, out, rewrite, ib)
            out.append(T("list_item_close", "li", -1, level + 1, None, markup=mk))
        out.append(T(f"{blk.kind}_close", "ol" if ordered else "ul", -1, level, None,
                     markup=marker[-1] if ordered else marker))

    def _table(self, blk: Blk, level: int, chain: tuple[Any, ...], lines: list[str], out: list[Any]) -> None:
        T = self._tok
        rows = blk.attrs.get("rows") or []
        a, b = blk.a, blk.b
        out.append(T("table_open", "table", 1, level, [a, b]))
        width = 0
        for n, r in enumerate(rows):
            text = (self._strip(r, chain, lines) if chain else lines[r]).strip()
            cols = text.split("|") if "\\" not in text else self.escapedSplit(text)
            if cols and cols[0] == "":
                cols.pop(0)
            if cols and cols[-1] == "":
                cols.pop()
            if n == 0:
                width = len(cols)
                out.append(T("thead_open", "thead", 1, level + 1, [r, r + 1]))
            elif n == 1:
                out.append(T("tbody_open", "tbody", 1, level + 1, [r, b]))
            out.append(T("tr_open", "tr", 1, level + 2, [r, r + 1]))
            cell, c_open, c_close = ("th", "th_open", "th_close") if n == 0 else ("td", "td_open", "td_close")
            if len(cols) < width:
                cols += [""] * (width - len(cols))
            lc, li = level + 3, level + 4
            for c in range(width):
                out.append(T(c_open, cell, 1, lc, None))
                out.append(T("inline", "", 0, li, [r, r + 1], cols[c].strip(), "", "", False, []))
                out.append(T(c_close, cell, -1, lc, None))
            out.append(T("tr_close", "tr", -1, level + 2, None))
            if n == 0:
                out.append(T("thead_close", "thead", -1, level + 1, None))
        if len(rows) > 1:
            out.append(T("tbody_close", "tbody", -1, level + 1, None))
        out.append(T("table_close", "table", -1, level, None))

    def _containers(self, toks: list[Any]) -> list[Any]:
        """Tokens between a container's open and close go one level deeper, as markdown-it nests them."""
        depth = 0
        out = []
        for t in toks:
            if t.type == "container_open":
                t.type = "container_box_open"
                t.level += depth
                depth += 1
                out.append(t)
                continue
            if t.type == "container_close":
                depth -= 1
                t.type = "container_box_close"
                t.level += depth
                out.append(t)
                continue
            t.level += depth
            out.append(t)
        while depth:  # a container never closed ends with the document
            depth -= 1
            out.append(self._tok("container_box_close", "div", -1, depth, None, markup=":::"))
        return out


_QUOTE = re.compile(r"^ {0,3}> ?")
_ITEM_RE = re.compile(r"^( {0,3})([-*+]|\d{1,9}[.)])(?=[ \t]|$)")


def _content_col(row: str, m: re.Match[str]) -> int:
    """Where an item's content starts on its first line (markdown-it: 1-4 spaces after the
    marker; 5 or more, or none, make it 1)."""
    after = m.end()
    rest = row[after:]
    spaces = len(rest) - len(rest.lstrip(" "))
    if not rest.strip():
        return after + 1
    if spaces > 4:
        return after + 1
    return after + spaces


def _dedent_cols(s: str, cols: int) -> str:
    """`s` without up to `cols` columns of leading white space (a tab reaches the next 4)."""
    n = 0
    k = 0
    while k < len(s) and n < cols:
        c = s[k]
        if c == " ":
            n += 1
        elif c == "\t":
            n += 4 - n % 4
        else:
            break
        k += 1
    return s[k:]


def _atx_text(row: str) -> str:
    m = _ATX_RE.match(row)
    text = row[m.end():] if m else row
    text = text.rstrip(" \t")
    t2 = text.rstrip("#")
    if t2 != text and (not t2 or t2[-1] in " \t"):
        text = t2
    return text.strip()


# -- cmark-gfm: only timed (its Python binding renders HTML; its C library is reached by ctypes) ----


def cmark_parser() -> Callable[[str], Any]:
    """cmark-gfm's parse with its table and strikethrough extensions, and a walk over the block
    nodes (type, first and last line), through the C functions cmarkgfm's library exports
    without declaring them."""
    import cmarkgfm._cmark as cm

    so = ctypes.CDLL(cm.__file__)
    vp, ci, cp = ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p
    for name, res, args in [
        ("cmark_parser_new", vp, [ci]), ("cmark_find_syntax_extension", vp, [cp]),
        ("cmark_parser_attach_syntax_extension", ci, [vp, vp]),
        ("cmark_parser_feed", None, [vp, cp, ctypes.c_size_t]), ("cmark_parser_finish", vp, [vp]),
        ("cmark_parser_free", None, [vp]), ("cmark_node_free", None, [vp]),
        ("cmark_node_first_child", vp, [vp]), ("cmark_node_next", vp, [vp]),
        ("cmark_node_get_type_string", cp, [vp]), ("cmark_node_get_start_line", ci, [vp]),
        ("cmark_node_get_end_line", ci, [vp]), ("cmark_gfm_core_extensions_ensure_registered", None, []),
    ]:
        fn = getattr(so, name)
        fn.restype, fn.argtypes = res, args
    so.cmark_gfm_core_extensions_ensure_registered()
    exts = [so.cmark_find_syntax_extension(e) for e in (b"table", b"strikethrough")]
    options = (1 << 1) | (1 << 17)  # SOURCEPOS | UNSAFE
    containers = {b"document", b"block_quote", b"list", b"item", b"table"}

    def parse(view: str) -> list[tuple[bytes, int, int]]:
        ps = so.cmark_parser_new(options)
        for e in exts:
            so.cmark_parser_attach_syntax_extension(ps, e)
        data = view.encode()
        so.cmark_parser_feed(ps, data, len(data))
        doc = so.cmark_parser_finish(ps)
        so.cmark_parser_free(ps)
        out = []
        stack = [so.cmark_node_first_child(doc)]
        while stack:
            n = stack.pop()
            while n:
                ty = so.cmark_node_get_type_string(n)
                out.append((ty, so.cmark_node_get_start_line(n) - 1, so.cmark_node_get_end_line(n)))
                if ty in containers:
                    stack.append(so.cmark_node_next(n))
                    n = so.cmark_node_first_child(n)
                else:
                    n = so.cmark_node_next(n)
        so.cmark_node_free(doc)
        return out

    return parse


# -- the measurement ------------------------------------------------------------------------------


def load(roots: list[Path]) -> list[tuple[Any, str]]:
    """(SourceFile, view) of every Markdown note under `roots`: the view is what read_markdown
    hands markdown-it (Hexo blocks, separators, stray tags escaped, line for line)."""
    from bagu2anki import prepare, sources
    from bagu2anki.diagnostics import Diagnostics
    from bagu2anki.parse import hexo
    from bagu2anki.parse.markdown import _STRAY_LT

    out = []
    d = Diagnostics()
    for f in sources.discover(roots, d):
        src = sources.load(f, d)
        if src is None or src.format != "markdown":
            continue
        view = prepare.separators(hexo.block_view(src.text))
        out.append((src, prepare.escape_stray_html(view, _STRAY_LT)))
    return out


def cpu(fn: Callable[[str], Any], views: list[str], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        t0 = time.process_time()
        for v in views:
            fn(v)
        best = min(best, time.process_time() - t0)
    return best


_READ_FIELDS = {"list_item_open": ("markup", "info"), "fence": ("markup", "content"), "inline": ("content",),
                "html_block": ("content",), "heading_open": ("tag",)}


def project(tokens: list[Any]) -> list[tuple[Any, ...]]:
    """What our rules read of each token."""
    return [
        (t.type, t.level, tuple(t.map) if t.map else None, *(getattr(t, f) for f in _READ_FIELDS.get(t.type, ())))
        for t in tokens
    ]


def first_difference(a: list[tuple[Any, ...]], b: list[tuple[Any, ...]]) -> str:
    for x, y in zip(a, b, strict=False):
        if x != y:
            if x[0] != y[0]:
                return f"type: markdown-it-py {x[0]} {x[2]} / native {y[0]} {y[2]}"
            if x[1] != y[1]:
                return f"level of {x[0]}"
            if x[2] != y[2]:
                return f"map of {x[0]}"
            fields = zip(_READ_FIELDS[x[0]], x[3:], y[3:], strict=True)
            return f"{x[0]} " + ",".join(f for f, p, q in fields if p != q)
    return f"count: {len(a)} / {len(b)} tokens"


def kind_of(diff: str) -> str:
    return re.sub(r"\[[^\]]*\]|\([^)]*\)|\d+", "", diff).strip()


def compare(name: str, reader: Reader, files: list[tuple[Any, str]], show: int) -> dict[str, Any]:
    import bagu2anki.parse.markdown as md_reader
    from bagu2anki.diagnostics import Diagnostics
    from bagu2anki.parse import read
    from bagu2anki.parse.events import find_events

    mdit = md_reader.block_parser()
    same_tokens = same_events = same_docs = 0
    kinds: Counter[str] = Counter()
    examples: dict[str, list[str]] = {}
    failed: list[str] = []
    for src, view in files:
        try:
            native = reader.parse(view)
        except Exception as e:  # noqa: BLE001 - a prototype: count what it cannot read
            failed.append(f"{src.rel}: {type(e).__name__}: {e}")
            continue
        ours = mdit.parse(view)
        pa, pb = project(ours), project(native)
        if pa == pb:
            same_tokens += 1
        else:
            diff = first_difference(pa, pb)
            kinds[kind_of(diff)] += 1
            examples.setdefault(kind_of(diff), []).append(f"{src.rel}: {diff}")
        lines = src.text.split("\n")
        same_events += find_events(ours, lines) == find_events(native, lines)
        d1, d2 = Diagnostics(), Diagnostics()
        doc1 = read(src, d1)
        saved = md_reader._MD
        md_reader._MD = reader  # type: ignore[assignment]
        try:
            doc2 = read(src, d2)
        finally:
            md_reader._MD = saved
        same_docs += doc1 == doc2 and d1.items == d2.items
    assert not _NO_ATTRS, "a shared empty dict was written"
    print(f"\n{name}: {len(files)} files; identical tokens {same_tokens}, events {same_events}, "
          f"Documents {same_docs}; adapter failed on {len(failed)}")
    for k, n in kinds.most_common():
        print(f"  {n:4d}  {k}")
        for ex in examples[k][:show]:
            print(f"          {ex}")
    for f in failed[:show]:
        print(f"  failed: {f}")
    return {"files": len(files), "tokens": same_tokens, "events": same_events, "documents": same_docs,
            "failed": len(failed), "kinds": dict(kinds)}


def goldens(reader: Reader, tests: Path) -> tuple[int, int]:
    """The parse goldens (tests/fixtures/parse/*.md) with the reader's parser swapped."""
    import bagu2anki.parse.markdown as md_reader

    sys.path.insert(0, str(tests))
    import golden  # tests/golden.py

    ok = total = 0
    saved = md_reader._MD
    md_reader._MD = reader  # type: ignore[assignment]
    try:
        for p in golden.inputs():
            if p.suffix != ".md":
                continue
            total += 1
            expected = json.loads(golden.expected_path(p).read_text(encoding="utf-8"))
            ok += golden.parse_fixture(p) == expected
    finally:
        md_reader._MD = saved
    return ok, total


# lines of the kinds where block parsers disagree most: lists, quotes, setext underlines, fences,
# `$$`, containers, tables, HTML, tabs, empty items
FUZZ_LINES = [
    "", "", "", "文字一行。", "**Q：什么是 LoRA？**", "1. 第一题是什么？", "2. 第二题？", "3) 第三", "- 要点",
    "* 星号", "  - 嵌套", "   继续", "    缩进代码", "> 引用？", "> > 双层", ">", "# 标题", "## 1. 为什么？",
    "### 小节 ###", "标题下划线", "===", "---", "***", "```python", "```", "~~~", "$$", "x = 1", "$$ a = b $$",
    "$$ (1)", "a + b $$", "| 问题 | 答案 |", "|---|---|", "| a | b |", "| c \\| d | e |",
    "<details><summary>问？</summary>", "</details>", "<div>", "</div>", "::: tip 提示", ":::", "  $$",
    "\t- tab 项", "1. ", "- ", "-  两空格", "10. 十", "- [ ] 待办？", "  > 列表里引用", "   ```", "+ 加号",
]


def fuzz(readers: dict[str, Reader], n: int, seed: int) -> None:
    """Random documents of 3-14 such lines: tokens and events of each adapter against markdown-it-py."""
    import random

    from bagu2anki.parse.events import find_events
    from bagu2anki.parse.markdown import block_parser

    rng = random.Random(seed)
    docs = [
        "\n".join(rng.choice(FUZZ_LINES) for _ in range(rng.randint(3, 14))) + rng.choice(["", "\n"])
        for _ in range(n)
    ]
    mdit = block_parser()
    for name, reader in readers.items():
        same_tokens = same_events = 0
        kinds: Counter[str] = Counter()
        moved: Counter[str] = Counter()
        for d in docs:
            ours, native = mdit.parse(d), reader.parse(d)
            pa, pb = project(ours), project(native)
            lines = d.split("\n")
            events = find_events(ours, lines) == find_events(native, lines)
            same_tokens += pa == pb
            same_events += events
            if pa != pb:
                kind = kind_of(first_difference(pa, pb))
                kinds[kind] += 1
                moved[kind] += not events
        print(f"\n{name}: {n} random documents (seed {seed}): identical tokens {same_tokens}, events {same_events}")
        for kind, count in kinds.most_common():
            print(f"  {count:5d}  {kind}  (events differ in {moved[kind]})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", action="append", type=Path, default=[],
                    help="a folder of notes (repeatable); the first is timed")
    ap.add_argument("--src", type=Path, default=ROOT / "src", help="bagu2anki's sources to measure")
    ap.add_argument("--tests", type=Path, default=ROOT / "tests", help="where golden.py and the fixtures are")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--show", type=int, default=2, help="examples per kind of difference")
    ap.add_argument("--time-only", action="store_true", help="skip the comparisons")
    ap.add_argument("--fuzz", type=int, default=0, metavar="N", help="also compare on N random documents")
    ap.add_argument("--seed", type=int, default=17)
    args = ap.parse_args()
    sys.path.insert(0, str(args.src))
    corpora = args.corpus or [ROOT / "notes", ROOT / "tests" / "fixtures"]

    from bagu2anki.diagnostics import Diagnostics
    from bagu2anki.parse import read
    from bagu2anki.parse.events import find_events
    from bagu2anki.parse.markdown import block_parser

    timed = load([corpora[0]])
    views = [v for _s, v in timed]
    print(f"timed: {corpora[0]}: {len(views)} Markdown files, {sum(len(v.encode()) for v in views) / 1e6:.1f} MB")
    rows: list[tuple[str, float]] = []
    mdit = block_parser()
    rows.append(("markdown-it-py, block_parser().parse", cpu(mdit.parse, views, args.repeat)))
    readers: dict[str, Reader] = {}
    if _have("markdown_it_pyrs"):
        import markdown_it_pyrs

        full = markdown_it_pyrs.MarkdownIt("commonmark").enable_many(["table", "strikethrough", "front_matter"])
        rows.append(("markdown-it-pyrs, commonmark+table+strikethrough+front_matter, tree()", cpu(full.tree, views, args.repeat)))
        parse = pyrs_parser()
        rows.append(("markdown-it-pyrs, block rules only, tree() -> blocks", cpu(lambda v: parse(v, v.split("\n")), views, args.repeat)))
        readers["markdown-it-pyrs"] = Reader(parse)
        rows.append(("markdown-it-pyrs adapter -> markdown-it-py Tokens", cpu(readers["markdown-it-pyrs"].parse, views, args.repeat)))
    else:
        print("markdown-it-pyrs is not installed: skipped (pip install markdown-it-pyrs)")
    if _have("pyromark"):
        import pyromark

        pm = pyromark.Markdown(options=pyromark.Options.ENABLE_TABLES | pyromark.Options.ENABLE_STRIKETHROUGH)
        rows.append(("pyromark, html() (for scale)", cpu(pm.html, views, args.repeat)))
        rows.append(("pyromark, tuple(events_with_range())", cpu(lambda v: tuple(pm.events_with_range(v)), views, args.repeat)))
        parse = pyromark_parser()
        rows.append(("pyromark events -> blocks", cpu(lambda v: parse(v, v.split("\n")), views, args.repeat)))
        readers["pyromark"] = Reader(parse)
        rows.append(("pyromark adapter -> markdown-it-py Tokens", cpu(readers["pyromark"].parse, views, args.repeat)))
    if _have("cmarkgfm"):
        import cmarkgfm
        from cmarkgfm.cmark import Options as CO

        rows.append(("cmarkgfm, GFM HTML with data-sourcepos (its only output)",
                     cpu(lambda v: cmarkgfm.github_flavored_markdown_to_html(v, options=CO.CMARK_OPT_SOURCEPOS | CO.CMARK_OPT_UNSAFE),
                         views, args.repeat)))
        try:
            walk = cmark_parser()
            rows.append(("cmark-gfm via ctypes, parse + walk block nodes", cpu(walk, views, args.repeat)))
        except (OSError, AttributeError) as e:
            print(f"cmark-gfm's C functions are not reachable ({e}): skipped")
    else:
        print("cmarkgfm is not installed: skipped (pip install cmarkgfm)")
    lines_of = [(v, s.text.split("\n")) for s, v in timed]
    ours = [mdit.parse(v) for v in views]
    t0 = time.process_time()
    for toks, (_v, lines) in zip(ours, lines_of, strict=True):
        find_events(toks, lines)
    rows.append(("find_events on markdown-it-py's tokens (for scale)", time.process_time() - t0))
    import bagu2anki.parse.markdown as md_reader

    def read_all(parser: Any) -> float:
        saved = md_reader._MD
        md_reader._MD = parser
        try:
            best = float("inf")
            for _ in range(args.repeat):
                gc.collect()
                t0 = time.process_time()
                for src, _v in timed:
                    read(src, Diagnostics())
                best = min(best, time.process_time() - t0)
            return best
        finally:
            md_reader._MD = saved

    rows.append(("parse.read, the whole Markdown reader", read_all(md_reader._MD)))
    for name, reader in readers.items():
        rows.append((f"parse.read with the {name} adapter", read_all(reader)))
    print(f"\n{'CPU s, best of ' + str(args.repeat):<75s}")
    for label, s in rows:
        print(f"  {label:<73s} {s:6.3f}")

    if args.time_only:
        return
    files = load(corpora)
    print(f"\ncompared: {', '.join(str(c) for c in corpora)}: {len(files)} Markdown files")
    for name, reader in readers.items():
        compare(name, reader, files, args.show)
        ok, total = goldens(reader, args.tests)
        print(f"  parse goldens (Markdown fixtures): {ok}/{total} identical")
    if args.fuzz:
        fuzz(readers, args.fuzz, args.seed)


if __name__ == "__main__":
    main()
