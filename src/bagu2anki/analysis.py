"""What the reading stage hands on: every note read, its questions and their concepts.

Shared by the stages after it (cards, map, report) and by `pipeline`, which makes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bagu2anki.concepts.catalogue import Catalogue
from bagu2anki.concepts.graph import ConceptGraph
from bagu2anki.model import Atom, Document

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class Analysis:
    """Everything read from the notes, before identities and rendering."""

    documents: tuple[Document, ...]
    """Each file's questions and unattached text; its `source.text` is dropped once parsed (the
    atoms hold what is needed), so neither memory nor the build cache carries every file twice."""
    atoms: tuple[Atom, ...]
    catalogue: Catalogue
    graph: ConceptGraph
    links: tuple[tuple[tuple[str, ...], str | None], ...]
    roots: tuple[tuple[str, Path, Path], ...]  # (source rel, file path, notes root) per document
    acronyms: tuple[tuple[tuple[str, str], ...], ...] = ()  # candidate concepts per atom
    keys: tuple[str, ...] = ()
    """Per document, a digest of its text and of the settings it was read with (its key in the
    build cache): the same key, the same document."""
