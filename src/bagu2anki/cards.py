"""Atoms + concepts + identities -> cards: render each side, tag, place in a deck, order.

New cards are numbered in a topological order of their main concept (ties by source order),
so prerequisites arrive first; one card per concept used in the notes can precede them.
"""

from __future__ import annotations

import functools
import html
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from bagu2anki import code
from bagu2anki.cache import BuildCache, key_of
from bagu2anki.code import CodeBlock
from bagu2anki.concepts.catalogue import SHIPPED_ORIGIN, Catalogue
from bagu2anki.config import USED_BY, Config
from bagu2anki.diagnostics import Diagnostic, Diagnostics
from bagu2anki.identity import Identity
from bagu2anki.lockfile import (
    Lock,
    Seen,
    build_clock,
    content_hash,
    content_hash_of,
    modification_time,
    seen_in,
)
from bagu2anki.model import Atom, Card, field_safe
from bagu2anki.parse import rules
from bagu2anki.references import References
from bagu2anki.related import related_remembered
from bagu2anki.render import Rendered, Renderer
from bagu2anki.sources import file_title

if TYPE_CHECKING:
    from bagu2anki.analysis import Analysis, Progress


# Every field carries text (an empty field reads as a broken note in Anki's checks); the card
# style hides a block whose only content is this marker.
SHIPPED_NAME = "bagu2anki 概念目录"  # where a shipped concept card says it comes from
NONE = '<span class="none">无</span>'


def _noop(stage: str, done: int, total: int) -> None:
    return None


@dataclass(frozen=True, slots=True)
class RenderJob:
    """One answer to render: the atom whose text and location it uses, where images resolve."""

    atom: Atom
    base: Path
    root: Path
    answer: str | None = None


_NO_ROOT = (Path("."), Path("."))
_LOOK_AGAIN = frozenset({"missing-image", "ambiguous-image"})  # answers rendered again next build
PARALLEL_MIN = 400  # below this many answers to render, a process pool costs more than it saves
_WORKER: Renderer | None = None
_Out = tuple[Rendered, list[Diagnostic], list[CodeBlock], Seen]


def _worker_init(fold_threshold: int, known: Sequence[CodeBlock] = ()) -> None:
    global _WORKER
    _WORKER = Renderer(Diagnostics(), fold_threshold)
    code.remember(known)


def _worker_render(job: RenderJob) -> _Out:
    assert _WORKER is not None
    return _render_one(_WORKER, job)


def _render_one(renderer: Renderer, job: RenderJob) -> _Out:
    saved = renderer.diags
    local = Diagnostics()
    renderer.diags = local
    try:
        with code.recording() as blocks:
            rendered = renderer.answer(job.atom, job.base, job.root, job.answer)
    finally:
        renderer.diags = saved
    # what the back shows a person, for the card's content hash: made here, in parallel
    return rendered, list(local.items), blocks, seen_in(field_safe(rendered.html))


def render_pool(workers: int, fold_threshold: int, known: Sequence[CodeBlock] = ()) -> ProcessPoolExecutor:
    """Processes that render answers; `known`: highlighted code blocks they need not highlight."""
    return ProcessPoolExecutor(max_workers=workers, initializer=_worker_init, initargs=(fold_threshold, tuple(known)))


def render_answers(
    renderer: Renderer,
    cache: BuildCache,
    jobs: Sequence[RenderJob],
    workers: int = 1,
    pool: ProcessPoolExecutor | None = None,
) -> list[Rendered]:
    """Render every job, through the cache; misses go to a process pool when there are many
    (to `pool` when one is given: a caller rendering in chunks keeps one pool for all).

    Results and diagnostics come back in job order whatever the number of workers, so the
    output is the same as a one-process build.
    """
    return [r for r, _, _ in _render_answers(renderer, cache, jobs, workers, pool)]


def _render_answers(
    renderer: Renderer,
    cache: BuildCache,
    jobs: Sequence[RenderJob],
    workers: int = 1,
    pool: ProcessPoolExecutor | None = None,
    meanwhile: Callable[[bool], None] | None = None,
) -> list[tuple[Rendered, str | None, Seen | None]]:
    """`render_answers`, each answer with what its HTML is a function of (its cache key and the
    images it showed, as they are now), or None when it was rendered without being cached; and
    `seen_in` of its HTML when it was rendered now (None when it came from the cache).

    `meanwhile(parallel)` is called once the work is handed out, before its results are taken:
    the caller's own work then runs beside the render workers (`parallel` says there are any)."""
    results: list[tuple[Rendered, str | None, Seen | None] | None] = [None] * len(jobs)
    misses: list[tuple[int, str]] = []
    for k, job in enumerate(jobs):
        text = job.atom.answer if job.answer is None else job.answer
        key = key_of("answer", job.atom.fmt, job.atom.source, job.atom.line, job.base, job.root, text, renderer.fold_threshold)
        hit = cache.get(key)
        if hit is not None:
            rendered, items, stamps, code_keys = hit
            if all(_stamp(p) == s for p, s in stamps):
                for d in items:
                    renderer.diags.add(d.severity, d.path, d.line, d.message, d.code)
                for ck in code_keys:  # kept in the cache while an answer holds them
                    cache.get(ck)
                results[k] = (rendered, f"{key} {stamps!r}", None)
                continue
        misses.append((k, key))
    todo = [jobs[k] for k, _ in misses]
    known: list[CodeBlock] = cache.of_kind("code") if todo else []
    code.remember(known)
    chunksize = max(8, len(todo) // (workers * 32))  # small enough that no worker is left with a long tail
    outs: list[_Out]
    later = meanwhile or (lambda parallel: None)
    if pool is not None and todo:
        handed = pool.map(_worker_render, todo, chunksize=chunksize)
        later(True)
        outs = list(handed)
    elif workers > 1 and len(todo) >= PARALLEL_MIN:
        with render_pool(workers, renderer.fold_threshold, known) as own:
            handed = own.map(_worker_render, todo, chunksize=chunksize)
            later(True)
            outs = list(handed)
    else:
        later(False)
        outs = [_render_one(renderer, job) for job in todo]
    for (k, key), (rendered, items, blocks, seen) in zip(misses, outs, strict=True):
        for d in items:
            renderer.diags.add(d.severity, d.path, d.line, d.message, d.code)
        digest = None
        if not any(d.code in _LOOK_AGAIN for d in items):  # an image may be added before the next build
            code_keys = []
            for block in blocks:
                code_keys.append(key_of("code", block[0], block[1]))
                cache.put(code_keys[-1], block)
            stamps = [(p, _stamp(p)) for p in rendered.media]
            cache.put(key, (rendered, items, stamps, list(dict.fromkeys(code_keys))))
            digest = f"{key} {stamps!r}"
        results[k] = (rendered, digest, seen)
    return [r for r in results if r is not None]


def plan_job(
    a: Atom,
    roots: dict[str, tuple[Path, Path]],
    references: References,
    diags: Diagnostics,
    whole: Callable[[Atom], Atom] = lambda atom: atom,
) -> tuple[RenderJob, str]:
    """What the back of an atom's card shows: its answer, or the answer a reference points at.

    `whole` gives an atom with its full answer (`export atoms` keeps answers parked on disk).
    """
    base, root = roots.get(a.source, _NO_ROOT)
    job = RenderJob(a, base, root, "（待补充）" if a.status == "unanswered" else None)
    prefix = ""
    if a.status == "reference":
        target = references.resolve(a)
        said = rules.ANSWER_LABEL.sub("", a.answer.strip(), count=1)  # `答:同上` says `同上`
        if target is None:
            diags.warning(a.source, a.line, f"reference '{said}' points at no question with an answer", "unresolved-reference")
        else:
            prefix = (
                f'<p class="ref">（{html.escape(said)}：'
                f"{html.escape(target.question)} — {html.escape(target.source)}:{target.line}）</p>"
            )
            tbase, troot = roots.get(target.source, _NO_ROOT)
            target = whole(target)
            job = RenderJob(target, tbase, troot, target.answer)
    return job, prefix


def render_question(renderer: Renderer, cache: BuildCache, atom: Atom) -> str:
    key = key_of("question", atom.fmt, atom.question)
    hit = cache.get(key)
    if isinstance(hit, str):
        return hit
    front = renderer.question(atom)
    cache.put(key, front)
    return front


def card_front(renderer: Renderer, cache: BuildCache, atom: Atom, question_html: str | None = None) -> str:
    """The card's front: the question, and for one part of a question that asked several
    things (`split.py`), the whole question it came from."""
    front = question_html if question_html is not None else render_question(renderer, cache, atom)
    if atom.part_of:
        whole = render_question(renderer, cache, replace(atom, question=atom.part_of))
        front += f'<div class="part-of">拆自（第 {atom.part} 问）：{whole}</div>'
    return front


def _stamp(path: Path) -> tuple[int, int]:
    try:
        st = path.stat()
    except OSError:
        return (-1, -1)
    return (st.st_mtime_ns, st.st_size)


def deck_for(root: str, atom: Atom, flat: bool = False) -> str:
    if flat:
        return root
    parts = [root] + [p.replace("::", ":").strip() or "_" for p in atom.section[:2]]
    if len(parts) == 1:
        parts.append(file_title(atom.source))
    return field_safe("::".join(parts))


def note_fields(front: str, back: str, prereq: str, related: str, source: str, section: str) -> tuple[str, ...]:
    """The six fields as Anki stores them: the rendered sides as they are, the source and the
    section (raw text from the notes: a file name or heading may hold `<img onerror=…>`) escaped;
    all without the characters Anki cannot store."""
    return tuple(field_safe(f) for f in (front, back, prereq, related, html.escape(source), html.escape(section)))


@functools.lru_cache(maxsize=4096)
def _tag(text: str) -> str:  # concept and section names repeat on thousands of cards
    return field_safe(re.sub(r"\s+", "_", text.strip()).replace('"', ""))


def tags_for(atom: Atom, concepts: Sequence[str]) -> tuple[str, ...]:
    tags = []
    if atom.kind:
        tags.append(_tag(atom.kind))
    if atom.section:
        tags.append("section::" + "::".join(_tag(s).replace("::", ":") for s in atom.section))
    tags.append("status::" + atom.status)
    if atom.status == "unanswered":
        tags.append("待补充")
    tags.extend("concept::" + _tag(c) for c in concepts)
    return tuple(dict.fromkeys(t for t in tags if t))


def roots_of(analysis: Analysis) -> dict[str, tuple[Path, Path]]:
    """Source rel -> (its folder, its notes root): where relative images resolve."""
    return {r: (path.parent, root) for r, path, root in analysis.roots}


@dataclass(frozen=True, slots=True)
class _Plan:
    """Everything on a question's card but its answer, made while the answers render."""

    question: str
    """The question as its own card shows it, for the lists of other cards."""
    front: str
    prereq: str
    related: str
    where: str
    section: str
    tags: tuple[str, ...]
    deck: str
    fields: tuple[str, ...]
    """The note's fields with an empty answer (`note_fields`)."""
    seen: tuple[Seen, ...] | None
    """`seen_in` of every part but the answer (fields, tags, deck), made ahead when the answers
    render in other processes; None otherwise (then made only for a card not in the cache)."""


def _plan_cards(
    cfg: Config,
    analysis: Analysis,
    renderer: Renderer,
    cache: BuildCache,
    kept: Sequence[int],
    by_concept: dict[str, list[int]],
    root_deck: str,
    ahead: bool,
) -> list[_Plan]:
    atoms = analysis.atoms
    graph = analysis.graph
    # Each question's front as its own card shows it (formulas as MathJax, code, escaping),
    # for wherever the question is listed: related questions, concept cards.
    fronts = {i: render_question(renderer, cache, atoms[i]) for i in kept}

    @functools.cache
    def related_item(j: int) -> str:  # a question is listed on up to five cards: made once
        where = html.escape(" › ".join(atoms[j].section[-1:]))
        return f'<li>{fronts[j]} <span class="where">{where}</span></li>'

    plans = []
    for i in kept:
        a = atoms[i]
        concepts, main = analysis.links[i]
        front = card_front(renderer, cache, a, fronts[i])
        prereq = _chain_html(analysis.catalogue, graph.chain(main) if main else ()) or NONE
        related_idx = related_remembered(cache, i, concepts, by_concept, len(kept))
        related = f"<ul>{''.join(related_item(j) for j in related_idx)}</ul>" if related_idx else NONE
        tags = tags_for(a, concepts)
        deck = deck_for(root_deck, a, cfg.flat_decks)
        where = f"{a.source}:{a.line}"
        section = " › ".join(a.section) or file_title(a.source)
        fields = note_fields(front, "", prereq, related, where, section)
        seen = tuple(seen_in(f) for f in (*fields[:1], *fields[2:], *tags, deck)) if ahead else None
        plans.append(_Plan(fronts[i], front, prereq, related, where, section, tags, deck, fields, seen))
    return plans


def make_cards(
    cfg: Config,
    analysis: Analysis,
    identity: Identity,
    lock: Lock,
    renderer: Renderer,
    diags: Diagnostics,
    progress: Progress = _noop,
    cache: BuildCache | None = None,
    workers: int = 1,
) -> tuple[list[Card], int]:
    """Render every atom (and one card per used concept), in prerequisite order.

    A card's content hash (what the lock file records of it) is kept in the build cache under
    everything its fields are made of, so a card that reads as before is not hashed again.
    """
    atoms = analysis.atoms
    graph = analysis.graph
    rank = graph.topo_rank()
    big = len(rank) + 1
    root_deck = field_safe(cfg.deck_name())
    now = build_clock()
    cache = cache or BuildCache(None)
    roots = roots_of(analysis)
    references = References(atoms)

    by_concept: dict[str, list[int]] = defaultdict(list)
    for i, (concepts, _main) in enumerate(analysis.links):
        if atoms[i].status == "unanswered" and not cfg.include_unanswered:
            continue
        for c in concepts:
            by_concept[c].append(i)

    # first pass: what to render for each card (a reference shows the answer it points at)
    jobs: list[RenderJob] = []
    prefixes: list[str] = []
    kept: list[int] = []
    for i, a in enumerate(atoms):
        if a.status == "unanswered" and not cfg.include_unanswered:
            continue
        job, prefix = plan_job(a, roots, references, diags)
        jobs.append(job)
        prefixes.append(prefix)
        kept.append(i)
    progress("render", 0, len(jobs))
    plans: list[_Plan] = []

    def meanwhile(parallel: bool) -> None:  # while the answers render
        plans.extend(_plan_cards(cfg, analysis, renderer, cache, kept, by_concept, root_deck, parallel))

    rendered = _render_answers(renderer, cache, jobs, workers, meanwhile=meanwhile)
    progress("render", len(jobs), len(jobs))
    fronts = {i: p.question for i, p in zip(kept, plans, strict=True)}

    concept_ids: list[str] = []
    if cfg.concept_cards != "none":
        least = USED_BY if cfg.concept_cards == "used" else 1
        for cid in sorted(by_concept, key=lambda c: (rank.get(c, big), c)):
            if analysis.catalogue.get(cid) is not None and len(by_concept[cid]) >= least:
                concept_ids.append(cid)
    # Due order, known before any card is made: a concept before the questions on it, those
    # by their main concept's rank, then in source order.
    order = [((rank.get(main, big) if main else big, 1, i), n) for n, i in enumerate(kept) for main in (analysis.links[i][1],)]
    order += [((rank.get(cid, big), 0, 0), len(kept) + n) for n, cid in enumerate(concept_ids)]
    due = [0] * len(order)
    for d, (_key, n) in enumerate(sorted(order)):
        due[n] = d + 1
    cards: list[Card | None] = [None] * len(order)
    remembered = cache.path is not None

    for n, (i, prefix, (r, made_of, seen), plan) in enumerate(zip(kept, prefixes, rendered, plans, strict=True)):
        a = atoms[i]
        concepts, main = analysis.links[i]
        back_html = prefix + r.html
        if r.visible_chars > 4000:
            diags.info(a.source, a.line, f"very long answer ({r.visible_chars} characters): consider splitting it", "long-answer")
        small = plan.fields
        fields = (small[0], field_safe(back_html), *small[2:])
        tags, deck = plan.tags, plan.deck
        guid = identity.guids[i]
        key = (
            key_of("card", made_of, prefix, plan.front, plan.prereq, plan.related, plan.where, plan.section, tags, deck)
            if remembered and made_of
            else None
        )
        chash = cache.get(key) if key else None
        if not isinstance(chash, str):
            back_seen = seen if seen is not None and not prefix else seen_in(fields[1])
            others = plan.seen or tuple(seen_in(f) for f in (*small[:1], *small[2:], *tags, deck))
            chash = content_hash_of((others[0], back_seen, *others[1:]))
            if key:
                cache.put(key, chash)
        mod = modification_time(guid, chash, lock, now)
        cards[due[n] - 1] = Card(
            atom=a,
            guid=guid,
            concepts=concepts,
            main_concept=main,
            front_html=plan.front,
            back_html=back_html,
            deck=deck,
            tags=tags,
            media=r.media,
            mod=mod,
            due_rank=due[n],
            prereq_html=plan.prereq,
            related_html=plan.related,
            content=chash,
            fields=fields,
        )
    for n, cid in enumerate(concept_ids, start=len(kept)):
        concept = analysis.catalogue.get(cid)
        assert concept is not None
        chain = graph.chain(cid)
        q_items = "".join(f"<li>{fronts[j]}</li>" for j in by_concept[cid][:8])
        back = f"<p>{html.escape(concept.description)}</p>"
        if q_items:
            back += f'<p class="label">相关问题</p><ul>{q_items}</ul>'
        prereq = _chain_html(analysis.catalogue, chain) or NONE
        atom = Atom(
            source="concepts",
            line=0,
            end_line=0,
            section=("概念",),
            number=None,
            kind="概念",
            question=f"概念：{concept.name} 是什么？",  # its own prefix: never the same front as a question of the notes
            answer=concept.description,
            status="answered",
        )
        front = html.escape(atom.question)
        guid = "b2a-concept-" + re.sub(r"[^A-Za-z0-9_.-]", "_", cid)
        tags = ("概念", "concept::" + _tag(cid), "domain::" + _tag(concept.domain))
        deck = root_deck if cfg.flat_decks else f"{root_deck}::概念"
        where = SHIPPED_NAME if concept.origin == SHIPPED_ORIGIN else Path(concept.origin).name
        fields = note_fields(front, back, prereq, NONE, f"{where} · {cid}", "概念")
        chash = content_hash(fields + tags + (deck,))
        mod = modification_time(guid, chash, lock, now)
        cards[due[n] - 1] = Card(atom, guid, (cid,), cid, front, back, deck, tags, (), mod, due[n], prereq, NONE, chash, fields)
    return [c for c in cards if c is not None], len(concept_ids)


def _chain_html(catalogue: Catalogue, chain: Sequence[str]) -> str:
    if len(chain) < 2:
        return ""
    names = []
    for cid in chain:
        concept = catalogue.get(cid)
        names.append(html.escape(concept.name if concept else cid))
    return " → ".join(names)
