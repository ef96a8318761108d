"""Stable note identity across edits: atoms + lock file -> GUIDs and modification times.

The lock file (`bagu2anki.lock`, JSON, sorted, one entry per note) sits next to the notes
folder and is committed by the user. Matching order: an explicit `<!-- id: … -->` in the
notes; the same question (normalised) as before; for questions that are new, a vanished
question of the same section, then any vanished one, by fuzzy similarity (rapidfuzz) —
ambiguous matches are reported and get a new GUID rather than a guess.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import re
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rapidfuzz import fuzz

from bagu2anki.diagnostics import Diagnostics, UserError, clip
from bagu2anki.model import Atom

LOCK_VERSION = 1
LOCK_NAME = "bagu2anki.lock"
FUZZY_MIN = 72.0
FUZZY_MARGIN = 4.0
_PUNCT_RE = re.compile(r"[\s\W_]+", re.UNICODE)


def fingerprint(atom: Atom) -> str:
    """The question as a person would recognise it: no spacing, case, width or punctuation."""
    q = unicodedata.normalize("NFKC", atom.question).lower()
    return _PUNCT_RE.sub("", q) or _PUNCT_RE.sub("", unicodedata.normalize("NFKC", atom.answer)[:80])


def short_hash(text: str, n: int = 10) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:n]


def guid_for(seed: str) -> str:
    return "b2a" + short_hash(seed, 12)


@dataclass(frozen=True, slots=True)
class LockEntry:
    guid: str
    fingerprint: str
    question: str
    source: str
    section: str
    content: str
    changed: int
    orphan: bool = False


@dataclass
class Lock:
    entries: dict[str, LockEntry] = field(default_factory=dict)
    path: Path | None = None
    notetype: tuple[str, int] | None = None
    """(digest of the note type's templates and CSS, when that last changed)."""

    @classmethod
    def load(cls, path: Path | None) -> Lock:
        if path is None or not path.exists():
            return cls({}, path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise UserError(
                f"{path}: the lock file cannot be read ({e}). It keeps your cards' identities: "
                f"restore it from git (`git checkout -- {path.name}`), or move it away to start "
                "fresh identities (re-imported notes then become new cards)."
            ) from e
        if not isinstance(data, dict) or data.get("tool") != "bagu2anki":
            raise UserError(f"{path}: not a bagu2anki lock file (no \"tool\": \"bagu2anki\").")
        version = data.get("version")
        if version != LOCK_VERSION:
            raise UserError(
                f"{path}: lock file version {version!r}; this bagu2anki reads version {LOCK_VERSION}. "
                "Upgrade bagu2anki, or restore the lock file from git."
            )
        notes = data.get("notes")
        if not isinstance(notes, dict):
            raise UserError(f"{path}: lock file has no \"notes\" table; restore it from git.")
        entries: dict[str, LockEntry] = {}
        for guid, item in notes.items():
            try:
                entries[guid] = LockEntry(
                    guid=str(guid),
                    fingerprint=str(item["fingerprint"]),
                    question=str(item.get("question", "")),
                    source=str(item.get("source", "")),
                    section=str(item.get("section", "")),
                    content=str(item["content"]),
                    changed=int(item["changed"]),
                    orphan=bool(item.get("orphan", False)),
                )
            except (KeyError, TypeError, ValueError) as err:
                raise UserError(
                    f"{path}: entry {guid!r} is damaged ({err!r}); fix or remove that entry, "
                    "or restore the file from git."
                ) from err
        nt = data.get("notetype")
        notetype = None
        if isinstance(nt, dict) and isinstance(nt.get("digest"), str) and isinstance(nt.get("changed"), int):
            notetype = (nt["digest"], nt["changed"])
        return cls(entries, path, notetype)

    def dumps(self) -> str:
        notes = {
            g: {
                "fingerprint": e.fingerprint,
                "question": e.question,
                "source": e.source,
                "section": e.section,
                "content": e.content,
                "changed": e.changed,
                **({"orphan": True} if e.orphan else {}),
            }
            for g, e in sorted(self.entries.items())
        }
        body: dict[str, object] = {"tool": "bagu2anki", "version": LOCK_VERSION, "notes": notes}
        if self.notetype is not None:
            body["notetype"] = {"digest": self.notetype[0], "changed": self.notetype[1]}
        return json.dumps(body, ensure_ascii=False, indent=1, sort_keys=True) + "\n"

    def save(self, path: Path, text: str | None = None) -> None:
        """Write `text` (default: `dumps()`), unless the file already says exactly that."""
        text = self.dumps() if text is None else text
        if path.exists() and path.read_text(encoding="utf-8") == text:
            return
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)


@dataclass(frozen=True, slots=True)
class Identity:
    guids: tuple[str, ...]  # one per atom, same order
    matched: tuple[tuple[str, str], ...]  # (guid, how) for atoms that inherited a GUID by fuzzy match
    orphans: tuple[LockEntry, ...]


def assign(atoms: Sequence[Atom], lock: Lock, diags: Diagnostics) -> Identity:
    n = len(atoms)
    guids: list[str | None] = [None] * n
    used: set[str] = set()
    fps = [fingerprint(a) for a in atoms]
    live = {g: e for g, e in lock.entries.items() if not g.startswith("b2a-concept-")}

    # 1. explicit ids written in the notes
    seen_explicit: dict[str, int] = {}
    for i, a in enumerate(atoms):
        if a.explicit_id:
            g = guid_for("id:" + a.explicit_id)
            if g in used:
                other = atoms[seen_explicit[a.explicit_id]]
                diags.error(
                    a.source,
                    a.line,
                    f"id '{a.explicit_id}' is used twice (also at {other.source}:{other.line}); ids must be unique",
                    "duplicate-id",
                )
                continue
            seen_explicit[a.explicit_id] = i
            guids[i] = g
            used.add(g)

    # 2. the same question as before (several equal questions keep their order)
    by_fp: dict[str, list[LockEntry]] = {}
    for e in sorted(live.values(), key=lambda e: (e.source, e.guid)):
        by_fp.setdefault(e.fingerprint, []).append(e)
    for i in range(n):
        if guids[i] is not None:
            continue
        cands = [e for e in by_fp.get(fps[i], []) if e.guid not in used]
        if cands:
            same_src = [e for e in cands if e.source.split(":")[0] == atoms[i].source]
            pick = (same_src or cands)[0]
            guids[i] = pick.guid
            used.add(pick.guid)

    # 3. new questions that may be edited old ones
    vanished = [e for e in live.values() if e.guid not in used]
    matched: list[tuple[str, str]] = []
    new_idx = [i for i in range(n) if guids[i] is None]
    if vanished and new_idx:
        scores: list[tuple[float, int, str]] = []
        for i in new_idx:
            sec = " › ".join(atoms[i].section)
            for e in vanished:
                s = float(fuzz.ratio(fps[i], e.fingerprint))
                if s < FUZZY_MIN:
                    continue
                bonus = 3.0 if e.section == sec else 0.0
                scores.append((s + bonus, i, e.guid))
        scores.sort(key=lambda t: (-t[0], t[1], t[2]))
        taken_atoms: set[int] = set()
        for s, i, g in scores:
            if i in taken_atoms or g in used:
                continue
            rivals = [
                (s2, i2, g2)
                for s2, i2, g2 in scores
                if (i2 == i) != (g2 == g) and (i2 == i or g2 == g)
                and i2 not in taken_atoms and g2 not in used and s - s2 < FUZZY_MARGIN
            ]
            if rivals:
                here = atoms[i]
                earlier = live[g]
                diags.warning(
                    here.source,
                    here.line,
                    f"ambiguous identity: this question resembles several earlier ones "
                    f"(e.g. '{clip(earlier.question, 40)}'); it gets a new id. Add `<!-- id: … -->` to "
                    "the question to decide.",
                    "ambiguous-identity",
                )
                taken_atoms.add(i)
                continue
            guids[i] = g
            used.add(g)
            taken_atoms.add(i)
            matched.append((g, f"fuzzy {s:.0f}"))

    # 4. brand-new questions
    for i in range(n):
        if guids[i] is None:
            base = guid_for("q:" + fps[i])
            g = base
            k = 2
            while g in used or (g in live and live[g].fingerprint != fps[i]):
                g = guid_for(f"q:{fps[i]}#{k}")
                k += 1
            guids[i] = g
            used.add(g)

    orphans = tuple(sorted((e for e in live.values() if e.guid not in used), key=lambda e: e.source))
    return Identity(tuple(g for g in guids if g is not None), tuple(matched), orphans)


def build_clock() -> int:
    """Now, or SOURCE_DATE_EPOCH for builds that must not read the clock."""
    env = os.environ.get("SOURCE_DATE_EPOCH")
    if env and env.isdigit():
        return int(env)
    return int(time.time())


_TAG_RE = re.compile(r"<[^<>]*>")
_REF_RE = re.compile(r"""\b(?:src|href)=["']([^"'<>]*)["']""")


def content_hash(parts: Sequence[str]) -> str:
    """What the card says: its visible text and the images and links it points at.

    Markup alone (how Pygments or markdown-it-py spell their spans and classes in a given
    release) does not count, so a newer library release neither rewrites the lock nor makes
    Anki re-import every note; a change in what a person reads or sees does.
    """
    h = hashlib.sha256()
    for p in parts:
        text = " ".join(html.unescape(_TAG_RE.sub(" ", p)).split())
        h.update(text.encode("utf-8"))
        h.update(b"\x00")
        h.update("\x01".join(_REF_RE.findall(p)).encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()[:20]


def notetype_time(digest: str, lock: Lock, now: int) -> int:
    """The note type's modification time: Anki updates a note type on import only when newer."""
    if lock.notetype is None:
        return now
    old_digest, changed = lock.notetype
    return changed if old_digest == digest else max(now, changed + 1)


def modification_time(guid: str, content: str, lock: Lock, now: int) -> int:
    """Unchanged content keeps its time; changed content moves strictly forward."""
    prev = lock.entries.get(guid)
    if prev is None:
        return now
    if prev.content == content:
        return prev.changed
    return max(now, prev.changed + 1)
