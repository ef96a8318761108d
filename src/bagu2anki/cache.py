"""Build cache for incremental builds: unchanged files are not parsed, unchanged answers not rendered.

Entries are keyed by a hash of their whole input plus the bagu2anki version, so a hit gives
exactly what a cold build would; diagnostics produced on the way are stored and replayed. The
cache lives in the output folder (`OUT/.bagu2anki-cache`); a damaged or foreign cache is ignored.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bagu2anki import __version__

CACHE_NAME = ".bagu2anki-cache"
_FORMAT = 2  # 2: header, then batches of entries


def _code_digest() -> str:
    """What produced the cached values: every module and template of this installation."""
    h = hashlib.sha256()
    here = Path(__file__).resolve().parent
    files = sorted(here.rglob("*.py")) + sorted(here.rglob("*.yaml"))
    try:
        from importlib import resources

        tpl = resources.files("bagu2anki.templates")
        names = sorted(p.name for p in tpl.iterdir() if p.name.endswith((".html", ".css", ".j2")))
        for name in names:
            h.update(tpl.joinpath(name).read_bytes())
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError):
        pass
    for f in files:
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


_CODE = _code_digest()


def key_of(*parts: object) -> str:
    h = hashlib.sha256()
    h.update(f"bagu2anki {__version__} {_CODE} cache {_FORMAT}".encode())
    for p in parts:
        h.update(b"\x00")
        h.update(str(p).encode("utf-8", "surrogatepass"))
    return h.hexdigest()


@dataclass
class BuildCache:
    """Values by key; `save()` keeps only what this build used.

    The file is a header and then batches of entries, one pickle each. A build that added a
    few entries appends them as one more batch instead of rewriting the whole cache (an edit
    to one file of a large collection writes kilobytes, not tens of megabytes); once more than
    half of what the file holds is no longer used, `save()` rewrites it with just the used
    entries. A batch cut short (an interrupted append) ends the reading: what came before it
    stays valid, and the next save rewrites the file.
    """

    path: Path | None = None
    entries: dict[str, Any] = field(default_factory=dict)
    used: dict[str, Any] = field(default_factory=dict)
    hits: int = 0
    misses: int = 0
    stored: int = -1  # entries the file holds (stale ones included); -1: rewrite it on save

    @classmethod
    def open(cls, folder: Path | None) -> BuildCache:
        if folder is None:
            return cls(None)
        path = folder / CACHE_NAME
        entries: dict[str, Any] = {}
        stored = -1
        try:
            with path.open("rb") as f:
                if pickle.load(f) == _header():
                    stored = 0
                    while True:
                        try:
                            batch = pickle.load(f)
                        except EOFError:
                            break
                        if not isinstance(batch, dict):
                            raise ValueError("not a batch of entries")
                        entries.update(batch)
                        stored += len(batch)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError, ValueError, IndexError):
            stored = -1  # damaged or cut short: keep what was read, rewrite on save
        return cls(path, entries, stored=stored)

    def get(self, key: str) -> Any | None:
        if self.path is None:
            return None
        value = self.entries.get(key)
        if value is None:
            self.misses += 1
            return None
        self.hits += 1
        self.used[key] = value
        return value

    def put(self, key: str, value: Any) -> None:
        if self.path is not None:
            self.used[key] = value

    def save(self) -> None:
        """Append this build's new entries, or rewrite the file with only the used ones."""
        if self.path is None:
            return
        new = {k: v for k, v in self.used.items() if k not in self.entries}
        if 0 <= self.stored and self.stored + len(new) <= 2 * len(self.used):
            if new:
                with self.path.open("ab") as f:
                    pickle.dump(new, f, protocol=pickle.HIGHEST_PROTOCOL)
            self.stored += len(new)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(self.path.name + ".part")
            with tmp.open("wb") as f:
                pickle.dump(_header(), f, protocol=pickle.HIGHEST_PROTOCOL)
                pickle.dump(self.used, f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, self.path)
            self.stored = len(self.used)
        self.entries.update(new)


def _header() -> tuple[str, str, str, int]:
    return ("bagu2anki build cache", __version__, _CODE, _FORMAT)
