"""Cards -> `.apkg` (Anki's schema and note type JSON from genanki), with pinned identities and byte-for-byte reproducible output.

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
import re
import shutil
import sqlite3
import sys
import tempfile
import zipfile
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from bagu2anki.diagnostics import Diagnostics
from bagu2anki.images import media_name
from bagu2anki.lockfile import seen_in
from bagu2anki.model import Card

if TYPE_CHECKING:  # genanki is imported where the deck is written (the deck's own thread)
    import genanki

MODEL_ID = 1_742_026_118
MODEL_NAME = "bagu2anki 问答"
FIELDS = ("Question", "Answer", "Prerequisites", "Related", "Source", "Section")
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
# zlib level for the package. Measured on the 10,000-question benchmark's 39.7 MB collection
# (CPU s to compress / MB): level 1 0.16 / 5.54, 2 0.16 / 5.32, 3 0.18 / 5.08, 4 0.24 / 4.52,
# 6 (zlib's default, used before) 0.35 / 4.03, 9 0.84 / 3.97. Levels 1-3 are zlib's fast
# strategy; 2 costs what 1 does and is 4% smaller: less than half the time of 6 for a package
# a third larger (Anki unpacks either in a blink).
ZIP_LEVEL = 2


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
    import genanki

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


def _shows_anything(fragment: str) -> bool:
    """Visible text, an image, a formula or a drawing in an HTML fragment (`<ol><li></li></ol>`
    from an answer that was only `8.` shows nothing). Markup alone is short: a longer fragment is
    not read through (the deck's answers are tens of megabytes)."""
    if len(fragment) > 1024:
        return True
    if re.search(r"<(?:img|svg|math|video|audio|iframe)\b", fragment, re.I):
        return True
    return bool(seen_in(fragment)[0])


def deck_id(name: str) -> int:
    return int(hashlib.sha256(("bagu2anki-deck:" + name).encode()).hexdigest()[:12], 16) + (1 << 40)


def _tables(conn: sqlite3.Connection, decks: Sequence[genanki.Deck], model: genanki.Model, timestamp: int) -> None:
    """Anki's schema and `col` row (from genanki), with every deck and the note type written once.

    genanki's own Package rewrites the whole `decks` JSON once per deck, which is quadratic in
    the number of decks (a thousand section decks took seconds); the rows are the same.
    """
    from genanki.apkg_col import APKG_COL
    from genanki.apkg_schema import APKG_SCHEMA

    conn.executescript(APKG_SCHEMA)
    conn.executescript(APKG_COL)
    (decks_json,) = conn.execute("SELECT decks FROM col").fetchone()
    (models_json,) = conn.execute("SELECT models FROM col").fetchone()
    decks_table = json.loads(decks_json)
    models_table = json.loads(models_json)
    for deck in decks:
        decks_table[str(deck.deck_id)] = deck.to_json()
    if decks:
        models_table[str(model.model_id)] = model.to_json(float(timestamp), decks[0].deck_id)
    conn.execute("UPDATE col SET decks = ?, models = ?", (json.dumps(decks_table), json.dumps(models_table)))


def write_apkg(
    cards: Sequence[Card],
    out: Path,
    extra_css: str,
    diags: Diagnostics,
    notetype_mod: int,
    description: str = "",
    workdir: Path | None = None,
) -> None:
    """One note and one new card per `Card`, grouped by deck (decks in name order).

    The rows are the ones genanki's Note would write (one template, so one card per note),
    inserted in bulk: ids count from the note type time, so the same notes give the same ids
    and a fresh file written in a fixed order gives the same bytes.
    """
    import genanki

    model = build_model(extra_css)
    by_deck: dict[str, list[Card]] = defaultdict(list)
    media: dict[str, Path] = {}
    for card in cards:
        if not card.front_html.strip():  # Anki would make no card from an empty front
            diags.warning(card.atom.source, card.atom.line, "empty question: left out of the deck", "empty-front")
            continue
        if not card.media and not _shows_anything(card.back_html):
            diags.warning(card.atom.source, card.atom.line, "its answer shows nothing (only markup): left out of the deck", "empty-back")
            continue
        by_deck[card.deck].append(card)
        for p in card.media:
            media.setdefault(media_name(p), p)
    names = sorted(by_deck)
    decks = [genanki.Deck(deck_id(name), name, description=description) for name in names]
    ids = itertools.count(notetype_mod * 1000)
    card_rows: list[tuple[object, ...]] = []

    def note_rows() -> Iterator[tuple[object, ...]]:
        """One row per note, made as SQLite takes it (the joined fields are never all held)."""
        for name, deck in zip(names, decks, strict=True):
            for card in by_deck[name]:
                fields = card.fields
                nid = next(ids)
                tags = " " + " ".join(card.tags) + " "
                yield (nid, card.guid, MODEL_ID, card.mod, -1, tags, "\x1f".join(fields), fields[0], 0, 0, "")
                # id, nid, did, ord, mod, usn, type, queue, due, ivl, factor, reps, lapses, left, odue, odid, flags, data
                card_rows.append((next(ids), nid, deck.deck_id, 0, card.mod, -1, 0, 0, card.due_rank, 0, 0, 0, 0, 0, 0, 0, 0, ""))

    with tempfile.TemporaryDirectory(prefix="b2a-deck-", dir=workdir) as tmp:
        db = Path(tmp) / "collection.anki2"
        _write_collection(db, decks, model, notetype_mod, note_rows(), card_rows)
        _write_zip(db, [(name, media[name]) for name in sorted(media)], out)


def _write_collection(
    db: Path,
    decks: Sequence[genanki.Deck],
    model: genanki.Model,
    timestamp: int,
    notes: Iterable[tuple[object, ...]],
    cards: Iterable[tuple[object, ...]],
) -> None:
    """`cards` is read after `notes` is exhausted (the note rows fill it as they go)."""
    conn = sqlite3.connect(db)
    try:
        # A scratch file, zipped and removed: no journal, no waiting for the disk. The bytes
        # written are the same either way (tests compare builds byte for byte).
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        _tables(conn, decks, model, timestamp)
        conn.executemany("INSERT INTO notes VALUES(?,?,?,?,?,?,?,?,?,?,?)", notes)
        conn.executemany("INSERT INTO cards VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", cards)
        conn.commit()
    finally:
        conn.close()


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
        with zipfile.ZipFile(part, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=ZIP_LEVEL) as zout:
            for name, data in entries:
                info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                if sys.version_info >= (3, 13):
                    info.compress_level = ZIP_LEVEL
                else:  # the same attribute, private before 3.13
                    info._compresslevel = ZIP_LEVEL  # type: ignore[attr-defined]
                info.external_attr = 0o644 << 16
                if isinstance(data, bytes):
                    zout.writestr(info, data)
                    continue
                with data.open("rb") as src, zout.open(info, "w") as dst:  # a MiB at a time: the
                    shutil.copyfileobj(src, dst, 1 << 20)  # collection is never held whole
        os.replace(part, out)
    finally:
        part.unlink(missing_ok=True)
