"""Catalogue files -> raw entries: YAML and TOML read with the line of every field kept.

Only the shape of the file is checked here (known fields, what is a list, what is text); `catalogue.py`
checks the meaning and merges the shipped catalogue with the user's.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from rapidfuzz import fuzz, process

from bagu2anki.diagnostics import Diagnostics


@dataclass
class Field:
    value: object
    line: int | None
    item_lines: tuple[int | None, ...] = ()

    def item_line(self, index: int) -> int | None:
        return self.item_lines[index] if index < len(self.item_lines) else self.line


@dataclass
class RawConcept:
    fields: dict[str, Field]
    line: int | None


@dataclass
class RawFile:
    path: str
    origin: str
    concepts: list[RawConcept]
    domains: dict[str, Field]
    ignore: list[Field]


def _line(node: Any) -> int:
    return int(node.start_mark.line) + 1


def _yaml_field(loader: Any, node: Any) -> Field:
    items: tuple[int | None, ...] = ()
    if isinstance(node, yaml.SequenceNode):
        items = tuple(_line(item) for item in node.value)
    return Field(loader.construct_object(node, deep=True), _line(node), items)


def read_yaml(text: str, path: str, origin: str, diags: Diagnostics) -> RawFile | None:
    # The libyaml loader is several times faster and gives the same nodes and line marks.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
    try:
        root = loader.get_single_node()
        raw = RawFile(path, origin, [], {}, [])
        if root is None:
            return raw
        if isinstance(root, yaml.SequenceNode):
            concepts_node: Any = root
        elif isinstance(root, yaml.MappingNode):
            concepts_node = None
            for key_node, value_node in root.value:
                key = loader.construct_object(key_node)
                if key == "concepts":
                    concepts_node = value_node
                elif key == "domains":
                    if not isinstance(value_node, yaml.MappingNode):
                        diags.error(path, _line(value_node), "'domains' must be a mapping")
                        continue
                    for dkey, dvalue in value_node.value:
                        raw.domains[str(loader.construct_object(dkey))] = _yaml_field(
                            loader, dvalue
                        )
                elif key == "ignore":
                    raw.ignore.append(_yaml_field(loader, value_node))
                else:
                    diags.warning(
                        path,
                        _line(key_node),
                        f"unknown top-level key {key!r} (expected 'concepts', 'domains', 'ignore')",
                        code="catalogue-schema",
                    )
        else:
            diags.error(path, _line(root), "a catalogue must be a mapping with 'concepts'")
            return None
        if concepts_node is None:
            return raw
        if not isinstance(concepts_node, yaml.SequenceNode):
            diags.error(path, _line(concepts_node), "'concepts' must be a list")
            return None
        for entry in concepts_node.value:
            if not isinstance(entry, yaml.MappingNode):
                diags.error(path, _line(entry), "each concept must be a mapping with an 'id'")
                continue
            fields = {
                str(loader.construct_object(k)): _yaml_field(loader, v) for k, v in entry.value
            }
            raw.concepts.append(RawConcept(fields, _line(entry)))
        return raw
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = int(mark.line) + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        diags.error(path, line, f"cannot read catalogue: {problem}", code="catalogue-syntax")
        return None
    finally:
        loader.dispose()


def read_toml(text: str, path: str, origin: str, diags: Diagnostics) -> RawFile | None:
    try:
        data = tomllib.loads(text)
    except ValueError as exc:  # tomllib.TOMLDecodeError
        found = re.search(r"line (\d+)", str(exc))
        line = int(found.group(1)) if found else None
        diags.error(path, line, f"cannot read catalogue: {exc}", code="catalogue-syntax")
        return None
    raw = RawFile(path, origin, [], {}, [])
    for key, value in data.items():
        if key == "concepts":
            if not isinstance(value, list):
                diags.error(path, None, "'concepts' must be an array of tables")
                return None
            for entry in value:
                if not isinstance(entry, dict):
                    diags.error(path, None, "each concept must be a table with an 'id'")
                    continue
                fields = {str(k): Field(v, None) for k, v in entry.items()}
                raw.concepts.append(RawConcept(fields, None))
        elif key == "domains":
            if not isinstance(value, dict):
                diags.error(path, None, "'domains' must be a table")
                continue
            raw.domains.update({str(k): Field(v, None) for k, v in value.items()})
        elif key == "ignore":
            raw.ignore.append(Field(value, None))
        else:
            diags.warning(
                path,
                None,
                f"unknown top-level key {key!r} (expected 'concepts', 'domains', 'ignore')",
                code="catalogue-schema",
            )
    return raw


# --------------------------------------------------------------------------- merging


def read_user_file(user_file: Path, diags: Diagnostics) -> RawFile | None:
    path = str(user_file)
    try:
        text = user_file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        diags.error(path, None, f"cannot read concept catalogue: {exc}", code="catalogue-read")
        return None
    suffix = user_file.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return read_yaml(text, path, path, diags)
    if suffix == ".toml":
        return read_toml(text, path, path, diags)
    diags.error(
        path, None, "a concept catalogue must be .yaml, .yml or .toml", code="catalogue-read"
    )
    return None


FIELDS = ("id", "name", "aliases", "description", "domain", "prereqs", "replace")
LIST_FIELDS = ("aliases", "prereqs")
TEXT_FIELDS = ("id", "name", "description", "domain")


def is_text_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value)


def check_fields(raw: RawConcept, path: str, diags: Diagnostics) -> bool:
    ok = True
    for name, fld in raw.fields.items():
        if name not in FIELDS:
            close = process.extractOne(name, FIELDS, scorer=fuzz.ratio, score_cutoff=60)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            diags.warning(
                path, fld.line, f"unknown concept field {name!r}{hint}", code="catalogue-schema"
            )
        elif name in TEXT_FIELDS and not isinstance(fld.value, str):
            diags.error(path, fld.line, f"'{name}' must be a string", code="catalogue-schema")
            ok = False
        elif name in LIST_FIELDS and fld.value is not None and not is_text_list(fld.value):
            diags.error(
                path,
                fld.line,
                f"'{name}' must be a list of non-empty strings",
                code="catalogue-schema",
            )
            ok = False
        elif name == "replace" and not isinstance(fld.value, bool):
            diags.error(path, fld.line, "'replace' must be true or false", code="catalogue-schema")
            ok = False
    return ok
