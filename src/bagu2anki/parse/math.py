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
_CJK_RE = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]")


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


def _code_mask(text: str) -> list[bool]:
    """True for every character inside a fenced block or an inline code span."""
    mask = [False] * len(text)
    pos = 0
    fence: str | None = None
    segments: list[tuple[int, int]] = []  # non-fence text ranges
    seg_start = 0
    for line in text.splitlines(keepends=True):
        m = _FENCE_RE.match(line)
        if fence is None and m:
            segments.append((seg_start, pos))
            fence = m.group(1)
            for i in range(pos, pos + len(line)):
                mask[i] = True
        elif fence is not None:
            for i in range(pos, pos + len(line)):
                mask[i] = True
            stripped = line.strip().lstrip(">").strip()
            if stripped.startswith(fence[0] * len(fence)) and stripped.strip(fence[0]) == "":
                fence = None
                seg_start = pos + len(line)
        pos += len(line)
    if fence is None:
        segments.append((seg_start, len(text)))
    for a, b in segments:
        i = a
        while i < b:
            if text[i] == "\\" and i + 1 < b:
                i += 2
                continue
            if text[i] == "`":
                j = i
                while j < b and text[j] == "`":
                    j += 1
                run = text[i:j]
                close = text.find(run, j, b)
                while close != -1 and close + len(run) < b and text[close + len(run)] == "`":
                    close = text.find(run, close + len(run) + 1, b)
                if close == -1:
                    i = j
                    continue
                for k in range(i, close + len(run)):
                    mask[k] = True
                i = close + len(run)
                continue
            i += 1
    return mask


def find_math(text: str) -> tuple[list[MathSpan], list[MathProblem]]:
    """Every formula in `text` (outside code), and the delimiters that never close."""
    mask = _code_mask(text)
    spans: list[MathSpan] = []
    problems: list[MathProblem] = []
    i = 0
    n = len(text)
    while i < n:
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


# --- repair of formulas flattened by a plain-text export -------------------------------------

_PAREN_TEXY_RE = re.compile(r"\\[A-Za-z]+|[_^]|\\[{}|,;!]")
_IDENT_RE = re.compile(r"[A-Za-z]+")
_ALLOWED_PLAIN_RE = re.compile(r"^[A-Za-z0-9\s.,=<>+\-*/'|~:;!]+$")


def _is_flat_formula(inner: str) -> bool:
    """Is the text between lost-delimiter parentheses unambiguously a formula?"""
    s = inner.strip()
    if not s or _CJK_RE.search(s):
        return False
    if _PAREN_TEXY_RE.search(s):
        return True
    if re.fullmatch(r"[A-Za-z]'?", s):
        return True  # a lone variable such as (h) or (V)
    if _ALLOWED_PLAIN_RE.match(s):
        idents = _IDENT_RE.findall(s)
        # `n > d`, `q, v`, `1 < g < h`: only one-letter names and operators or digits.
        if idents and all(len(x) == 1 for x in idents) and re.search(r"[=<>+\-*/,]", s):
            return True
    return False


def repair_flattened(line: str) -> str:
    """`( d_k )` / `(\\sqrt{d_k})` / `(h)` -> `\\(d_k\\)` where the reading is unambiguous.

    Text already inside proper `\\(…\\)` / `\\[…\\]` / `$…$` is left alone. Ambiguous spans
    stay text.
    """
    spans, _ = find_math(line)
    if not spans:
        return _repair_segment(line)
    out: list[str] = []
    pos = 0
    for sp in spans:
        out.append(_repair_segment(line[pos : sp.start]))
        out.append(line[sp.start : sp.end])
        pos = sp.end
    out.append(_repair_segment(line[pos:]))
    return "".join(out)


def _repair_segment(seg: str) -> str:
    if "(" not in seg:
        return seg
    out: list[str] = []
    i = 0
    n = len(seg)
    while i < n:
        ch = seg[i]
        if ch == "(" and (i == 0 or seg[i - 1] != "\\"):
            j = _match_paren(seg, i)
            if j == -1:
                out.append(ch)
                i += 1
                continue
            inner = seg[i + 1 : j]
            stripped = inner.strip()
            if stripped.startswith("(") and _match_paren(stripped, 0) == len(stripped) - 1:
                # `((1 < g < h))`: the outer pair is prose, look inside.
                out.append("(" + _repair_segment(inner) + ")")
            elif _is_flat_formula(inner) and not _is_function_call(seg, i):
                out.append("\\(" + stripped + "\\)")
            else:
                out.append("(" + _repair_segment(inner) + ")")
            i = j + 1
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _is_function_call(seg: str, i: int) -> bool:
    """`softmax(x)`, `O(n^2)`: the parentheses belong to a call; repair the whole call."""
    return i > 0 and (seg[i - 1].isalnum() or seg[i - 1] == "_")


def _match_paren(s: str, i: int) -> int:
    depth = 0
    for j in range(i, len(s)):
        if s[j] == "(":
            depth += 1
        elif s[j] == ")":
            depth -= 1
            if depth == 0:
                return j
    return -1
