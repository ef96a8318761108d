"""Find TeX formulas in note text so Markdown never touches them, and repair flattened ones.

`protect()` swaps every formula for a placeholder before Markdown rendering and `restore()`
puts it back as Anki MathJax (`\\(…\\)` / `\\[…\\]`). Code spans and fences are skipped, so a
`$` inside code is never math; `\\$` is a literal dollar sign.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass

PH_OPEN = "\ue000"
PH_CLOSE = "\ue001"
PLACEHOLDER_RE = re.compile(PH_OPEN + r"(\d+)" + PH_CLOSE)
_FENCE_RE = re.compile(r"^[ \t>]*(?:[-*+][ \t]+|\d+[.)][ \t]+)?(`{3,}|~{3,})")
CJK_RE = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]")


@dataclass(frozen=True, slots=True)
class MathSpan:
    start: int
    end: int
    tex: str
    display: bool


@dataclass(frozen=True, slots=True)
class MathProblem:
    offset: int
    message: str


_TICK_OR_ESCAPE = re.compile(r"\\[\s\S]|`+")
_MATH_START = re.compile(r"\\[\s\S]|\$")


def _code_mask(text: str) -> list[bool]:
    """True for every character inside a fenced block or an inline code span."""
    mask = [False] * len(text)
    if "`" not in text and "~~~" not in text:  # no fence, no code span (most answers)
        return mask
    pos = 0
    fence: str | None = None
    segments: list[tuple[int, int]] = []  # non-fence text ranges
    seg_start = 0
    for line in text.splitlines(keepends=True):
        m = _FENCE_RE.match(line)
        if fence is None and m:
            segments.append((seg_start, pos))
            fence = m.group(1)
            mask[pos : pos + len(line)] = [True] * len(line)
        elif fence is not None:
            mask[pos : pos + len(line)] = [True] * len(line)
            stripped = line.strip().lstrip(">").strip()
            if stripped.startswith(fence[0] * len(fence)) and stripped.strip(fence[0]) == "":
                fence = None
                seg_start = pos + len(line)
        pos += len(line)
    if fence is None:
        segments.append((seg_start, len(text)))
    for a, b in segments:
        i = a
        while True:
            m2 = _TICK_OR_ESCAPE.search(text, i, b)
            if m2 is None:
                break
            i = m2.start()
            if text[i] == "\\":
                i += 2
                continue
            j = m2.end()
            run = text[i:j]
            close = text.find(run, j, b)
            while close != -1 and close + len(run) < b and text[close + len(run)] == "`":
                close = text.find(run, close + len(run) + 1, b)
            if close == -1:
                i = j
                continue
            end = close + len(run)
            mask[i:end] = [True] * (end - i)
            i = end
    return mask


def find_math(text: str) -> tuple[list[MathSpan], list[MathProblem]]:
    """Every formula in `text` (outside code), and the delimiters that never close.

    Linear in the length of `text`, however many delimiters it holds: every look-up the loop
    repeats (the next closer, the end of the line, the next TeX-looking character, where an
    inline `$` closes) is answered once for each stretch of text (see `_Scan`).
    """
    if "$" not in text and "\\" not in text:  # no delimiter at all (most questions)
        return [], []
    mask = _code_mask(text)
    scan = _Scan(text, mask)
    spans: list[MathSpan] = []
    problems: list[MathProblem] = []
    i = 0
    n = len(text)
    while i < n:
        jump = _MATH_START.search(text, i)
        if jump is None:
            break
        i = jump.start()
        if mask[i]:
            i += 1
            continue
        c = text[i]
        if c == "\\" and i + 1 < n:
            nxt = text[i + 1]
            if nxt in "([":
                closer = "\\)" if nxt == "(" else "\\]"
                end = scan.closer(closer, i + 2)
                if end == -1:
                    if scan.looks_like_tex(i + 2, scan.line_end(i)):
                        problems.append(MathProblem(i, f"unclosed \\{nxt}: no matching {closer}"))
                    i += 2
                    continue
                if nxt == "[" and not scan.looks_like_tex(i + 2, end):
                    # Notion debris such as `\[CLS]` or `\[toc]`: an escaped bracket, not math.
                    i += 2
                    continue
                spans.append(MathSpan(i, end + 2, text[i + 2 : end], nxt == "["))
                i = end + 2
                continue
            i += 2
            continue
        if c == "$":
            if text.startswith("$$", i):
                end = scan.closer("$$", i + 2)
                if end == -1:
                    problems.append(MathProblem(i, "unclosed $$: no matching $$"))
                    i += 2
                    continue
                spans.append(MathSpan(i, end + 2, text[i + 2 : end], True))
                i = end + 2
                continue
            end = scan.inline_dollar(i)
            if end == -2:
                problems.append(
                    MathProblem(i, "ambiguous $: it pairs with the next $ only across Chinese prose; left as text "
                                "(write \\$ for a dollar sign, or close the formula)")
                )
                i += 1
                continue
            if end == -1:
                if i + 1 < n and not text[i + 1].isspace() and not text[i + 1].isdigit():
                    if scan.looks_like_tex(i + 1, scan.line_end(i)):
                        problems.append(MathProblem(i, "unclosed $: no matching $"))
                i += 1
                continue
            spans.append(MathSpan(i, end + 1, text[i + 1 : end], False))
            i = end + 1
            continue
        i += 1
    return spans, problems


_TEXY_RE = re.compile(r"\\[A-Za-z]+|[_^{}]|^[A-Za-z]$|[=<>+\-*/]")
_TEXY_CHAR_RE = re.compile(r"\\[A-Za-z]|[_^{}=<>+\-*/]")  # _TEXY_RE but the lone letter
_NON_SPACE_RE = re.compile(r"\S")
_INLINE_STOP_RE = re.compile(r"\\[\s\S]|\n\n|\$")  # what the search for an inline `$`'s end stops at
_PROSE_CHAR_RE = re.compile(r"[\u4e00-\u9fff\u3000-\u303f\uff01-\uff0f\uff1a-\uff1f]")  # Chinese and its punctuation
_TEX_MARKUP_RE = re.compile(r"[\\_^{}]")


def _looks_like_tex(s: str) -> bool:
    return bool(_TEXY_RE.search(s.strip()))


class _Next:
    """The first place at or after a position where something is found, asked for positions
    that mostly go up: the last answer serves every position up to it, so a left-to-right
    walk costs one pass. `find(pos)` gives (start, end) of what is found, or None; whether a
    place counts must not depend on where the search started."""

    def __init__(self, find: Callable[[int], tuple[int, int] | None]) -> None:
        self._find = find
        self._from = -1
        self._found: tuple[int, int] | None = None

    def __call__(self, pos: int) -> tuple[int, int] | None:
        found = self._found
        if self._from == -1 or pos < self._from or (found is not None and pos > found[0]):
            found = self._find(pos)
            self._from, self._found = pos, found
        return found


class _Scan:
    """What `find_math` looks up again and again in one text, each found once per stretch."""

    def __init__(self, text: str, mask: list[bool]) -> None:
        self.text = text
        self.mask = mask
        self._closers: dict[str, _Next] = {}
        self._newline = _Next(lambda pos: _found(text.find("\n", pos), 1))
        self._texy = _Next(lambda pos: _span(_TEXY_CHAR_RE.search(text, pos)))
        # `$` passed over by a search -> where that search ended, per kind of opening (`$x$`, `$ x $`)
        self._dollar_end: tuple[dict[int, int], dict[int, int]] = ({}, {})
        self._prose = _Next(lambda pos: _span(_PROSE_CHAR_RE.search(text, pos)))
        self._markup = _Next(lambda pos: _span(_TEX_MARKUP_RE.search(text, pos)))

    def line_end(self, i: int) -> int:
        found = self._newline(i)
        return found[0] if found is not None else len(self.text)

    def closer(self, closer: str, start: int) -> int:
        """The first `closer` at or after `start` outside code; `\\\\)` is a TeX line break and a
        paren, no closer. (A run of backslashes never reaches back past `start`, which follows
        the opening `\\(` / `\\[` / `$$`, so whether a closer counts depends on it alone.)"""
        nxt = self._closers.get(closer)
        if nxt is None:
            nxt = self._closers[closer] = _Next(lambda pos: _found(_find_closer(self.text, self.mask, pos, closer), len(closer)))
        found = nxt(start)
        return found[0] if found is not None else -1

    def looks_like_tex(self, a: int, b: int) -> bool:
        """`_looks_like_tex(text[a:b])` without copying or searching the stretch each time."""
        found = self._texy(a)
        if found is not None and found[1] <= b:
            return True
        first = _NON_SPACE_RE.search(self.text, a, b)
        if first is None or not ("A" <= self.text[first.start()] <= "Z" or "a" <= self.text[first.start()] <= "z"):
            return False
        return _NON_SPACE_RE.search(self.text, first.end(), b) is None  # a lone letter: `$x`

    def inline_dollar(self, i: int) -> int:
        """Closing `$` of an inline formula opened at i (pandoc's rules, single paragraph), or -1;
        -2 when the only closer would make a formula of Chinese prose.

        `$x$`: the closer follows no white space and comes before no digit. `$ x $` (white space
        inside both ends, as many notes write it) is a formula too: its closer follows white
        space. A pair whose inside holds Chinese and no TeX markup (`\\`, `_`, `^`, braces) is
        prose between two dollar signs (`$a$ 和 $ b $，然后 $c$` pairs as three formulas, never
        `$，然后 $`). Scans from i + 1, not past a blank line, stepping over escapes; a scan that
        reaches a `$` an earlier scan of the same kind passed over ends where that one ended, so
        no stretch is scanned twice."""
        text, n = self.text, len(self.text)
        if i + 1 >= n or text[i + 1] == "$" or text[i + 1] == "\n":
            return -1
        spaced = text[i + 1] in " \t"
        if spaced and (i + 2 >= n or text[i + 2].isspace() or text[i + 2] == "$"):
            return -1  # `$ ` then nothing: a dollar sign in prose
        memo = self._dollar_end[spaced]
        known = memo.get(i)
        if known is None:
            passed: list[int] = []
            result = -1
            for m in _INLINE_STOP_RE.finditer(text, i + 1):
                j = m.start()
                if text[j] != "$":
                    if text[j] == "\n":
                        break  # a blank line ends the paragraph
                    continue  # an escaped character
                known = memo.get(j)
                if known is not None:
                    result = known
                    break
                before_space = text[j - 1] in " \t"
                if not self.mask[j] and before_space == spaced and not text[j - 1] == "\n" and not (
                    j + 1 < n and text[j + 1].isdigit()
                ):
                    result = j
                    break
                passed.append(j)
            for j in passed:
                memo[j] = result
            known = result
        if known == -1:
            return -1
        prose = self._prose(i + 1)
        if prose is not None and prose[0] < known:
            markup = self._markup(i + 1)
            if markup is None or markup[0] >= known:
                return -2
        return known


def _found(start: int, length: int) -> tuple[int, int] | None:
    return (start, start + length) if start != -1 else None


def _span(m: re.Match[str] | None) -> tuple[int, int] | None:
    return m.span() if m is not None else None


def _find_closer(text: str, mask: list[bool], start: int, closer: str) -> int:
    j = start
    while True:
        j = text.find(closer, j)
        if j == -1:
            return -1
        if mask[j]:
            j += 1
            continue
        if closer.startswith("\\"):
            # `\\)` is a TeX line break followed by a paren, not a closer.
            k = j - 1
            slashes = 0
            while k >= start and text[k] == "\\":
                slashes += 1
                k -= 1
            if slashes % 2 == 1:
                j += 1
                continue
        return j


def protect(text: str) -> tuple[str, list[MathSpan]]:
    """Replace every formula by a placeholder Markdown will pass through untouched."""
    spans, _ = find_math(text)
    out: list[str] = []
    pos = 0
    for k, sp in enumerate(spans):
        out.append(text[pos : sp.start])
        ph = f"{PH_OPEN}{k}{PH_CLOSE}"
        if sp.display and text[sp.start : sp.start + 2] == "$$":
            # A display formula alone in its paragraph stays a block of its own.
            out.append(ph)
        else:
            out.append(ph)
        pos = sp.end
    out.append(text[pos:])
    return "".join(out), spans


def restore(rendered_html: str, spans: list[MathSpan]) -> str:
    """Put formulas back as MathJax delimiters Anki understands, HTML-escaped."""

    def sub(m: re.Match[str]) -> str:
        k = int(m.group(1))
        if k >= len(spans):
            return m.group(0)
        sp = spans[k]
        tex = html.escape(sp.tex.strip(), quote=False)
        if sp.display:
            return f'<span class="math display">\\[{tex}\\]</span>'
        return f'<span class="math">\\({tex}\\)</span>'

    return PLACEHOLDER_RE.sub(sub, rendered_html)
