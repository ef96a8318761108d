"""How one note file was read, line by line: `bagu2anki show FILE` and the build's reading pages.

Every line of the file gets the role the reader gave it: a question's line, a follow-up (a part
of a question that asked several things, or a question that follows up on the one before), an
unanswered question (to do), an answer's line, structure (headings and section titles that
only group questions, front matter, separators), or text in no card (section introductions and
stray lines: `Document.unattached`, and anything else no card shows). Blank lines have no role.

The file is read as `build` reads it (`pipeline._parse_one`: the reader, then one atom per
part of a question that asks several things); nothing here prints or writes.
"""

from __future__ import annotations

import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bagu2anki import sources
from bagu2anki.diagnostics import Diagnostics, UserError, counted
from bagu2anki.model import Atom, Document, Format, SourceFile
from bagu2anki.parse import NO_RULES, read
from bagu2anki.parse.common import ReadingRules
from bagu2anki.parse.headings import FOLLOW_UPS
from bagu2anki.split import split_document

Role = Literal["question", "follow-up", "todo", "answer", "structure", "none"]

ROLES: tuple[Role, ...] = ("question", "follow-up", "todo", "answer", "structure", "none")
MARK: dict[Role, str] = {
    "question": "Q",
    "follow-up": "F",
    "todo": "T",
    "answer": "A",
    "structure": "S",
    "none": "N",
}
LABEL: dict[Role, str] = {
    "question": "question",
    "follow-up": "follow-up",
    "todo": "to do (unanswered)",
    "answer": "answer",
    "structure": "section title / structure",
    "none": "in no card",
}


@dataclass(frozen=True, slots=True)
class ShownLine:
    number: int
    """1-based, as diagnostics and `export atoms` count lines."""
    role: Role | None
    """None for a blank line."""
    text: str


@dataclass(frozen=True, slots=True)
class Reading:
    """One file as it was read: its lines with their roles, and the counts of the summary."""

    rel: str
    format: Format
    lines: tuple[ShownLine, ...]
    questions: int
    follow_ups: int
    todo: int

    @property
    def in_no_card(self) -> int:
        return sum(1 for ln in self.lines if ln.role == "none")

    def summary(self) -> str:
        """`9 questions (2 follow-ups), 1 to do, 3 lines in no card`."""
        return summary_of(self.questions, self.follow_ups, self.todo, self.in_no_card)


def summary_of(questions: int, follow_ups: int, todo: int, in_no_card: int) -> str:
    """`Reading.summary`, for the build's pages, which count without making a `Reading`."""
    asked = counted(questions, "question")
    if follow_ups:
        asked += f" ({counted(follow_ups, 'follow-up')})"
    return f"{asked}, {todo} to do, {counted(in_no_card, 'line')} in no card"


def is_follow_up(atom: Atom) -> bool:
    """A part after the first of a question that asked several things, a `追问：` question, or
    one that opens like the next turn of a conversation (`那为什么…？`)."""
    return atom.part >= 2 or atom.kind == "追问" or atom.question.startswith(FOLLOW_UPS)


def question_role(atom: Atom) -> Role:
    if atom.status == "unanswered":
        return "todo"
    return "follow-up" if is_follow_up(atom) else "question"


def _question_end(atom: Atom, lines: Sequence[str]) -> int:
    """The last line of the atom's question: its first line, or more when the answer, counted
    back from the atom's last line, starts further down (a question written over two lines, a
    `?` line between a flashcard's question and answer). The answer's first line must be found
    there, or the question is one line (flat-text repairs and appended footnotes move lines)."""
    body = atom.answer.split("\n")
    if (
        not atom.part_of
        and 0 < atom.line <= len(lines)
        and body[0].strip()
        and lines[atom.line - 1].strip() == body[0].strip()
        and atom.question.strip()[:8] not in lines[atom.line - 1]
    ):
        return atom.line - 1  # the answer starts on the atom's first line: the file's name asks
    first = atom.end_line - len(body) + 1
    if first <= atom.line + 1 or first > len(lines):
        return atom.line
    head = body[0].strip()
    if head and head in lines[first - 1]:
        return first - 1
    return atom.line


def file_lines(text: str) -> list[str]:
    """The lines of a file's text, as diagnostics count them."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the file's final line feed opens no line (and an empty text has none)
    return lines


def roles_of(doc: Document, lines: Sequence[str]) -> list[Role | None]:
    """The role of each of `lines` (`file_lines` of the file `doc` was read from), in order.

    Apart from `line_roles` so that the build's pages, which render thousands of lines a file,
    need not make an object per line."""
    roles: list[Role | None] = [None] * (len(lines) + 1)  # 1-based
    structure = {n for n in doc.structure if 0 < n <= len(lines)}
    for n in structure:
        roles[n] = "structure"
    for u in doc.unattached:
        for n in range(max(1, u.line), min(u.end_line, len(lines)) + 1):
            if roles[n] is None:
                roles[n] = "none"
    for a in doc.atoms:
        asks = question_role(a)
        last_q = _question_end(a, lines)
        for n in range(max(1, a.line), min(a.end_line, len(lines)) + 1):
            if n <= last_q:
                roles[n] = asks
            elif n in structure:
                continue  # a footnote definition, a separator inside the span
            else:
                roles[n] = "none" if a.status == "unanswered" else "answer"
    return [
        (role or "none") if line.strip() else None
        for role, line in zip(roles[1:], lines, strict=True)
    ]


def line_roles(doc: Document, text: str) -> list[ShownLine]:
    """Each line of `text` (the file `doc` was read from) with its role."""
    lines = file_lines(text)
    return [
        ShownLine(n, role, line)
        for n, (role, line) in enumerate(zip(roles_of(doc, lines), lines, strict=True), 1)
    ]


def question_counts(doc: Document) -> tuple[int, int, int]:
    """The questions, follow-ups (answered) and questions to do the summary counts."""
    return (
        len(doc.atoms),
        sum(1 for a in doc.atoms if a.status != "unanswered" and is_follow_up(a)),
        sum(1 for a in doc.atoms if a.status == "unanswered"),
    )


def reading_of(doc: Document, text: str) -> Reading:
    questions, follow_ups, todo = question_counts(doc)
    return Reading(
        rel=doc.source.rel,
        format=doc.source.format,
        lines=tuple(line_roles(doc, text)),
        questions=questions,
        follow_ups=follow_ups,
        todo=todo,
    )


def read_document(
    src: SourceFile, split: bool = True, reading: ReadingRules = NO_RULES
) -> Document:
    """`src` read as `pipeline._parse_one` reads it (tests/test_show.py checks they agree)."""
    doc = read(src, Diagnostics(), reading)
    return split_document(doc, src.text) if split else doc


def load(path: Path, rel: str | None = None, root: Path | None = None) -> SourceFile:
    """The note file at `path`, decoded as `build` decodes it; a `UserError` saying why not."""
    shown = rel or str(path)
    if not path.exists():
        raise UserError(f"{shown}: no such file")
    if path.is_dir():
        raise UserError(f"{shown}: is a folder: show takes one note file")
    if path.suffix.lower() not in sources.NOTE_SUFFIXES:
        raise UserError(f"{shown}: not a note file (.md, .markdown or .txt)")
    try:
        regular = stat.S_ISREG(path.stat().st_mode)
    except OSError as e:
        raise UserError(f"{shown}: cannot read file: {e.strerror}") from e
    if not regular:  # reading a FIFO or a device would never end
        raise UserError(f"{shown}: not a regular file (a FIFO, device or socket)")
    diags = Diagnostics()
    found = sources.Found(path, rel or sources.display_name(path.name), root or path.parent)
    src = sources.load(found, diags)
    if src is None:
        why = next((d.message for d in diags.items), "cannot read file")
        raise UserError(f"{shown}: {why}")
    return src


def show_file(path: Path, split: bool = True) -> Reading:
    """`bagu2anki show FILE`: the file's lines with their roles."""
    src = load(path)
    return reading_of(read_document(src, split), src.text)
