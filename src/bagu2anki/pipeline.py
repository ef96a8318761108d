"""The table of contents: notes -> atoms -> concepts -> identities -> cards -> deck, map, report.

`build()` reads and resolves everything first and only then writes, like a static site
generator: a build that fails half-way leaves the previous outputs untouched.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import re
from collections import defaultdict, deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bagu2anki import sources, stamp
from bagu2anki.analysis import Analysis, Progress
from bagu2anki.cache import BuildCache, key_of
from bagu2anki.cards import card_front, make_cards, plan_job, render_answers, render_pool, roots_of
from bagu2anki.concepts.catalogue import Catalogue, load_catalogue
from bagu2anki.concepts.graph import build_graph
from bagu2anki.concepts.recognize import acronyms_in, candidate_acronyms, recognize
from bagu2anki.config import Config
from bagu2anki.diagnostics import Diagnostic, Diagnostics, UserError, clip, counted
from bagu2anki.identity import Identity, assign
from bagu2anki.lockfile import Lock, build_clock
from bagu2anki.model import Atom, Card, Document, SourceFile
from bagu2anki.parse import NO_RULES, read, rules
from bagu2anki.parse.common import ReadingRules
from bagu2anki.parse.flatten import flattening_problems
from bagu2anki.parse.math import find_math
from bagu2anki.references import References, check_references
from bagu2anki.render import Renderer
from bagu2anki.spill import AnswerPark
from bagu2anki.split import split_document
from bagu2anki.stamp import Summary
from bagu2anki.unread import check_reading
from bagu2anki.write.staging import Staging, one_build_at_a_time, tell_waiting


@dataclass(frozen=True, slots=True)
class BuildResult:
    analysis: Analysis
    cards: tuple[Card, ...]
    concept_cards: int
    identity: Identity
    outputs: tuple[Path, ...]
    diagnostics: Diagnostics

    def summary(self) -> Summary:
        """What the command line tells of this build (and, unchanged, of the next one)."""
        atoms = self.analysis.atoms
        return Summary(
            len(atoms), len(self.analysis.documents), len(self.cards) - self.concept_cards, self.concept_cards,
            sum(1 for a in atoms if a.status == "unanswered"), tuple(self.diagnostics.items), self.outputs,
        )


def _noop(stage: str, done: int, total: int) -> None:
    return None


_Parsed = tuple[Document, list[Diagnostic], list[tuple[tuple[str, ...], str | None]], list[tuple[tuple[str, str], ...]]]
PARALLEL_FILES = 24  # below this many files to read, a process pool costs more than it saves
POOL_AFTER = 4  # new files parsed in this process before a pool starts (an edit or two needs none)
WINDOW = 8  # files in flight per worker
_CATALOGUE: Catalogue | None = None


_SPLIT = True
_READING = NO_RULES


def _parse_init(user_catalogue: Path | None, split: bool = True, reading: ReadingRules = NO_RULES) -> None:
    global _CATALOGUE, _SPLIT, _READING
    _CATALOGUE = load_catalogue(user_catalogue, Diagnostics())
    _SPLIT = split
    _READING = reading


def _parse_in_worker(src: SourceFile) -> _Parsed:
    assert _CATALOGUE is not None
    return _parse_one(src, _CATALOGUE, _SPLIT, _READING)


def _parse_one(src: SourceFile, catalogue: Catalogue, split: bool = True, reading: ReadingRules = NO_RULES) -> _Parsed:
    """One file: its questions (split into one per part where they ask several things), their
    math checked, their concepts recognised."""
    local = Diagnostics()
    doc = read(src, local, reading)
    if split:
        doc = split_document(doc, src.text)
    _check_math(doc, local)
    _check_atoms(doc.atoms, local)
    check_reading(doc, local)  # files and text the reader could not place in a question
    links: list[tuple[tuple[str, ...], str | None]] = []
    acronyms: list[tuple[tuple[str, str], ...]] = []
    for a in doc.atoms:  # one atom at a time: both look at the same scans
        links.append(recognize(a, catalogue))
        acronyms.append(acronyms_in(a, catalogue))
    doc = replace(doc, source=replace(doc.source, text=""))
    return doc, list(local.items), links, acronyms


def _look_up(
    f: sources.Found, cache: BuildCache, diags: Diagnostics, salt: tuple[object, ...]
) -> tuple[str, SourceFile | None, _Parsed | None] | None:
    """A note file's parse key, its text when read, its cached parse. A file as it was when a
    build last read it (`stamp.file_state`: size, times, inode) is not read again. None for a
    file with nothing to read."""
    where = key_of("file", f.rel, f.path, f.root, *salt)
    state = stamp.file_state(f.path)
    known = cache.get(where)
    if known is not None and state is not None and tuple(known[:4]) == state:
        hit: _Parsed | None = cache.get(known[4])
        if hit is not None:
            return known[4], None, hit
    read_at = stamp.now_ns()
    told = Diagnostics()
    src = sources.load(f, told)
    diags.extend(told)
    if src is None:
        return None
    key = key_of("parse", src.rel, src.path, src.root, src.format, src.text, *salt)
    if state is not None and not told.items and stamp.settled(state, read_at):
        cache.put(where, (*state, key))  # a file that changed during the reading: not known by its state
    return key, src, cache.get(key)


def _ready(future: Future[_Parsed] | None) -> bool:
    return future is None or future.done()


def analyse(
    cfg: Config,
    diags: Diagnostics,
    progress: Progress = _noop,
    cache: BuildCache | None = None,
    workers: int = 1,
    park: AnswerPark | None = None,
) -> Analysis:
    """Read every note file and link its questions to concepts (cached per file, in parallel).

    With `park`, each answer goes to disk as its file comes in (see `AnswerPark`).
    """
    found = sources.discover(list(cfg.paths), diags, exclude=(cfg.out,))
    if not found:
        raise UserError(sources.nothing_to_read(list(cfg.paths), 0, diags))
    cache = cache or BuildCache(None)
    catalogue = load_catalogue(cfg.user_catalogue(), diags)
    catalogue_key = key_of("catalogue", repr(catalogue))
    results: list[_Parsed] = []
    keys: list[str] = []
    # Files stream through: read, looked up in the cache, parsed (in the pool once enough
    # are new), their results taken in order. At most WINDOW files are in flight, so a large
    # collection is never held as text all at once.
    pending: deque[tuple[str, Future[_Parsed] | None, _Parsed | None]] = deque()
    # with nothing in the cache (a first or `--no-cache` build) every file is new: the pool
    # starts with the first one
    new_files = POOL_AFTER if not cache.entries else 0

    def take_first() -> None:
        key, future, parsed = pending.popleft()
        if future is not None:
            parsed = future.result()
            cache.put(key, parsed)
        assert parsed is not None
        results.append(parsed if park is None else (park.doc(parsed[0]), *parsed[1:]))
        keys.append(key)

    with contextlib.ExitStack() as stack:
        pool: ProcessPoolExecutor | None = None
        for k, f in enumerate(found):
            progress("read", k + 1, len(found))
            looked = _look_up(f, cache, diags, (catalogue_key, cfg.split, cfg.reading))
            if looked is None:
                continue
            key, src, hit = looked
            if hit is None and src is not None:
                new_files += 1
                if pool is None and workers > 1 and new_files >= POOL_AFTER and len(found) >= PARALLEL_FILES:
                    pool = stack.enter_context(
                        ProcessPoolExecutor(
                            workers, initializer=_parse_init, initargs=(cfg.user_catalogue(), cfg.split, cfg.reading)
                        )
                    )
                if pool is not None:
                    pending.append((key, pool.submit(_parse_in_worker, src), None))
                else:
                    hit = _parse_one(src, catalogue, cfg.split, cfg.reading)
                    cache.put(key, hit)
            if hit is not None:
                pending.append((key, None, hit))
            while pending and (len(pending) > WINDOW * workers or _ready(pending[0][1])):
                take_first()
        while pending:
            take_first()
    documents: list[Document] = []
    links: list[tuple[tuple[str, ...], str | None]] = []
    acronyms: list[tuple[tuple[str, str], ...]] = []
    for result in results:
        assert result is not None
        doc, items, doc_links, doc_acronyms = result
        for d in items:
            diags.append(d)
        documents.append(doc)
        links.extend(doc_links)
        acronyms.extend(doc_acronyms)
    progress("parse", len(results), len(results))
    if not results:
        raise UserError(sources.nothing_to_read(list(cfg.paths), len(found), diags))
    atoms = tuple(a for d in documents for a in d.atoms)
    # An arrow between two words is often just prose (`question -> final`); a line is read as a
    # concept chain when at least two of its parts name concepts.
    chains = [
        (parts, d.source.rel, line)
        for d in documents
        for parts, line in d.chains
        if sum(catalogue.resolve(part) is not None for part in parts) >= 2
    ]
    graph = build_graph(catalogue, chains, diags, cache)
    roots = tuple((d.source.rel, d.source.path, d.source.root) for d in documents)
    _check_duplicates(atoms, diags)
    check_references(atoms, links, diags)
    return Analysis(tuple(documents), atoms, catalogue, graph, tuple(links), roots, tuple(acronyms), tuple(keys))


_ASKS = re.compile(r"[?？]")
_PART_HEADS = re.compile(
    r"^(?:#{2,6} |[一二三四五六七八九十]+[、.．] ?|\*\*[^*\n]{1,30}\*\*[:：]?$|[-*] [^\n]{2,40}[?？][^\n]{0,40}$)", re.M
)


def _check_duplicates(atoms: Sequence[Atom], diags: Diagnostics) -> None:
    seen: dict[tuple[str, str], Atom] = {}
    for a in atoms:
        key = (" › ".join(a.section), re.sub(r"\W+", "", rules.nfkc(a.question).lower()))
        if key in seen:
            b = seen[key]
            diags.warning(a.source, a.line, f"duplicate question (also at {b.source}:{b.line})", "duplicate-question")
        else:
            seen[key] = a


def _check_atoms(atoms: Sequence[Atom], diags: Diagnostics) -> None:
    """What can be said of each question on its own: bundled questions, empty answers."""
    for a in atoms:
        asked = len(_ASKS.findall(a.question))
        if asked >= 2 and len(_PART_HEADS.findall(a.answer)) >= asked:
            diags.info(
                a.source, a.line,
                f"this card asks {asked} questions and its answer has a part for each: consider one card per question",
                "bundled-questions",
            )
        if a.status == "unanswered":
            diags.warning(a.source, a.line, f"empty answer: {clip(a.question, 40)} (left out of the deck: answer it, or build with --include-unanswered; build lists it in report.md)", "unanswered")


def _check_math(doc: Document, diags: Diagnostics) -> None:
    """Unbalanced `$`, `$$`, `\\(`, `\\[`: a warning at the line where the formula opens."""
    lines = doc.source.text.split("\n")
    for a in doc.atoms:
        for text in (a.question, a.answer):
            _, problems = find_math(text)
            if not problems:
                continue
            text_lines = text.split("\n")
            breaks = _line_breaks(text)
            where: dict[int, int] = {}  # each line of the text is looked up in the notes once
            for prob in problems:
                k = bisect.bisect_right(breaks, prob.offset - 1)
                if k not in where:
                    needle = text_lines[k].strip()
                    where[k] = next(
                        (n + 1 for n in range(a.line - 1, min(a.end_line, len(lines))) if needle and needle in lines[n]),
                        a.line,
                    )
                diags.warning(a.source, where[k], f"unbalanced math: {prob.message}; the formula shows as text", "math")
        if a.fmt == "text":
            body_start = a.line + 1
            breaks = _line_breaks(a.answer)
            for prob in flattening_problems(a.answer):
                line = body_start + bisect.bisect_right(breaks, prob.offset - 1)
                diags.info(a.source, line, f"left as text: {prob.message}", "flattened-math")


def _line_breaks(text: str) -> list[int]:
    """Offsets of the line feeds in `text`: the line of offset k is bisect_right(breaks, k - 1)."""
    return [m.start() for m in re.finditer("\n", text)]


EXPORT_CHUNK = 500


def atom_records(cfg: Config, diags: Diagnostics) -> Iterator[dict[str, object]]:
    """`export atoms`: one JSON-ready dict per atom, in source order (keys are a public interface).

    Answers wait on disk (`AnswerPark`) while identities and references are worked out, then
    come back a chunk at a time to be rendered and handed out: neither the answers nor their
    HTML are held for the whole collection at once.
    """
    with contextlib.ExitStack() as stack:
        park = stack.enter_context(AnswerPark())
        analysis = analyse(cfg, diags, workers=cfg.workers(), park=park)
        # one pool for all the chunks, so that chunks can be small
        pool = stack.enter_context(render_pool(cfg.workers(), cfg.fold_threshold)) if cfg.workers() > 1 else None
        lock = Lock.load(cfg.lock_path())
        identity = assign(analysis.atoms, lock, diags)
        renderer = Renderer(diags, cfg.fold_threshold)
        roots = roots_of(analysis)
        references = References(analysis.atoms)
        no_cache = BuildCache(None)
        atoms = analysis.atoms
        for start in range(0, len(atoms), EXPORT_CHUNK):
            chunk = range(start, min(len(atoms), start + EXPORT_CHUNK))
            whole = [park.full(atoms[i]) for i in chunk]
            planned = [plan_job(a, roots, references, diags, park.full) for a in whole]
            rendered = render_answers(renderer, no_cache, [job for job, _ in planned], cfg.workers(), pool)
            for i, a, (_job, prefix), r in zip(chunk, whole, planned, rendered, strict=True):
                yield {
                    "id": identity.guids[i],
                    "source": a.source,
                    "line": a.line,
                    "section": list(a.section),
                    "number": a.number,
                    "kind": a.kind,
                    "question": a.question,
                    "answer": a.answer,
                    "status": a.status,
                    "concepts": list(analysis.links[i][0]),
                    "front_html": card_front(renderer, no_cache, a),
                    "back_html": prefix + r.html,
                }


def graph_export(cfg: Config, diags: Diagnostics) -> dict[str, Any]:
    analysis = analyse(cfg, diags, workers=cfg.workers())
    lock = Lock.load(cfg.lock_path())
    identity = assign(analysis.atoms, lock, diags)
    by_concept: dict[str, list[str]] = defaultdict(list)
    for i, (concepts, _m) in enumerate(analysis.links):
        for c in concepts:
            by_concept[c].append(identity.guids[i])
    return analysis.graph.to_export(dict(by_concept), only_used=False)


def build(cfg: Config, progress: Progress = _noop) -> BuildResult:
    """Read and resolve everything, then write the deck, the map, the report and the lock; then
    the stamp that lets the next build stop at once if nothing has changed (`stamp.py`)."""
    started = stamp.now_ns()
    diags = Diagnostics()
    cache = BuildCache.open(cfg.out if cfg.use_cache else None)
    analysis = analyse(cfg, diags, progress, cache, cfg.workers())
    lock = Lock.load(cfg.lock_path())
    identity = assign(analysis.atoms, lock, diags)
    renderer = Renderer(diags, cfg.fold_threshold)
    cards, n_concepts = make_cards(cfg, analysis, identity, lock, renderer, diags, progress, cache, cfg.workers())
    for orphan in identity.orphans:
        diags.info(orphan.source.split(":")[0] or "notes", None, f"question gone from the notes (orphan in Anki): {clip(orphan.question, 50)}", "orphan")
    for word, count, where in candidate_acronyms(analysis.atoms, analysis.catalogue, analysis.acronyms):
        path, _, line = where.rpartition(":")
        diags.info(path, int(line) if line.isdigit() else None, f"candidate concept '{word}' appears in {counted(count, 'question')} but is not in the catalogue", "candidate-concept")

    with one_build_at_a_time(cfg.out, tell_waiting(cfg.out)):
        staging = Staging(cfg.out)
        try:
            outputs = _write_outputs(cfg, analysis, cards, identity, lock, renderer, cache, diags, staging, progress)
            staging.commit()  # everything was written: now in place, the lock file last
        finally:
            staging.close()
    if cache.problem:  # a damaged, foreign or unwritable build cache: rebuilt, never trusted
        diags.info(str(cache.path or cfg.out), None, cache.problem, "build-cache")
    result = BuildResult(analysis, tuple(cards), n_concepts, identity, tuple(outputs), diags)
    if cfg.use_cache and not cache.problem:
        # (a `--no-cache` build leaves no stamp: the next build must fill the cache, or the first
        # edit after it would cost a cold build)
        stamp.record(cfg, started, [p for c in cards for p in c.media], result.summary())
    else:
        stamp.forget(cfg)
    return result


def _write_outputs(
    cfg: Config,
    analysis: Analysis,
    cards: Sequence[Card],
    identity: Identity,
    lock: Lock,
    renderer: Renderer,
    cache: BuildCache,
    diags: Diagnostics,
    staging: Staging,
    progress: Progress,
) -> list[Path]:
    """Deck, map, report and lock file, each written to its staging path (an OSError from any
    of them fails the build before anything is replaced)."""
    from bagu2anki.background import Background, fork_is_safe
    from bagu2anki.lockfile import notetype_time
    from bagu2anki.write.apkg import notetype_digest
    from bagu2anki.write.report import write_report

    deck_file = cfg.out / f"{_safe_filename(cfg.deck_name())}.apkg"
    map_file = cfg.out / "graph.html"
    report_file = cfg.out / "report.md"
    outputs = [deck_file, map_file, report_file]
    staged_deck, staged_map, staged_report = (staging.path(p) for p in outputs)
    # The map, the deck and the reading pages (forked children: a thread would wait for the
    # interpreter lock at each of the deck's rows while the lock file is made here) and the build
    # cache are written side by side; the lock only once all have succeeded.
    progress("write map", 0, 1)
    map_state = cfg.out / MAP_STATE  # what the map in place shows: drawn again only if that changed
    known = _drawn(map_state) if cfg.use_cache else None
    map_writer = Background(_write_map, cfg.deck_name(), analysis, cards, staged_map, map_file, known)
    progress("write deck", 0, 1)
    css = renderer.pygments_css()
    digest = notetype_digest(css)
    nt_mod = notetype_time(digest, lock, build_clock())
    deck_writer = Background(  # (a thread where no child can be forked)
        _write_deck, cards, staged_deck, css, nt_mod, staging.folder, thread=not fork_is_safe()
    )
    from bagu2anki.write.reading_view import PAGES_FOLDER, write_reading_pages

    pages = cfg.out / PAGES_FOLDER  # each file as it was read (`show`), linked from the report
    pages_writer = Background(write_reading_pages, staging.folder_path(pages), analysis.documents, pages, analysis.keys)
    try:
        new_lock = _updated_lock(lock, cards, identity)
        new_lock.notetype = (digest, nt_mod)
        lock_text = new_lock.dumps()
        if cfg.use_cache:
            cache.save()
    finally:
        _pages, deck_diags, drawn = _wait_all(pages_writer, deck_writer, map_writer)
    staging.path(map_state).write_text(json.dumps(list(drawn)), encoding="utf-8")
    for d in deck_diags:
        diags.append(d)
    write_report(staged_report, cfg, analysis, cards, identity, diags)
    outputs.append(pages)
    if cfg.write_lock:
        lock_path = cfg.lock_path()
        if not (lock_path.is_file() and lock_path.read_text(encoding="utf-8") == lock_text):
            try:
                lock_path.parent.mkdir(parents=True, exist_ok=True)
                staging.path(lock_path).write_text(lock_text, encoding="utf-8")
            except OSError as e:  # named as the user knows it, not by its staging name
                raise OSError(e.errno, e.strerror, str(lock_path)) from e
        outputs.append(lock_path)
    return outputs


def _wait_all(*writers: Any) -> list[Any]:
    """Each writer's result, once all are done (none is left running); the first error raised."""
    results: list[Any] = []
    error: BaseException | None = None
    for writer in writers:
        try:
            results.append(writer.wait())
        except BaseException as e:
            results.append(None)
            error = error or e
    if error is not None:
        raise error
    return results


def _write_deck(cards: Sequence[Card], path: Path, css: str, notetype_mod: int, workdir: Path) -> list[Diagnostic]:
    from bagu2anki.write.apkg import write_apkg

    told = Diagnostics()
    write_apkg(cards, path, css, told, notetype_mod, "bagu2anki", workdir)
    return told.items


def _write_map(
    title: str, analysis: Analysis, cards: Sequence[Card], path: Path, previous: Path, known: tuple[str, str] | None
) -> tuple[str, str]:
    from bagu2anki.write.map import (
        write_concept_map,  # the map's imports: only where the map is written
    )

    return write_concept_map(title, analysis, cards, path, previous, known)


MAP_STATE = ".bagu2anki-map.json"
"""In the output folder: [digest of what graph.html shows, digest of its bytes] (`write.map`)."""


def _drawn(path: Path) -> tuple[str, str] | None:
    """The last build's word on its map; None when missing or not ours (the map is drawn)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if isinstance(data, list) and len(data) == 2 and all(isinstance(x, str) for x in data):
        return data[0], data[1]
    return None


def _safe_filename(name: str) -> str:
    """A deck name as a file name in the output folder: no folders, no hidden file (`..`)."""
    return re.sub(r'[\\/:*?"<>|\s\x00-\x1f\x7f]+', "_", name).strip("_").lstrip(".") or "deck"


def _updated_lock(lock: Lock, cards: Sequence[Card], identity: Identity) -> Lock:
    from bagu2anki.identity import fingerprint
    from bagu2anki.lockfile import LockEntry

    fingerprints = dict(zip(identity.guids, identity.fingerprints, strict=False))
    entries = {}
    for c in cards:
        entries[c.guid] = LockEntry(
            guid=c.guid,
            fingerprint=fingerprints.get(c.guid) or fingerprint(c.atom),
            question=c.atom.question[:80],
            source=f"{c.atom.source}:{c.atom.line}",
            section=" › ".join(c.atom.section),
            content=c.content,
            changed=c.mod,
        )
    for g in identity.guids:
        if g not in entries and g in lock.entries:
            entries[g] = lock.entries[g]
    for g, e in lock.entries.items():
        if g.startswith("b2a-concept-") and g not in entries:
            entries[g] = e
    for o in identity.orphans:
        entries.setdefault(o.guid, LockEntry(o.guid, o.fingerprint, o.question, o.source, o.section, o.content, o.changed, True))
    return Lock(entries, lock.path)
