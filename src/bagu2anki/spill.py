"""Answers parked on disk while `export atoms` streams, so its memory does not grow with the notes.

Identities, references and concept links need every question at once; the answers are only
needed one chunk at a time, when they are rendered and printed. `AnswerPark.doc()` swaps each
answer for its first 80 characters (all an identity may use) as the file's results arrive, and
`full()` gives the atom back whole.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from types import TracebackType
from typing import IO

from bagu2anki.model import Atom, Document

STUB_CHARS = 80


class AnswerPark:
    def __init__(self) -> None:
        self._file: IO[bytes] = tempfile.TemporaryFile(prefix="bagu2anki-answers-")
        self._where: dict[tuple[str, int], tuple[int, int]] = {}

    def __enter__(self) -> AnswerPark:
        return self

    def __exit__(self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None) -> None:
        self._file.close()

    def doc(self, doc: Document) -> Document:
        return replace(doc, atoms=tuple(self._park(a) for a in doc.atoms))

    def _park(self, atom: Atom) -> Atom:
        if len(atom.answer) <= STUB_CHARS:
            return atom
        data = atom.answer.encode("utf-8", "surrogatepass")
        offset = self._file.seek(0, 2)
        self._file.write(data)
        self._where[(atom.source, atom.line)] = (offset, len(data))
        return replace(atom, answer=atom.answer[:STUB_CHARS])

    def full(self, atom: Atom) -> Atom:
        where = self._where.get((atom.source, atom.line))
        if where is None:
            return atom
        self._file.seek(where[0])
        return replace(atom, answer=self._file.read(where[1]).decode("utf-8", "surrogatepass"))
