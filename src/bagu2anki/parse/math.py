"""Find TeX formulas in note text so Markdown never touches them, and repair flattened ones.

`protect()` swaps every formula for a placeholder before Markdown rendering and `restore()`
puts it back as Anki MathJax (`\\(…\\)` / `\\[…\\]`). Code spans and fences are skipped, so a
`$` inside code is never math; `\\$` is a literal dollar sign.
"""

from __future__ import annotations

import html
import re
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
    """Every formula in `text` (outside code), and the delimiters that never close."""
    mask = _code_mask(text)
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
                end = _find_closer(text, mask, i + 2, closer)
                if end == -1:
                    if nxt == "(" and _looks_like_tex_open(text, i):
                        problems.append(MathProblem(i, f"unclosed \\{nxt}: no matching {closer}"))
                    elif nxt == "[" and _looks_like_tex_open(text, i):
                        problems.append(MathProblem(i, f"unclosed \\{nxt}: no matching {closer}"))
                    i += 2
                    continue
                tex = text[i + 2 : end]
                if nxt == "[" and not _looks_like_tex(tex):
                    # Notion debris such as `\[CLS]` or `\[toc]`: an escaped bracket, not math.
                    i += 2
                    continue
                spans.append(MathSpan(i, end + 2, tex, nxt == "["))
                i = end + 2
                continue
            i += 2
            continue
        if c == "$":
            if text.startswith("$$", i):
                end = _find_closer(text, mask, i + 2, "$$")
                if end == -1:
                    problems.append(MathProblem(i, "unclosed $$: no matching $$"))
                    i += 2
                    continue
                spans.append(MathSpan(i, end + 2, text[i + 2 : end], True))
                i = end + 2
                continue
            end = _find_inline_dollar(text, mask, i)
            if end == -1:
                if i + 1 < n and not text[i + 1].isspace() and not text[i + 1].isdigit():
                    if _looks_like_tex(text[i + 1 : text.find("\n", i) if "\n" in text[i:] else n]):
                        problems.append(MathProblem(i, "unclosed $: no matching $"))
                i += 1
                continue
            spans.append(MathSpan(i, end + 1, text[i + 1 : end], False))
            i = end + 1
            continue
        i += 1
    return spans, problems


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


def _find_inline_dollar(text: str, mask: list[bool], i: int) -> int:
    """Closing `$` of an inline formula opened at i (pandoc's rules, single paragraph)."""
    n = len(text)
    if i + 1 >= n or text[i + 1] == "$":
        return -1
    if text[i + 1].isspace():
        return -1
    j = i + 1
    while j < n:
        ch = text[j]
        if ch == "\\":
            j += 2
            continue
        if ch == "\n" and j + 1 < n and text[j + 1] == "\n":
            return -1
        if ch == "$" and not mask[j]:
            if text[j - 1].isspace() or (j + 1 < n and text[j + 1].isdigit()):
                j += 1
                continue
            return j
        j += 1
    return -1


_TEXY_RE = re.compile(r"\\[A-Za-z]+|[_^{}]|^[A-Za-z]$|[=<>+\-*/]")


def _looks_like_tex(s: str) -> bool:
    return bool(_TEXY_RE.search(s.strip()))


def _looks_like_tex_open(text: str, i: int) -> bool:
    line_end = text.find("\n", i)
    rest = text[i + 2 : line_end if line_end != -1 else len(text)]
    return _looks_like_tex(rest)


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
