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


_TICK_OR_ESCAPE = re.compile(r"\\[\s\S]|`+")
_MATH_START = re.compile(r"\\[\s\S]|\$")


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


# --- repair of formulas flattened by a plain-text export -------------------------------------
#
# A page copied as plain text loses the backslashes of `\(…\)`: `( d_k )`, `(\sqrt{d_k})`,
# `(h)`, `( O(n^2 d) )` are left in the prose, and writers type `n^2` without delimiters. A
# span becomes a formula only where nothing else reads it: TeX commands, one-letter
# variables, sub/superscripts in TeX's own shape, no CJK. `(Query)`, `(如 64、512)`, `(I/O)`,
# `(batch_size)` stay text; spans that might still be formulas are reported, not guessed.

_TEX_COMMAND_RE = re.compile(r"\\[A-Za-z]+|\\[{}|,;!]")
_IDENT_RE = re.compile(r"[A-Za-z]+")
_ALLOWED_PLAIN_RE = re.compile(r"^[A-Za-z0-9\s.,=<>+\-*/'|~:;!]+$")
_OPERATOR_RE = re.compile(r"[=<>+\-*/,]")
_SCI_NUMBER_RE = re.compile(r"\d[eE][+-]?\d")
_BIG_O_RE = re.compile(r"O\(([A-Za-z0-9\s+\-*/^_{}\\.,]+)\)")
_BARE_BIG_O_RE = re.compile(r"(?<![A-Za-z0-9_\\])O\(([^()\n]+)\)")
# A bare token such as `8nd^2`, `qk^Tv`, `d_k`: letters, digits and scripts, no spaces.
_BARE_TOKEN_RE = re.compile(
    r"(?<![A-Za-z0-9_^{}\\./@#:%&=~\-])"
    r"[A-Za-z0-9]*(?:[_^](?:\{[^{}\s]*\}|[A-Za-z0-9])[A-Za-z0-9]*)+"
    r"(?![A-Za-z0-9_^{}\\@])"
)
_URL_RE = re.compile(r"https?://\S+|www\.\S+")


def _script_reads_as_tex(s: str, k: int) -> bool:
    """Does the `_` or `^` at s[k] read the same in TeX as the writer meant?

    TeX takes one character (or a braced group) as the script: `d_k`, `n^2d`, `K^T` read
    right; `batch_size`, `d_model`, `2^10` would not.
    """
    after = s[k + 1 :]
    if after.startswith(("{", "\\")):
        script_ok = True
    elif after[:1].isalnum():
        nxt = after[1:2]
        script_ok = not (after[0].isdigit() and nxt.isdigit())
        if s[k] == "_":
            script_ok = script_ok and not nxt.isalnum() and nxt != "_"
    else:
        return False
    if s[k] == "_":
        if k == 0:
            return False
        base = s[k - 1]
        if base in "})]":
            return script_ok
        single = base.isalpha() and (k < 2 or not s[k - 2].isalnum())
        return script_ok and single
    return script_ok and k > 0 and not s[k - 1].isspace()


def _scripts_read_as_tex(s: str) -> bool:
    return all(_script_reads_as_tex(s, m.start()) for m in re.finditer(r"[_^]", s))


def _is_flat_formula(inner: str) -> bool:
    """Is the text between lost-delimiter parentheses unambiguously a formula?"""
    s = inner.strip()
    if not s or _CJK_RE.search(s):
        return False
    if _TEX_COMMAND_RE.search(s):
        return True
    if "_" in s or "^" in s:
        return _scripts_read_as_tex(s)
    if re.fullmatch(r"[A-Za-z]'?", s):
        return True  # a lone variable such as (h) or (V)
    big_o = _BIG_O_RE.fullmatch(s)
    if big_o:
        return all(len(x) <= 2 for x in _IDENT_RE.findall(big_o.group(1)))  # O(nd), not O(n log n)
    if not _ALLOWED_PLAIN_RE.match(s) or _SCI_NUMBER_RE.search(s):
        return False
    idents = _IDENT_RE.findall(s)
    if not idents or any(len(x) != 1 for x in idents):
        return False
    padded = inner[:1].isspace() and inner[-1:].isspace()
    if padded:
        return True  # `( X W )`: the export's trace of `\( X W \)`
    # `n > d`, `q, v`, `1 < g < h`: one-letter names with operators; `I/O` is a word.
    return bool(_OPERATOR_RE.search(s)) and not re.fullmatch(r"[A-Za-z]/[A-Za-z]", s)


def _ambiguity(inner: str) -> str | None:
    """Why a parenthesised span left as text might still have been a formula, if it might."""
    s = inner.strip()
    if not s:
        return "empty parentheses: the export probably dropped a formula here"
    if _CJK_RE.search(s) or _TEX_COMMAND_RE.search(s):
        return None
    if "^" in s:
        return f"'({s})' may be a formula, but TeX would read its superscript differently; left as text"
    if re.search(r"(?<![A-Za-z0-9])[A-Za-z]_[A-Za-z0-9]{2,}", s):
        return f"'({s})' may be a formula (write the subscript in braces); left as text"
    if re.fullmatch(r"[A-Za-z]{2}|[a-z]{3}", s):
        return f"'({s})' may be a product of variables or an abbreviation; left as text"
    if re.fullmatch(r"[A-Za-z](?:\s+[A-Za-z])+|[A-Za-z]/[A-Za-z]", s):
        return f"'({s})' may be a formula or plain text; left as text"
    return None


def repair_flattened(line: str) -> str:
    """`( d_k )` / `(\\sqrt{d_k})` / `(h)` -> `\\(d_k\\)` where the reading is unambiguous.

    Text already inside proper `\\(…\\)` / `\\[…\\]` / `$…$` is left alone. Ambiguous spans
    stay text (`repair_flattened_report` also says which).
    """
    return repair_flattened_report(line)[0]


def repair_flattened_report(line: str) -> tuple[str, list[MathProblem]]:
    """`repair_flattened`, plus the spans left as text that might have been formulas.

    Offsets in the problems point into `line`.
    """
    problems: list[MathProblem] = []
    spans, _ = find_math(line)
    out: list[str] = []
    pos = 0
    for sp in spans:
        out.append(_repair_text(line[pos : sp.start], pos, problems))
        out.append(line[sp.start : sp.end])
        pos = sp.end
    out.append(_repair_text(line[pos:], pos, problems))
    return "".join(out), problems


def _repair_text(seg: str, base: int, problems: list[MathProblem]) -> str:
    """Repair a stretch with no formula in it; URLs pass untouched."""
    out: list[str] = []
    pos = 0
    for m in _URL_RE.finditer(seg):
        out.append(_repair_plain(seg[pos : m.start()], base + pos, problems))
        out.append(m.group(0))
        pos = m.end()
    out.append(_repair_plain(seg[pos:], base + pos, problems))
    return "".join(out)


def _repair_plain(seg: str, base: int, problems: list[MathProblem]) -> str:
    repaired = _repair_segment(seg, base, problems)
    if "_" not in repaired and "^" not in repaired:
        return repaired
    # Bare tokens, outside the formulas just made.
    spans, _ = find_math(repaired)
    out: list[str] = []
    pos = 0
    for sp in spans:
        out.append(_repair_bare(repaired[pos : sp.start], problems, base))
        out.append(repaired[sp.start : sp.end])
        pos = sp.end
    out.append(_repair_bare(repaired[pos:], problems, base))
    return "".join(out)


def _repair_bare(seg: str, problems: list[MathProblem], base: int) -> str:
    """`O(n^2)`, `8nd^2`, `qk^Tv`, `d_k` written without delimiters -> formulas."""
    if "_" not in seg and "^" not in seg:
        return seg

    def big_o(m: re.Match[str]) -> str:
        inner = m.group(1)
        if ("^" in inner or "_" in inner) and not _CJK_RE.search(inner) and _scripts_read_as_tex(inner):
            return f"\\({m.group(0)}\\)"
        return m.group(0)

    seg = _BARE_BIG_O_RE.sub(big_o, seg)

    def token(m: re.Match[str]) -> str:
        tok = m.group(0)
        k = m.start()
        if not re.search(r"[A-Za-z]", tok) or (k >= 2 and seg[k - 1] == "(" and seg[k - 2].isalnum()):
            return tok  # `softmax(x^2)`: an argument, the call stays as written
        if _scripts_read_as_tex(tok):
            return f"\\({tok}\\)"
        if "^" in tok:
            problems.append(MathProblem(base, f"'{tok}' may be a formula, but TeX would read its superscript differently; left as text"))
        return tok

    spans, _ = find_math(seg)
    out: list[str] = []
    pos = 0
    for sp in spans:
        out.append(_BARE_TOKEN_RE.sub(token, seg[pos : sp.start]))
        out.append(seg[sp.start : sp.end])
        pos = sp.end
    out.append(_BARE_TOKEN_RE.sub(token, seg[pos:]))
    return "".join(out)


def _repair_segment(seg: str, base: int = 0, problems: list[MathProblem] | None = None) -> str:
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
                out.append("(" + _repair_segment(inner, base + i + 1, problems) + ")")
            elif _is_function_call(seg, i):
                out.append("(" + _repair_segment(inner, base + i + 1, problems) + ")")
            elif _is_flat_formula(inner):
                out.append("\\(" + stripped + "\\)")
            else:
                why = _ambiguity(inner) if "\n" not in inner else None
                if why and problems is not None:
                    problems.append(MathProblem(base + i, why))
                out.append("(" + _repair_segment(inner, base + i + 1, problems) + ")")
            i = j + 1
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _is_function_call(seg: str, i: int) -> bool:
    """`softmax(x)`, `O(n^2)`: the parentheses belong to a call, not to lost delimiters."""
    return i > 0 and seg[i - 1].isascii() and (seg[i - 1].isalnum() or seg[i - 1] == "_")


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
