"""The concept catalogue: the shipped bilingual YAML, optionally merged with a user file.

Takes `catalogue.yaml` from this package and an optional user YAML/TOML file; gives one frozen
`Catalogue`. Problems in either file become diagnostics (`path:line`), never exceptions.
"""

from __future__ import annotations

import importlib.resources
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar, cast

from rapidfuzz import fuzz, process, utils

from bagu2anki.concepts.files import (
    Field,
    RawConcept,
    RawFile,
    check_fields,
    is_text_list,
    read_user_file,
    read_yaml,
)
from bagu2anki.diagnostics import Diagnostics

SHIPPED_PATH = "bagu2anki/concepts/catalogue.yaml"
"""How diagnostics name the shipped catalogue."""
SHIPPED_ORIGIN = "shipped"
"""`Concept.origin` of concepts that come only from the shipped catalogue."""

_SEPARATORS = re.compile(r"[\s\-_–—]+")

_T = TypeVar("_T")


def normalize(text: str) -> str:
    """The form all matching works on: NFKC (full-width to half-width) and lower case."""
    return unicodedata.normalize("NFKC", text).lower()


def alias_key(text: str) -> str:
    """Lookup key of a name: normalized, with spaces, hyphens and underscores removed."""
    return _SEPARATORS.sub("", normalize(text))


def is_guarded(alias: str) -> bool:
    """A Latin alias of at most two letters/digits (DP, TP, RM, BN) is too ambiguous to count
    without support from its context; recognition decides what counts as support."""
    key = alias_key(alias)
    return key.isascii() and key.isalnum() and len(key) <= 2


@dataclass(frozen=True, slots=True)
class Concept:
    id: str
    name: str
    aliases: tuple[str, ...]
    description: str
    domain: str
    prereqs: tuple[str, ...]
    origin: str
    """Either "shipped" or the path of the user catalogue that added or last changed it."""


@dataclass(frozen=True, slots=True)
class Catalogue:
    """All known concepts, in catalogue order, with lookup by id and by alias.

    `domains` maps each domain to its context words (what makes a guarded alias count);
    `ignore` holds phrases that contain an alias but mean something else (可量化).
    """

    concepts: tuple[Concept, ...]
    domains: tuple[tuple[str, tuple[str, ...]], ...] = ()
    ignore: tuple[str, ...] = ()
    _by_id: dict[str, Concept] = field(init=False, repr=False, compare=False, hash=False)
    _by_key: dict[str, str] = field(init=False, repr=False, compare=False, hash=False)
    _memo: dict[str, object] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        by_id = {c.id: c for c in reversed(self.concepts)}
        by_key: dict[str, str] = {}
        for c in self.concepts:
            by_key.setdefault(alias_key(c.id), c.id)
        for c in self.concepts:
            for alias in c.aliases:
                by_key.setdefault(alias_key(alias), c.id)
        object.__setattr__(self, "_by_id", by_id)
        object.__setattr__(self, "_by_key", by_key)
        object.__setattr__(self, "_memo", {})

    def __getitem__(self, concept_id: str) -> Concept:
        return self._by_id[concept_id]

    def __contains__(self, concept_id: object) -> bool:
        return concept_id in self._by_id

    def __iter__(self) -> Iterator[Concept]:
        return iter(self.concepts)

    def __len__(self) -> int:
        return len(self.concepts)

    def get(self, concept_id: str) -> Concept | None:
        return self._by_id.get(concept_id)

    def ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.concepts)

    def context_words(self, domain: str) -> tuple[str, ...]:
        for name, words in self.domains:
            if name == domain:
                return words
        return ()

    def domain_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.domains)

    def resolve(self, name: str) -> str | None:
        """The id a written name stands for: an id (exact, then loosely) or an alias."""
        name = name.strip()
        if name in self._by_id:
            return name
        return self._by_key.get(alias_key(name))

    def suggest(self, name: str) -> str | None:
        """The closest known name, shown as `'alias' (id)`, for "did you mean" hints."""
        spellings: dict[str, str] = {}
        for c in self.concepts:
            spellings.setdefault(c.id, c.id)
            for alias in c.aliases:
                spellings.setdefault(alias, c.id)
        best = process.extractOne(
            name,
            list(spellings),
            scorer=fuzz.ratio,
            processor=utils.default_process,
            score_cutoff=60,
        )
        if best is None:
            return None
        spelling = str(best[0])
        concept_id = spellings[spelling]
        return f"'{spelling}'" if spelling == concept_id else f"'{spelling}' ({concept_id})"

    def memo(self, key: str, build: Callable[[Catalogue], _T]) -> _T:
        """Something derived from this catalogue (the compiled recogniser), built once."""
        if key not in self._memo:
            self._memo[key] = build(self)
        return cast(_T, self._memo[key])


# --------------------------------------------------------------------------- reading files


@dataclass
class _Draft:
    id: str
    name: str
    description: str
    domain: str
    aliases: list[tuple[str, str, int | None]]
    """(alias, path, line) — where each alias was declared."""
    prereqs: list[tuple[str, str, int | None]]
    origin: str


def _text(raw: RawConcept, name: str) -> str | None:
    fld = raw.fields.get(name)
    return fld.value.strip() if fld is not None and isinstance(fld.value, str) else None


def _items(raw: RawConcept, name: str, path: str) -> list[tuple[str, str, int | None]]:
    fld = raw.fields.get(name)
    if fld is None or not isinstance(fld.value, list):
        return []
    return [(str(v).strip(), path, fld.item_line(i)) for i, v in enumerate(fld.value)]


def _merge_ignore(raw: RawFile, ignore: list[str], diags: Diagnostics) -> None:
    for fld in raw.ignore:
        if not is_text_list(fld.value):
            diags.error(
                raw.path, fld.line, "'ignore' must be a list of strings", code="catalogue-schema"
            )
            continue
        ignore.extend(w for w in cast(list[str], fld.value) if w not in ignore)


def _merge_domains(raw: RawFile, domains: dict[str, list[str]], diags: Diagnostics) -> None:
    for name, fld in raw.domains.items():
        if fld.value is None:
            fld.value = []
        if not is_text_list(fld.value):
            diags.error(
                raw.path,
                fld.line,
                f"domain {name!r}: context words must be a list of strings",
                code="catalogue-schema",
            )
            continue
        words = domains.setdefault(name, [])
        words.extend(w for w in cast(list[str], fld.value) if w not in words)


def _merge_concepts(
    raw: RawFile, drafts: dict[str, _Draft], domains: Mapping[str, list[str]], diags: Diagnostics
) -> None:
    path = raw.path
    seen: set[str] = set()
    for entry in raw.concepts:
        if not check_fields(entry, path, diags):
            continue
        concept_id = _text(entry, "id")
        if not concept_id:
            diags.error(path, entry.line, "concept without an 'id'", code="catalogue-schema")
            continue
        if concept_id in seen:
            diags.error(
                path,
                entry.line,
                f"concept {concept_id!r} is defined twice in this file",
                code="catalogue-schema",
            )
            continue
        seen.add(concept_id)
        domain = _text(entry, "domain")
        if domain is not None and domain not in domains:
            close = process.extractOne(domain, list(domains), scorer=fuzz.ratio, score_cutoff=60)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            line = entry.fields["domain"].line
            diags.error(
                path,
                line,
                f"concept {concept_id!r}: unknown domain {domain!r}{hint}",
                code="catalogue-schema",
            )
            continue
        aliases = _items(entry, "aliases", path)
        prereqs = _items(entry, "prereqs", path)
        draft = drafts.get(concept_id)
        if draft is None:
            if domain is None:
                diags.error(
                    path,
                    entry.line,
                    f"new concept {concept_id!r} needs a 'domain'",
                    code="catalogue-schema",
                )
                continue
            drafts[concept_id] = _Draft(
                id=concept_id,
                name=_text(entry, "name") or concept_id,
                description=_text(entry, "description") or "",
                domain=domain,
                aliases=aliases,
                prereqs=prereqs,
                origin=raw.origin,
            )
            continue
        replace = entry.fields.get("replace", Field(False, None)).value is True
        draft.name = _text(entry, "name") or draft.name
        draft.description = _text(entry, "description") or draft.description
        draft.domain = domain or draft.domain
        if "aliases" in entry.fields:
            draft.aliases = aliases if replace else draft.aliases + aliases
        if "prereqs" in entry.fields:
            draft.prereqs = prereqs if replace else draft.prereqs + prereqs
        draft.origin = raw.origin


def _finish(
    drafts: Mapping[str, _Draft],
    domains: Mapping[str, list[str]],
    ignore: list[str],
    diags: Diagnostics,
) -> Catalogue:
    """Drop aliases that are unusable or taken by another concept, then resolve prerequisites."""
    owner: dict[str, str] = {alias_key(d.id): d.id for d in reversed(list(drafts.values()))}
    concepts: list[Concept] = []
    for draft in drafts.values():
        aliases: list[str] = []
        for alias, path, line in draft.aliases:
            key = alias_key(alias)
            taken = owner.setdefault(key, draft.id)
            if not key:
                diags.warning(path, line, f"{draft.id}: empty alias {alias!r} ignored")
            elif key.isascii() and len(key) == 1:
                diags.warning(
                    path,
                    line,
                    f"{draft.id}: one-letter alias {alias!r} is too ambiguous; ignored",
                    code="catalogue-alias",
                )
            elif taken != draft.id:
                diags.warning(
                    path,
                    line,
                    f"{draft.id}: alias {alias!r} already names {taken!r}; ignored here",
                    code="catalogue-alias",
                )
            elif normalize(alias) not in (normalize(a) for a in aliases):
                aliases.append(alias)
        concepts.append(
            Concept(
                id=draft.id,
                name=draft.name,
                aliases=tuple(aliases),
                description=draft.description,
                domain=draft.domain,
                prereqs=(),
                origin=draft.origin,
            )
        )
    domain_table = tuple((name, tuple(words)) for name, words in domains.items())
    unresolved = Catalogue(tuple(concepts), domain_table, tuple(ignore))
    resolved: list[Concept] = []
    for concept in concepts:
        prereqs: list[str] = []
        for name, path, line in drafts[concept.id].prereqs:
            target = unresolved.resolve(name)
            if target is None:
                hint = unresolved.suggest(name)
                diags.warning(
                    path,
                    line,
                    f"{concept.id}: unknown prerequisite {name!r}"
                    + (f"; did you mean {hint}?" if hint else ""),
                    code="catalogue-prereq",
                )
            elif target == concept.id:
                diags.warning(
                    path,
                    line,
                    f"{concept.id}: a concept cannot be its own prerequisite",
                    code="catalogue-prereq",
                )
            elif target not in prereqs:
                prereqs.append(target)
        resolved.append(
            Concept(
                concept.id,
                concept.name,
                concept.aliases,
                concept.description,
                concept.domain,
                tuple(prereqs),
                concept.origin,
            )
        )
    return Catalogue(tuple(resolved), domain_table, tuple(ignore))


def load_catalogue(user_file: Path | None, diags: Diagnostics) -> Catalogue:
    """The shipped catalogue, merged with `user_file` when given.

    A user concept with a known id changes that concept: `name`, `description` and `domain`
    replace the shipped values, `aliases` and `prereqs` are appended (or replace them when the
    entry says `replace: true`). A new id adds a concept (it needs a `domain`). A user file may
    also add context words, or new domains, under `domains`, and phrases under `ignore`.
    """
    shipped_text = (
        importlib.resources.files("bagu2anki.concepts")
        .joinpath("catalogue.yaml")
        .read_text(encoding="utf-8")
    )
    files = [read_yaml(shipped_text, SHIPPED_PATH, SHIPPED_ORIGIN, diags)]
    if user_file is not None:
        files.append(read_user_file(user_file, diags))
    domains: dict[str, list[str]] = {}
    ignore: list[str] = []
    drafts: dict[str, _Draft] = {}
    for raw in files:
        if raw is not None:
            _merge_domains(raw, domains, diags)
            _merge_ignore(raw, ignore, diags)
            _merge_concepts(raw, drafts, domains, diags)
    return _finish(drafts, domains, ignore, diags)
