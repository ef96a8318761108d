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
_FORMAT = 1


def key_of(*parts: object) -> str:
    h = hashlib.sha256()
    h.update(f"bagu2anki {__version__} cache {_FORMAT}".encode())
    for p in parts:
        h.update(b"\x00")
        h.update(str(p).encode("utf-8", "surrogatepass"))
    return h.hexdigest()


@dataclass
class BuildCache:
    path: Path | None = None
    entries: dict[str, Any] = field(default_factory=dict)
    used: dict[str, Any] = field(default_factory=dict)
    hits: int = 0
    misses: int = 0

    @classmethod
    def open(cls, folder: Path | None) -> BuildCache:
        if folder is None:
            return cls(None)
        path = folder / CACHE_NAME
        entries: dict[str, Any] = {}
        try:
            with path.open("rb") as f:
                data = pickle.load(f)
            if isinstance(data, dict) and data.get("version") == (__version__, _FORMAT):
                entries = data.get("entries", {})
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError, ValueError):
            entries = {}
        return cls(path, entries)

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
        """Keep only what this build used, written atomically."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".part")
        with tmp.open("wb") as f:
            pickle.dump({"version": (__version__, _FORMAT), "entries": self.used}, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, self.path)
