"""The other tools the benchmark runs on the same atoms, and what each tool's deck holds.

Peers, each in a virtualenv of its own under `~/.cache/bagu2anki-bench/`, made on first use with
pip from PyPI (a peer that cannot be installed is skipped, with the reason printed and written
into the results):

* ankdown (misaka, C): `%` between front and back, `---` between cards. Tables stay text, no
  tags but its own, no folding, chains or related questions. `ankdown --highlight` adds the
  same Pygments work our build does.
* md2anki (Python-Markdown with "extra", Pygments with inline styles, math kept as `\\(…\\)`):
  keeps math, tables and highlighting. Its code needs Python ≥ 3.12; the interpreter is looked
  for under pyenv and on PATH. It runs with `-o-md none` on a copy of its notes: without it,
  md2anki rewrites its input to add IDs to every heading.

`deck_contents()` opens an `.apkg` (zip + SQLite) and counts what it holds for the atoms of a
corpus manifest, matched by question text (every question of the corpus is distinct): formulas
kept as `\\(…\\)` / `\\[…\\]`, tables rendered as HTML tables, code blocks highlighted (token
spans inside `<pre>`), tags, decks, fields, media.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CACHE = Path.home() / ".cache" / "bagu2anki-bench"


@dataclass(frozen=True)
class Peer:
    key: str  # results key: "ankdown", "md2anki"
    package: str  # on PyPI
    exe: str  # console script in the venv
    min_python: tuple[int, int] = (3, 8)

    @property
    def venv(self) -> Path:
        return CACHE / f"{self.key}-venv"

    def version(self) -> str:
        site = sorted(self.venv.glob(f"lib/python*/site-packages/{self.package}-*.dist-info"))
        return site[-1].name.removesuffix(".dist-info").split("-", 1)[1] if site else "?"


ANKDOWN = Peer("ankdown", "ankdown", "ankdown")
MD2ANKI = Peer("md2anki", "md2anki", "md2anki", min_python=(3, 12))


def _python_version(exe: Path | str) -> tuple[int, int] | None:
    try:
        out = subprocess.run(
            [str(exe), "-c", "import sys; print(*sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.split()
        return int(out[0]), int(out[1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def find_python(minimum: tuple[int, int]) -> Path | None:
    """The oldest interpreter at least `minimum`: this one, pyenv's versions, or on PATH."""
    if sys.version_info[:2] >= minimum:
        return Path(sys.executable)
    roots = [Path.home() / ".pyenv"]
    try:
        got = subprocess.run(["pyenv", "root"], capture_output=True, text=True, timeout=30)
        if got.returncode == 0 and got.stdout.strip():
            roots.insert(0, Path(got.stdout.strip()))
    except (OSError, subprocess.SubprocessError):
        pass
    candidates: list[Path] = []
    for root in roots:
        candidates += sorted(root.glob("versions/*/bin/python3"))
    for minor in range(minimum[1], minimum[1] + 10):
        found = shutil.which(f"python{minimum[0]}.{minor}")
        if found:
            candidates.append(Path(found))
    best: tuple[tuple[int, int], Path] | None = None
    for c in candidates:
        v = _python_version(c)
        if v is not None and v >= minimum and (best is None or v < best[0]):
            best = (v, c)
    return best[1] if best else None


def install(peer: Peer) -> tuple[Path | None, str]:
    """(its executable, "") once installed, or (None, why not)."""
    exe = peer.venv / "bin" / peer.exe
    if exe.exists():
        return exe, ""
    python = find_python(peer.min_python)
    if python is None:
        return None, f"needs Python ≥ {peer.min_python[0]}.{peer.min_python[1]}, none found"
    print(f"installing {peer.package} into {peer.venv} (Python at {python})", file=sys.stderr)
    try:
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(python), "-m", "venv", str(peer.venv)], check=True)
        got = subprocess.run(
            [str(peer.venv / "bin" / "pip"), "install", "-q", peer.package],
            capture_output=True,
            text=True,
        )
    except (OSError, subprocess.CalledProcessError) as e:
        return None, f"cannot make its virtualenv: {e}"
    if got.returncode != 0 or not exe.exists():
        tail = (got.stderr.strip().splitlines() or ["no output"])[-1]
        shutil.rmtree(peer.venv, ignore_errors=True)
        return None, f"`pip install {peer.package}` failed: {tail}"
    return exe, ""


def ankdown_command(exe: Path, cards: Path, apkg: Path, highlight: bool) -> list[str]:
    return [str(exe), "-r", str(cards), "-p", str(apkg), *(["--highlight"] if highlight else [])]


def md2anki_command(exe: Path, notes_copy: Path, apkg: Path) -> list[str]:
    """All files in one deck; `-o-md none`, or md2anki rewrites its input to add IDs."""
    files = sorted(str(p) for p in notes_copy.rglob("*.md"))
    return [str(exe), *files, "-o-anki", str(apkg), "-o-md", "none"]


# --- running them ----------------------------------------------------------------------------


RUNS = (  # results key, label, peer, its input folder prefix, ankdown --highlight
    ("ankdown", "ankdown", ANKDOWN, "ankdown", False),
    ("ankdown_hl", "ankdown `--highlight`", ANKDOWN, "ankdown", True),
    ("md2anki", "md2anki `-o-md none`", MD2ANKI, "md2anki", False),
)
_EXE: dict[str, tuple[Path | None, str]] = {}  # peer key -> (executable, why not)


def exe_for(peer: Peer) -> tuple[Path | None, str]:
    if peer.key not in _EXE:
        _EXE[peer.key] = install(peer)
        if _EXE[peer.key][0] is None:
            print(f"skipping {peer.key}: {_EXE[peer.key][1]}", file=sys.stderr)
    return _EXE[peer.key]


def run_all(
    n: int,
    work: Path,
    skip: set[str],
    manifest: dict[str, Any],
    contents: dict[str, Any],
    measure: Callable[[list[str], Path], Any],
    step: Callable[[str], AbstractContextManager[None]],
) -> dict[str, Any]:
    """Every peer on the `n`-atom corpus (inputs written by generate.py into `work`).

    Returns {key: its measured process, or why it was skipped}; what each deck holds goes into
    `contents[key]`.
    """
    res: dict[str, Any] = {}
    for key, label, peer, folder, highlight in RUNS:
        if peer.key in skip:
            continue
        exe, why = exe_for(peer)
        if exe is None:
            res[key] = why
            continue
        src = work / f"{folder}-{n}"
        out = work / f"{key}-{n}.apkg"
        out.unlink(missing_ok=True)
        if peer is MD2ANKI:
            copy = work / f"{folder}-{n}-copy"  # `-o-md none` aside, never its source
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(src, copy)
            cmd = md2anki_command(exe, copy, out)
        else:
            cmd = ankdown_command(exe, src, out, highlight)
        with step(f"{label} {n}"):
            res[key] = measure(cmd, work)
        if out.exists():
            contents[key] = deck_contents(out, manifest)
    return res


# --- what a deck holds ---------------------------------------------------------------------------


@dataclass
class Apkg:
    notes: list[tuple[list[str], str]]  # (fields, tags)
    cards: int
    decks: int
    fields: list[str]  # field names of the note type most notes use
    media: int
    size: int


def read_apkg(apkg: Path) -> Apkg:
    with zipfile.ZipFile(apkg) as z, tempfile.TemporaryDirectory() as tmp:
        names = z.namelist()
        name = "collection.anki21" if "collection.anki21" in names else "collection.anki2"
        db = Path(tmp) / name
        db.write_bytes(z.read(name))
        media = len(json.loads(z.read("media") or b"{}")) if "media" in names else 0
        con = sqlite3.connect(db)
        try:
            rows = con.execute("select mid, flds, tags from notes").fetchall()
            cards = con.execute("select count(*) from cards").fetchone()[0]
            models_json, decks_json = con.execute("select models, decks from col").fetchone()
        finally:
            con.close()
    models = json.loads(models_json)
    decks = [d for d in json.loads(decks_json).values() if d.get("name") != "Default"]
    mids = [str(mid) for mid, _f, _t in rows]
    main = max(set(mids), key=mids.count) if mids else ""
    fields = [f["name"] for f in models.get(main, {}).get("flds", [])]
    return Apkg(
        notes=[(f.split("\x1f"), t) for _m, f, t in rows],
        cards=cards,
        decks=len(decks),
        fields=fields,
        media=media,
        size=apkg.stat().st_size,
    )


_TAG_RE = re.compile(r"<[^>]+>")
_SPACE_RE = re.compile(r"\s+")
_PRE_RE = re.compile(r"<pre\b.*?</pre>", re.S)
_TOKEN_RE = re.compile(r'<span (?:class="(?!w")[\w-]+"|style="[^"]*color)')


def visible(s: str) -> str:
    """Text without tags, entities or white space: the key that matches a note to its atom."""
    return _SPACE_RE.sub("", html.unescape(_TAG_RE.sub("", s)))


def has_formula(text: str, tex: str) -> bool:
    """`tex` is in `text` between `\\(…\\)` or `\\[…\\]`, as written or HTML-escaped."""
    t = tex.strip()
    return any(
        f"{o}{v}{c}" in text or f"{o} {v} {c}" in text
        for v in {t, html.escape(t, quote=False), html.escape(t)}
        for o, c in (("\\(", "\\)"), ("\\[", "\\]"))
    )


def highlighted_blocks(answer: str) -> int:
    """`<pre>` blocks with token markup (Pygments classes or inline colours)."""
    return sum(bool(_TOKEN_RE.search(m.group(0))) for m in _PRE_RE.finditer(answer))


def deck_contents(apkg: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """What the deck holds, counted against the corpus's atoms (matched by question text)."""
    deck = read_apkg(apkg)
    by_question: dict[str, int] = {}
    for k, (fields, _tags) in enumerate(deck.notes):
        by_question.setdefault(visible(fields[0]), k)
    matched = set()
    math = [0, 0, 0, 0]  # atoms with all formulas, atoms with formulas, formulas found, formulas
    tables = [0, 0]  # atoms whose tables are all HTML tables, atoms with tables
    code = [0, 0]  # atoms whose code blocks are all highlighted, atoms with code
    for m in manifest["atoms"]:
        k = by_question.get(visible(m["question"]))
        if k is None:
            continue
        matched.add(k)
        if m["status"] != "answered":
            continue
        fields = deck.notes[k][0]
        answer = fields[1] if len(fields) > 1 else ""
        if m["formulas"]:
            hits = sum(has_formula(answer, t) for t in m["formulas"])
            math[0] += hits == len(m["formulas"])
            math[1] += 1
            math[2] += hits
            math[3] += len(m["formulas"])
        if m.get("tables"):
            tables[0] += answer.count("<table") >= m["tables"]
            tables[1] += 1
        if m.get("code"):
            code[0] += highlighted_blocks(answer) >= m["code"]
            code[1] += 1
    tag_lists = [t.split() for _f, t in deck.notes]
    return {
        "notes": len(deck.notes),
        "cards": deck.cards,
        "question_notes": len(matched),
        "atoms": len(manifest["atoms"]),
        "decks": deck.decks,
        "fields": deck.fields,
        "math": math,
        "tables": tables,
        "code": code,
        "tags": len({t for ts in tag_lists for t in ts}),
        "tags_per_note": sum(map(len, tag_lists)) / max(1, len(tag_lists)),
        "media": deck.media,
        "mb": deck.size / 1e6,
    }


# --- the report ---------------------------------------------------------------------------------


def fmt_s(x: float | None) -> str:
    return "—" if x is None else (f"{x:.2f}" if x < 10 else f"{x:.1f}")


def pw(p: Any) -> str:
    if p.code == -signal.SIGKILL:
        return f"timed out ({fmt_s(p.wall)} s)"
    if p.code != 0:
        return f"failed (exit {p.code})"
    return f"{fmt_s(p.wall)} s wall, {fmt_s(p.cpu)} s CPU, {p.rss_mb:.0f} MB"


def ok(p: Any) -> bool:
    return hasattr(p, "wall") and p.code == 0


def tables(results: list[dict[str, Any]], info: dict[str, str]) -> list[str]:
    """Per size: each tool's times beside what its deck holds."""
    L = ["## Peers: the same atoms, the same run", ""]
    L.append(
        "Each tool on the same atoms in its own syntax (`generate.py --ankdown/--md2anki`), one "
        "process each, measured like our builds (wall, CPU user+sys with children, peak RSS). "
        "What the deck holds is read from each `.apkg` and matched to the atoms by question text: "
        "*formulas* kept as `\\(…\\)` / `\\[…\\]`; *tables*: answers whose Markdown tables "
        "became HTML tables; *code*: answers whose code blocks are highlighted (token markup); "
        "*other notes*: notes that are not a question of the corpus (ours: concept cards). "
        f"Versions: {info['peers']}."
    )
    L.append("")
    tools = [("cold", "**bagu2anki** `build --no-cache`")] + [
        (key, label) for key, label, *_ in RUNS
    ]
    for r in results:
        L.append(f"### {r['atoms']:,} atoms (load average before: {r['load']})")
        L.append("")
        L.append(
            "| tool | wall s | CPU s | peak RSS MB | ours ÷ it: wall; CPU | question notes "
            "(+ other) | decks | formulas kept | tables as HTML | code highlighted | tags "
            "(distinct; per note) | fields | media | `.apkg` MB |"
        )
        L.append("|---|" + "---|" * 13)
        cold = r.get("cold")
        for key, label in tools:
            p = r.get(key)
            if p is None:
                continue
            if isinstance(p, str):
                L.append(f"| {label} | skipped: {p} |" + " |" * 12)
                continue
            if not ok(p):
                L.append(f"| {label} | {pw(p)} |" + " |" * 12)
                continue
            ratio = (
                f"{cold.wall / p.wall:.2f}×; {cold.cpu / p.cpu:.2f}×"
                if key != "cold" and ok(cold)
                else ""
            )
            c = r.get("contents", {}).get(key)
            if c is None:
                cells = ["—"] * 9
            else:
                m, t, k = c["math"], c["tables"], c["code"]
                cells = [
                    f"{c['question_notes']:,} (+{c['notes'] - c['question_notes']:,})",
                    f"{c['decks']:,}",
                    f"{m[2]:,}/{m[3]:,}",
                    f"{t[0]:,}/{t[1]:,}",
                    f"{k[0]:,}/{k[1]:,}",
                    f"{c['tags']:,}; {c['tags_per_note']:.1f}",
                    str(len(c["fields"])),
                    str(c["media"]),
                    f"{c['mb']:.1f}",
                ]
            L.append(
                f"| {label} | {fmt_s(p.wall)} | {fmt_s(p.cpu)} | {p.rss_mb:.0f} | {ratio} | "
                + " | ".join(cells)
                + " |"
            )
        L.append("")
    c = next((r["contents"]["cold"] for r in results if "cold" in r.get("contents", {})), None)
    if c:
        L.append(
            f"Our note fields: {', '.join(c['fields'])}. Our question notes: one per answered or "
            "referring question (an unanswered one is listed in the report, not carded); "
            "ankdown and md2anki card every question, an empty answer included. ankdown's "
            "`bench` tag is a field of its note type, not an Anki tag."
        )
        L.append("")
    return L


TARGET_SIZE = 10000


def targets(results: list[dict[str, Any]]) -> list[str]:
    """The issue's targets, reported (not asserted): figure and met / not met."""
    L = ["## Targets", ""]
    by = {r["atoms"]: r for r in results}
    r = by.get(TARGET_SIZE)
    rows: list[tuple[str, str, bool | None]] = []

    def add(label: str, fn: Callable[[], tuple[str, bool]]) -> None:
        try:
            rows.append((label, *fn()))
        except (KeyError, TypeError, ZeroDivisionError, AttributeError):
            rows.append((label, "not measured in this run", None))

    if r is not None:
        cold = r["cold"]

        def vs_hl() -> tuple[str, bool]:
            hl = r["ankdown_hl"]
            x = cold.wall / hl.wall
            return f"{x:.2f}× its wall ({cold.cpu / hl.cpu:.2f}× its CPU)", x <= 2

        def vs_md2anki() -> tuple[str, bool]:
            x = r["md2anki"].cpu / cold.cpu
            return f"{x:.1f}× less CPU ({r['md2anki'].wall / cold.wall:.1f}× less wall)", x >= 10

        def frac(key: str, limit: float) -> Callable[[], tuple[str, bool]]:
            def fn() -> tuple[str, bool]:
                p = r[key]
                x = p.wall / cold.wall
                return f"{x:.2f} of cold wall ({p.cpu / cold.cpu:.2f} of CPU)", x <= limit

            return fn

        add("cold 10k build ≤ 2× `ankdown --highlight` wall", vs_hl)
        add("cold 10k build ≥ 10× less CPU than md2anki", vs_md2anki)
        add("one file edited, rebuild at 10k ≤ 0.1× cold", frac("incremental", 0.1))
        add("nothing changed, rebuild at 10k ≤ 0.05× cold", frac("unchanged", 0.05))
        add(
            "peak RSS of the cold 10k build ≤ 300 MB",
            lambda: (f"{cold.rss_mb:.0f} MB", cold.rss_mb <= 300),
        )
    sizes = sorted(s for s in by if ok(by[s].get("cold")))
    if len(sizes) >= 2:
        steps = []
        linear = True
        for a, b in zip(sizes, sizes[1:], strict=False):
            ca, cb = by[a]["cold"], by[b]["cold"]
            growth = (cb.cpu / ca.cpu) / (b / a)  # 1.0 = linear
            steps.append(
                f"{a:,}→{b:,}: atoms ×{b / a:.0f}, CPU ×{cb.cpu / ca.cpu:.1f}, "
                f"RSS ×{cb.rss_mb / ca.rss_mb:.1f}"
            )
            linear = linear and growth <= 1.2
        rows.append(
            ("growth near linear (CPU per atom rises ≤ 20% per step)", "; ".join(steps), linear)
        )
    if not rows:
        return []
    L.append("| target | this run | met |")
    L.append("|---|---|---|")
    for label, fig, met in rows:
        L.append(f"| {label} | {fig} | {'—' if met is None else ('yes' if met else '**no**')} |")
    L.append("")
    return L
