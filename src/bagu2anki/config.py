"""Build settings (frozen), from the command line and `[tool.bagu2anki]` / `bagu2anki.toml`."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bagu2anki.diagnostics import UserError
from bagu2anki.parse.common import ReadingRules
from bagu2anki.sources import file_title

FOLD_THRESHOLD = 1000
"""Answers longer than this many visible characters open with a summary (`render.py` folds them)."""


@dataclass(frozen=True, slots=True)
class Config:
    paths: tuple[Path, ...] = (Path("notes"),)
    out: Path = Path("out")
    deck: str | None = None
    include_unanswered: bool = False
    strict: bool = False
    concept_cards: str = "used"
    """"all": a card per concept the notes use; "used": only for concepts two or more questions
    use (`USED_BY`); "none": no concept cards."""
    flat_decks: bool = False
    split: bool = True
    """A question that asks several things, with an answer part for each, becomes one card per part."""
    fold_threshold: int = FOLD_THRESHOLD
    lock: Path | None = None
    write_lock: bool = True
    use_cache: bool = True
    catalogue: Path | None = None
    jobs: int = 0
    """Processes for rendering; 0 means one per CPU core."""
    reading: ReadingRules = field(default_factory=ReadingRules)
    """What the user declares marks a question (`[reading]` in bagu2anki.toml); wins over our rules."""
    extra: dict[str, Any] = field(default_factory=dict)

    def workers(self) -> int:
        cores = os.cpu_count() or 1
        if self.jobs > 0:
            return min(self.jobs, cores)  # more processes than cores only cost memory
        return max(1, min(cores, 8))

    @property
    def notes_dirs(self) -> tuple[Path, ...]:
        return tuple(p for p in self.paths if p.is_dir())

    def deck_name(self) -> str:
        if self.deck:
            return self.deck
        first = self.paths[0] if self.paths else Path("notes")
        name = first.resolve().name if first.is_dir() else file_title(first)
        return name or "bagu2anki"

    def lock_path(self) -> Path:
        if self.lock is not None:
            return self.lock
        first = self.paths[0] if self.paths else Path("notes")
        if first.is_dir():
            return first.resolve().parent / "bagu2anki.lock"
        return self.out / "bagu2anki.lock"

    def user_catalogue(self) -> Path | None:
        if self.catalogue is not None:
            return self.catalogue
        for d in self.notes_dirs:
            for name in ("concepts.yaml", "concepts.yml", "concepts.toml"):
                if (d / name).is_file():
                    return d / name
        return None


CONCEPT_CARDS = ("all", "used", "none")
USED_BY = 2  # with "used", a concept gets its card once this many of the user's questions use it

_KEYS: dict[str, type | tuple[type, ...]] = {
    "deck": str,
    "out": str,
    "include_unanswered": bool,
    "concept_cards": (str, bool),
    "flat_decks": bool,
    "split": bool,
    "fold_threshold": int,
    "lock": str,
    "catalogue": str,
    "reading": dict,
}
_READING_KEYS = ("question", "not_question")


def load_settings(cwd: Path) -> dict[str, Any]:
    """`bagu2anki.toml` or `[tool.bagu2anki]` in pyproject.toml of the working folder."""
    for name, table in (("bagu2anki.toml", None), ("pyproject.toml", ("tool", "bagu2anki"))):
        p = cwd / name
        if not p.is_file():
            continue
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise UserError(f"{p}: cannot read settings: {e}") from e
        if table:
            for k in table:
                data = data.get(k, {}) if isinstance(data, dict) else {}
        if not data:
            continue
        settings: dict[str, Any] = {}
        for k, v in data.items():
            typ = _KEYS.get(k.replace("-", "_"))
            if typ is None:
                raise UserError(f"{p}: unknown setting '{k}' (known: {', '.join(sorted(_KEYS))})")
            if not isinstance(v, typ):
                names = " or ".join(t.__name__ for t in typ) if isinstance(typ, tuple) else typ.__name__
                raise UserError(f"{p}: setting '{k}' must be a {names}")
            if k.replace("-", "_") == "concept_cards":
                v = {True: "used", False: "none"}.get(v, v) if isinstance(v, bool) else v
                if v not in CONCEPT_CARDS:
                    raise UserError(f"{p}: setting 'concept_cards' must be one of {', '.join(CONCEPT_CARDS)}")
            if k == "reading":
                v = _reading_rules(p, v)
            settings[k.replace("-", "_")] = v
        return settings
    return {}


def _reading_rules(path: Path, table: dict[str, Any]) -> ReadingRules:
    """`[reading]`: `question = ['^Q\\d+\\s*[·.]']`, `not_question = [...]`: regular expressions,
    each checked here so that a mistake is one clear line naming the file and the pattern."""
    found: dict[str, tuple[str, ...]] = {}
    for key, value in table.items():
        name = key.replace("-", "_")
        if name not in _READING_KEYS:
            raise UserError(f"{path}: unknown setting 'reading.{key}' (known: {', '.join(_READING_KEYS)})")
        patterns = [value] if isinstance(value, str) else value
        if not isinstance(patterns, list) or not all(isinstance(x, str) and x for x in patterns):
            raise UserError(f"{path}: setting 'reading.{key}' must be a pattern or a list of patterns")
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as e:
                raise UserError(f"{path}: reading.{key}: '{pattern}' is not a regular expression: {e}") from e
        found[name] = tuple(patterns)
    return ReadingRules(found.get("question", ()), found.get("not_question", ()))


def apply_settings(cfg: Config, settings: dict[str, Any], explicit: set[str]) -> Config:
    changes: dict[str, Any] = {}
    for k, v in settings.items():
        if k in explicit:
            continue
        changes[k] = Path(v) if k in ("out", "lock", "catalogue") else v
    return replace(cfg, **changes) if changes else cfg
