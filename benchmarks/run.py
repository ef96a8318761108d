"""Benchmark bagu2anki on synthetic notes against its peers: wall, CPU, peak memory, and what
each tool's deck holds.

    python benchmarks/run.py                      # sizes 1000,10000,50000; 15-26 minutes
    python benchmarks/run.py --sizes 1000,10000   # about 5-7 minutes
    python benchmarks/run.py --skip renderers,map,md2anki --sizes 1000

For each size it generates a corpus (`benchmarks/generate.py`, fixed seed; no question and no
code block repeats) and measures, each build in a fresh interpreter running bagu2anki's own
command line from a copy of `src/` and `templates/` as committed at HEAD, taken at the start
(`--working-tree`: as they are, uncommitted changes included), so the figures belong to a commit
and edits made during the run (the build cache is keyed by the code) change nothing:

* a cold `bagu2anki build --no-cache` (fresh lock and output folder), with the time and peak
  memory of every stage taken inside the process (discover, parse, link concepts, identities,
  render, write deck, write map, report/lock/cache);
* incremental (sizes up to --incremental-max, 10,000 by default): a build that fills the cache,
  a rebuild with nothing changed, one edited file and its rebuild, and a cold build of the
  edited notes from the same lock, whose outputs must be byte-identical to the rebuild's;
* `export atoms` (to /dev/null): its peak memory should not grow with the corpus;
* the peers on the same atoms in their own syntax, in the same run (`benchmarks/peers.py`):
  ankdown, `ankdown --highlight` and md2anki (`-o-md none`, on a copy of its notes);
* what every deck holds, read from the `.apkg`: question notes, formulas kept, tables as HTML,
  highlighted code, tags, decks, fields, media.

Then, on 10,000 atoms: the concept map with a 2,000-concept catalogue in headless Chromium
(time until `window.__mapReady`, a search, page size), and the renderer options on the same
math-protected answers (markdown-it-py as configured, 2 worker processes, and markdown-it-pyrs,
cmarkgfm, pyromark where installed). The tables, the targets met or not, the machine, its load
average, the commit measured and the state of the tree at the end (`-dirty` with what is
uncommitted) are printed and written to benchmarks/results.md; `--keep` also leaves
`WORK/raw.json`, from which `--report-from` writes them again.

Not a test: run on demand. Other work on the same cores changes wall times (CPU times change
less): compare CPU, and ratios within one run.
"""

from __future__ import annotations

import argparse
import compileall
import hashlib
import html
import io
import json
import os
import platform
import re
import resource
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import generate  # noqa: E402
import peers  # noqa: E402
from peers import fmt_s, pw  # noqa: E402

EPOCH = "1700000000"  # SOURCE_DATE_EPOCH: builds that must be comparable byte for byte
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu"]
MAP_CONCEPTS = 2000
MAP_ATOMS = 10000

# Stage -> functions whose time it is, as "module:function" or "module:Class.method". Only the
# outermost timed call counts, so a function called from inside another is not counted twice.
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("discover", ("bagu2anki.sources:discover",)),
    (
        "parse",
        ("bagu2anki.sources:load", "bagu2anki.parse:read", "*:_check_math", "*:_check_atoms"),
    ),
    (
        "link concepts",
        (
            "*:load_catalogue",
            "*:build_graph",
            "*:recognize",
            "*:acronyms_in",
            "*:candidate_acronyms",
        ),
    ),
    ("identities", ("*:assign", "bagu2anki.identity:Lock.load")),
    ("render", ("*:make_cards",)),
    ("write deck", ("*:write_apkg",)),
    ("write map", ("*:write_concept_map",)),
    (
        "report, lock, cache",
        (
            "*:write_report",
            "*:_updated_lock",
            "bagu2anki.identity:Lock.save",
            "bagu2anki.cache:BuildCache.save",
            "bagu2anki.cache:BuildCache.open",
        ),
    ),
)
# Timed also when nested (shown indented, not added to the sum).
SUBSTAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("read, parse, link: elapsed", ("bagu2anki.pipeline:analyse",)),
    ("answers (process pool)", ("*:render_answers",)),
    ("map layout", ("*:layered_positions",)),
    ("deck rows (SQLite)", ("*:_write_collection",)),
    ("deck zip", ("*:_write_zip",)),
)


# ================================================================================================
# inside the measured process
# ================================================================================================


def _cpu() -> float:
    """CPU seconds of this process and of the children it has reaped (worker pools)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _rss_mb() -> float:
    """Peak RSS so far: this process (VmHWM, which starts afresh at exec) or a reaped child."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                own = int(line.split()[1])
    except OSError:
        pass
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024


@dataclass
class _Timer:
    wall: float = 0.0
    cpu: float = 0.0
    calls: int = 0
    rss: float = 0.0
    worker_wall: float = 0.0  # summed over worker processes that ran this stage's functions
    worker_cpu: float = 0.0
    worker_calls: int = 0


def _find(spec: str) -> list[tuple[Any, str, Any]]:
    """(owner, attribute, original) for a spec; `*:name` looks in every bagu2anki module."""
    import importlib
    import pkgutil

    import bagu2anki

    modname, _, name = spec.partition(":")
    if modname == "*":
        for info in pkgutil.walk_packages(bagu2anki.__path__, "bagu2anki."):
            if info.name.endswith("__main__"):
                continue
            try:
                importlib.import_module(info.name)
            except Exception:  # noqa: BLE001 - a module that cannot import is simply not timed
                continue
        hits = []
        for mod in list(sys.modules.values()):
            obj = (
                getattr(mod, name, None)
                if getattr(mod, "__name__", "").startswith("bagu2anki")
                else None
            )
            if (
                callable(obj)
                and getattr(obj, "__module__", "").startswith("bagu2anki")
                and obj.__name__ == name
            ):
                hits.append((mod, name, obj))
        return hits
    try:
        mod = importlib.import_module(modname)
    except ImportError:
        return []
    if "." in name:
        cls_name, meth = name.split(".", 1)
        cls = getattr(mod, cls_name, None)
        if cls is None or meth not in cls.__dict__:
            return []
        return [(cls, meth, cls.__dict__[meth])]
    obj = getattr(mod, name, None)
    return [(mod, name, obj)] if callable(obj) else []


def install_timers(worker_log: Path) -> tuple[dict[str, _Timer], dict[str, _Timer]]:
    """Wrap the stage functions wherever bagu2anki refers to them.

    In a forked worker process (a pool started outside any timed stage) the times go, one line
    per call, to `worker_log`; the parent adds them up after the build.
    """
    timers = {name: _Timer() for name, _ in STAGES}
    subs = {name: _Timer() for name, _ in SUBSTAGES}
    depth = [0]
    parent = os.getpid()

    def wrap(fn: Callable[..., Any], t: _Timer, outer: bool, stage: str) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            if outer and depth[0]:
                return fn(*args, **kwargs)
            if outer:
                depth[0] += 1
            w, c = time.perf_counter(), _cpu()
            try:
                return fn(*args, **kwargs)
            finally:
                dw, dc = time.perf_counter() - w, _cpu() - c
                if outer:
                    depth[0] -= 1
                if os.getpid() != parent:
                    if outer:
                        with worker_log.open("a") as f:
                            f.write(f"{stage}\t{dw}\t{dc}\n")
                else:
                    t.wall += dw
                    t.cpu += dc
                    t.calls += 1
                    if outer:
                        t.rss = _rss_mb()

        timed.__wrapped__ = fn  # type: ignore[attr-defined]
        return timed

    done: dict[int, Callable[..., Any]] = {}
    for table, store, outer in ((STAGES, timers, True), (SUBSTAGES, subs, False)):
        for stage, specs in table:
            for spec in specs:
                for owner, attr, original in _find(spec):
                    raw = (
                        original.__func__
                        if isinstance(original, (classmethod, staticmethod))
                        else original
                    )
                    key = id(raw)
                    if key not in done:
                        done[key] = wrap(raw, store[stage], outer, stage)
                    new = done[key]
                    if isinstance(original, classmethod):
                        new = classmethod(new)
                    elif isinstance(original, staticmethod):
                        new = staticmethod(new)
                    setattr(owner, attr, new)
                    # the same function imported by name into other modules
                    for mod in list(sys.modules.values()):
                        if (
                            getattr(mod, "__name__", "").startswith("bagu2anki")
                            and getattr(mod, attr, None) is raw
                        ):
                            setattr(mod, attr, done[key])
    return timers, subs


def child_build(record: Path, argv: list[str]) -> int:
    """`run.py _build RECORD -- build …`: bagu2anki's CLI with stage timers; JSON to RECORD."""
    t0, c0 = time.perf_counter(), _cpu()
    worker_log = record.with_suffix(".workers.tsv")
    worker_log.unlink(missing_ok=True)
    timers, subs = install_timers(worker_log)
    from bagu2anki.cli import main

    t1, c1 = time.perf_counter(), _cpu()
    code = 0
    try:
        main(argv, prog_name="bagu2anki", standalone_mode=False)
    except SystemExit as e:  # --strict and friends
        code = int(e.code or 0)
    total = time.perf_counter() - t1
    if worker_log.exists():
        for line in worker_log.read_text().splitlines():
            stage, w, c = line.split("\t")
            timers[stage].worker_wall += float(w)
            timers[stage].worker_cpu += float(c)
            timers[stage].worker_calls += 1
    data = {
        "setup_wall": t1 - t0,
        "setup_cpu": c1 - c0,
        "total_wall": total,
        "total_cpu": _cpu() - c1,
        "rss_mb": _rss_mb(),
        "stages": {k: vars(v) for k, v in timers.items()},
        "substages": {k: vars(v) for k, v in subs.items()},
        "exit": code,
    }
    record.write_text(json.dumps(data))
    return code


# ================================================================================================
# the driver
# ================================================================================================


@dataclass
class Proc:
    wall: float
    cpu: float
    rss_mb: float
    code: int
    record: dict[str, Any] = field(default_factory=dict)


TIMEOUT = [600.0]  # seconds per measured process (--timeout)


def _spawn_measured(
    cmd: list[str], env: dict[str, str], cwd: str | None, timeout: float
) -> dict[str, Any]:
    """Run one command; wall, CPU (user+sys with reaped children), peak RSS, exit code."""
    err = tempfile.TemporaryFile()
    t = time.perf_counter()
    p = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=cwd, start_new_session=True
    )
    timer = threading.Timer(timeout, lambda: os.killpg(p.pid, signal.SIGKILL))
    timer.start()
    try:
        _, status, ru = os.wait4(p.pid, 0)
    finally:
        timer.cancel()
    wall = time.perf_counter() - t
    p.returncode = os.waitstatus_to_exitcode(status)
    err.seek(0)
    tail = err.read().decode(errors="replace")[-3000:] if p.returncode else ""
    return {
        "wall": wall,
        "cpu": ru.ru_utime + ru.ru_stime,
        "rss_mb": ru.ru_maxrss / 1024,
        "code": p.returncode,
        "stderr": tail,
    }


def child_launcher() -> None:
    """`run.py _launcher`: runs the measured commands for the driver, one JSON line each.

    `ru_maxrss` survives fork and exec, so a child of the driver would report the driver's own
    size (corpora, manifests) as its peak; children of this small process do not.
    """
    for line in sys.stdin:
        req = json.loads(line)
        res = _spawn_measured(req["cmd"], req["env"], req["cwd"], req["timeout"])
        sys.stdout.write(json.dumps(res) + "\n")
        sys.stdout.flush()


_LAUNCHER: list[subprocess.Popen[str]] = []


def start_launcher() -> None:
    if not _LAUNCHER:
        _LAUNCHER.append(
            subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "_launcher"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        )


def run_measured(
    cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> Proc:
    """Wall time, CPU time (user+sys, with reaped children) and peak RSS of one process tree.

    Peak RSS is the largest single process of the tree (what `ru_maxrss` gives), not a sum.
    """
    full_env = dict(os.environ, SOURCE_DATE_EPOCH=EPOCH, PYTHONHASHSEED="0")
    full_env.update(env or {})
    start_launcher()
    launcher = _LAUNCHER[0]
    assert launcher.stdin is not None and launcher.stdout is not None
    req = {"cmd": cmd, "env": full_env, "cwd": str(cwd) if cwd else None, "timeout": TIMEOUT[0]}
    launcher.stdin.write(json.dumps(req) + "\n")
    launcher.stdin.flush()
    res = json.loads(launcher.stdout.readline())
    if res["code"] == -signal.SIGKILL:
        sys.stderr.write(f"timed out after {TIMEOUT[0]:.0f} s: {' '.join(cmd)}\n")
    elif res["code"] != 0:
        sys.stderr.write(f"command failed ({res['code']}): {' '.join(cmd)}\n{res['stderr']}\n")
    return Proc(res["wall"], res["cpu"], res["rss_mb"], res["code"])


CODE: list[Path] = []  # the copy of src/bagu2anki the builds run (set by main)


def code_env() -> dict[str, str]:
    return {"PYTHONPATH": str(CODE[0])} if CODE else {}


def snapshot_code(folder: Path, working_tree: bool) -> str:
    """The bagu2anki every measured build runs, copied once into `folder`; says which it is.

    By default `src/bagu2anki` and `templates/` as committed at HEAD (`git archive`), so the
    figures belong to a commit whatever else is being edited; `--working-tree` copies the files
    as they are, uncommitted changes included.
    """
    folder.mkdir(parents=True, exist_ok=True)
    if working_tree:
        shutil.copytree(REPO / "src" / "bagu2anki", folder / "bagu2anki")
        shutil.copytree(REPO / "templates", folder / "bagu2anki" / "templates")
        _compile(folder / "bagu2anki")
        return f"{git_commit()}, as in the working tree"
    tar = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", "HEAD", "src/bagu2anki", "templates"],
        capture_output=True,
        check=True,
    ).stdout
    raw = folder / "raw"
    with tarfile.open(fileobj=io.BytesIO(tar)) as t:
        t.extractall(raw, filter="data")
    (raw / "src" / "bagu2anki").rename(folder / "bagu2anki")
    (raw / "templates").rename(folder / "bagu2anki" / "templates")
    shutil.rmtree(raw)
    _compile(folder / "bagu2anki")
    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    return f"{head} (src/ and templates/ as committed)"


def _compile(package: Path) -> None:
    """Byte-compile the copy, as `pip install` does for an installed package (and did for the
    peers): otherwise every measured process compiles our modules again where
    PYTHONDONTWRITEBYTECODE is set, and pays for it where it is not on its first run only."""
    if not compileall.compile_dir(package, quiet=1):
        raise SystemExit(f"could not byte-compile {package}")


def bagu2anki(args: list[str], record_dir: Path, name: str, timed: bool = True) -> Proc:
    """One bagu2anki command in its own process. `timed`: through `_build`, with the stage
    timers (which cost a little themselves); otherwise plainly, as a user (or a peer) runs."""
    if not timed:
        return run_measured([sys.executable, "-m", "bagu2anki", *args], env=code_env())
    record = record_dir / f"{name}.json"
    proc = run_measured(
        [sys.executable, str(Path(__file__).resolve()), "_build", str(record), "--", *args],
        env=code_env(),
    )
    if record.exists():
        proc.record = json.loads(record.read_text())
    return proc


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def outputs_digest(out: Path) -> dict[str, str]:
    return {
        p.name: sha(p) for p in sorted(out.iterdir()) if p.is_file() and not p.name.startswith(".")
    }


def edit_one_file(notes: Path, manifest: dict[str, Any]) -> str:
    """Append a sentence to one answer in the middle file of the corpus; returns its path."""
    sources = sorted({m["source"] for m in manifest["atoms"] if m["source"].endswith(".md")})
    rel = sources[len(sources) // 2]
    atoms = [m for m in manifest["atoms"] if m["source"] == rel and m["status"] == "answered"]
    target = atoms[len(atoms) // 2]["line"]
    path = notes / rel
    lines = path.read_text(encoding="utf-8").split("\n")
    for j in range(target - 1, len(lines)):
        if lines[j].rstrip().endswith("。") and not lines[j].lstrip().startswith(
            ("|", "$", "#", "`")
        ):
            lines[j] = lines[j].rstrip() + "（补充：这是一次增量修改。）"
            break
    path.write_text("\n".join(lines), encoding="utf-8")
    return rel


@contextmanager
def step(label: str) -> Iterator[None]:
    t = time.perf_counter()
    print(f"  {label} …", file=sys.stderr, flush=True)
    yield
    print(f"  {label}: {time.perf_counter() - t:.1f} s", file=sys.stderr, flush=True)


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def bench_size(n: int, work: Path, skip: set[str], incremental_max: int) -> dict[str, Any]:
    res: dict[str, Any] = {"atoms": n, "load": loadavg()}
    notes = work / f"notes-{n}"
    rec = work / "records"
    rec.mkdir(parents=True, exist_ok=True)
    with step(f"generate {n}"):
        summary = generate.generate(
            n,
            notes,
            concepts=0,
            ankdown=None if "ankdown" in skip else work / f"ankdown-{n}",
            md2anki=None if "md2anki" in skip else work / f"md2anki-{n}",
        )
    res["corpus"] = summary
    manifest = json.loads((notes / generate.MANIFEST).read_text(encoding="utf-8"))

    def build(name: str, out: Path, lock: Path, *extra: str, timed: bool = False) -> Proc:
        return bagu2anki(
            ["build", str(notes), "-o", str(out), "--lock", str(lock), "--deck", "bench", *extra],
            rec,
            f"{n}-{name}",
            timed,
        )

    # End to end, every build runs plainly (as the peers do); the stage table comes from one
    # more cold build with the stage timers.
    cold_out, cold_lock = work / f"out-{n}-cold", work / f"{n}-cold.lock"
    with step(f"cold build {n}"):
        res["cold"] = build("cold", cold_out, cold_lock, "--no-cache")
    with step(f"cold build {n}, with stage timers"):
        stages_out, stages_lock = work / f"out-{n}-stages", work / f"{n}-stages.lock"
        res["cold_stages"] = build("cold", stages_out, stages_lock, "--no-cache", timed=True)
    apkg = cold_out / "bench.apkg"
    if (cold_out / "graph.html").exists():
        res["page_bytes"] = (cold_out / "graph.html").stat().st_size
    contents: dict[str, Any] = {}
    if apkg.exists():
        contents["cold"] = peers.deck_contents(apkg, manifest)
    res["contents"] = contents

    if "incremental" not in skip and n <= incremental_max:
        inc_out, inc_lock = work / f"out-{n}-inc", work / f"{n}-inc.lock"
        ref_out, ref_lock = work / f"out-{n}-ref", work / f"{n}-ref.lock"
        with step(f"cache-filling build {n}"):
            res["warm"] = build("warm", inc_out, inc_lock)
        before, lock_before = outputs_digest(inc_out), sha(inc_lock)
        with step(f"rebuild, nothing changed {n}"):
            res["unchanged"] = build("unchanged", inc_out, inc_lock)
        res["unchanged_same"] = outputs_digest(inc_out) == before and sha(inc_lock) == lock_before
        shutil.copyfile(inc_lock, ref_lock)
        res["edited"] = edit_one_file(notes, manifest)
        with step(f"rebuild, one file edited {n}"):
            res["incremental"] = build("incremental", inc_out, inc_lock)
        with step(f"cold build of the edited notes {n}"):
            res["cold_edited"] = build("cold-edited", ref_out, ref_lock, "--no-cache")
        a, b = outputs_digest(inc_out), outputs_digest(ref_out)
        cache_file = inc_out / ".bagu2anki-cache"
        if cache_file.exists():
            res["cache_bytes"] = cache_file.stat().st_size
        res["identical"] = a == b and sha(inc_lock) == sha(ref_lock)
        res["differs"] = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k)) + (
            [] if sha(inc_lock) == sha(ref_lock) else ["lock"]
        )

    if "export" not in skip:
        with step(f"export atoms {n}"):
            res["export"] = bagu2anki(
                ["export", "atoms", str(notes), "--lock", str(cold_lock)], rec, f"{n}-export", timed=False
            )

    res.update(
        peers.run_all(
            n, work, skip, manifest, contents, lambda cmd, cwd: run_measured(cmd, cwd=cwd), step
        )
    )
    return res


def bench_map(work: Path) -> dict[str, Any]:
    """10,000 atoms with a 2,000-concept catalogue: build, then the page in headless Chromium."""
    notes = work / "notes-map"
    rec = work / "records"
    res: dict[str, Any] = {}
    with step("generate map corpus"):
        generate.generate(MAP_ATOMS, notes, concepts=MAP_CONCEPTS)
    out = work / "out-map"
    with step("cold build with 2,000 concepts"):
        res["build"] = bagu2anki(
            [
                "build",
                str(notes),
                "-o",
                str(out),
                "--lock",
                str(work / "map.lock"),
                "--deck",
                "bench",
                "--no-cache",
            ],
            rec,
            "map-cold",
        )
    page = out / "graph.html"
    if not page.exists():
        return res
    res["page_bytes"] = page.stat().st_size
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        res["browser"] = "playwright is not installed"
        return res
    if not CHROMIUM.exists():
        res["browser"] = f"{CHROMIUM} is missing"
        return res
    with step("map in headless Chromium"), sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            runs = []
            for _ in range(3):
                ctx = browser.new_context(viewport={"width": 1280, "height": 800})
                pg = ctx.new_page()
                errors: list[str] = []
                pg.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
                t = time.perf_counter()
                pg.goto(page.as_uri(), wait_until="load")
                pg.wait_for_function("() => window.__mapReady !== undefined", timeout=60_000)
                wall = time.perf_counter() - t
                ready = pg.evaluate("() => window.__mapReady")
                counts = pg.evaluate(
                    "() => [network.body.data.nodes.length, network.body.data.edges.length]"
                )
                t = time.perf_counter()
                pg.fill("#search", generate.synthetic_name(MAP_CONCEPTS // 2))
                pg.keyboard.press("Enter")
                pg.wait_for_selector("#panel:not([hidden])", timeout=30_000)
                search = time.perf_counter() - t
                runs.append(
                    {
                        "ready_ms": ready,
                        "wall_s": wall,
                        "search_s": search,
                        "nodes": counts[0],
                        "edges": counts[1],
                        "errors": errors,
                    }
                )
                ctx.close()
            res["browser_runs"] = runs
        finally:
            browser.close()
    return res


# --- renderer options ---------------------------------------------------------------------------


def child_renderers(notes: Path, record: Path) -> None:
    """Render the same math-protected answers with each option; times, math and text checks."""
    from multiprocessing import get_context

    import nh3  # noqa: F401

    from bagu2anki import render as R
    from bagu2anki.diagnostics import Diagnostics
    from bagu2anki.images import ImageEnv
    from bagu2anki.parse import math as mathx

    to_markdown = R.to_markdown  # whatever the renderer itself uses for flat text answers
    # the label (`A：`, `**答：**`) and chat closer the renderer strips first, wherever it keeps them
    label_re = getattr(R, "_ANSWER_LABEL_RE", None) or R.rules.ANSWER_LABEL  # type: ignore[attr-defined]
    closer = getattr(R, "without_chat_closer", lambda text: text)

    from bagu2anki import prepare

    atoms = _SHARED_ATOMS
    out: dict[str, Any] = {"answers": len(atoms)}

    t = time.perf_counter()
    sources = []
    for a in atoms:
        s = closer(label_re.sub("", a.answer.lstrip(), count=1))
        if a.fmt == "text":
            s = to_markdown(s)
        sources.append(prepare.wiki(s))
    out["prepare (label, to_markdown, wiki)"] = time.perf_counter() - t
    t = time.perf_counter()
    protected = [mathx.protect(s) for s in sources]
    out["protect (math scan)"] = time.perf_counter() - t
    texts = [p for p, _ in protected]
    out["chars"] = sum(len(x) for x in texts)

    def restored_ok(rendered: list[str]) -> int:
        return sum(
            h.count('class="math') == len(sp)
            for h, (_p, sp) in zip(rendered, protected, strict=True)
        )

    def placeholders_ok(rendered: list[str]) -> int:
        ok = 0
        for html_out, (_p, spans) in zip(rendered, protected, strict=True):
            found = sorted(int(k) for k in mathx.PLACEHOLDER_RE.findall(html_out))
            ok += found == list(range(len(spans)))
        return ok

    def visible(s: str) -> str:
        s = re.sub(r"<[^>]+>", "", s)
        return re.sub(r"\s+", "", html.unescape(s))

    options: list[dict[str, Any]] = []

    def clock() -> tuple[float, float]:
        own = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
        return time.perf_counter(), cpu

    def since(t: tuple[float, float]) -> dict[str, float]:
        w, c = clock()
        return {"s": w - t[0], "cpu": c - t[1]}

    from bagu2anki import code as code_module

    def forget() -> None:
        """Each option highlights from scratch: the renderer keeps what it highlighted (per
        process), which would hand every option after the first its code blocks for free."""
        known = getattr(code_module, "_KNOWN", None)
        if isinstance(known, dict):
            known.clear()
        clear = getattr(code_module.code_box, "cache_clear", None)  # an lru_cache, where it is one
        if clear is not None:
            clear()

    def timed(name: str, fn: Callable[[str], str], note: str = "") -> list[str]:
        forget()
        t = clock()
        rendered = [fn(x) for x in texts]
        options.append(
            {
                "name": name,
                **since(t),
                "math_ok": placeholders_ok(rendered),
                "note": note,
            }
        )
        return rendered

    diags = Diagnostics()
    renderer = R.Renderer(diags)
    env_of = lambda: {"b2a": ImageEnv(atoms[0], notes, notes, diags=diags)}  # noqa: E731
    ours = timed(
        "markdown-it-py, our instance (rules, Pygments), no nh3",
        lambda x: renderer.md.render(x, env_of()),
    )
    from markdown_it import MarkdownIt

    plain = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    timed("markdown-it-py, plain commonmark+table", plain.render)

    renderer.fast = False
    forget()
    t = clock()
    slow = [renderer.answer(a, notes, notes).html for a in atoms]
    options.append(
        {
            "name": "Renderer.answer(), markdown-it-py for every answer",
            **since(t),
            "math_ok": restored_ok(slow),
            "note": "protect, parse, render, Pygments, nh3 per block, restore, fold",
        }
    )
    renderer.fast = True
    fast_path = [0]
    plain_answer = R.Renderer._fast_answer

    def counted(self: Any, *args: Any) -> Any:
        got = plain_answer(self, *args)
        fast_path[0] += got is not None
        return got

    R.Renderer._fast_answer = counted  # type: ignore[method-assign]
    forget()
    t = clock()
    full = [renderer.answer(a, notes, notes).html for a in atoms]
    R.Renderer._fast_answer = plain_answer  # type: ignore[method-assign]
    options.append(
        {
            "name": "Renderer.answer() as in the build (all of it)",
            **since(t),
            "math_ok": restored_ok(full),
            "note": f"pyromark for {fast_path[0]} plain answers, markdown-it-py for the other {len(atoms) - fast_path[0]}",
        }
    )

    forget()
    t = clock()
    pool = get_context("fork").Pool(2)
    par = pool.map(_pool_answer, [(notes, i) for i in range(len(atoms))], chunksize=128)
    pool.close()
    pool.join()
    options.append(
        {
            "name": "Renderer.answer(), 2 worker processes (fork)",
            **since(t),
            "math_ok": restored_ok(par),
            "note": "same HTML" if par == full else "HTML differs!",
        }
    )

    # Pygments and nh3 on their own
    codes = re.findall(r"```python\n(.*?)```", "\n".join(sources), re.S)
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import get_lexer_by_name

    t = time.perf_counter()
    for c in codes:
        highlight(c, get_lexer_by_name("python"), HtmlFormatter(cssclass="highlight"))
    out["pygments, new lexer+formatter per block"] = (time.perf_counter() - t, len(codes))
    lexer, fmt = get_lexer_by_name("python"), HtmlFormatter(cssclass="highlight")
    t = time.perf_counter()
    for c in codes:
        highlight(c, lexer, fmt)
    out["pygments, one lexer+formatter"] = (time.perf_counter() - t, len(codes))
    t = time.perf_counter()
    for h in ours:
        R.clean(h)
    out["nh3 clean, once per answer"] = time.perf_counter() - t

    ref_text = [visible(h) for h in ours]

    def compare(rendered: list[str]) -> int:
        return sum(visible(h) == r for h, r in zip(rendered, ref_text, strict=True))

    rust: dict[str, Callable[[str], str]] = {}
    try:
        import markdown_it_pyrs

        mdrs = markdown_it_pyrs.MarkdownIt("commonmark").enable_many(["table", "strikethrough"])
        rust["markdown-it-pyrs 0.4 (Rust)"] = mdrs.render
    except ImportError:
        pass
    try:
        import cmarkgfm
        from cmarkgfm.cmark import Options

        rust["cmarkgfm (C, GFM)"] = lambda x: cmarkgfm.github_flavored_markdown_to_html(
            x, options=Options.CMARK_OPT_UNSAFE
        )
    except ImportError:
        pass
    try:
        import pyromark

        popts = pyromark.Options.ENABLE_TABLES | pyromark.Options.ENABLE_STRIKETHROUGH
        rust["pyromark (Rust, pulldown-cmark)"] = lambda x: pyromark.html(x, options=popts)
    except ImportError:
        pass
    fence_re = re.compile(
        r'<pre(?: lang="([\w+-]+)")?><code(?: class="language-([\w+-]+)")?>(.*?)</code></pre>', re.S
    )

    def with_pygments(html_out: str) -> str:
        def sub(m: re.Match[str]) -> str:
            lang = m.group(1) or m.group(2)
            if not lang:
                return m.group(0)
            return highlight(html.unescape(m.group(3)), lexer, fmt)

        return fence_re.sub(sub, html_out)

    for name, fn in rust.items():
        rendered = timed(name, fn)
        options[-1]["same_text"] = compare(rendered)
        p_spans = iter(protected)
        t = clock()
        finished = [R.clean(mathx.restore(with_pygments(h), next(p_spans)[1])) for h in rendered]
        extra = since(t)
        options.append(
            {
                "name": "&nbsp;&nbsp;+ Pygments (one lexer), restore, nh3 once",
                "s": options[-1]["s"] + extra["s"],
                "cpu": options[-1]["cpu"] + extra["cpu"],
                "math_ok": restored_ok(finished),
                "note": "what a build would pay with this renderer",
            }
        )
    out["options"] = options
    record.write_text(json.dumps(out))


_POOL_RENDERER: Any = None


def _pool_answer(arg: tuple[Path, int]) -> str:
    notes, i = arg
    global _POOL_RENDERER
    if _POOL_RENDERER is None:
        from bagu2anki import render as R
        from bagu2anki.diagnostics import Diagnostics

        _POOL_RENDERER = R.Renderer(Diagnostics())
    return str(_POOL_RENDERER.answer(_SHARED_ATOMS[i], notes, notes).html)


_SHARED_ATOMS: list[Any] = []


# --- report --------------------------------------------------------------------------------------


def git_commit() -> str:
    """`git rev-parse --short HEAD`, with "-dirty" and what is uncommitted when the tree is."""

    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", "-C", str(REPO), *args], capture_output=True, text=True, check=False
            ).stdout.strip()
        except OSError:
            return ""

    head = git("rev-parse", "--short", "HEAD") or "?"
    status = git("status", "--porcelain").splitlines()
    if not status:
        return head
    code = [ln for ln in status if ln[3:].startswith(("src/", "templates/"))]
    return (
        f"{head}-dirty ({len(status)} paths uncommitted, {len(code)} of them in src/ or templates/)"
    )


def machine() -> dict[str, str]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    versions = {}
    for pkg in ("bagu2anki", "markdown-it-py", "genanki", "nh3", "pygments"):
        try:
            from importlib.metadata import version

            versions[pkg] = version(pkg)
        except Exception:  # noqa: BLE001
            versions[pkg] = "?"
    return {
        "commit": git_commit(),
        "peers": ", ".join(
            f"{p.package} {p.version()}" for p in (peers.ANKDOWN, peers.MD2ANKI) if p.venv.exists()
        )
        or "none installed",
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "memory": mem,
        "python": platform.python_version(),
        "os": platform.platform(),
        "versions": ", ".join(f"{k} {v}" for k, v in versions.items()),
    }


def report(
    commit0: str,
    results: list[dict[str, Any]],
    mapres: dict[str, Any] | None,
    rend: dict[str, Any] | None,
    info: dict[str, str],
    load: tuple[str, str],
    took: float,
) -> str:
    L: list[str] = []
    L.append("# bagu2anki benchmark results")
    L.append("")
    L.append(
        f"Machine: {info['nproc']} cores ({info['cpu']}), {info['memory']}, Python {info['python']}, {info['os']}.  "
    )
    L.append(f"Packages: {info['versions']}.  ")
    L.append(
        f"bagu2anki measured: commit **{commit0}**, copied at the start. The tree at the end: "
        f"{info['commit']}.  "
    )
    L.append(
        f"Load average (1/5/15 min) at start: {load[0]}; at end: {load[1]}. Whole run: {took / 60:.1f} min.  "
    )
    L.append(
        "Wall times suffer when other work shares the 2 cores (the load average says how much); "
        "CPU time (user+sys) much less: compare CPU, and ratios within one run."
    )
    L.append("")
    sizes = [r["atoms"] for r in results]
    head = "| | " + " | ".join(f"{n:,} atoms" for n in sizes) + " |"
    sep = "|---|" + "---|" * len(sizes)

    L.append("## Corpus")
    L.append("")
    L.append(head)
    L.append(sep)
    corpus_rows: tuple[tuple[str, Callable[[dict[str, Any]], str]], ...] = (
        ("files / MB", lambda c: f"{c['files']} / {c['bytes'] / 1e6:.1f}"),
        ("questions (repeated)", lambda c: f"{c['atoms']:,} ({c['questions_repeated']})"),
        ("code blocks (repeated)", lambda c: f"{c['code_blocks']:,} ({c['code_repeated']})"),
        ("formulas (distinct)", lambda c: f"{c['formulas']:,} ({c['formulas_distinct']:,})"),
        ("tables", lambda c: f"{c['tables']:,}"),
    )
    for label, fn in corpus_rows:
        L.append(f"| {label} | " + " | ".join(fn(r["corpus"]) for r in results) + " |")
    L.append("")

    L.append("## Cold build, per stage (`bagu2anki build --no-cache`)")
    L.append("")
    L.append(
        "Wall s / CPU s / peak RSS (MB) of the build process when the stage ends, taken inside a "
        "cold build of its own run with stage timers (which cost a little: the end-to-end figures "
        "below come from plain runs, like the peers'). CPU counts worker processes. † the stage ran (partly) in worker processes: its "
        "wall and CPU are summed over them; the elapsed time of that part is the indented row."
    )
    L.append("")
    L.append(head)
    L.append(sep)
    names = [s for s, _ in STAGES]
    for s in names:
        cells = []
        for r in results:
            timed = r.get("cold_stages", r["cold"])
            st = timed.record.get("stages", {}).get(s) if isinstance(timed, Proc) else None
            if not st or not (st["calls"] or st.get("worker_calls")):
                cells.append("—")
                continue
            wall = st["wall"] + st.get("worker_wall", 0.0)
            cpu = st["cpu"] + st.get("worker_cpu", 0.0)
            mark = " †" if st.get("worker_calls") else ""
            cells.append(f"{fmt_s(wall)} / {fmt_s(cpu)} / {st['rss']:.0f}{mark}")
        L.append(f"| {s} | " + " | ".join(cells) + " |")
    for s, _ in SUBSTAGES:
        cells = []
        for r in results:
            st = r.get("cold_stages", r["cold"]).record.get("substages", {}).get(s)
            cells.append(
                "—" if not st or not st["calls"] else f"{fmt_s(st['wall'])} / {fmt_s(st['cpu'])}"
            )
        L.append(f"| &nbsp;&nbsp;({s}) | " + " | ".join(cells) + " |")
    cells = []
    for r in results:
        timed = r.get("cold_stages", r["cold"])
        rec = timed.record
        if rec:
            start = timed.wall - rec["total_wall"]
            cells.append(
                f"{fmt_s(rec['total_wall'])} / {fmt_s(rec['total_cpu'])}; start-up {fmt_s(start)}"
            )
        else:
            cells.append("—")
    L.append(
        "| whole build in the process; interpreter start-up and imports | "
        + " | ".join(cells)
        + " |"
    )
    L.append("")

    L.append("## End to end: bagu2anki")
    L.append("")
    L.append(head)
    L.append(sep)

    def row(label: str, fn: Callable[[dict[str, Any]], str]) -> None:
        cells = []
        for r in results:
            try:
                cells.append(fn(r))
            except (KeyError, TypeError, ZeroDivisionError, AttributeError):
                cells.append("—")
        L.append(f"| {label} | " + " | ".join(cells) + " |")

    def of_cold(r: dict[str, Any], key: str) -> str:
        p, c = r[key], r["cold"]
        return f"{pw(p)}; **{p.wall / c.wall:.2f}** of cold wall, {p.cpu / c.cpu:.2f} of CPU"

    row("cold build (`--no-cache`)", lambda r: pw(r["cold"]))
    row("first build with cache (fills it)", lambda r: pw(r["warm"]))
    row("rebuild, nothing changed", lambda r: of_cold(r, "unchanged"))
    row(
        "  outputs and lock unchanged by it",
        lambda r: "yes" if r["unchanged_same"] else "**no**",
    )
    row("rebuild, one file edited", lambda r: of_cold(r, "incremental"))
    row(
        "  its output = a cold build's of the edited notes",
        lambda r: "yes" if r["identical"] else f"**no** ({', '.join(r['differs'])})",
    )
    row("cold build of the edited notes", lambda r: pw(r["cold_edited"]))
    row("`export atoms` (to /dev/null)", lambda r: pw(r["export"]))
    row("`graph.html` of the cold build", lambda r: f"{r['page_bytes'] / 1e6:.1f} MB")
    row("build cache (`OUT/.bagu2anki-cache`)", lambda r: f"{r['cache_bytes'] / 1e6:.1f} MB")
    first = results[0]
    row(
        "cold CPU per atom (ms)",
        lambda r: f"{1000 * r['cold'].cpu / r['atoms']:.2f}",
    )
    row(
        f"growth from {first['atoms']:,} atoms: atoms / CPU / peak RSS",
        lambda r: (
            f"×{r['atoms'] / first['atoms']:.0f} / ×{r['cold'].cpu / first['cold'].cpu:.1f} / "
            f"×{r['cold'].rss_mb / first['cold'].rss_mb:.1f}"
        ),
    )
    row(
        "`export atoms` peak RSS growth",
        lambda r: f"×{r['export'].rss_mb / first['export'].rss_mb:.1f}",
    )
    L.append("")

    L.extend(peers.tables(results, info))
    L.extend(peers.targets(results))

    if mapres:
        L.append(f"## Concept map: {MAP_ATOMS:,} atoms, {MAP_CONCEPTS:,}-concept catalogue")
        L.append("")
        b = mapres.get("build")
        if isinstance(b, Proc) and b.record:
            st = b.record["stages"]

            def spent(stage: str) -> str:  # in this process and in its workers or children
                return fmt_s(st[stage]["wall"] + st[stage].get("worker_wall", 0.0))

            L.append(
                f"- cold build: {pw(b)}; link concepts {spent('link concepts')} s (summed over the "
                f"workers), write map {spent('write map')} s (in a forked child, beside the deck)"
            )
        if "page_bytes" in mapres:
            L.append(f"- page: {mapres['page_bytes'] / 1e6:.2f} MB (target < 5 MB)")
        runs = mapres.get("browser_runs")
        if runs:
            ready = ", ".join(str(r["ready_ms"]) for r in runs)
            walls = ", ".join(f"{r['wall_s']:.2f}" for r in runs)
            searches = ", ".join(f"{r['search_s']:.2f}" for r in runs)
            L.append(
                f"- headless Chromium, {runs[0]['nodes']} nodes / {runs[0]['edges']} edges, 3 loads: first draw "
                f"(`window.__mapReady`) at {ready} ms after navigation "
                f"(target < 3000); load to ready {walls} s wall; "
                f"search + open a concept {searches} s; "
                f"page errors: {sum(len(r['errors']) for r in runs)}"
            )
        elif "browser" in mapres:
            L.append(f"- browser: {mapres['browser']}")
        L.append("")

    if rend:
        L.append(
            f"## Renderer options: the {rend['answers']:,} answers of the {rend.get('atoms', 10000):,}-atom corpus, math protected"
        )
        L.append("")
        L.append(
            f"Same input for every option ({rend['chars'] / 1e6:.1f} M characters after `protect()`). "
            f"Math: answers whose every formula placeholder survived exactly once."
        )
        L.append("")
        L.append(
            "| option | wall s | CPU s | math intact | same visible text as markdown-it-py | note |"
        )
        L.append("|---|---|---|---|---|---|")
        for o in rend["options"]:
            same = f"{o['same_text']}/{rend['answers']}" if "same_text" in o else ""
            L.append(
                f"| {o['name']} | {fmt_s(o['s'])} | {fmt_s(o.get('cpu'))} | {o['math_ok']}/{rend['answers']} "
                f"| {same} | {o.get('note', '')} |"
            )
        L.append("")
        for k in (
            "prepare (label, to_markdown, wiki)",
            "protect (math scan)",
            "nh3 clean, once per answer",
        ):
            L.append(f"- {k}: {fmt_s(rend[k])} s")
        for k in ("pygments, new lexer+formatter per block", "pygments, one lexer+formatter"):
            s, n = rend[k]
            L.append(f"- {k}: {fmt_s(s)} s for {n} code blocks")
        st = rend.get("starter")
        if st:
            m = st["answers"]
            parts = [
                f"{o['name']}: same text {o['same_text']}/{m}, math {o['math_ok']}/{m}"
                for o in st["options"]
                if "same_text" in o
            ]
            L.append(
                f"- the starter notes (`notes/`, {m} answers with containers, raw HTML, `<eos>` "
                f"prose, images, wiki links): " + "; ".join(parts)
            )
        L.append("")
    return "\n".join(L) + "\n"


def _proc_json(o: Any) -> Any:
    if isinstance(o, Proc):
        return {"__proc__": True, **vars(o)}
    raise TypeError(type(o))


def _json_proc(d: dict[str, Any]) -> Any:
    return Proc(**{k: v for k, v in d.items() if k != "__proc__"}) if "__proc__" in d else d


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_build":
        record = Path(sys.argv[2])
        argv = sys.argv[sys.argv.index("--") + 1 :]
        raise SystemExit(child_build(record, argv))
    if len(sys.argv) > 1 and sys.argv[1] == "_launcher":
        child_launcher()
        return
    if len(sys.argv) > 1 and sys.argv[1] == "_renderers":
        notes, record = Path(sys.argv[2]), Path(sys.argv[3])
        from bagu2anki.config import Config
        from bagu2anki.diagnostics import Diagnostics
        from bagu2anki.pipeline import analyse

        _SHARED_ATOMS.extend(
            a
            for a in analyse(Config(paths=(notes,), use_cache=False), Diagnostics()).atoms
            if a.status in ("answered", "link_only")
        )
        child_renderers(notes, record)
        return

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--sizes",
        default="1000,10000,50000",
        help="atoms per corpus, comma-separated (default 1000,10000,50000)",
    )
    ap.add_argument(
        "--work", type=Path, default=None, help="working folder (default: a fresh temporary folder)"
    )
    ap.add_argument(
        "--skip",
        default="",
        help="comma-separated: incremental,export,ankdown,md2anki,map,renderers",
    )
    ap.add_argument(
        "--results", type=Path, default=HERE / "results.md", help="where to write the table"
    )
    ap.add_argument("--keep", action="store_true", help="keep the working folder")
    ap.add_argument(
        "--incremental-max",
        type=int,
        default=10000,
        help="largest size that also gets the incremental builds (default 10000)",
    )
    ap.add_argument(
        "--timeout",
        type=float,
        default=600,
        help="seconds allowed to one measured process (default 600)",
    )
    ap.add_argument(
        "--working-tree",
        action="store_true",
        help="measure src/ as it is, uncommitted changes included (default: as committed at HEAD)",
    )
    ap.add_argument(
        "--report-from",
        type=Path,
        default=None,
        help="only write the report again from a kept run's WORK/raw.json",
    )
    args = ap.parse_args()
    if args.report_from is not None:
        raw = json.loads(args.report_from.read_text(encoding="utf-8"), object_hook=_json_proc)
        text = report(**raw)
        print(text)
        args.results.write_text(text, encoding="utf-8")
        return
    TIMEOUT[0] = args.timeout
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    work = args.work or Path(tempfile.mkdtemp(prefix="b2a-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    start_launcher()
    load0 = loadavg()
    commit0 = snapshot_code(work / "code", args.working_tree)
    CODE.append(work / "code")
    sys.path.insert(0, str(CODE[0]))  # generate.py's catalogue reads the shipped one
    t0 = time.perf_counter()
    results = []
    try:
        for n in sizes:
            print(f"== {n} atoms", file=sys.stderr)
            results.append(bench_size(n, work, skip, args.incremental_max))
        mapres = None
        if "map" not in skip:
            print("== concept map", file=sys.stderr)
            mapres = bench_map(work)
        rend = None
        if "renderers" not in skip:
            print("== renderer options", file=sys.stderr)
            n = MAP_ATOMS if MAP_ATOMS in sizes else max(sizes)
            rec = work / "records" / "renderers.json"
            with step(f"renderers on {n} atoms"):
                p = run_measured(
                    [
                        sys.executable,
                        str(Path(__file__).resolve()),
                        "_renderers",
                        str(work / f"notes-{n}"),
                        str(rec),
                    ],
                    env=code_env(),
                )
            if p.code == 0 and rec.exists():
                rend = json.loads(rec.read_text())
                rend["atoms"] = n
                # the same options on the shipped starter notes, which use what the synthetic
                # corpus does not: containers, raw HTML and `<eos>` prose, images, wiki links
                starter = REPO / "notes"
                rec2 = work / "records" / "renderers-notes.json"
                if rend is not None and starter.is_dir():
                    cmd = [
                        sys.executable,
                        str(Path(__file__).resolve()),
                        "_renderers",
                        str(starter),
                        str(rec2),
                    ]
                    if run_measured(cmd, env=code_env()).code == 0 and rec2.exists():
                        rend["starter"] = json.loads(rec2.read_text())
        load1 = loadavg()
        raw = {
            "commit0": commit0,
            "results": results,
            "mapres": mapres,
            "rend": rend,
            "info": machine(),
            "load": (load0, load1),
            "took": time.perf_counter() - t0,
        }
        (work / "raw.json").write_text(json.dumps(raw, default=_proc_json), encoding="utf-8")
        text = report(**raw)
        print(text)
        args.results.write_text(text, encoding="utf-8")
        print(f"written to {args.results}", file=sys.stderr)
    finally:
        if not args.keep and args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
