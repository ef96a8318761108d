"""The lock file and the times it keeps: `bagu2anki.lock` -> `Lock`, and when each note changed.

The lock file (JSON, sorted, one entry per note) sits next to the notes folder and is committed
by the user: each note's GUID, a fingerprint of its question, a hash of what its card says and
when that last changed. A damaged file or entry is a one-line error naming it, never a
traceback. `identity.py` matches questions to these entries.
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from pathlib import Path

from bagu2anki.diagnostics import UserError, clip

LOCK_VERSION = 1
LOCK_NAME = "bagu2anki.lock"
# A note id Anki stores as is: its own GUID alphabet (base91). Concept notes' ids grow with
# the concept's id (any catalogue), hence the generous length.
_GUID_RE = re.compile(r"[A-Za-z0-9!#$%&()*+,\-./:;<=>?@\[\]^_`{|}~]{1,1024}")
TIME_LIMIT = 2**63  # modification times are stored by Anki as signed 64-bit integers


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
        except RecursionError as e:
            raise UserError(
                f"{path}: the lock file cannot be read (nested too deeply for a bagu2anki lock "
                f"file). It keeps your cards' identities: restore it from git "
                f"(`git checkout -- {path.name}`), or move it away to start fresh identities."
            ) from e
        except (OSError, ValueError) as e:  # ValueError: bad JSON, bad UTF-8, a 5000-digit number
            raise UserError(
                f"{path}: the lock file cannot be read ({clip(str(e), 200)}). It keeps your cards' "
                f"identities: restore it from git (`git checkout -- {path.name}`), or move it away to "
                "start fresh identities (re-imported notes then become new cards)."
            ) from e
        if not isinstance(data, dict) or data.get("tool") != "bagu2anki":
            raise UserError(f"{path}: not a bagu2anki lock file (no \"tool\": \"bagu2anki\").")
        version = data.get("version")
        if version != LOCK_VERSION:
            raise UserError(
                f"{path}: lock file version {clip(repr(version), 40)}; this bagu2anki reads version "
                f"{LOCK_VERSION}. Upgrade bagu2anki, or restore the lock file from git."
            )
        notes = data.get("notes")
        if not isinstance(notes, dict):
            raise UserError(f"{path}: lock file has no \"notes\" table; restore it from git.")
        entries = {guid: _lock_entry(path, guid, item) for guid, item in notes.items()}
        nt = data.get("notetype")
        notetype = None
        if isinstance(nt, dict) and isinstance(nt.get("digest"), str):
            nt_changed = _time(nt.get("changed"))
            if nt_changed is not None:  # otherwise recomputed: the note type is simply updated
                notetype = (nt["digest"], nt_changed)
        return cls(entries, path, notetype)

    def dumps(self) -> str:
        """The file's text: what `json.dumps(…, ensure_ascii=False, indent=1, sort_keys=True)`
        gives for it, spelled out here because with `indent` the json module encodes in Python
        (0.2 s for 10,000 notes; this takes a tenth of that). `test_identity` holds them equal."""
        s = _json_str
        parts = ['{\n "notes": {']
        for n, (g, e) in enumerate(sorted(self.entries.items())):
            orphan = '\n   "orphan": true,' if e.orphan else ""
            parts.append(
                f'{"," if n else ""}\n  {s(g)}: {{\n   "changed": {int(e.changed)!r},'
                f'\n   "content": {s(e.content)},\n   "fingerprint": {s(e.fingerprint)},{orphan}'
                f'\n   "question": {s(e.question)},\n   "section": {s(e.section)},'
                f'\n   "source": {s(e.source)}\n  }}'
            )
        parts.append("\n }," if self.entries else "},")
        if self.notetype is not None:
            digest, changed = self.notetype
            parts.append(f'\n "notetype": {{\n  "changed": {int(changed)!r},\n  "digest": {s(digest)}\n }},')
        parts.append(f'\n "tool": "bagu2anki",\n "version": {LOCK_VERSION!r}\n}}\n')
        return "".join(parts)

    def save(self, path: Path, text: str | None = None) -> None:
        """Write `text` (default: `dumps()`), unless the file already says exactly that."""
        text = self.dumps() if text is None else text
        if path.exists() and path.read_text(encoding="utf-8") == text:
            return
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)


def _json_str(text: str) -> str:
    """A JSON string as `json.dumps(text, ensure_ascii=False)` spells it (in C)."""
    return encode_basestring(text)


def _time(value: object) -> int | None:
    """A stored modification time, or None when it is not one (Anki keeps signed 64-bit times)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            return None
        value = int(value)
    return value if 0 <= value < TIME_LIMIT else None


def _lock_entry(path: Path, guid: str, item: object) -> LockEntry:
    def damaged(why: str) -> UserError:
        return UserError(
            f"{path}: entry {clip(repr(guid), 60)} is damaged ({why}); fix or remove that entry, "
            "or restore the file from git."
        )

    if not _GUID_RE.fullmatch(guid):
        raise damaged("not a note id: 1 to 1024 ASCII letters, digits or punctuation, no spaces or quotes")
    if not isinstance(item, dict):
        raise damaged(f"an entry is an object, not {_json_type(item)}")
    text: dict[str, str] = {}
    for key, required in (("fingerprint", True), ("content", True), ("question", False),
                          ("source", False), ("section", False)):
        if required and key not in item:
            raise damaged(f'no "{key}"')
        value = item.get(key, "")
        if not isinstance(value, str):
            raise damaged(f'"{key}" is {_json_type(value)}, not text')
        text[key] = value
    if "changed" not in item:
        raise damaged('no "changed"')
    changed = _time(item["changed"])
    if changed is None:
        raise damaged(f'"changed" is {clip(repr(item["changed"]), 30)}, not a time from 0 to 2**63 - 1')
    orphan = item.get("orphan", False)
    if not isinstance(orphan, bool):
        raise damaged(f'"orphan" is {_json_type(orphan)}, not true or false')
    return LockEntry(guid, text["fingerprint"], text["question"], text["source"], text["section"],
                     text["content"], changed, orphan)


def _json_type(value: object) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "text"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return "a number"
    return "null" if value is None else type(value).__name__


def build_clock() -> int:
    """Now, or SOURCE_DATE_EPOCH for builds that must not read the clock."""
    env = os.environ.get("SOURCE_DATE_EPOCH")
    if env and env.isdigit():
        return int(env)
    return int(time.time())


_TAG_RE = re.compile(r"<[^<>]*>")
# what a card points at or says outside its text: images and links, an image's alt text (shown
# when it cannot load, read aloud), a title
# (`\b` written as a look-behind after each name's first letter: the same matches, and the scan
# can skip to the letters that may start one instead of trying every position)
_REF_RE = re.compile(r"""(?:s(?<!\ws)rc|h(?<!\wh)ref|a(?<!\wa)lt|t(?<!\wt)itle)=["']([^"'<>]*)["']""")


def content_hash(parts: Sequence[str]) -> str:
    """What the card says: its visible text, the images and links it points at, and the alt
    text and titles that stand for them.

    Markup alone (how Pygments or markdown-it-py spell their spans and classes in a given
    release) does not count, so a newer library release neither rewrites the lock nor makes
    Anki re-import every note; a change in what a person reads or sees does.
    """
    return content_hash_of([seen_in(p) for p in parts])


Seen = tuple[str, str]
"""What a person sees of one field (`seen_in`): its visible text, and what it points at."""


def seen_in(part: str) -> Seen:
    """One field's share of `content_hash`: its text without markup, whitespace collapsed, and
    its `src`/`href`/`alt`/`title` values joined. Made where the field is made (a render worker
    for an answer) so that the hash of a card costs the build little more than a digest."""
    if "<" not in part and "=" not in part:  # a tag, a deck name, a source: plain text
        return " ".join(html.unescape(part).split()), ""
    return " ".join(html.unescape(_TAG_RE.sub(" ", part)).split()), "\x01".join(_REF_RE.findall(part))


def content_hash_of(seen: Sequence[Seen]) -> str:
    """`content_hash` of the fields whose `seen_in` is `seen`."""
    h = hashlib.sha256()
    for text, refs in seen:
        h.update(text.encode("utf-8"))
        h.update(b"\x00")
        h.update(refs.encode("utf-8"))
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
