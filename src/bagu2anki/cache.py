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
            if isinstance(data, dict) and data.get("version") == (__version__, _CODE, _FORMAT):
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
            pickle.dump({"version": (__version__, _CODE, _FORMAT), "entries": self.used}, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, self.path)
