"""Flat text export answer -> Markdown: rebuild the lists, tables, code and formulas it flattened.

A blog page copied as plain text loses code fences (`1 | code |`, gutters glued to code), splits
table rows and sentences over lines and drops formula delimiters. Only the renderer uses this:
the atom keeps the answer exactly as written.
"""

from __future__ import annotations

import re

from bagu2anki.parse import rules
from bagu2anki.parse.math import MathProblem, find_math
from bagu2anki.parse.repair import repair_flattened, repair_flattened_report
from bagu2anki.parse.titles import looks_like_title

_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
_GUTTER_CODE = re.compile(r"^\s*(\d{1,4}) \| (.*?)\s*\|\s*$")
_CONTINUATION = re.compile(r"^[:：,，、;；)）。.!！?？]")





def to_markdown(answer: str) -> str:
    """Rebuild lists, tables, code and formulas that the plain-text export flattened."""
    lines = answer.split("\n")
    lines = _split_display_math(_join_open_math(lines))
    blocks: list[tuple[str, list[str]]] = []  # (kind, lines): kind in text|list|table|code
    i = 0
    n = len(lines)
    while i < n:
        s = lines[i].rstrip()
        if not s.strip():
            i += 1
            continue
        gutter = _GUTTER_CODE.match(s)
        if gutter:
            code: list[str] = []
            while i < n and (m := _GUTTER_CODE.match(lines[i])):
                code.append(m.group(2))
                i += 1
            blocks.append(("code", code))
            continue
        run = _gutter_run(lines, i) or _bare_code_run(lines, i)
        if run:
            code, i, tail = run
            blocks.append(("code", code))
            if tail:
                lines[i - 1] = tail
                i -= 1
            continue
        if _TABLE_ROW.match(s) or (s.lstrip().startswith("|") and i + 1 < n and _TABLE_SEP.match(lines[i + 1])):
            table, i = _collect_table(lines, i)
            blocks.append(("table", table))
            continue
        stripped = s.strip()
        if stripped in ("-", "*", "•"):
            j = i + 1
            while j < n and not lines[j].strip():
                j += 1
            if j < n and not rules.LIST_START.match(lines[j]):
                item = "- " + lines[j].strip()
                i = j + 1
                if _only_formula(lines[j]) and i < n and _explains_formula(lines[i]):
                    # `-` / `\(QK^\top\)` / `表示……`: the export put the item's words on a line of their own
                    item += " " + lines[i].strip()
                    i += 1
                item, i = _absorb_continuations(item, lines, i)
                _add_line(blocks, "list", item)
                continue
            i += 1
            continue
        if re.match(r"^[-*•]\s+", stripped):
            item = "- " + re.sub(r"^[-*•]\s+", "", stripped)
            item, i = _absorb_continuations(item, lines, i + 1)
            _add_line(blocks, "list", item)
            continue
        text, i = _absorb_continuations(stripped, lines, i + 1)
        if blocks and blocks[-1][0] in ("text", "list") and _is_continuation(text):
            blocks[-1][1][-1] += text
            continue
        _add_line(blocks, "text", text)
    out: list[str] = []
    for kind, blines in blocks:
        if kind == "code":
            out.append(f"```{_language(blines)}\n" + "\n".join(blines) + "\n```")
        elif kind == "table":
            out.append("\n".join(_repair_table_line(b) for b in blines))
        elif kind == "list":
            out.append("\n".join(_escape_text(repair_flattened(b)) for b in blines))
        else:
            out.append("\n\n".join(_escape_text(repair_flattened(b)) for b in blines))
    return "\n\n".join(out)


_PYTHON = re.compile(r"^\s*(?:def |class \w|import \w|from [\w.]+ import|return\b|print\(|@\w)|\bself\.|\btorch\.|\bnp\.", re.M)
_CPP = re.compile(r"^\s*#include\b|\bstd::|\bint main\s*\(|\bvector<", re.M)


def _language(code: list[str]) -> str:
    """The language of a code block the export flattened, when its lines say so (for colours)."""
    text = "\n".join(code)
    if _CPP.search(text):
        return "cpp"
    return "python" if _PYTHON.search(text) else ""


def flattening_problems(answer: str) -> list[MathProblem]:
    """Spans of a flat answer left as text that might have been formulas (offsets into `answer`).

    `(AV)`, `(I/O)`, `(d_model)`, `(2^10)` and the empty `()` where the export dropped a
    formula: the caller turns them into diagnostics at `answer[:offset].count("\\n")` lines
    below the answer's first line.
    """
    problems: list[MathProblem] = []
    pos = 0
    for line in answer.split("\n"):
        if not _GUTTER_CODE.match(line) and not _TABLE_SEP.match(line):
            _, found = repair_flattened_report(line)
            problems.extend(MathProblem(pos + p.offset, p.message) for p in found)
        pos += len(line) + 1
    for m in re.finditer(r"(?<![\w\\])\((?:[ \t]*\n)+[ \t]*\)", answer):
        problems.append(MathProblem(m.start(), "empty parentheses: the export probably dropped a formula here"))
    return sorted(problems, key=lambda p: p.offset)


_DISPLAY_START = re.compile(r"^\s*\\\[")


def _split_display_math(lines: list[str]) -> list[str]:
    """`\\[ … \\]其中:` / `\\[ … \\]-`: a display formula the export glued to the next line's text.

    The formula becomes its own paragraph; a `-` glued after it (or left at the end of a
    line) is the list marker of the next line's item.
    """
    out: list[str] = []
    for line in lines:
        rest = line
        if _DISPLAY_START.match(line):
            spans, _ = find_math(line)
            first = spans[0] if spans else None
            tail = line[first.end :].strip() if first is not None else ""
            if first is not None and first.display and tail and not _is_continuation(tail):
                out.extend((line[: first.end], ""))
                rest = tail
                if rest.startswith("-") and not rest[1:2].isspace() and not rest[1:2].isdigit() and rest[1:2] != "-":
                    out.append("-")  # `\\]-`: the next item's marker
                    rest = rest[1:].strip()
        marker = re.search(r"\s-$", rest)
        if marker and rest[: marker.start()].strip():
            out.extend((rest[: marker.start()], "-"))
            continue
        out.append(rest)
    return out


def _only_formula(line: str) -> bool:
    s = line.strip()
    spans, _ = find_math(s)
    return len(spans) == 1 and spans[0].start == 0 and spans[0].end == len(s)


def _explains_formula(line: str) -> bool:
    s = line.strip()
    return bool(s) and not rules.LIST_START.match(s) and not s.startswith(("\\(", "\\[", "|", "-")) and not looks_like_title(s)


def _add_line(blocks: list[tuple[str, list[str]]], kind: str, line: str) -> None:
    if blocks and blocks[-1][0] == kind:
        blocks[-1][1].append(line)
    else:
        blocks.append((kind, [line]))


def _is_continuation(text: str) -> bool:
    return bool(_CONTINUATION.match(text))


def _absorb_continuations(item: str, lines: list[str], i: int) -> tuple[str, int]:
    """Join the pieces an export split off a sentence: `\\(x\\)` / `:说明` on their own lines."""
    n = len(lines)
    while i < n:
        nxt = lines[i].strip()
        if not nxt:
            break
        if _is_continuation(nxt) or (item.rstrip().endswith(("(", "（")) and nxt):
            item += nxt
            i += 1
            continue
        if nxt.startswith("\\(") and not rules.LIST_START.match(nxt) and not item.rstrip().endswith(("。", "：", ":")):
            item += nxt
            i += 1
            continue
        break
    return item, i


def _join_open_math(lines: list[str]) -> list[str]:
    """A `\\(…\\)` / `\\[…\\]` split over lines becomes one line again."""
    out: list[str] = []
    buf: str | None = None
    count = 0
    for ln in lines:
        if buf is not None:
            buf += " " + ln.strip()
            count += 1
            if not _has_open_math(buf) or count > 12:
                out.append(buf)
                buf = None
            continue
        if _has_open_math(ln):
            buf = ln
            count = 0
            continue
        out.append(ln)
    if buf is not None:
        out.append(buf)
    return out


def _has_open_math(line: str) -> bool:
    stripped = line.rstrip()
    if stripped.endswith(("\\[", "\\(")) and not stripped.endswith(("\\\\[", "\\\\(")):
        return True  # `\[` alone at the end of a line: the formula follows on the next lines
    _, problems = find_math(line)
    return any(p.message.startswith(("unclosed \\(", "unclosed \\[")) for p in problems)


def _gutter_run(lines: list[str], i: int) -> tuple[list[str], int, str] | None:
    """`1` `2` `3` `4mask = …`: a code block whose line-number gutter was glued to the code."""
    n = len(lines)
    if lines[i].strip() != "1":
        return None
    k = 1
    j = i + 1
    while j < n and lines[j].strip() == str(k + 1):
        k += 1
        j += 1
    if j >= n:
        return None
    last = str(k + 1)
    first = lines[j]
    if k >= 1 and first.startswith(last) and len(first) > len(last) and not first[len(last)].isdigit():
        count = k + 1
        code = [first[len(last) :]]
        j += 1
        while len(code) < count and j < n:
            code.append(lines[j])
            j += 1
        code[-1], tail = _split_glued_prose(code[-1])
        return code, j, tail
    return None


_CJK = re.compile(r"[\u4e00-\u9fff]")


def _split_glued_prose(line: str) -> tuple[str, str]:
    """`    return cache_k每一步只算新 token 的 k`: the export glued the sentence after the code
    to its last line. Split at the first Chinese character outside a string or a comment."""
    m = _CJK.search(line)
    if m is None or m.start() == 0:
        return line, ""
    code = line[: m.start()]
    if "#" in code or code.count('"') % 2 or code.count("'") % 2 or not code.strip():
        return line, ""
    if code.rstrip()[-1:] in ")]}\"';" or re.search(r"[A-Za-z0-9_]$", code):
        return code, line[m.start() :]
    return line, ""


_CODE_START = re.compile(  # ASCII names only: `class imbalance 常见的处理方法有:` is prose
    r"^(?:class [A-Za-z_]\w*(?:\([^)]*\))?\s*:\s*$|def [A-Za-z_]\w*\(|import [A-Za-z_][\w.]*(?:\s+as\s+\w+)?\s*(?:,|$)"
    r"|from [A-Za-z_][\w.]* import [A-Za-z_*]|@[A-Za-z_])",
    re.A,
)


def _bare_code_run(lines: list[str], i: int) -> tuple[list[str], int, str] | None:
    """Python that lost its fences but kept its indentation: a `def` / `class` / `import` line
    followed by indented lines (blank lines inside kept). Ends at the first line back at the left
    margin that starts no code; a sentence glued to the last line is split off."""
    if not _CODE_START.match(lines[i]):
        return None
    n = len(lines)
    j = i + 1
    last = i
    while j < n:
        line = lines[j]
        if not line.strip():
            j += 1
            continue
        if line[:1] in (" ", "\t") or _CODE_START.match(line):
            last = j
            j += 1
            continue
        break
    if last == i:
        return None
    code = [ln.rstrip() for ln in lines[i : last + 1]]
    code[-1], tail = _split_glued_prose(code[-1])
    return code, last + 1, tail


def _collect_table(lines: list[str], i: int) -> tuple[list[str], int]:
    n = len(lines)
    header = lines[i].strip()
    cells = header.strip("|").count("|") + 1
    rows = [header]
    i += 1
    while i < n:
        s = lines[i].strip()
        if not s:
            break
        if s.startswith("|"):
            row = s
            i += 1
            # a row broken across lines: glue until it has as many cells as the header
            while row.strip("|").count("|") + 1 < cells and i < n and lines[i].strip() and not lines[i].strip().startswith("|"):
                row = row.rstrip() + " " + lines[i].strip()
                if not row.endswith("|"):
                    row += " |"
                i += 1
            # a last cell broken across lines (`| 约 6GB,` / `基座 4bit |`): glue up to the line
            # that closes it, when one of the next three does
            if not row.endswith("|"):
                close = next((k for k in range(i, min(n, i + 3)) if lines[k].strip().endswith("|")), None)
                between = lines[i : close + 1] if close is not None else []
                if between and all(b.strip() and not b.strip().startswith("|") for b in between):
                    row = row.rstrip() + " " + " ".join(b.strip() for b in between)
                    i = close + 1 if close is not None else i
            rows.append(row)
            continue
        break
    return rows, i


def _repair_table_line(row: str) -> str:
    if _TABLE_SEP.match(row):
        return row
    cells = row.strip().strip("|").split("|")
    return "| " + " | ".join(_escape_text(repair_flattened(c.strip())) for c in cells) + " |"


_MD_SPECIAL = re.compile(r"(?<!\\)([<`])")
_DUNDER = re.compile(r"(?<![\w\\])__(\w+?)__(?!\w)")  # `__init__` is a name, not bold


def _escape_text(line: str) -> str:
    """Flat text has no Markdown: escape what Markdown would read, outside formulas and URLs."""
    spans, _ = find_math(line)
    out: list[str] = []
    pos = 0
    for sp in spans:
        out.append(_escape_plain(line[pos : sp.start]))
        out.append(line[sp.start : sp.end])
        pos = sp.end
    out.append(_escape_plain(line[pos:]))
    return "".join(out)


_URL_OR_TEXT = re.compile(r"(https?://\S+)")


_LOOSE_BOLD = re.compile(r"\*\*(?=\S)([^*\n]*?\S)\s+\*\*")


def _escape_plain(seg: str) -> str:
    seg = _LOOSE_BOLD.sub(r"**\1**", seg)  # `**方差为 **`: bold the page meant, not asterisks
    parts = _URL_OR_TEXT.split(seg)
    res = []
    for k, p in enumerate(parts):
        if k % 2 == 1:
            res.append(p)
        else:
            esc = _DUNDER.sub(r"\\_\\_\1\\_\\_", _MD_SPECIAL.sub(r"\\\1", p).replace("$", "\\$"))
            if k == 0:
                esc = re.sub(r"^(\s*)([#=+>])", r"\1\\\2", esc)
            res.append(esc)
    return "".join(res)
