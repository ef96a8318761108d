"""The table of contents: notes -> atoms -> concepts -> identities -> cards -> deck, map, report.

`build()` reads and resolves everything first and only then writes, like a static site
generator: a build that fails half-way leaves the previous outputs untouched.
"""

from __future__ import annotations

import html
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bagu2anki import sources
from bagu2anki.cache import BuildCache, key_of
from bagu2anki.concepts.catalogue import Catalogue, load_catalogue
from bagu2anki.concepts.graph import ConceptGraph, build_graph
from bagu2anki.concepts.recognize import candidate_acronyms, recognize
from bagu2anki.config import Config
from bagu2anki.diagnostics import Diagnostics
from bagu2anki.identity import Identity, Lock, assign, build_clock, content_hash, modification_time
from bagu2anki.model import Atom, Card, Document
from bagu2anki.parse import read, rules
from bagu2anki.parse.math import find_math
from bagu2anki.render import Rendered, Renderer, plain_text

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class Analysis:
    """Everything read from the notes, before identities and rendering."""

    documents: tuple[Document, ...]
    atoms: tuple[Atom, ...]
    catalogue: Catalogue
    graph: ConceptGraph
    links: tuple[tuple[tuple[str, ...], str | None], ...]
    roots: tuple[tuple[str, Path, Path], ...]  # (source rel, file path, notes root) per document


@dataclass(frozen=True, slots=True)
class BuildResult:
    analysis: Analysis
    cards: tuple[Card, ...]
    concept_cards: int
    identity: Identity
    outputs: tuple[Path, ...]
    diagnostics: Diagnostics


def _noop(stage: str, done: int, total: int) -> None:
    return None


def analyse(
    cfg: Config, diags: Diagnostics, progress: Progress = _noop, cache: BuildCache | None = None
) -> Analysis:
    found = sources.discover(list(cfg.paths), diags)
    documents: list[Document] = []
    cache = cache or BuildCache(None)
    for k, f in enumerate(found):
        src = sources.load(f, diags)
        progress("parse", k + 1, len(found))
        if src is None:
            continue
        key = key_of("parse", src.rel, src.path, src.root, src.format, src.text)
        hit = cache.get(key)
        if hit is not None:
            doc, items = hit
            diags.items.extend(d for d in items if d not in diags.items)
        else:
            local = Diagnostics()
            doc = read(src, local)
            cache.put(key, (doc, list(local.items)))
            diags.extend(local)
        documents.append(doc)
    atoms = tuple(a for d in documents for a in d.atoms)
    catalogue = load_catalogue(cfg.user_catalogue(), diags)
    chains = [(parts, d.source.rel, line) for d in documents for parts, line in d.chains]
    graph = build_graph(catalogue, chains, diags)
    links = tuple(recognize(a, catalogue) for a in atoms)
    roots = tuple((d.source.rel, d.source.path, d.source.root) for d in documents)
    _check_atoms(atoms, diags)
    for d in documents:
        _check_math(d, diags)
    return Analysis(tuple(documents), atoms, catalogue, graph, links, roots)


def _check_atoms(atoms: Sequence[Atom], diags: Diagnostics) -> None:
    seen: dict[tuple[str, str], Atom] = {}
    for a in atoms:
        key = (" › ".join(a.section), re.sub(r"\W+", "", rules.nfkc(a.question).lower()))
        if key in seen:
            b = seen[key]
            diags.warning(a.source, a.line, f"duplicate question (also at {b.source}:{b.line})", "duplicate-question")
        else:
            seen[key] = a
        if a.status == "unanswered":
            diags.warning(a.source, a.line, f"empty answer: {a.question[:40]} (left out of the deck; see the report's to-do list)", "unanswered")


def _check_math(doc: Document, diags: Diagnostics) -> None:
    """Unbalanced `$`, `$$`, `\\(`, `\\[`: a warning at the line where the formula opens."""
    lines = doc.source.text.split("\n")
    for a in doc.atoms:
        for text in (a.question, a.answer):
            _, problems = find_math(text)
            for prob in problems:
                k = text[: prob.offset].count("\n")
                needle = text.split("\n")[k].strip()
                line = a.line
                for n in range(a.line - 1, min(a.end_line, len(lines))):
                    if needle and needle in lines[n]:
                        line = n + 1
                        break
                diags.warning(a.source, line, f"unbalanced math: {prob.message}; the formula shows as text", "math")


def resolve_reference(atom: Atom, atoms: Sequence[Atom]) -> Atom | None:
    """`见模板2 第5题` / `同 3.2` -> the atom it points at (same file first), or None.

    The number is the question's own number where it has one, else its position in its section.
    """
    if not atom.reference:
        return None
    section, _, number = atom.reference.partition("#")
    sec = rules.nfkc(section).strip().lower()
    ordinal: dict[int, int] = {}
    counters: dict[tuple[str, tuple[str, ...]], int] = defaultdict(int)
    for k, cand in enumerate(atoms):
        counters[(cand.source, cand.section)] += 1
        ordinal[k] = counters[(cand.source, cand.section)]
    best: Atom | None = None
    for k, cand in enumerate(atoms):
        if cand is atom or cand.status in ("unanswered", "reference"):
            continue
        own = cand.number if cand.number is not None else str(ordinal[k])
        if own != number and own.split(".")[0] != number:
            continue
        titles = [rules.nfkc(t).lower() for t in cand.section]
        if sec and not any(t == sec or t.endswith(sec) or sec.endswith(t) for t in titles):
            continue
        if best is None or (cand.source == atom.source and best.source != atom.source):
            best = cand
    return best


def render_answer(
    renderer: Renderer, cache: BuildCache, atom: Atom, base: Path, root: Path, answer: str | None = None
) -> Rendered:
    """Renderer.answer through the build cache (images re-checked, diagnostics replayed)."""
    text = atom.answer if answer is None else answer
    key = key_of("answer", atom.fmt, atom.source, atom.line, base, root, text, renderer.fold_threshold)
    hit = cache.get(key)
    if hit is not None:
        rendered, items, stamps = hit
        if all(_stamp(p) == s for p, s in stamps):
            renderer.diags.items.extend(d for d in items if d not in renderer.diags.items)
            return rendered  # type: ignore[no-any-return]
    saved = renderer.diags
    local = Diagnostics()
    renderer.diags = local
    try:
        rendered = renderer.answer(atom, base, root, answer)
    finally:
        renderer.diags = saved
    saved.extend(local)
    cache.put(key, (rendered, list(local.items), [(p, _stamp(p)) for p in rendered.media]))
    return rendered


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
        parts.append(Path(atom.source).stem)
    return "::".join(parts)


def _tag(text: str) -> str:
    return re.sub(r"\s+", "_", text.strip()).replace('"', "")


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


def _root_for(rel: str, analysis: Analysis) -> tuple[Path, Path]:
    for r, path, root in analysis.roots:
        if r == rel:
            return path.parent, root
    return Path("."), Path(".")


def make_cards(
    cfg: Config,
    analysis: Analysis,
    identity: Identity,
    lock: Lock,
    renderer: Renderer,
    diags: Diagnostics,
    progress: Progress = _noop,
    cache: BuildCache | None = None,
) -> tuple[list[Card], int]:
    """Render every atom (and one card per used concept), in prerequisite order."""
    atoms = analysis.atoms
    graph = analysis.graph
    rank = graph.topo_rank()
    big = len(rank) + 1
    root_deck = cfg.deck_name()
    now = build_clock()
    cache = cache or BuildCache(None)

    by_concept: dict[str, list[int]] = defaultdict(list)
    for i, (concepts, _main) in enumerate(analysis.links):
        if atoms[i].status == "unanswered" and not cfg.include_unanswered:
            continue
        for c in concepts:
            by_concept[c].append(i)

    rendered_answers: dict[int, str] = {}
    cards: list[Card] = []
    order: list[tuple[tuple[int, int, int], int]] = []
    total = len(atoms)
    for i, a in enumerate(atoms):
        progress("render", i + 1, total)
        if a.status == "unanswered" and not cfg.include_unanswered:
            continue
        concepts, main = analysis.links[i]
        base, root = _root_for(a.source, analysis)
        answer_src: str | None = None
        prefix = ""
        if a.status == "reference":
            target = resolve_reference(a, atoms)
            if target is None:
                diags.warning(a.source, a.line, f"reference '{a.answer.strip()}' points at no question with an answer", "unresolved-reference")
            else:
                answer_src = target.answer
                prefix = (
                    f'<p class="ref">（{html.escape(a.answer.strip())}：'
                    f"{html.escape(target.question)} — {html.escape(target.source)}:{target.line}）</p>"
                )
                base, root = _root_for(target.source, analysis)
                if target.fmt != a.fmt:
                    a_for_render = target
                else:
                    a_for_render = target
                r = render_answer(renderer, cache, a_for_render, base, root, answer_src)
                back = prefix + r.html
                rendered_answers[i] = back
        if i not in rendered_answers:
            if a.status == "unanswered":
                r = render_answer(renderer, cache, a, base, root, "（待补充）")
            else:
                r = render_answer(renderer, cache, a, base, root)
            rendered_answers[i] = r.html
        if r.visible_chars > 4000:
            diags.info(a.source, a.line, f"very long answer ({r.visible_chars} characters): consider splitting it", "long-answer")
        front = renderer.question(a)
        chain = graph.chain(main) if main else ()
        prereq = _chain_html(analysis.catalogue, chain)
        related_idx: list[int] = []
        for c in concepts[:2]:
            for j in by_concept.get(c, []):
                if j != i and j not in related_idx:
                    related_idx.append(j)
        related = ""
        if related_idx:
            items = "".join(
                f"<li>{html.escape(atoms[j].question)} <span class=\"where\">{html.escape(' › '.join(atoms[j].section[-1:]))}</span></li>"
                for j in related_idx[:5]
            )
            related = f"<ul>{items}</ul>"
        tags = tags_for(a, concepts)
        deck = deck_for(root_deck, a, cfg.flat_decks)
        guid = identity.guids[i]
        fields = (front, rendered_answers[i], prereq, related, f"{a.source}:{a.line}", " › ".join(a.section))
        chash = content_hash(fields + tags + (deck,))
        mod = modification_time(guid, chash, lock, now)
        key = (rank.get(main, big) if main else big, 1, i)
        order.append((key, len(cards)))
        cards.append(
            Card(
                atom=a,
                guid=guid,
                concepts=concepts,
                main_concept=main,
                front_html=front,
                back_html=rendered_answers[i],
                deck=deck,
                tags=tags,
                media=r.media,
                mod=mod,
                due_rank=0,
                prereq_html=prereq,
                related_html=related,
                content=chash,
            )
        )
    n_concept_cards = 0
    if cfg.concept_cards:
        for cid in sorted(by_concept, key=lambda c: (rank.get(c, big), c)):
            concept = analysis.catalogue.get(cid)
            if concept is None:
                continue
            chain = graph.chain(cid)
            q_items = "".join(f"<li>{html.escape(atoms[j].question)}</li>" for j in by_concept[cid][:8])
            back = f"<p>{html.escape(concept.description)}</p>"
            if q_items:
                back += f'<p class="label">相关问题</p><ul>{q_items}</ul>'
            prereq = _chain_html(analysis.catalogue, chain)
            atom = Atom(
                source="concepts",
                line=0,
                end_line=0,
                section=("概念",),
                number=None,
                kind="概念",
                question=f"{concept.name} 是什么？",
                answer=concept.description,
                status="answered",
            )
            front = html.escape(atom.question)
            guid = "b2a-concept-" + re.sub(r"[^A-Za-z0-9_.-]", "_", cid)
            tags = ("概念", "concept::" + _tag(cid), "domain::" + _tag(concept.domain))
            deck = root_deck if cfg.flat_decks else f"{root_deck}::概念"
            fields = (front, back, prereq, "", f"concept:{cid}", "概念")
            chash = content_hash(fields + tags + (deck,))
            mod = modification_time(guid, chash, lock, now)
            order.append(((rank.get(cid, big), 0, 0), len(cards)))
            cards.append(
                Card(atom, guid, (cid,), cid, front, back, deck, tags, (), mod, 0, prereq, "", chash)
            )
            n_concept_cards += 1
    ranked = sorted(order)
    final = [replace(cards[idx], due_rank=due + 1) for due, (_key, idx) in enumerate(ranked)]
    return final, n_concept_cards


def _chain_html(catalogue: Catalogue, chain: Sequence[str]) -> str:
    if len(chain) < 2:
        return ""
    names = []
    for cid in chain:
        concept = catalogue.get(cid)
        names.append(html.escape(concept.name if concept else cid))
    return " → ".join(names)


def atom_records(cfg: Config, diags: Diagnostics) -> Iterator[dict[str, object]]:
    """`export atoms`: one JSON-ready dict per atom, in source order (keys are a public interface)."""
    analysis = analyse(cfg, diags)
    lock = Lock.load(cfg.lock_path())
    identity = assign(analysis.atoms, lock, diags)
    renderer = Renderer(diags, cfg.fold_threshold)
    cards, _ = make_cards(replace(cfg, include_unanswered=True, concept_cards=False), analysis, identity, lock, renderer, diags)
    by_guid = {c.guid: c for c in cards}
    for i, a in enumerate(analysis.atoms):
        c = by_guid.get(identity.guids[i])
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
            "front_html": c.front_html if c else "",
            "back_html": c.back_html if c else "",
        }


def graph_export(cfg: Config, diags: Diagnostics) -> dict[str, Any]:
    analysis = analyse(cfg, diags)
    lock = Lock.load(cfg.lock_path())
    identity = assign(analysis.atoms, lock, diags)
    by_concept: dict[str, list[str]] = defaultdict(list)
    for i, (concepts, _m) in enumerate(analysis.links):
        for c in concepts:
            by_concept[c].append(identity.guids[i])
    return analysis.graph.to_export(dict(by_concept), only_used=False)


def plain(fragment: str) -> str:
    return plain_text(fragment)


def build(cfg: Config, progress: Progress = _noop) -> BuildResult:
    """Read and resolve everything, then write the deck, the map, the report and the lock."""
    from bagu2anki.identity import notetype_time
    from bagu2anki.write.apkg import notetype_digest, write_apkg
    from bagu2anki.write.map import write_concept_map
    from bagu2anki.write.report import write_report

    diags = Diagnostics()
    cache = BuildCache.open(cfg.out if cfg.use_cache else None)
    analysis = analyse(cfg, diags, progress, cache)
    lock = Lock.load(cfg.lock_path())
    identity = assign(analysis.atoms, lock, diags)
    renderer = Renderer(diags, cfg.fold_threshold)
    cards, n_concepts = make_cards(cfg, analysis, identity, lock, renderer, diags, progress, cache)
    for orphan in identity.orphans:
        diags.info(orphan.source.split(":")[0] or "notes", None, f"question gone from the notes (orphan in Anki): {orphan.question[:50]}", "orphan")
    for word, count, where in candidate_acronyms(analysis.atoms, analysis.catalogue):
        path, _, line = where.rpartition(":")
        diags.info(path, int(line) if line.isdigit() else None, f"candidate concept '{word}' appears in {count} questions but is not in the catalogue", "candidate-concept")

    cfg.out.mkdir(parents=True, exist_ok=True)
    deck_file = cfg.out / f"{_safe_filename(cfg.deck_name())}.apkg"
    progress("write deck", 0, 1)
    css = renderer.pygments_css()
    digest = notetype_digest(css)
    nt_mod = notetype_time(digest, lock, build_clock())
    write_apkg(cards, deck_file, css, diags, nt_mod, description="bagu2anki")
    map_file = cfg.out / "graph.html"
    progress("write map", 0, 1)
    write_concept_map(cfg.deck_name(), analysis, cards, map_file)
    new_lock = _updated_lock(lock, cards, identity)
    new_lock.notetype = (digest, nt_mod)
    report_file = cfg.out / "report.md"
    write_report(report_file, cfg, analysis, cards, identity, diags)
    outputs = [deck_file, map_file, report_file]
    if cfg.use_cache:
        cache.save()
    if cfg.write_lock:
        lock_path = cfg.lock_path()
        try:
            lock_path.parent.mkdir(parents=True, exist_ok=True)
            new_lock.save(lock_path)
            outputs.append(lock_path)
        except OSError as e:
            diags.warning(str(lock_path), None, f"cannot write the lock file ({e.strerror}); identities were not saved")
    return BuildResult(analysis, tuple(cards), n_concepts, identity, tuple(outputs), diags)


def _safe_filename(name: str) -> str:
    return re.sub(r'[\\/:*?"<>|\s]+', "_", name).strip("_") or "deck"


def _updated_lock(lock: Lock, cards: Sequence[Card], identity: Identity) -> Lock:
    from bagu2anki.identity import LockEntry, fingerprint

    entries = {}
    for c in cards:
        entries[c.guid] = LockEntry(
            guid=c.guid,
            fingerprint=fingerprint(c.atom),
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
