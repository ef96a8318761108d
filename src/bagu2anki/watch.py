"""`bagu2anki watch`: rebuild when a note file is saved; with `--sync`, send each rebuild to Anki.

Saves are gathered (watchfiles) until the notes have been quiet for the debounce time, then one
build runs (`pipeline.build`: incremental, outputs staged and moved into place together, so
Ctrl-C at any moment leaves the previous outputs or the new ones, never a mix). The output
folder and the lock file are never watched: the build writes nothing into the notes.

A file saved half-written must not take cards away. Before building, each saved note file is
read again and its questions compared with the lock file (what the last build had from that
file): a save that would drop at least `HOLD_AT` questions and `HOLD_SHARE` of the file's
questions at once — questions that did not turn up in another saved file — is held: watch says
so and builds nothing until that file is saved again. Saved again unchanged, it is built as it
is (a deliberate cut); saved with other content, it is looked at afresh. A deleted file is
never held (half-written saves leave a file behind, short).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bagu2anki.ankiconnect import AnkiConnect, AnkiConnectError, Target
from bagu2anki.config import Config
from bagu2anki.diagnostics import Diagnostics, UserError, clip, counted
from bagu2anki.sync import build_outputs, deck_file, push

if TYPE_CHECKING:
    from watchfiles import Change

    from bagu2anki.lockfile import Lock
    from bagu2anki.pipeline import BuildResult

HOLD_AT = 3
"""Questions one save may drop from a file before it is held..."""
HOLD_SHARE = 0.3
"""...when they are also at least this share of the file's questions."""
READY_MS = 500
"""How long the watcher waits for changes before it looks at Ctrl-C or `stop_event` again."""
CATALOGUE_NAMES = ("concepts.yaml", "concepts.yml", "concepts.toml")

Echo = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class WatchOptions:
    target: Target | None = None
    """Where to send each rebuild (`--sync`); None: build only."""
    debounce_ms: int = 300
    """Quiet time after the last save before a rebuild."""
    verbose: bool = False


@dataclass(frozen=True, slots=True)
class Drop:
    """A saved file that would lose many of its questions at once."""

    file: str
    path: Path
    lost: int
    total: int
    digest: str
    """Of the file's bytes: saved again unchanged, the drop is deliberate."""


@dataclass(frozen=True, slots=True)
class BuildChange:
    """What a rebuild changed, counted in question cards (the lock file before, the cards after)."""

    new: int
    edited: int
    gone: int
    back: int

    def describe(self) -> str:
        parts = [f"{self.new} new" if self.new else "", f"{self.edited} edited" if self.edited else "",
                 f"{self.gone} gone" if self.gone else "", f"{self.back} back" if self.back else ""]
        return ", ".join(p for p in parts if p) or "no card changed"


def change_between(before: Lock, result: BuildResult) -> BuildChange:
    new = edited = back = 0
    for card in result.cards:
        if card.atom.source == "concepts":  # concept cards follow the questions that use them
            continue
        old = before.entries.get(card.guid)
        if old is None:
            new += 1
        elif old.orphan:
            back += 1
        elif old.content != card.content:
            edited += 1
    gone = sum(1 for o in result.identity.orphans if not o.orphan)
    return BuildChange(new, edited, gone, back)


# --- the guard against half-written saves -----------------------------------------------------


def _lock_counts(lock: Lock) -> dict[str, Counter[str]]:
    """Questions per file as the last build had them: file -> fingerprint -> copies."""
    counts: dict[str, Counter[str]] = {}
    for guid, e in lock.entries.items():
        if e.orphan or guid.startswith("b2a-concept-"):
            continue
        rel = e.source.rpartition(":")[0] or e.source
        counts.setdefault(rel, Counter())[e.fingerprint] += 1
    return counts


def drops(cfg: Config, saved: Iterable[Path], lock: Lock) -> tuple[Drop, ...]:
    """Saved note files that would lose many questions at once (see the module's docstring).

    The saved files are read as the build reads them (`pipeline.analyse` on those files alone:
    the same readers, questions split the same way), and compared with the lock file."""
    from dataclasses import replace

    from bagu2anki import sources
    from bagu2anki.identity import fingerprint
    from bagu2anki.pipeline import analyse

    wanted = {p.resolve() for p in saved if p.suffix.lower() in sources.NOTE_SUFFIXES and p.is_file()}
    if not wanted:
        return ()
    diags = Diagnostics()
    found = {f.path.resolve(): f for f in sources.discover(list(cfg.paths), diags, exclude=(cfg.out,))}
    now: dict[str, Counter[str]] = {}
    where: dict[str, Path] = {}
    digests: dict[str, str] = {}
    to_read: list[Path] = []
    for path in sorted(wanted & set(found)):
        rel = found[path].rel
        try:
            data = path.read_bytes()
        except OSError:
            continue
        now[rel], where[rel], digests[rel] = Counter(), path, hashlib.sha256(data).hexdigest()
        if data.strip():
            to_read.append(path)
    if to_read:
        by_path = {where[rel]: rel for rel in where}
        try:
            analysis = analyse(replace(cfg, paths=tuple(to_read)), diags, workers=1)
        except UserError:  # nothing readable in them: no questions
            analysis = None
        for doc in analysis.documents if analysis is not None else ():
            name = by_path.get(doc.source.path.resolve())
            if name is not None:
                now[name] = Counter(fingerprint(a) for a in doc.atoms)
    before = _lock_counts(lock)
    gained: Counter[str] = Counter()
    for rel, counts in now.items():
        gained.update(counts - before.get(rel, Counter()))
    out = []
    for rel, counts in sorted(now.items()):
        old = before.get(rel, Counter())
        lost = sum(((old - counts) - gained).values())
        total = sum(old.values())
        if lost >= HOLD_AT and lost >= HOLD_SHARE * total:
            out.append(Drop(rel, where[rel], lost, total, digests[rel]))
    return tuple(out)


# --- what is watched --------------------------------------------------------------------------


class NoteFilter:
    """Note files, images and the concept catalogue under the watched paths; never the output
    folder, the lock file, hidden or skipped folders, or editors' temporary files."""

    def __init__(self, cfg: Config) -> None:
        from bagu2anki.sources import IMAGE_SUFFIXES, NOTE_SUFFIXES, SKIP_DIRS

        self.suffixes = set(NOTE_SUFFIXES) | set(IMAGE_SUFFIXES)
        self.skip = SKIP_DIRS
        self.dirs = tuple(p.resolve() for p in cfg.paths if p.is_dir())
        self.files = {p.resolve() for p in cfg.paths if not p.is_dir()}
        catalogue = cfg.user_catalogue()
        if catalogue is not None:
            self.files.add(catalogue.resolve())
        self.out = cfg.out.resolve()
        self.lock = cfg.lock_path().resolve()

    def roots(self) -> list[Path]:
        """Folders to watch: the notes folders, and the folders holding single files."""
        roots = set(self.dirs) | {f.parent for f in self.files}
        return sorted(r for r in roots if not any(r != o and r.is_relative_to(o) for o in roots))

    def __call__(self, change: Change, path: str) -> bool:
        p = Path(path)
        if p == self.lock or p.is_relative_to(self.out):
            return False
        if p in self.files:
            return True
        for d in self.dirs:
            if p.is_relative_to(d):
                parts = p.relative_to(d).parts
                if any(part.startswith(".") or part in self.skip for part in parts):
                    return False
                return p.suffix.lower() in self.suffixes or p.name.lower() in CATALOGUE_NAMES
        return False


# --- the loop ---------------------------------------------------------------------------------


def _clock() -> str:
    return datetime.now().strftime("%H:%M:%S")


def _names(paths: Iterable[Path], cfg: Config) -> list[str]:
    """Saved files as the notes name them (relative to their notes folder)."""
    names = []
    for p in sorted(paths):
        for root in cfg.paths:
            base = root.resolve() if root.is_dir() else root.resolve().parent
            if p.is_relative_to(base):
                names.append(p.relative_to(base).as_posix())
                break
        else:
            names.append(p.name)
    return names


def _listed(names: list[str]) -> str:
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


class Watcher:
    """The state between saves: files saved since the last build, the drop on hold, Anki."""

    def __init__(self, cfg: Config, options: WatchOptions, echo: Echo) -> None:
        self.cfg = cfg
        self.options = options
        self.echo = echo
        self.pending: set[Path] = set()
        self.held: dict[str, str] = {}
        self.client = AnkiConnect(options.target) if options.target is not None else None

    def saved(self, paths: Iterable[Path]) -> None:
        """A batch of saves: hold it, or rebuild."""
        batch = {p.resolve() for p in paths}
        self.pending |= batch
        from bagu2anki.lockfile import Lock

        try:
            lock = Lock.load(self.cfg.lock_path())
            found = drops(self.cfg, self.pending, lock)
        except UserError as e:
            self.echo(f"{_clock()} {e.format_message()}")
            return
        confirmed = all(self.held.get(d.file) == d.digest and d.path in batch for d in found)
        if found and not confirmed:
            self.held = {d.file: d.digest for d in found}
            for d in found:
                self.echo(
                    f"{_clock()} held: {d.file} would lose {d.lost} of its {d.total} questions at once "
                    "(saved half-written?); nothing built. Save it again as it is to build it."
                )
            return
        self.held = {}
        self.rebuild(self.pending)

    def rebuild(self, saved: set[Path] | None) -> None:
        """Build (and send); `saved`: the files saved since the last build (None: the first)."""
        from bagu2anki.lockfile import Lock

        names = _names(saved, self.cfg) if saved is not None else []
        what = _listed(names) if saved is not None else "first build"
        start = time.perf_counter()
        try:
            before = Lock.load(self.cfg.lock_path())
            result = build_outputs(self.cfg)
        except UserError as e:
            self.echo(f"{_clock()} {what}: not built: {e.format_message()}")
            return
        self.pending = set()
        diags = result.diagnostics
        for d in diags.sorted():
            mine = saved is None or d.path in names
            if d.severity == "error" or (mine and (d.severity == "warning" or self.options.verbose)):
                self.echo(d.format())
        took = time.perf_counter() - start
        n_cards = len(result.cards) - result.concept_cards
        line = (
            f"{_clock()} {what}: {change_between(before, result).describe()} -> "
            f"{counted(n_cards, 'question card')} ({took:.1f} s)"
        )
        if diags.errors:
            line += f"; {counted(diags.errors, 'error')}"
        if self.client is not None:
            line += "; " + self.send(result)
        self.echo(line)

    def send(self, result: BuildResult) -> str:
        assert self.client is not None
        if result.diagnostics.errors:
            return "not sent to Anki (errors in the notes)"
        try:
            self.client.check()
            report = push(self.client, deck_file(result.outputs), self.cfg.lock_path(), self.cfg.out)
        except AnkiConnectError as e:
            return "not sent: " + clip(e.format_message(), 300)
        return report.summary()


def watch(
    cfg: Config, options: WatchOptions, echo: Echo = click.echo, stop_event: threading.Event | None = None
) -> None:
    """Build once, then rebuild on every save until Ctrl-C (or `stop_event` is set)."""
    import watchfiles

    from bagu2anki.cache import keep_in_memory

    keep_in_memory()  # each rebuild starts from the build cache the last one left in memory
    watcher = Watcher(cfg, options, echo)
    flt = NoteFilter(cfg)
    where = ", ".join(str(p) for p in cfg.paths)
    logging.getLogger("watchfiles").setLevel(logging.ERROR)  # its own line on Ctrl-C
    started = False
    try:
        # The first (empty) batch comes once the watches are in place: the first build runs
        # then, so that a save made while it runs is seen.
        for changes in watchfiles.watch(
            *flt.roots(),
            watch_filter=flt,
            debounce=max(1600, 4 * options.debounce_ms),
            step=options.debounce_ms,
            stop_event=stop_event,
            rust_timeout=READY_MS,
            yield_on_timeout=True,
            raise_interrupt=False,
        ):
            if not started:
                started = True
                watcher.rebuild(None)
                echo(f"watching {where} (Ctrl-C to stop)")
            elif changes:
                watcher.saved(Path(path) for _change, path in changes)
    except KeyboardInterrupt:
        pass
    echo("stopped; the outputs are those of the last complete build")
