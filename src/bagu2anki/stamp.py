"""What the last build read and wrote (`OUT/.bagu2anki-stamp`): when none of it has changed,
`bagu2anki build` says what that build said and writes nothing.

A build that succeeded leaves a stamp: every note file it found, the concept catalogue and the
images its cards show, each with its size, modification and change times and inode; the same
for the outputs (the lock file among them) as they stood once in place; the settings, this
installation's code and Python; and what the build told the user (its diagnostics and counts).
The next `build` walks the notes folders and looks at those files: if every one is as the stamp
says, the outputs are what a build would write, byte for byte, so it prints the stamp's summary
and stops, without loading the parser, the renderers or the build cache.

Times are trusted only where they can tell: a build that saw a file changed less than
`SETTLE_NS` before it started (its change could have come after it was read) leaves no stamp,
nor does one that looked for an image it did not find (it may be added). `pipeline.analyse`
knows an unchanged note file the same way (`file_state`, `settled`). Plain JSON; a stamp that
does not read is ignored. Copied elsewhere (a clone, a backup) it names files with other inodes
and times, so it never matches there.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bagu2anki import __version__
from bagu2anki.config import Config
from bagu2anki.diagnostics import Diagnostic, Diagnostics
from bagu2anki.sources import discover

STAMP_NAME = ".bagu2anki-stamp"
_FORMAT = 1
SETTLE_NS = 2_000_000_000
"""A file changed this close to a build's start (or after it) is not judged by its times: file
systems with coarse timestamps (FAT: 2 s) could give a later change the same time."""
SETTLE_FINE_NS = 50_000_000
"""The same for a file whose times have a fraction of a second (a file system that keeps them
in nanoseconds, ticking at least every 10 ms)."""
LOOK_AGAIN = frozenset({"missing-image", "ambiguous-image"})
"""Diagnostics of a build whose outcome may change with no file of its stamp changing."""

FileState = tuple[str, int, int, int, int]
"""(path, size, mtime_ns, ctime_ns, inode); size -1 for a file that is not there."""


@functools.cache
def code_digest() -> str:
    """What produced a build's outputs: every module and template of this installation."""
    h = hashlib.sha256()
    here = Path(__file__).resolve().parent
    files = sorted(here.rglob("*.py")) + sorted(here.rglob("*.yaml"))
    try:
        from importlib import resources

        tpl = resources.files("bagu2anki.templates")
        for name in sorted(p.name for p in tpl.iterdir() if p.is_file()):
            h.update(tpl.joinpath(name).read_bytes())
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError):
        pass
    for f in files:
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Summary:
    """What a build tells the user: its counts, its diagnostics and the files it wrote."""

    questions: int
    files: int
    question_cards: int
    concept_cards: int
    unanswered: int
    diagnostics: tuple[Diagnostic, ...]
    outputs: tuple[Path, ...]

    def diags(self) -> Diagnostics:
        return Diagnostics(list(self.diagnostics))


def file_state(path: Path) -> tuple[int, int, int, int] | None:
    """(size, mtime_ns, ctime_ns, inode) of a file; None when it cannot be looked at."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def settled(state: tuple[int, int, int, int], read_ns: int) -> bool:
    """Whether a file with this state, read at `read_ns`, can be known again by its state: it
    had last changed (`ctime`, which nothing can set back) well before, so a change after the
    reading gives it another state."""
    coarse = state[1] % 1_000_000_000 == 0 or state[2] % 1_000_000_000 == 0
    return state[2] < read_ns - (SETTLE_NS if coarse else SETTLE_FINE_NS)


def _state(path: Path) -> FileState:
    state = file_state(path)
    return (str(path), *(state or (-1, 0, 0, 0)))


_NOT_SETTINGS = frozenset({"strict", "jobs", "use_cache"})  # how a build runs, not what it writes
LIBRARIES = (
    "genanki", "pyvis", "jinja2", "markdown_it", "mdit_py_plugins", "linkify_it", "pyromark", "pygments",
    "nh3", "networkx", "msgspec", "rapidfuzz", "yaml", "charset_normalizer",
)
"""What shapes the outputs besides our code: an upgrade (new files) makes the next build a full one."""


def _libraries() -> list[tuple[str, FileState | None]]:
    import importlib.util

    found = []
    for name in LIBRARIES:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        found.append((name, _state(Path(spec.origin)) if spec and spec.origin else None))
    return found


def _settings(cfg: Config) -> str:
    """Everything of the settings and the installation that the outputs depend on."""
    parts = [_FORMAT, __version__, code_digest(), sys.version, sys.prefix, _libraries(), str(Path.cwd()),
             cfg.deck_name(), cfg.lock_path(), cfg.user_catalogue()]
    parts += [(f.name, getattr(cfg, f.name)) for f in dataclasses.fields(cfg) if f.name not in _NOT_SETTINGS]
    return hashlib.sha256(repr(parts).encode("utf-8", "surrogatepass")).hexdigest()


def _inputs(cfg: Config, images: Iterable[Path]) -> list[FileState]:
    """The note files as the build would find them, the catalogue, the images; the lock file
    when the build only reads it (one it writes is among its outputs)."""
    found = discover(list(cfg.paths), Diagnostics(), exclude=(cfg.out,))
    catalogue = cfg.user_catalogue()
    paths = [f.path for f in found] + ([catalogue] if catalogue else [])
    if not cfg.write_lock:
        paths.append(cfg.lock_path())
    return [_state(p) for p in (*paths, *sorted(set(images)))]


def _outputs(paths: Iterable[Path]) -> list[FileState]:
    """The outputs as they stand; a folder (the reading pages) with every file in it."""
    states = []
    for p in paths:
        states.append(_state(p))
        if p.is_dir():
            states += [_state(f) for f in sorted(p.rglob("*"))]
    return states


def _read(out: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((out / STAMP_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def unchanged(cfg: Config) -> Summary | None:
    """The last build's summary when nothing it read or wrote has changed since; else None."""
    data = _read(cfg.out)
    if data is None or data.get("settings") != _settings(cfg):
        return None
    try:
        images = [Path(p) for p in data["images"]]
        outputs = [Path(p) for p in data["outputs"]]
        if [list(s) for s in _inputs(cfg, images)] != data["inputs"]:
            return None
        if [list(s) for s in _outputs(outputs)] != data["output_states"]:
            return None
        said = data["said"]
        diagnostics = tuple(Diagnostic(*d) for d in said["diagnostics"])
        return Summary(
            int(said["questions"]), int(said["files"]), int(said["question_cards"]),
            int(said["concept_cards"]), int(said["unanswered"]), diagnostics, tuple(outputs),
        )
    except (KeyError, TypeError, ValueError):
        return None


def forget(cfg: Config) -> None:
    """No stamp: the next build does the whole work (and fills the cache)."""
    with contextlib.suppress(OSError):
        (cfg.out / STAMP_NAME).unlink()


def record(cfg: Config, started_ns: int, images: Sequence[Path], summary: Summary) -> None:
    """After a build has put its outputs in place: the stamp the next build compares with (or
    none, when this build's inputs cannot be judged by their times)."""
    path = cfg.out / STAMP_NAME
    with contextlib.suppress(OSError):
        path.unlink()
    if any(d.code in LOOK_AGAIN for d in summary.diagnostics):
        return
    inputs = _inputs(cfg, images)
    if not all(settled(state[1:], started_ns) for state in inputs if state[1] >= 0):
        return
    body = {
        "settings": _settings(cfg),
        "inputs": inputs,
        "images": sorted({str(p) for p in images}),
        "outputs": [str(p) for p in summary.outputs],
        "output_states": _outputs(summary.outputs),
        "said": {
            "questions": summary.questions,
            "files": summary.files,
            "question_cards": summary.question_cards,
            "concept_cards": summary.concept_cards,
            "unanswered": summary.unanswered,
            "diagnostics": [[d.severity, d.path, d.line, d.message, d.code] for d in summary.diagnostics],
        },
    }
    tmp = path.with_name(f"{STAMP_NAME}.{os.getpid()}.part")
    try:
        tmp.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)
    except (OSError, UnicodeError):
        with contextlib.suppress(OSError):
            tmp.unlink()


def now_ns() -> int:
    """When a build starts, as file modification times count."""
    return time.time_ns()
