"""Concept benchmark: do questions get the concepts they are about?

Reads the hand-made `gold.yaml` (40 questions of the starter notes and the seed part, see
README.md), reads each collection in process the way `bagu2anki check` / `export atoms` do
(`analyse` with a `Diagnostics`), finds each gold question's atom by (source, line) and compares
the concepts attached to it with the gold concepts. Prints precision and recall of the attached
concepts, micro-averaged over the questions (every attached concept of a gold question is one
prediction, every gold concept one expected item), per collection and overall.

    python benchmarks/concepts/score.py              # the figures
    python benchmarks/concepts/score.py --verbose    # and, per question, what is missing / extra
    python benchmarks/concepts/score.py --json       # machine-readable

The seed lives in `../shared` beside the repository; without it the script scores the starter
notes only and says so. Exit status 1 when a gold question has no atom at its line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bagu2anki.concepts import Catalogue, load_catalogue
from bagu2anki.config import Config
from bagu2anki.diagnostics import Diagnostics
from bagu2anki.pipeline import analyse

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
GOLD = HERE / "gold.yaml"
LABEL_MAX = 12
REQUIRED = {"collection", "source", "line", "label", "concepts"}
KEYS = REQUIRED | {"added"}


@dataclass(frozen=True)
class GoldQuestion:
    collection: str
    source: str
    line: int
    label: str
    concepts: tuple[str, ...]
    added: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, int]:
        return (self.source, self.line)


@dataclass(frozen=True)
class Gold:
    collections: dict[str, Path]
    """Collection name -> the path `bagu2anki` reads (a folder or a file), made absolute."""
    questions: tuple[GoldQuestion, ...]


@dataclass(frozen=True)
class QuestionResult:
    gold: GoldQuestion
    found: bool
    attached: tuple[str, ...]

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(c for c in self.gold.concepts if c not in self.attached)

    @property
    def extra(self) -> tuple[str, ...]:
        return tuple(c for c in self.attached if c not in self.gold.concepts)

    @property
    def hits(self) -> int:
        return sum(1 for c in self.attached if c in self.gold.concepts)


@dataclass(frozen=True)
class Score:
    questions: int
    expected: int
    attached: int
    hits: int

    @property
    def precision(self) -> float:
        return self.hits / self.attached if self.attached else 1.0

    @property
    def recall(self) -> float:
        return self.hits / self.expected if self.expected else 1.0


def load_gold(path: Path = GOLD) -> Gold:
    """The gold list; raises ValueError on a malformed entry (unknown key, bad type, long label)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("questions"), list):
        raise ValueError(f"{path}: expected a mapping with 'collections' and 'questions'")
    collections = {
        str(name): (REPO / str(where)).resolve() for name, where in data["collections"].items()
    }
    questions = []
    for n, entry in enumerate(data["questions"], 1):
        if not isinstance(entry, dict) or not REQUIRED <= set(entry):
            raise ValueError(f"{path}: question {n} lacks collection/source/line/label/concepts")
        if set(entry) - KEYS:
            raise ValueError(f"{path}: question {n} has unknown keys {sorted(set(entry) - KEYS)}")
        concepts = entry["concepts"]
        added = entry.get("added", [])
        line = entry["line"]
        label = str(entry["label"])
        if entry["collection"] not in collections:
            raise ValueError(f"{path}: question {n}: unknown collection {entry['collection']!r}")
        if not isinstance(line, int) or line < 1:
            raise ValueError(f"{path}: question {n}: line must be a positive integer")
        if not (
            isinstance(concepts, list) and concepts and all(isinstance(c, str) for c in concepts)
        ):
            raise ValueError(f"{path}: question {n}: concepts must be a non-empty list of ids")
        if len(set(concepts)) != len(concepts):
            raise ValueError(f"{path}: question {n}: a concept is listed twice")
        if not (isinstance(added, list) and set(added) <= set(concepts)):
            raise ValueError(f"{path}: question {n}: 'added' must list some of its concepts")
        if not 0 < len(label) <= LABEL_MAX:
            raise ValueError(f"{path}: question {n}: label must have 1 to {LABEL_MAX} characters")
        questions.append(
            GoldQuestion(
                str(entry["collection"]),
                str(entry["source"]),
                line,
                label,
                tuple(concepts),
                tuple(added),
            )
        )
    keys = [(q.collection, q.key) for q in questions]
    if len(set(keys)) != len(keys):
        raise ValueError(f"{path}: a question is listed twice")
    return Gold(collections, tuple(questions))


def read_links(path: Path, split: bool = False) -> dict[tuple[str, int], dict[str, Any]]:
    """(source, line) -> the question and its attached concepts, for every question of `path`.

    By default questions are read whole (`--no-split`), as the gold list judges them. With
    `split`, a question that asks several things is read as the build reads it, one atom per
    part, and the concepts of its parts are pooled (in order) under the line of its first part.
    """
    analysis = analyse(Config(paths=(path,), split=split), Diagnostics())
    found: dict[tuple[str, int], dict[str, Any]] = {}
    first_part: dict[tuple[str, str], int] = {}
    for atom, (concepts, _main) in zip(analysis.atoms, analysis.links, strict=True):
        line = atom.line
        if atom.part_of is not None:
            line = first_part.setdefault((atom.source, atom.part_of), atom.line)
        question = atom.part_of if atom.part_of is not None else atom.question
        entry = found.setdefault((atom.source, line), {"question": question, "concepts": []})
        entry["concepts"].extend(c for c in concepts if c not in entry["concepts"])
    return found


def available(gold: Gold) -> dict[str, Path]:
    """The collections whose notes exist on this machine."""
    return {name: p for name, p in gold.collections.items() if p.exists()}


def evaluate(
    gold: Gold, links: Mapping[str, Mapping[tuple[str, int], Mapping[str, Any]]]
) -> list[QuestionResult]:
    """Compare the gold questions of the collections in `links` with what was attached."""
    results = []
    for q in gold.questions:
        if q.collection not in links:
            continue
        atom = links[q.collection].get(q.key)
        attached = tuple(atom["concepts"]) if atom is not None else ()
        results.append(QuestionResult(q, atom is not None, attached))
    return results


def score(results: Sequence[QuestionResult]) -> Score:
    return Score(
        questions=len(results),
        expected=sum(len(r.gold.concepts) for r in results),
        attached=sum(len(r.attached) for r in results),
        hits=sum(r.hits for r in results),
    )


def run(gold: Gold | None = None, split: bool = False) -> tuple[list[QuestionResult], list[str]]:
    """Read every available collection and evaluate; also gives the names of absent ones."""
    gold = gold or load_gold()
    here = available(gold)
    links = {name: read_links(path, split) for name, path in here.items()}
    return evaluate(gold, links), sorted(set(gold.collections) - set(here))


def catalogue() -> Catalogue:
    return load_catalogue(None, Diagnostics())


def _figures(s: Score) -> dict[str, float | int]:
    return {
        "questions": s.questions,
        "expected": s.expected,
        "attached": s.attached,
        "hits": s.hits,
        "precision": round(s.precision, 3),
        "recall": round(s.recall, 3),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="per-question differences")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument(
        "--split",
        action="store_true",
        help="read questions as the build does, one atom per part, and pool the parts' concepts",
    )
    args = parser.parse_args(argv)

    results, absent = run(split=args.split)
    groups = {
        name: [r for r in results if r.gold.collection == name]
        for name in dict.fromkeys(r.gold.collection for r in results)
    }
    total = score(results)
    lost = [r for r in results if not r.found]
    if args.json:
        out = {
            "catalogue": len(catalogue()),
            "absent": absent,
            "overall": _figures(total),
            "collections": {name: _figures(score(rs)) for name, rs in groups.items()},
            "not_found": [f"{r.gold.source}:{r.gold.line}" for r in lost],
            "questions": [
                {
                    "collection": r.gold.collection,
                    "where": f"{r.gold.source}:{r.gold.line}",
                    "label": r.gold.label,
                    "gold": list(r.gold.concepts),
                    "attached": list(r.attached),
                }
                for r in results
            ],
        }
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 1 if lost else 0

    print(f"catalogue: {len(catalogue())} concepts")
    for name in absent:
        print(f"{name}: not available ({gold_path_hint(name)}); skipped")
    print(
        f"{'collection':<12} {'questions':>9} {'gold':>5} {'attached':>8} {'hits':>5} {'precision':>9} {'recall':>7}"
    )
    for name, rs in [*groups.items(), ("overall", results)]:
        s = score(rs)
        print(
            f"{name:<12} {s.questions:>9} {s.expected:>5} {s.attached:>8} {s.hits:>5}"
            f" {s.precision:>9.3f} {s.recall:>7.3f}"
        )
    if args.verbose:
        for r in results:
            if not r.found:
                print(
                    f"  {r.gold.collection} {r.gold.source}:{r.gold.line} [{r.gold.label}]: no atom at this line"
                )
            elif r.missing or r.extra:
                parts = []
                if r.missing:
                    parts.append("missing " + ", ".join(r.missing))
                if r.extra:
                    parts.append("extra " + ", ".join(r.extra))
                print(
                    f"  {r.gold.collection} {r.gold.source}:{r.gold.line} [{r.gold.label}]: {'; '.join(parts)}"
                )
    for r in lost:
        print(f"error: no atom at {r.gold.source}:{r.gold.line} ({r.gold.label})", file=sys.stderr)
    return 1 if lost else 0


def gold_path_hint(name: str) -> str:
    try:
        return str(load_gold().collections[name])
    except (OSError, ValueError, KeyError):
        return name


if __name__ == "__main__":
    sys.exit(main())
