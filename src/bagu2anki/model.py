"""Frozen records passed between pipeline stages (sources -> atoms -> cards)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Status = Literal["answered", "link_only", "reference", "unanswered"]
Format = Literal["markdown", "text"]


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One decoded note file. `rel` is the path shown to users (relative to the notes root)."""

    path: Path
    rel: str
    text: str
    encoding: str
    format: Format
    root: Path


@dataclass(frozen=True, slots=True)
class Atom:
    """One question with its whole answer, as read from the notes.

    `answer` is the answer's source text as written (after format-specific repair for
    flat text exports, which have no other faithful representation).
    """

    source: str
    line: int
    end_line: int
    section: tuple[str, ...]
    number: str | None
    kind: str | None
    question: str
    answer: str
    status: Status
    explicit_id: str | None = None
    reference: str | None = None
    fmt: Format = "markdown"
    part_of: str | None = None
    """For one part of a question that asked several things (`split.py`): the whole question."""
    part: int = 0
    """Which part (1, 2, …) of `part_of` this atom asks; 0 for a question asked whole."""


@dataclass(frozen=True, slots=True)
class Unattached:
    """Text that belongs to no question: a section preamble or stray lines."""

    source: str
    line: int
    end_line: int
    section: tuple[str, ...]
    text: str


@dataclass(frozen=True, slots=True)
class Document:
    source: SourceFile
    atoms: tuple[Atom, ...]
    unattached: tuple[Unattached, ...]
    chains: tuple[tuple[tuple[str, ...], int], ...] = field(default=())
    """Concept chains stated in prose (`MHA -> GQA -> MLA`), with their line."""
    structure: tuple[int, ...] = field(default=())
    """Lines that are structure, not content: topic headings, section titles, front matter."""


@dataclass(frozen=True, slots=True)
class Card:
    """An atom ready for the deck: identity, concepts and rendered sides."""

    atom: Atom
    guid: str
    concepts: tuple[str, ...]
    main_concept: str | None
    front_html: str
    back_html: str
    deck: str
    tags: tuple[str, ...]
    media: tuple[Path, ...]
    mod: int
    due_rank: int
    prereq_html: str = ""
    related_html: str = ""
    content: str = ""
    """Hash of everything the note shows; its modification time moves only when this changes."""
    fields: tuple[str, ...] = ()
    """The note's fields as Anki stores them (Question, Answer, Prerequisites, Related, Source,
    Section): HTML, with everything taken from the notes escaped and `field_safe`."""


_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def field_safe(text: str) -> str:
    """Text Anki can store in a note field, tag or deck name: no U+001F (Anki's field separator:
    one in a field makes the whole package unimportable) nor other control characters."""
    return _CONTROL_RE.sub("", text) if _CONTROL_RE.search(text) else text
