"""Reading benchmark: how well bagu2anki reads real interview-note collections.

For every gold file in `gold/` (one per collection, made by hand; see README.md), reads the
collection the way `bagu2anki export atoms` does (in process, the whole collection folder, so
each file is read in its collection's context), keeps the atoms of the sampled files and prints
per collection:

- recall: gold questions found, i.e. an atom at the gold question's line (±0; a question that is
  the file's name also matches an atom at line 1 or at the file's first non-blank line);
- precision: atoms in the sampled files that are gold questions. Every atom counts as a
  prediction, whatever its status (unanswered, link_only, reference) or kind (`X：概览` too);
- attached: of the found gold questions, those whose atom's answer reaches the gold end (the
  atom's last line, trailing blank and separator lines aside, equals the gold end or an accepted
  alternative) and swallows no later gold question.

    python benchmarks/reading/score.py              # the table
    python benchmarks/reading/score.py --verbose    # and every miss, extra card and bad end
    python benchmarks/reading/score.py --json       # machine-readable (used by the tests)

The corpora live in `../shared` beside the repository (`../shared/corpora/<name>`,
`../shared/seeds`); without them the script says so and exits 0.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SHARED = REPO.parent / "shared"
GOLD_DIR = HERE / "gold"
STATUSES = ("answered", "link_only", "reference", "unanswered")
OPTION_KEYS = ("alt_line", "alt_end", "file")
# Lines an answer may end with that add nothing: `---` rules, empty anchors, an empty `>` quote
# line or an empty list marker (`- `).
_SEPARATOR_RE = re.compile(
    r"^\s*(?:[-*_]\s*){3,}$|^\s*<a\s+name=[^>]*>\s*(?:</a>)?\s*$|^\s*(?:>\s*)+$|^\s*(?:[-*+]|\d+[.)])\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class GoldQuestion:
    path: str
    line: int
    end: int
    label: str
    status: str
    alt_line: tuple[int, ...] = ()
    alt_end: tuple[int, ...] = ()
    file: bool = False


@dataclass
class Collection:
    name: str
    root: Path
    gold_file: Path
    files: dict[str, list[GoldQuestion]]


@dataclass
class FileReport:
    path: str
    missed: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    unattached: list[str] = field(default_factory=list)


@dataclass
class Result:
    name: str
    files: int
    gold: int
    atoms: int
    found: int
    correct_atoms: int
    attached: int
    status_agree: int
    reports: list[FileReport]
    skipped: str | None = None

    def figures(self) -> dict[str, float]:
        return {
            "recall": self.found / self.gold if self.gold else 1.0,
            "precision": self.correct_atoms / self.atoms if self.atoms else 1.0,
            "attached": self.attached / self.found if self.found else 0.0,
            "status": self.status_agree / self.found if self.found else 0.0,
        }


class GoldError(ValueError):
    pass


def load_gold(path: Path) -> Collection:
    """One gold file, checked for shape (the tests check it against the notes too)."""
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not {"collection", "root", "files"} <= set(data):
        raise GoldError(f"{path.name}: needs collection, root and files")
    files: dict[str, list[GoldQuestion]] = {}
    for rel, entries in (data["files"] or {}).items():
        qs: list[GoldQuestion] = []
        for e in entries or []:
            if not isinstance(e, list) or len(e) not in (4, 5):
                raise GoldError(f"{path.name}: {rel}: entry {e!r} is not [line, end, label, status(, options)]")
            line, end, label, status = e[:4]
            opts = e[4] if len(e) == 5 else {}
            if not isinstance(opts, dict) or set(opts) - set(OPTION_KEYS):
                raise GoldError(f"{path.name}: {rel}: bad options {opts!r}")
            if not (isinstance(line, int) and isinstance(end, int) and isinstance(label, str)):
                raise GoldError(f"{path.name}: {rel}: bad entry {e!r}")
            if status not in STATUSES:
                raise GoldError(f"{path.name}: {rel}:{line}: unknown status {status!r}")
            qs.append(
                GoldQuestion(
                    rel, line, end, label, status,
                    tuple(opts.get("alt_line", ())), tuple(opts.get("alt_end", ())), bool(opts.get("file", False)),
                )
            )
        files[rel] = qs
    return Collection(str(data["collection"]), SHARED / str(data["root"]), path, files)


def gold_collections() -> list[Collection]:
    return [load_gold(p) for p in sorted(GOLD_DIR.glob("*.yaml"))]


def read_atoms(root: Path) -> list[Any]:
    """The atoms of a whole collection, read as `export atoms` reads it (no cache, one process)."""
    try:
        from bagu2anki.config import Config
    except ImportError:  # run with a Python that does not have the package installed
        sys.path.insert(0, str(REPO / "src"))
        from bagu2anki.config import Config
    from bagu2anki.diagnostics import Diagnostics
    from bagu2anki.pipeline import analyse

    cfg = Config(paths=(root,), use_cache=False, jobs=1, split=False)  # reading, before one card per part
    return list(analyse(cfg, Diagnostics(), workers=1).atoms)


def _effective_end(atom: Any, lines: list[str]) -> int:
    """The atom's last line, stepping back over blank and separator lines."""
    end = int(atom.end_line)
    while end > atom.line and end <= len(lines) and (not lines[end - 1].strip() or _SEPARATOR_RE.match(lines[end - 1])):
        end -= 1
    return end


def _first_nonblank(lines: list[str]) -> int:
    for k, text in enumerate(lines, 1):
        if text.strip():
            return k
    return 1


def _clip(text: str, n: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def score_collection(col: Collection) -> Result:
    if not col.root.is_dir():
        return Result(col.name, len(col.files), 0, 0, 0, 0, 0, 0, [], skipped=f"{col.root} not found")
    atoms = read_atoms(col.root)
    by_file: dict[str, list[Any]] = {}
    for a in atoms:
        by_file.setdefault(a.source, []).append(a)
    res = Result(col.name, len(col.files), 0, 0, 0, 0, 0, 0, [])
    for rel, gold in col.files.items():
        lines = (col.root / rel).read_text(encoding="utf-8", errors="replace").splitlines()
        mine = sorted(by_file.get(rel, []), key=lambda a: (a.line, a.end_line))
        report = FileReport(rel)
        res.gold += len(gold)
        res.atoms += len(mine)
        used: set[int] = set()
        gold_lines = sorted({g.line for g in gold})
        matched: dict[int, Any] = {}  # gold index -> atom
        # exact lines first, then alternatives, so an alternative never steals another's atom
        for pass_ in ("exact", "alt"):
            for gi, g in enumerate(gold):
                if gi in matched:
                    continue
                if pass_ == "exact":
                    accept = {g.line}
                else:
                    accept = set(g.alt_line) | ({1, _first_nonblank(lines)} if g.file else set())
                for ai, a in enumerate(mine):
                    if ai not in used and a.line in accept:
                        used.add(ai)
                        matched[gi] = a
                        break
        for gi, g in enumerate(gold):
            a = matched.get(gi)
            if a is None:
                near = [x for x in mine if abs(x.line - g.line) <= 3]
                seen = "; ".join(f"atom at {x.line}: {_clip(x.question, 30)!r}" for x in near) or "no atom within 3 lines"
                cover = [x for x in mine if x.line < g.line <= x.end_line]
                if cover:
                    seen += f"; inside the answer of {cover[0].line} ({_clip(cover[0].question, 24)!r}, to {cover[0].end_line})"
                report.missed.append(f"{rel}:{g.line}: missed [{g.label}] ({g.status}, to {g.end}) — {seen}")
                continue
            res.found += 1
            if (g.status == "unanswered") == (a.status == "unanswered"):
                res.status_agree += 1
            end = _effective_end(a, lines)
            swallowed = [k for k in gold_lines if a.line < k <= a.end_line and k != g.line]
            if (end == g.end or end in g.alt_end) and not swallowed:
                res.attached += 1
            else:
                why = f"swallows gold question at {swallowed[0]}" if swallowed else (
                    "stops short" if end < g.end else "runs on"
                )
                report.unattached.append(
                    f"{rel}:{g.line}: [{g.label}] answer should end at {g.end}"
                    + (f" (or {', '.join(map(str, g.alt_end))})" if g.alt_end else "")
                    + f", atom ends at {end} — {why}"
                )
        res.correct_atoms += len(used)
        for ai, a in enumerate(mine):
            if ai not in used:
                kind = f", {a.kind}" if a.kind else ""
                report.extra.append(
                    f"{rel}:{a.line}: extra card {_clip(a.question, 36)!r} ({a.status}{kind}, to {a.end_line})"
                )
        if report.missed or report.extra or report.unattached:
            res.reports.append(report)
    return res


def table(results: list[Result]) -> str:
    rows = [
        "| collection | files | gold questions | recall | precision | attached | atoms | status |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    tot = Result("all", 0, 0, 0, 0, 0, 0, 0, [])
    for r in results:
        if r.skipped:
            rows.append(f"| {r.name} | {r.files} | – | skipped | | | | |")
            continue
        f = r.figures()
        rows.append(
            f"| {r.name} | {r.files} | {r.gold} | {f['recall']:.2f} ({r.found}/{r.gold}) "
            f"| {f['precision']:.2f} ({r.correct_atoms}/{r.atoms}) | {f['attached']:.2f} ({r.attached}/{r.found}) "
            f"| {r.atoms} | {f['status']:.2f} |"
        )
        for k in ("files", "gold", "atoms", "found", "correct_atoms", "attached", "status_agree"):
            setattr(tot, k, getattr(tot, k) + getattr(r, k))
    if sum(1 for r in results if not r.skipped) > 1:
        f = tot.figures()
        rows.append(
            f"| **all** | {tot.files} | {tot.gold} | {f['recall']:.2f} | {f['precision']:.2f} "
            f"| {f['attached']:.2f} | {tot.atoms} | {f['status']:.2f} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-v", "--verbose", action="store_true", help="list every miss, extra card and wrong end per file")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("collections", nargs="*", help="only these collections (names as in the gold files)")
    args = ap.parse_args(argv)
    if not SHARED.is_dir():
        msg = f"reading benchmark skipped: no corpora at {SHARED} (../shared beside the repository)"
        print(json.dumps({"skipped": msg}) if args.json else msg)
        return 0
    cols = gold_collections()
    if args.collections:
        unknown = set(args.collections) - {c.name for c in cols}
        if unknown:
            ap.error(f"unknown collection(s): {', '.join(sorted(unknown))}")
        cols = [c for c in cols if c.name in args.collections]
    results = [score_collection(c) for c in cols]
    if args.json:
        out = {
            r.name: (
                {"skipped": r.skipped}
                if r.skipped
                else {"files": r.files, "gold": r.gold, "atoms": r.atoms, **{k: round(v, 4) for k, v in r.figures().items()}}
            )
            for r in results
        }
        print(json.dumps(out, ensure_ascii=False, indent=1))
        return 0
    print(table(results))
    for r in results:
        if r.skipped:
            print(f"\n{r.name}: skipped ({r.skipped})")
    if args.verbose:
        for r in results:
            if r.skipped or not r.reports:
                continue
            print(f"\n## {r.name}")
            for rep in r.reports:
                for line in rep.missed + rep.unattached + rep.extra:
                    print(f"- {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
