"""`bagu2anki sync`: build, then make a running Anki hold what the built deck holds.

The deck goes in through AnkiConnect's `importPackage`, i.e. Anki's own importer: GUIDs, the
note type, decks and media arrive in one call, and a note is updated in place only when the
package's copy is newer (the lock file moves a note's modification time exactly when what it
shows changed), so review history is never touched. What the importer leaves alone is done
around it:

- decks: an existing card stays in its deck on import, so cards whose deck is not the one the
  notes give are moved (`changeDeck`) — decks follow the notes;
- orphans: notes this notes folder made (their GUIDs are in the lock file) that the build no
  longer makes are tagged `bagu2anki::orphan` (and suspended with `--suspend-orphans`); never
  deleted. A question that comes back loses the tag.

AnkiConnect does not tell a note's GUID, so what Anki holds is read from a package Anki exports
itself (`exportPackage`, without scheduling) of the top-level decks holding notes of our note
type: GUID, note id, modification time, fields, tags, and each card's home deck.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
import time
import unicodedata
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bagu2anki.ankiconnect import AnkiConnect, AnkiConnectError, Target
from bagu2anki.config import Config
from bagu2anki.diagnostics import UserError, clip, counted
from bagu2anki.lockfile import Lock
from bagu2anki.write.apkg import MODEL_ID, MODEL_NAME

if TYPE_CHECKING:
    from bagu2anki.pipeline import BuildResult

ORPHAN_TAG = "bagu2anki::orphan"
WORK_PREFIX = ".bagu2anki-sync-"


# --- what a package holds ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NoteState:
    """One note as a collection holds it (the built deck's, or what Anki exported)."""

    guid: str
    nid: int
    mod: int
    fields: str
    tags: frozenset[str]
    """Casefolded, as Anki compares tags."""
    cards: tuple[tuple[int, str], ...]
    """(card id, home deck: the deck it returns to from a filtered deck)."""


@dataclass(frozen=True, slots=True)
class Held:
    """What a package holds: its notes by GUID, and when each note type last changed."""

    notes: dict[str, NoteState]
    notetypes: dict[int, int]
    """Note type id -> modification time."""


def deck_key(name: str) -> str:
    """Deck names as Anki tells them apart: case-insensitive, NFC, no spaces around `::`."""
    return "::".join(p.strip() for p in unicodedata.normalize("NFC", name).casefold().split("::"))


def _same_text(a: str, b: str) -> bool:
    return a == b or unicodedata.normalize("NFC", a) == unicodedata.normalize("NFC", b)


def read_package(apkg: Path, workdir: Path) -> Held:
    """Every note of an `.apkg` (ours, or one Anki exported), by GUID, and its note types."""
    with tempfile.TemporaryDirectory(prefix="read-", dir=workdir) as tmp:
        try:
            with zipfile.ZipFile(apkg) as z:
                names = set(z.namelist())
                inner = next((n for n in ("collection.anki21", "collection.anki2") if n in names), None)
                if inner is None:
                    raise AnkiConnectError(
                        f"{apkg}: no collection in this package that bagu2anki can read "
                        f"({', '.join(sorted(n for n in names if n.startswith('collection'))) or 'none'})"
                    )
                db = Path(z.extract(inner, tmp))
        except (OSError, zipfile.BadZipFile) as e:
            raise AnkiConnectError(f"{apkg}: cannot read the package ({e})") from e
        return _read_collection(db)


def _read_collection(db: Path) -> Held:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        decks, notetypes = _decks_and_notetypes(conn)
        cards: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for cid, nid, did, odid in conn.execute("SELECT id, nid, did, odid FROM cards ORDER BY ord, id"):
            home = odid or did
            cards[nid].append((cid, decks.get(home, str(home))))
        out: dict[str, NoteState] = {}
        for nid, guid, mod, tags, flds in conn.execute("SELECT id, guid, mod, tags, flds FROM notes"):
            out[guid] = NoteState(
                guid, nid, mod, flds, frozenset(t.casefold() for t in tags.split()), tuple(cards[nid])
            )
        return Held(out, notetypes)
    finally:
        conn.close()


def _decks_and_notetypes(conn: sqlite3.Connection) -> tuple[dict[int, str], dict[int, int]]:
    """Deck names by id, note type modification times by id; in either schema."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "decks" in tables and "notetypes" in tables:  # the newer schema: names joined by U+001F
        decks = {did: name.replace("\x1f", "::") for did, name in conn.execute("SELECT id, name FROM decks")}
        return decks, dict(conn.execute("SELECT id, mtime_secs FROM notetypes").fetchall())
    decks_json, models_json = conn.execute("SELECT decks, models FROM col").fetchone()
    decks = {int(did): d["name"] for did, d in json.loads(decks_json or "{}").items()}
    models = {int(mid): int(m.get("mod", 0)) for mid, m in json.loads(models_json or "{}").items()}
    return decks, models


def anki_state(client: AnkiConnect, workdir: Path) -> Held:
    """What Anki holds in the top-level decks where notes of our note type are."""
    query = f'"note:{MODEL_NAME}" OR mid:{MODEL_ID}'
    cids = client.call("findCards", query=query)
    if not cids:
        return Held({}, {})
    decks = client.call("getDecks", cards=cids)
    tops = sorted({name.split("::")[0] for name in decks})
    state = Held({}, {})
    for k, top in enumerate(tops):
        path = workdir / f"anki-{k}.apkg"
        if not client.call("exportPackage", deck=top, path=str(path), includeSched=False) or not path.is_file():
            raise AnkiConnectError(
                f"Anki could not export the deck '{clip(top, 60)}' to {path}, which sync reads to "
                "learn what Anki holds: does Anki run on this machine, as this user?"
            )
        held = read_package(path, workdir)
        state.notes.update(held.notes)
        state.notetypes.update(held.notetypes)
        path.unlink()
    return state


# --- the plan ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Plan:
    """What a sync does, by GUID; `added + updated + moved + kept + unchanged` is the deck."""

    added: tuple[str, ...]
    updated: tuple[str, ...]
    moved: tuple[str, ...]
    """In another deck than the notes say (also when their text changed)."""
    kept: tuple[str, ...]
    """Edited in Anki after the notes last changed: Anki's importer keeps Anki's version."""
    unchanged: tuple[str, ...]
    orphaned: tuple[str, ...]
    """Gone from the notes and not yet tagged in Anki."""
    orphans: tuple[str, ...]
    """Every note gone from the notes that Anki holds (tagged now or before)."""
    revived: tuple[str, ...]
    """Tagged as orphans before, back in the notes now."""
    moves: tuple[tuple[str, tuple[int, ...]], ...]
    """(deck, card ids) to move there."""
    orphan_notes: tuple[int, ...]
    orphan_cards: tuple[int, ...]
    revived_notes: tuple[int, ...]
    revived_cards: tuple[int, ...]
    to_import: bool
    """Whether the import has anything to do: notes to add or update, a newer note type."""


def _same(built: NoteState, held: NoteState) -> bool:
    return _same_text(built.fields, held.fields) and built.tags == held.tags - {ORPHAN_TAG}


def make_plan(
    package: Mapping[str, NoteState],
    anki: Mapping[str, NoteState],
    ours: Iterable[str],
    notetypes: tuple[Mapping[int, int], Mapping[int, int]] = ({}, {}),
) -> Plan:
    """Compare the built deck with what Anki holds. `ours`: every GUID these notes ever made
    (the lock file), so that notes of other folders or made by hand are never touched;
    `notetypes`: the note types' modification times in the package and in Anki."""
    added: list[str] = []
    updated: list[str] = []
    moved: list[str] = []
    kept: list[str] = []
    unchanged: list[str] = []
    revived: list[str] = []
    moves: dict[str, list[int]] = defaultdict(list)
    names: dict[str, str] = {}
    behind = 0
    for guid, built in package.items():
        held = anki.get(guid)
        if held is None:
            added.append(guid)
            continue
        if ORPHAN_TAG in held.tags:
            revived.append(guid)
        same = _same(built, held)
        behind += not same and held.mod < built.mod
        deck = built.cards[0][1] if built.cards else ""
        wrong = [cid for cid, home in held.cards if deck and deck_key(home) != deck_key(deck)]
        if wrong:
            moves[deck_key(deck)].extend(wrong)
            names.setdefault(deck_key(deck), deck)
            moved.append(guid)
        elif same:
            unchanged.append(guid)
        elif held.mod < built.mod:
            updated.append(guid)
        else:
            kept.append(guid)
    orphans = sorted(g for g in set(ours) - set(package) if g in anki)
    orphaned = [g for g in orphans if ORPHAN_TAG not in anki[g].tags]
    return Plan(
        added=tuple(added),
        updated=tuple(updated),
        moved=tuple(moved),
        kept=tuple(kept),
        unchanged=tuple(unchanged),
        orphaned=tuple(orphaned),
        orphans=tuple(orphans),
        revived=tuple(revived),
        moves=tuple((names[k], tuple(sorted(cids))) for k, cids in sorted(moves.items())),
        orphan_notes=tuple(anki[g].nid for g in orphaned),
        orphan_cards=tuple(cid for g in orphans for cid, _ in anki[g].cards),
        revived_notes=tuple(anki[g].nid for g in revived),
        revived_cards=tuple(cid for g in revived for cid, _ in anki[g].cards),
        to_import=bool(added) or behind > 0 or any(
            mod > notetypes[1].get(mid, -1) for mid, mod in notetypes[0].items()
        ),
    )


@dataclass(frozen=True, slots=True)
class SyncReport:
    plan: Plan
    url: str
    seconds: float
    """Time spent with Anki: reading its state, the import, decks and tags."""
    suspended: bool

    def summary(self) -> str:
        p = self.plan
        parts = [
            f"{len(p.added)} added",
            f"{len(p.updated)} updated",
            f"{len(p.moved)} moved",
            f"{len(p.orphaned)} orphaned" + (" and suspended" if self.suspended and p.orphaned else ""),
            f"{len(p.unchanged)} unchanged",
        ]
        if p.kept:
            parts.append(f"{len(p.kept)} kept as edited in Anki")
        if p.revived:
            parts.append(f"{len(p.revived)} back from orphan")
        return f"Anki: {', '.join(parts)} ({self.seconds:.1f} s)"

    def details(self, lock: Lock) -> list[str]:
        """One line per note that changed: what happened, where it comes from, its question."""
        lines = []
        p = self.plan
        for what, guids in (("added", p.added), ("updated", p.updated), ("moved", p.moved),
                            ("kept", p.kept), ("orphaned", p.orphaned), ("back", p.revived)):
            for g in guids:
                e = lock.entries.get(g)
                where, question = (e.source, e.question) if e is not None else (g, "")
                lines.append(f"  {what:<8} {where}  {clip(question, 50)}".rstrip())
        return lines


def push(client: AnkiConnect, apkg: Path, lock_path: Path, workdir: Path) -> SyncReport:
    """Make Anki hold what `apkg` holds (the deck a build just wrote beside `lock_path`)."""
    start = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix=WORK_PREFIX, dir=workdir)).resolve()
    try:
        package = read_package(apkg, work)
        ours = set(Lock.load(lock_path).entries) | set(package.notes)
        anki = anki_state(client, work)
        plan = make_plan(package.notes, anki.notes, ours, (package.notetypes, anki.notetypes))
        if plan.to_import:
            client.call("importPackage", path=str(apkg.resolve()))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    suspend = client.target.suspend_orphans
    actions: list[tuple[str, dict[str, Any]]] = [
        ("changeDeck", {"cards": list(cids), "deck": deck}) for deck, cids in plan.moves
    ]
    if plan.orphan_notes:
        actions.append(("addTags", {"notes": list(plan.orphan_notes), "tags": ORPHAN_TAG}))
    if suspend and plan.orphan_cards:
        actions.append(("suspend", {"cards": list(plan.orphan_cards)}))
    if plan.revived_notes:
        actions.append(("removeTags", {"notes": list(plan.revived_notes), "tags": ORPHAN_TAG}))
        if suspend:
            actions.append(("unsuspend", {"cards": list(plan.revived_cards)}))
    client.multi(actions)
    return SyncReport(plan, client.url, time.perf_counter() - start, suspend)


# --- the command ------------------------------------------------------------------------------


Progress = Callable[[str, int, int], None]


def _quiet(stage: str, done: int, total: int) -> None:
    return None


def build_outputs(cfg: Config, progress: Progress = _quiet) -> BuildResult:
    """`pipeline.build`, with an output that cannot be written told as one line (as `build`)."""
    from bagu2anki.pipeline import build
    from bagu2anki.write.staging import STAGING_NAME

    try:
        return build(cfg, progress)
    except OSError as e:
        where = str(e.filename2 or e.filename or cfg.out)
        if STAGING_NAME in where:
            where = str(cfg.out)
        raise UserError(
            f"{where}: cannot write the build output ({e.strerror or e}); the previous outputs and "
            "the lock file are as they were"
        ) from e


def deck_file(outputs: Iterable[Path]) -> Path:
    return next(p for p in outputs if p.suffix == ".apkg")


def built_line(result: BuildResult) -> str:
    """One line for a build: cards written and problems found."""
    diags = result.diagnostics
    n_cards = len(result.cards) - result.concept_cards
    return (
        f"built {deck_file(result.outputs)}: {counted(n_cards, 'question card')} + "
        f"{counted(result.concept_cards, 'concept card')}; {counted(diags.errors, 'error')}, "
        f"{counted(diags.warnings, 'warning')}"
    )


@dataclass(frozen=True, slots=True)
class SyncOutcome:
    result: BuildResult
    report: SyncReport | None
    """None when the build had errors (or warnings with --strict): nothing was sent."""


def sync(cfg: Config, target: Target, progress: Progress = _quiet) -> SyncOutcome:
    """Check that Anki answers, build (incrementally, as `build`), then push the deck."""
    client = AnkiConnect(target)
    client.check()  # before building: a sync with no Anki to talk to fails at once, in one line
    result = build_outputs(cfg, progress)
    if result.diagnostics.failed(cfg.strict):
        return SyncOutcome(result, None)
    report = push(client, deck_file(result.outputs), cfg.lock_path(), cfg.out)
    return SyncOutcome(result, report)
