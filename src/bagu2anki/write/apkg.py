"""Cards -> `.apkg` through genanki, with pinned identities and byte-for-byte reproducible output.

genanki would hash all fields into the GUID, stamp every note with one build time, zip with
wall-clock times and order media through a set; we pass our own GUIDs, give each note its own
modification time (from the lock file), fix the package timestamp and rewrite the zip with
fixed entry times in a fixed order.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import sqlite3
import tempfile
import warnings
import zipfile
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import genanki

from bagu2anki.diagnostics import Diagnostics
from bagu2anki.model import Card
from bagu2anki.render import media_name
from bagu2anki.sources import file_title

MODEL_ID = 1_742_026_118
MODEL_NAME = "bagu2anki 问答"
FIELDS = ("Question", "Answer", "Prerequisites", "Related", "Source", "Section")
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def template_text(name: str) -> str:
    return resources.files("bagu2anki.templates").joinpath(name).read_text(encoding="utf-8")


def notetype_digest(extra_css: str) -> str:
    """Changes whenever the note type Anki sees changes (templates, CSS, fields, name)."""
    h = hashlib.sha256()
    for part in (MODEL_NAME, *FIELDS, template_text("front.html"), template_text("back.html"),
                 template_text("card.css"), extra_css):
        h.update(part.encode())
        h.update(b"\x00")
    return h.hexdigest()[:20]


def build_model(extra_css: str) -> genanki.Model:
    return genanki.Model(
        MODEL_ID,
        MODEL_NAME,
        fields=[{"name": f, "font": "Arial"} for f in FIELDS],
        templates=[
            {
                "name": "问答",
                "qfmt": template_text("front.html"),
                "afmt": template_text("back.html"),
            }
        ],
        css=template_text("card.css") + "\n" + extra_css,
        sort_field_index=0,
    )


def deck_id(name: str) -> int:
    return int(hashlib.sha256(("bagu2anki-deck:" + name).encode()).hexdigest()[:12], 16) + (1 << 40)


class _Note(genanki.Note):  # type: ignore[misc]
    """A note that carries its own modification time instead of the package's."""

    def __init__(self, *args: Any, mod: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.b2a_mod = mod

    def write_to_db(self, cursor: Any, timestamp: float, deck_id: int, id_gen: Any) -> None:
        super().write_to_db(cursor, float(self.b2a_mod), deck_id, id_gen)


class _Package(genanki.Package):  # type: ignore[misc]
    """genanki's Package, writing the deck and note type tables once instead of once per deck.

    genanki rewrites the whole `decks` and `models` JSON for every deck, which is quadratic in
    the number of decks (a thousand section decks took seconds); the rows are the same.
    """

    def write_to_db(self, cursor: Any, timestamp: float, id_gen: Any) -> None:
        from genanki.apkg_col import APKG_COL
        from genanki.apkg_schema import APKG_SCHEMA

        cursor.executescript(APKG_SCHEMA)
        cursor.executescript(APKG_COL)
        (decks_json,) = cursor.execute("SELECT decks FROM col").fetchone()
        (models_json,) = cursor.execute("SELECT models FROM col").fetchone()
        decks_table = json.loads(decks_json)
        models_table = json.loads(models_json)
        for deck in self.decks:
            decks_table[str(deck.deck_id)] = deck.to_json()
            for note in deck.notes:
                if str(note.model.model_id) not in models_table:
                    models_table[str(note.model.model_id)] = note.model.to_json(timestamp, deck.deck_id)
        cursor.execute("UPDATE col SET decks = ?, models = ?", (json.dumps(decks_table), json.dumps(models_table)))
        for deck in self.decks:
            for note in deck.notes:
                note.write_to_db(cursor, timestamp, deck.deck_id, id_gen)


def write_apkg(
    cards: Sequence[Card],
    out: Path,
    extra_css: str,
    diags: Diagnostics,
    notetype_mod: int,
    description: str = "",
) -> None:
    model = build_model(extra_css)
    decks: dict[str, genanki.Deck] = {}
    media: dict[str, Path] = {}
    for card in cards:
        deck = decks.get(card.deck)
        if deck is None:
            deck = genanki.Deck(deck_id(card.deck), card.deck, description=description)
            decks[card.deck] = deck
        a = card.atom
        fields = [
            card.front_html,
            card.back_html,
            card.prereq_html,
            card.related_html,
            f"{a.source}:{a.line}",
            " › ".join(a.section) or file_title(a.source),
        ]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            note = _Note(
                model=model,
                fields=fields,
                tags=list(card.tags),
                guid=card.guid,
                due=card.due_rank,
                mod=card.mod,
            )
            _ = note.cards
        for w in caught:
            diags.warning(a.source, a.line, f"Anki note: {w.message}", "genanki")
        deck.add_note(note)
        for p in card.media:
            media.setdefault(media_name(p), p)
    package = _Package([decks[k] for k in sorted(decks)])
    with tempfile.TemporaryDirectory(prefix="b2a-deck-") as tmp:
        db = Path(tmp) / "collection.anki2"
        conn = sqlite3.connect(db)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            # what genanki's write_to_file does, minus its own zip: ids count from the
            # note type time, so the same notes give the same ids
            package.write_to_db(conn.cursor(), float(notetype_mod), itertools.count(notetype_mod * 1000))
        for w in caught:
            diags.warning(str(out), None, f"genanki: {w.message}", "genanki")
        conn.commit()  # a fresh file written in a fixed order: the same notes give the same bytes
        conn.close()
        _write_zip(db, [(name, media[name]) for name in sorted(media)], out)


def _write_zip(db: Path, media: Sequence[tuple[str, Path]], out: Path) -> None:
    """The `.apkg`: the collection, the media map, the media files; fixed times and order.

    Written beside the target and moved over it, so an interrupted build leaves the old deck.
    """
    names = {str(i): name for i, (name, _path) in enumerate(media)}
    part = out.with_name(out.name + ".part")
    out.parent.mkdir(parents=True, exist_ok=True)
    entries: list[tuple[str, Path | bytes]] = [
        ("collection.anki2", db),
        ("media", json.dumps(names, sort_keys=True).encode()),
        *((str(i), path) for i, (_name, path) in enumerate(media)),
    ]
    try:
        with zipfile.ZipFile(part, "w", compression=zipfile.ZIP_DEFLATED) as zout:
            for name, data in entries:
                info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                zout.writestr(info, data if isinstance(data, bytes) else data.read_bytes())
        os.replace(part, out)
    finally:
        part.unlink(missing_ok=True)
