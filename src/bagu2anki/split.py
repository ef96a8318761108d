"""One fact per card: a question that asks several things, whose answer has a part for each,
becomes one atom per part (the minimum information principle).

`Attention如何计算？为什么除以根号 d_k？mask 怎么实现？` answered under three headings, bold
leads, `一、二、三、`, list items that ask, or numbered lines — one part per question, in order — gives three atoms.
Each keeps the whole question as `part_of` (the card shows where it came from), asks its own
part, and answers with its part of the answer; their lines divide the original's lines, so
every line of the notes is still in exactly one atom. Where the parts cannot be matched with
confidence (a different count, parts that do not echo their question) the atom stays whole and
`check -v` keeps its `bundled-questions` note.
"""

from __future__ import annotations

import re
from dataclasses import replace

from bagu2anki.model import Atom, Document

_ASK_END = re.compile(r"[?？]")
_FENCE = re.compile(r"^\s*(```|~~~)")
# The kinds of lines that open a part of an answer, each matched at the start of a line.
_HEADS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("heading", re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")),
    ("bold", re.compile(r"^\*\*([^*\n]{1,60})\*\*\s*[:：]?")),
    ("cn-number", re.compile(r"^[一二三四五六七八九十]+\s*[、.．]\s*(.+)$")),
    ("asking-item", re.compile(r"^[-*+]\s+(.*[?？].*)$")),
    ("number", re.compile(r"^(\d{1,2})\s*[.、)）]\s*(.+)$")),
)
_STOP = frozenset(
    "什么 为什 么是 如何 怎么 么实 实现 是如 何实 是什 为何 哪些 有哪 么要 要用 的区 区别 原理 介绍 一下 作用 什么 "
    "怎样 是否 能否 可以 的作 用是 么样 有什".split()
)


def sub_questions(question: str) -> list[str]:
    """The parts of a question that asks several things, each ending with its question mark."""
    parts = [p.strip(" ，,;；、") + m for p, m in _pairs(question)]
    return [p for p in parts if len(p) > 1] if len(parts) >= 2 else []


def _pairs(question: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    for m in _ASK_END.finditer(question):
        if m.start() > pos:
            out.append((question[pos : m.start()], m.group()))
        pos = m.end()
    return out


def _keys(text: str) -> set[str]:
    """What a question and the head of its answer part share: Chinese character pairs and Latin
    words, question words left out."""
    t = text.lower()
    keys = {w for w in re.findall(r"[a-z][a-z0-9_+-]{1,}", t)}
    for run in re.findall(r"[\u4e00-\u9fff]{2,}", t):
        keys.update(run[k : k + 2] for k in range(len(run) - 1))
    return keys - _STOP


def _heads(answer: str) -> list[tuple[str, int, str, int]]:
    """(kind, line index, head text, heading level or number) of every line that could open a
    part, outside code."""
    found: list[tuple[str, int, str, int]] = []
    fence: str | None = None
    for k, line in enumerate(answer.split("\n")):
        m = _FENCE.match(line)
        if m:
            fence = None if fence == m.group(1) else (fence or m.group(1))
            continue
        if fence:
            continue
        for kind, pattern in _HEADS:
            hm = pattern.match(line)
            if hm:
                rank = len(line) - len(line.lstrip("#")) if kind == "heading" else 0
                if kind == "number":
                    rank = int(hm.group(1))
                found.append((kind, k, hm.group(hm.lastindex or 0), rank))
                break
    return found


def split_atom(atom: Atom, source_lines: list[str]) -> list[Atom]:
    """The atom's parts, or [atom] when it asks one thing or its parts cannot be matched.
    `source_lines` are the note's lines: a part starts only where the notes say what the
    answer says (flat-text repairs and appended footnotes move lines: those stay whole)."""
    if atom.status != "answered" or atom.part_of is not None:
        return [atom]
    asks = sub_questions(atom.question)
    n = len(asks)
    if n < 2:
        return [atom]
    heads = _heads(atom.answer)
    for kind in ("heading", "bold", "cn-number", "asking-item", "number"):
        same = [h for h in heads if h[0] == kind]
        if kind == "heading" and same:
            top = min(h[3] for h in same)
            same = [h for h in same if h[3] == top]
        if len(same) != n:
            continue
        echoed = sum(1 for head, ask in zip(same, asks, strict=True) if _keys(head[2]) & _keys(ask))
        numbered = kind == "cn-number" or (kind == "number" and [h[3] for h in same] == list(range(1, n + 1)))
        if echoed == n or (numbered and echoed >= max(1, n - 1)):
            return _cut(atom, asks, [h[1] for h in same], source_lines)
    return [atom]


def _cut(atom: Atom, asks: list[str], starts: list[int], source_lines: list[str]) -> list[Atom]:
    lines = atom.answer.split("\n")
    # where the answer begins in the notes: its last line is the atom's last line
    first = atom.end_line - len(lines) + 1
    for k in starts[1:]:
        at = first + k - 1  # 0-based index into the note's lines
        if not (atom.line < first + k <= atom.end_line and 0 <= at < len(source_lines)
                and source_lines[at].strip() == lines[k].strip()):
            return [atom]
    parts: list[Atom] = []
    for j, ask in enumerate(asks):
        begin = 0 if j == 0 else starts[j]
        end = starts[j + 1] if j + 1 < len(starts) else len(lines)
        body = "\n".join(lines[begin:end]).strip("\n")
        line = atom.line if j == 0 else first + starts[j]
        last = atom.end_line if j + 1 == len(asks) else first + starts[j + 1] - 1
        parts.append(
            replace(
                atom,
                line=line,
                end_line=max(line, last),
                question=ask,
                answer=body,
                explicit_id=f"{atom.explicit_id}-{j + 1}" if atom.explicit_id else None,
                part_of=atom.question,
                part=j + 1,
            )
        )
    return parts


def split_document(doc: Document, text: str) -> Document:
    """Every question of a read file split into its parts (the file's text gives their lines)."""
    lines = text.split("\n")
    atoms = tuple(part for a in doc.atoms for part in split_atom(a, lines))
    return replace(doc, atoms=atoms) if len(atoms) != len(doc.atoms) else doc
