"""Readers: SourceFile -> Document, chosen per file format (Markdown or flat text export)."""

from __future__ import annotations

import dataclasses

from bagu2anki.diagnostics import Diagnostics
from bagu2anki.model import Document, SourceFile
from bagu2anki.parse.common import ReadingRules

NO_RULES = ReadingRules()


def read(src: SourceFile, diags: Diagnostics, reading: ReadingRules = NO_RULES) -> Document:
    """`reading`: what the user declared marks a question (`[reading]`); it wins over our rules."""
    if src.format == "text":
        from bagu2anki.parse.textexport import read_text

        return _same_as_nothing(read_text(src, diags, reading))
    from bagu2anki.parse.markdown import read_markdown

    return _same_as_nothing(read_markdown(src, diags, reading))


def _same_as_nothing(doc: Document) -> Document:
    """`同上` with no answered question before it in its file points at nothing: a to-do."""
    answered = False
    changed = False
    atoms = list(doc.atoms)
    for k, a in enumerate(atoms):
        if a.status == "reference" and a.reference == "#^" and not answered:
            atoms[k] = dataclasses.replace(a, status="unanswered", reference=None)
            changed = True
        answered = answered or a.status == "answered"
    return dataclasses.replace(doc, atoms=tuple(atoms)) if changed else doc
