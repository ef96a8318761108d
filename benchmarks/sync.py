"""Time `bagu2anki sync` against a real Anki desktop with AnkiConnect, and the alternative.

    python benchmarks/sync.py                        # 1,000 and 10,000 notes; about 5 minutes
    python benchmarks/sync.py --sizes 1000
    python benchmarks/sync.py --sizes 1000 --skip one-by-one

Needs `../shared/tools/anki_desktop.sh` (the real Anki desktop, headless, with the real
AnkiConnect add-on; `bash ../shared/tools/anki_desktop.sh setup` once). Not a test: run on demand.

Per size, on notes from `benchmarks/generate.py` (fixed seed), each sync a fresh interpreter
running bagu2anki's own command line (from a copy of the code taken at the start, since the build
cache is keyed by the code: an edit in src/ during the run would make every build cold):

* `sync` into an empty profile (a cold build, then the import);
* `sync` again with nothing changed;
* one file edited — three answers get a sentence, one section heading is renamed (its questions
  change deck) — then `sync`; checked in Anki: every note there once, the edited answers updated,
  the renamed section's cards in their new deck, the note ids unchanged.

Then the alternative, on a second empty profile: the same notes sent one by one through
AnkiConnect (`createModel`, `createDeck`, `addNotes` in batches of 500, `changeDeck` per deck
since this AnkiConnect files added notes in `Default`, `storeMediaFile`), the edit sent as
`updateNoteFields` + `changeDeck` for the notes that changed, and the whole deck sent again as
`updateNoteFields`; finally the `.apkg` that `build` writes is imported on top, as a user who also
imports the deck on a phone or another computer would: notes added through AnkiConnect got GUIDs
of Anki's own, so the package's notes arrive a second time.

The table goes to stdout, with the machine, the commit and the load average (the machine may be
shared: wall times of separate runs move by up to 2x).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
TOOL = REPO.parent / "shared" / "tools" / "anki_desktop.sh"
sys.path.insert(0, str(REPO / "src"))

from bagu2anki.sync import read_package  # noqa: E402
from bagu2anki.write.apkg import FIELDS, MODEL_NAME, template_text  # noqa: E402

SENTENCE = "（补充：这是一次同步测试的修改。）"


class Anki:
    """One headless Anki desktop on a fresh base folder, and its AnkiConnect."""

    def __init__(self, base: Path) -> None:
        self.base = base
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Anki:
        env = {**os.environ, "ANKI_CONNECT_PORT": str(self.port)}
        run = subprocess.run(["bash", str(TOOL), "start", str(self.base)], env=env,
                             capture_output=True, text=True, timeout=180)
        if run.returncode != 0:
            sys.exit(f"cannot start Anki: {run.stderr.strip()}")
        return self

    def __exit__(self, *exc: object) -> None:
        subprocess.run(["bash", str(TOOL), "stop", str(self.base)], capture_output=True, timeout=120)

    def call(self, action: str, **params: Any) -> Any:
        body = json.dumps({"action": action, "version": 6, "params": params}).encode()
        with urllib.request.urlopen(urllib.request.Request(self.url, body), timeout=1800) as r:
            reply = json.loads(r.read())
        if reply["error"] is not None:
            raise RuntimeError(f"{action}: {reply['error']}")
        return reply["result"]


SNAPSHOT: Path | None = None
"""A copy of bagu2anki taken at the start: the build cache is keyed by the code, so an edit made
in src/ during a run (by anyone on the machine) would turn every incremental build cold."""


def snapshot(folder: Path) -> Path:
    shutil.copytree(REPO / "src" / "bagu2anki", folder / "bagu2anki")
    shutil.copytree(REPO / "templates", folder / "bagu2anki" / "templates")
    return folder


def bagu2anki(*args: str | Path, cwd: Path) -> tuple[float, str]:
    env = dict(os.environ)
    if SNAPSHOT is not None:
        env["PYTHONPATH"] = str(SNAPSHOT)
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "bagu2anki", *map(str, args)], cwd=cwd,
                         capture_output=True, text=True, env=env)
    took = time.perf_counter() - start
    if run.returncode != 0:
        sys.exit(f"bagu2anki {' '.join(map(str, args))} failed:\n{run.stdout}\n{run.stderr}")
    return took, run.stdout


def anki_seconds(output: str) -> tuple[float, str]:
    m = re.search(r"^(Anki: .*) \(([\d.]+) s\)$", output, re.M)
    if m is None:
        sys.exit(f"no Anki summary in:\n{output}")
    return float(m.group(2)), m.group(1)


def edit_one_file(notes: Path) -> tuple[str, str, str]:
    """Three answers get a sentence; one `## ` section is renamed. Returns (file, old, new)."""
    files = sorted(p for p in notes.rglob("*.md"))
    path = files[len(files) // 2]
    lines = path.read_text(encoding="utf-8").split("\n")
    edited = 0
    for j, line in enumerate(lines):
        if edited < 3 and line.rstrip().endswith("。") and not line.lstrip().startswith(("|", "$", "#", "`", "-", "*")):
            lines[j] = line.rstrip() + SENTENCE
            edited += 1
    k = next(j for j, line in enumerate(lines) if line.startswith("## "))
    old = lines[k][3:].strip()
    lines[k] = f"## {old}（改名）"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path.relative_to(notes).as_posix(), old, f"{old}（改名）"


def bench_sync(n: int, work: Path, notes: Path) -> dict[str, Any]:
    res: dict[str, Any] = {}
    out, lock = work / "out", work / "bagu2anki.lock"
    args = ("sync", notes, "-o", out, "--lock", lock)
    with Anki(work / "anki-sync") as anki:
        took, text = bagu2anki(*args, "--url", anki.url, cwd=work)
        res["first"] = (took, *anki_seconds(text))
        apkg = next(out.glob("*.apkg"))
        shutil.copy(apkg, work / "before.apkg")
        package = read_package(apkg, work).notes
        res["notes"] = len(package)
        assert len(anki.call("findNotes", query=f'"note:{MODEL_NAME}"')) == len(package)
        took, text = bagu2anki(*args, "--url", anki.url, cwd=work)
        res["again"] = (took, *anki_seconds(text))
        nids_before = sorted(anki.call("findNotes", query=f'"note:{MODEL_NAME}"'))
        file, _old, new = edit_one_file(notes)
        res["edited_file"] = file
        took, text = bagu2anki(*args, "--url", anki.url, cwd=work)
        res["edit"] = (took, *anki_seconds(text))
        # what Anki holds now
        nids = sorted(anki.call("findNotes", query=f'"note:{MODEL_NAME}"'))
        res["same_note_ids"] = nids == nids_before
        res["updated_in_anki"] = len(anki.call("findNotes", query=f'"Answer:*{SENTENCE}*"'))
        after = read_package(next(out.glob("*.apkg")), work).notes
        res["updated_in_package"] = sum(1 for note in after.values() if SENTENCE in note.fields)
        cids = anki.call("findCards", query=f'"Section:*{new}*"')
        decks = anki.call("getDecks", cards=cids)
        res["moved_cards"] = len(cids)
        res["moved_right"] = bool(cids) and all(new in d for d in decks)
    return res


def bench_one_by_one(n: int, work: Path) -> dict[str, Any]:
    """The same deck, sent note by note; then the edit; then the deck as `build` wrote it."""
    res: dict[str, Any] = {}
    before = read_package(work / "before.apkg", work).notes
    after_apkg = next((work / "out").glob("*.apkg"))
    after = read_package(after_apkg, work).notes
    media = _media(work / "before.apkg", work / "media")
    with Anki(work / "anki-one-by-one") as anki:
        start = time.perf_counter()
        anki.call("createModel", modelName=MODEL_NAME, inOrderFields=list(FIELDS),
                  css=template_text("card.css"),
                  cardTemplates=[{"Name": "问答", "Front": template_text("front.html"),
                                  "Back": template_text("back.html")}])
        decks = sorted({note.cards[0][1] for note in before.values()})
        anki.call("multi", actions=[{"action": "createDeck", "version": 6, "params": {"deck": d}} for d in decks])
        for name, path in media:
            anki.call("storeMediaFile", filename=name, path=str(path))
        guids = list(before)
        nid_of: dict[str, int] = {}
        for k in range(0, len(guids), 500):
            chunk = guids[k:k + 500]
            nids = anki.call("addNotes", notes=[_note(before[g]) for g in chunk])
            nid_of.update((g, nid) for g, nid in zip(chunk, nids, strict=True) if nid)
        by_deck: dict[str, list[int]] = {}
        for g, nid in nid_of.items():
            by_deck.setdefault(before[g].cards[0][1], []).append(nid)
        actions = []
        for deck, nids in by_deck.items():
            cids = anki.call("findCards", query="nid:" + ",".join(map(str, nids)))
            actions.append({"action": "changeDeck", "version": 6, "params": {"cards": cids, "deck": deck}})
        anki.call("multi", actions=actions)
        res["add"] = time.perf_counter() - start
        res["added"] = len(nid_of)
        # the edit: only the notes whose fields or deck changed
        start = time.perf_counter()
        changed = [g for g in after if g in before and (after[g].fields != before[g].fields or after[g].cards != before[g].cards)]
        anki.call("multi", actions=[_update(nid_of[g], after[g]) for g in changed])
        moves: dict[str, list[int]] = {}
        for g in changed:
            if after[g].cards[0][1] != before[g].cards[0][1]:
                moves.setdefault(after[g].cards[0][1], []).append(nid_of[g])
        for deck, nids in moves.items():
            cids = anki.call("findCards", query="nid:" + ",".join(map(str, nids)))
            anki.call("changeDeck", cards=cids, deck=deck)
        res["edit"] = time.perf_counter() - start
        res["edit_notes"] = len(changed)
        # everything again (what a tool that keeps no state of its own must do)
        start = time.perf_counter()
        for k in range(0, len(guids), 500):
            anki.call("multi", actions=[_update(nid_of[g], after[g]) for g in guids[k:k + 500] if g in after])
        res["all_again"] = time.perf_counter() - start
        # the user also imports the deck `build` writes (a phone, another computer)
        anki.call("importPackage", path=str(after_apkg))
        res["after_import"] = len(anki.call("findNotes", query="deck:*"))
    return res


def _note(state: Any) -> dict[str, Any]:
    values = state.fields.split("\x1f")
    return {"deckName": state.cards[0][1], "modelName": MODEL_NAME,
            "fields": dict(zip(FIELDS, values, strict=True)), "tags": sorted(state.tags),
            "options": {"allowDuplicate": True}}


def _update(nid: int, state: Any) -> dict[str, Any]:
    fields = dict(zip(FIELDS, state.fields.split("\x1f"), strict=True))
    return {"action": "updateNoteFields", "version": 6, "params": {"note": {"id": nid, "fields": fields}}}


def _media(apkg: Path, folder: Path) -> list[tuple[str, Path]]:
    folder.mkdir(exist_ok=True)
    with zipfile.ZipFile(apkg) as z:
        names = json.loads(z.read("media"))
        out = []
        for number, name in names.items():
            target = folder / name
            target.write_bytes(z.read(number))
            out.append((name, target))
    return out


def machine() -> str:
    commit = subprocess.run(["git", "-C", str(REPO), "log", "-1", "--format=%h"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "src"], capture_output=True, text=True).stdout.strip()
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return (f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, commit {commit}"
            f"{' + uncommitted changes in src/' if dirty else ''}; Anki 26.09.3 desktop with AnkiConnect "
            f"4064fa1; load average {load}")


def table(results: dict[int, dict[str, Any]]) -> str:
    sizes = sorted(results)
    head = "| | " + " | ".join(f"{n:,} questions" for n in sizes) + " |"
    rows = [head, "|---|" + "---|" * len(sizes)]

    def row(label: str, cell: Any) -> None:
        cells = []
        for n in sizes:
            try:
                cells.append(cell(results[n]))
            except KeyError:
                cells.append("–")
        rows.append(f"| {label} | " + " | ".join(cells) + " |")

    row("notes in the deck", lambda r: f"{r['sync']['notes']:,}")
    row("`sync` into an empty profile: whole / Anki part", lambda r: f"{r['sync']['first'][0]:.1f} / {r['sync']['first'][1]:.1f} s")
    row("`sync` again, nothing changed", lambda r: f"{r['sync']['again'][0]:.1f} / {r['sync']['again'][1]:.1f} s")
    row("`sync` after editing one file", lambda r: f"{r['sync']['edit'][0]:.1f} / {r['sync']['edit'][1]:.1f} s")
    row("  its summary", lambda r: r["sync"]["edit"][2].removeprefix("Anki: "))
    row("  checked in Anki: note ids kept, answers updated, cards moved", lambda r: (
        f"{'yes' if r['sync']['same_note_ids'] else 'NO'}, {r['sync']['updated_in_anki']} of "
        f"{r['sync']['updated_in_package']}, "
        f"{r['sync']['moved_cards']} {'in the new deck' if r['sync']['moved_right'] else 'NOT MOVED'}"))
    row("one by one: add the deck (Anki part)", lambda r: f"{r['one']['add']:.1f} s ({r['one']['added']:,} notes)")
    row("one by one: the edit, changed notes only", lambda r: f"{r['one']['edit']:.1f} s ({r['one']['edit_notes']} notes)")
    row("one by one: every note again", lambda r: f"{r['one']['all_again']:.1f} s")
    row("one by one, then the built `.apkg` imported: notes", lambda r: f"{r['one']['after_import']:,} (of {r['sync']['notes']:,})")
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,10000", help="questions per run, comma-separated")
    ap.add_argument("--skip", default="", help="'one-by-one' to time sync only")
    args = ap.parse_args()
    if not TOOL.is_file():
        sys.exit(f"{TOOL} not found: the Anki desktop tool lives in ../shared/tools")
    global SNAPSHOT
    results: dict[int, dict[str, Any]] = {}
    about = machine()
    code = tempfile.TemporaryDirectory(prefix="b2a-sync-code-")
    SNAPSHOT = snapshot(Path(code.name))
    for n in (int(s) for s in args.sizes.split(",") if s):
        with tempfile.TemporaryDirectory(prefix=f"b2a-sync-{n}-") as tmp:
            work = Path(tmp)
            notes = work / "notes"
            subprocess.run([sys.executable, str(HERE / "generate.py"), "--atoms", str(n), "--out", str(notes)],
                           check=True, capture_output=True)
            print(f"{n}: sync ...", file=sys.stderr)
            results[n] = {"sync": bench_sync(n, work, notes)}
            if "one-by-one" not in args.skip:
                print(f"{n}: one by one ...", file=sys.stderr)
                results[n]["one"] = bench_one_by_one(n, work)
    code.cleanup()
    print(f"{about}\n\n{table(results)}")


if __name__ == "__main__":
    main()
