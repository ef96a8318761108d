"""Readers: SourceFile -> Document, chosen per file format (Markdown or flat text export)."""

from __future__ import annotations

from bagu2anki.diagnostics import Diagnostics
from bagu2anki.model import Document, SourceFile


def read(src: SourceFile, diags: Diagnostics) -> Document:
    if src.format == "text":
        from bagu2anki.parse.textexport import read_text

        return read_text(src, diags)
    from bagu2anki.parse.markdown import read_markdown

    return read_markdown(src, diags)
