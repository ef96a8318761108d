r"""Formulas a plain-text export flattened, back as MathJax where the reading is unambiguous.

A page copied as plain text loses the backslashes of `\(…\)`: `( d_k )`, `(\sqrt{d_k})`,
`(h)`, `( O(n^2 d) )` are left in the prose, and writers type `n^2` without delimiters. A
span becomes a formula only where nothing else reads it: TeX commands, one-letter
variables, sub/superscripts in TeX's own shape, no CJK. `(Query)`, `(如 64、512)`, `(I/O)`,
`(batch_size)` stay text; spans that might still be formulas are reported, not guessed.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from bagu2anki.parse.math import CJK_RE as _CJK_RE
from bagu2anki.parse.math import MathProblem, find_math

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
    after = s[k + 1 : k + 3]  # TeX's script is one character or a group: two are enough to tell
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
    repaired = _outside_formulas(line, lambda seg, start: _repair_text(seg, start, problems))
    return repaired, problems


def _outside_formulas(text: str, change: Callable[[str, int], str]) -> str:
    """`change(segment, its offset)` applied to the text between the formulas of `text`."""
    spans, _ = find_math(text)
    out: list[str] = []
    pos = 0
    for sp in spans:
        out.append(change(text[pos : sp.start], pos))
        out.append(text[sp.start : sp.end])
        pos = sp.end
    out.append(change(text[pos:], pos))
    return "".join(out)


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
    return _outside_formulas(repaired, lambda seg, _start: _repair_bare(seg, problems, base))


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


MAX_FLAT_FORMULA = 500  # longer text between parentheses is prose: left as it is, never reported


def _repair_segment(seg: str, base: int = 0, problems: list[MathProblem] | None = None) -> str:
    """Each pair of parentheses in `seg` that is a formula written without its delimiters ->
    `\\(…\\)`; the other pairs stay and are looked into.

    One pass, however deep the parentheses nest (no recursion): the pairs are matched once up
    front, and only what a formula can be (up to MAX_FLAT_FORMULA characters) is read as one.
    """
    if "(" not in seg:
        return seg
    match = _paren_pairs(seg)
    out: list[str] = []
    closes: list[int] = []  # where the pairs being looked into close
    i = 0
    n = len(seg)
    while i < n:
        paren = _PAREN_RE.search(seg, i)
        if paren is None:
            out.append(seg[i:])
            break
        out.append(seg[i : paren.start()])
        i = paren.start()
        ch = seg[i]
        if closes and i == closes[-1]:
            closes.pop()
            out.append(ch)
            i += 1
            continue
        if ch == "(" and (i == 0 or seg[i - 1] != "\\"):
            j = match.get(i, -1)
            if j == -1:
                out.append(ch)
                i += 1
                continue
            first = _NON_SPACE_RE.search(seg, i + 1, j)
            last = j - 1
            while first is not None and seg[last].isspace():
                last -= 1
            short = j - i - 1 <= MAX_FLAT_FORMULA
            outer = first is not None and seg[first.start()] == "(" and match.get(first.start()) == last
            if not outer and not _is_function_call(seg, i):  # `((1 < g < h))`, `softmax(x)`: look inside
                if short and first is not None and _is_flat_formula(seg[i + 1 : j]):
                    out.append("\\(" + seg[first.start() : last + 1] + "\\)")
                    i = j + 1
                    continue
                if short or first is None:
                    inner = seg[i + 1 : j]
                    why = _ambiguity(inner) if "\n" not in inner else None
                    if why and problems is not None:
                        problems.append(MathProblem(base + i, why))
            out.append("(")
            closes.append(j)
            i += 1
            continue
        out.append(ch)
        i += 1
    return "".join(out)


_NON_SPACE_RE = re.compile(r"\S")
_PAREN_RE = re.compile(r"[()]")


def _paren_pairs(s: str) -> dict[int, int]:
    """Each `(` of `s` that closes -> its `)` (counting every parenthesis, escaped or not)."""
    pairs: dict[int, int] = {}
    opened: list[int] = []
    for m in _PAREN_RE.finditer(s):
        if m.group() == "(":
            opened.append(m.start())
        elif opened:
            pairs[opened.pop()] = m.start()
    return pairs


def _is_function_call(seg: str, i: int) -> bool:
    """`softmax(x)`, `O(n^2)`: the parentheses belong to a call, not to lost delimiters."""
    return i > 0 and seg[i - 1].isascii() and (seg[i - 1].isalnum() or seg[i - 1] == "_")
