"""Atoms + concepts + identities -> cards: render each side, tag, place in a deck, order.

New cards are numbered in a topological order of their main concept (ties by source order),
so prerequisites arrive first; one card per concept used in the notes can precede them.
"""

from __future__ import annotations

import html
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from bagu2anki.cache import BuildCache, key_of
from bagu2anki.concepts.catalogue import Catalogue
from bagu2anki.config import Config
from bagu2anki.diagnostics import Diagnostics
from bagu2anki.identity import Identity, Lock, build_clock, content_hash, modification_time
from bagu2anki.model import Atom, Card
from bagu2anki.parse import rules
from bagu2anki.render import Rendered, Renderer

if TYPE_CHECKING:
    from bagu2anki.pipeline import Analysis, Progress


# Every field carries text (an empty field reads as a broken note in Anki's checks); the card
# style hides a block whose only content is this marker.
NONE = '<span class="none">无</span>'


def _noop(stage: str, done: int, total: int) -> None:
    return None


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
        prereq = _chain_html(analysis.catalogue, chain) or NONE
        related_idx: list[int] = []
        for c in concepts[:2]:
            for j in by_concept.get(c, []):
                if j != i and j not in related_idx:
                    related_idx.append(j)
        related = NONE
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
            prereq = _chain_html(analysis.catalogue, chain) or NONE
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
            fields = (front, back, prereq, NONE, f"concept:{cid}", "概念")
            chash = content_hash(fields + tags + (deck,))
            mod = modification_time(guid, chash, lock, now)
            order.append(((rank.get(cid, big), 0, 0), len(cards)))
            cards.append(
                Card(atom, guid, (cid,), cid, front, back, deck, tags, (), mod, 0, prereq, NONE, chash)
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
