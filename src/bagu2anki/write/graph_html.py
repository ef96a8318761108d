"""Concept map writer: MapData (plain frozen records) -> one self-contained, offline HTML page.

pyvis assembles the vis-network nodes and edges; the page itself comes from our own Jinja2
template (`templates/graph.html.j2`), with vis-network's JS and CSS inlined from the copy that
ships inside the pyvis package. None of pyvis's own HTML generation is used: every stock pyvis
mode still loads Bootstrap (or vis itself) from a CDN, and several of its template paths
(`heading`, `set_options`, `select_menu`, HTML titles) insert text unescaped.

Safety model, in layers:

* All note text travels as JSON inside ``<script type="application/json">`` with ``<``, ``>``
  and ``&`` written as ``\\u003c`` etc., so ``</script>`` or ``<!--`` in a note cannot end the
  block. The page script builds the DOM with ``textContent``/``createElement`` only.
* ``answer_html`` (already sanitised by the card renderer) is shown only after a second pass
  in the page: it is parsed with ``DOMParser`` (an inert document: nothing runs, nothing loads)
  and rebuilt element by element from an allowlist of tags and attributes; scripts, styles,
  frames, forms, SVG/MathML, ``on*`` attributes, ``style``, non-http(s) links and non-``data:``
  images are dropped. No ``innerHTML`` is ever assigned.
* A Content-Security-Policy ``<meta>`` allows exactly our two inline scripts (by SHA-256
  hash), no network fetches, and images only from ``data:``. Anything that slipped through the
  layers above still could not run or phone home.

Formulas in question titles travel as allow-listed MathML trees (data, not markup) made at
build time by `map_math`; the page builds them with ``createElementNS``. Tooltips are plain text,
formulas included (`map_math.plain_math`).

Layout is computed at build time (`graph_layout`), not in the browser, physics is off, so a few
thousand nodes draw in about a second. On wide screens nodes sit in columns by `MapNode.layer`,
left to right; on narrow portrait ones in a few lanes, prerequisites above (a phone scrolls the
map like a page). Each of the two views has its own layout, so neither has holes: the *core*
(the concepts the notes use, with their prerequisite ancestors so every chain stays whole),
which the page opens with, and the whole catalogue.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from markupsafe import Markup

from bagu2anki.write.graph_layout import (
    NARROW_ROW_GAP,
    ROW_GAP,
    lane_positions,
    layered_positions,
    position_list,
)
from bagu2anki.write.map_math import plain_math, title_segments
from bagu2anki.write.page_assets import (
    FONT_STACK_CSS,
    environment,
    script_json,
    template_source,
    vis_assets,
    vis_options,
)

__all__ = [
    "MapData",
    "MapEdge",
    "MapNode",
    "MapQuestion",
    "core_ids",
    "domain_colours",
    "lane_positions",
    "layered_positions",
    "render_map",
    "write_map",
]


# Eighteen colours that stay apart on a white background (light ones come after dark).
PALETTE: tuple[str, ...] = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#e15759",
    "#76b7b2",
    "#b07aa1",
    "#edc948",
    "#ff9da7",
    "#9c755f",
    "#6b8e23",
    "#c51b7d",
    "#5a4fcf",
    "#a0cbe8",
    "#ffbe7d",
    "#8cd17d",
    "#d4a6c8",
    "#17becf",
    "#7f3c8d",
)
NO_DOMAIN_COLOUR = "#9aa5b1"
NO_DOMAIN_LABEL = "未分类"

BIG_NODES = 800
BIG_EDGES = 1200


@dataclass(frozen=True, slots=True)
class MapQuestion:
    """One question under a concept: `answer_html` is sanitised card HTML, `question` plain text
    (its formulas as TeX between `$`, as in the notes)."""

    id: str
    question: str
    answer_html: str
    source: str


@dataclass(frozen=True, slots=True)
class MapNode:
    """One concept. `layer` is its depth in the prerequisite graph (its column on the map)."""

    id: str
    label: str
    aliases: tuple[str, ...]
    description: str
    domain: str
    layer: int
    questions: tuple[MapQuestion, ...]


@dataclass(frozen=True, slots=True)
class MapEdge:
    """`source` is a prerequisite of `target`; `origin` says where the link came from."""

    source: str
    target: str
    origin: str


@dataclass(frozen=True, slots=True)
class MapData:
    """Everything the map shows; edges must join ids present in `nodes`."""

    title: str
    nodes: tuple[MapNode, ...]
    edges: tuple[MapEdge, ...]


def render_map(data: MapData) -> str:
    """The whole HTML page. Deterministic: the same MapData gives byte-identical output."""
    nodes = sorted(data.nodes, key=lambda n: (n.layer, n.domain, n.id))
    edges = _checked_edges(nodes, data.edges)
    colours = domain_colours(n.domain for n in nodes)
    core = core_ids(nodes, edges)
    # The first view's own layout; none when the core is the whole map (no toggle then).
    core_nodes = [n for n in nodes if n.id in core] if len(core) < len(nodes) else None
    big = len(nodes) > BIG_NODES or len(edges) > BIG_EDGES

    vis_nodes, vis_edges = _vis_elements(nodes, edges, colours)
    questions, index = _question_table(nodes)
    payload = {
        "concepts": [_concept_record(n, index, n.id in core) for n in nodes],
        "questions": questions,
        "domains": _legend(nodes, colours),
        "edges": vis_edges,
        "layouts": {
            shape: {
                "all": position_list(nodes, layout(nodes)),
                "core": None if core_nodes is None else position_list(nodes, layout(core_nodes)),
                "rowGap": row_gap,
            }
            for shape, layout, row_gap in (
                ("narrow", lambda subset: lane_positions(subset, edges), NARROW_ROW_GAP),
                ("wide", layered_positions, ROW_GAP),
            )
        },
        "nodes": vis_nodes,
        "options": vis_options(big),
    }
    vis_js, vis_css = vis_assets()
    template = environment().from_string(template_source())
    return template.render(
        title=data.title,
        font_stack=Markup(FONT_STACK_CSS),
        vis_css=Markup(vis_css),
        vis_js=Markup(vis_js),
        data_json=Markup(script_json(payload)),
    )


def write_map(data: MapData, path: Path) -> None:
    """Render and write atomically: a temp file in the same directory, then os.replace."""
    page = render_map(data).encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(page)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise


def domain_colours(domains: Iterable[str]) -> dict[str, str]:
    """A fixed colour per domain name.

    Each name prefers the palette slot its hash picks (so a domain keeps its colour from one
    build to the next); clashes move to the next free slot, in name order, while slots last.
    """
    names = sorted(set(domains))
    taken: set[int] = set()
    colours: dict[str, str] = {}
    for name in names:
        if not name:
            colours[name] = NO_DOMAIN_COLOUR
            continue
        slot = int.from_bytes(hashlib.blake2b(name.encode("utf-8"), digest_size=4).digest(), "big")
        slot %= len(PALETTE)
        if len(taken) < len(PALETTE):
            while slot in taken:
                slot = (slot + 1) % len(PALETTE)
        taken.add(slot)
        colours[name] = PALETTE[slot]
    return colours


def core_ids(nodes: Iterable[MapNode], edges: Iterable[MapEdge]) -> set[str]:
    """The concepts the notes use (at least one question) and all their prerequisites.

    With no questions anywhere the core is every concept. Linear in nodes + edges.
    """
    ids = [n.id for n in nodes]
    used = [n.id for n in nodes if n.questions]
    if not used:
        return set(ids)
    parents: dict[str, list[str]] = defaultdict(list)
    for edge in edges:
        parents[edge.target].append(edge.source)
    core = set(used)
    stack = list(used)
    while stack:
        for parent in parents[stack.pop()]:
            if parent not in core:
                core.add(parent)
                stack.append(parent)
    return core


def _checked_edges(nodes: list[MapNode], edges: Iterable[MapEdge]) -> list[MapEdge]:
    """Edges sorted and de-duplicated; self-loops dropped. Unknown or repeated ids are bugs."""
    ids: set[str] = set()
    repeated: set[str] = set()
    for node in nodes:
        (repeated if node.id in ids else ids).add(node.id)
    if repeated:
        raise ValueError(f"concept map: repeated node ids: {', '.join(sorted(repeated))}")
    unknown = sorted(
        {f"{e.source} -> {e.target}" for e in edges if e.source not in ids or e.target not in ids}
    )
    if unknown:
        raise ValueError(f"concept map: edges to unknown nodes: {'; '.join(unknown)}")
    first: dict[tuple[str, str], MapEdge] = {}
    for edge in edges:
        if edge.source != edge.target:
            first.setdefault((edge.source, edge.target), edge)
    return [first[key] for key in sorted(first)]


def _node_size(questions: int) -> float:
    return round(9.0 + 5.0 * math.sqrt(min(questions, 25)), 1)


def _darker(colour: str, factor: float = 0.72) -> str:
    rgb = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return "#" + "".join(f"{round(c * factor):02x}" for c in rgb)


def _tooltip(node: MapNode) -> str:
    """One line of plain text: vis-network shows a string title with innerText, never as HTML
    (and one line keeps innerText from adding <br> elements). Formulas read as Unicode."""
    parts = [node.label, *node.aliases, f"{len(node.questions)} 道题"]
    return " · ".join(" ".join(plain_math(p).split()) for p in parts)


def _vis_elements(
    nodes: list[MapNode],
    edges: list[MapEdge],
    colours: dict[str, str],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Node and edge records for vis-network, assembled by pyvis (no pyvis HTML involved)."""
    # (imported here only: a build whose map need not be drawn again never loads pyvis)
    from pyvis.network import Network

    net = Network(directed=True)
    for node in nodes:
        fill = colours[node.domain]
        border = _darker(fill)
        net.add_node(
            node.id,
            label=node.label,
            shape="dot",
            color={
                "background": fill,
                "border": border,
                "highlight": {"background": fill, "border": "#1f2933"},
                "hover": {"background": fill, "border": "#1f2933"},
            },
            size=_node_size(len(node.questions)),
            title=_tooltip(node),
        )
    labels = {node.id: node.label for node in nodes}
    for index, edge in enumerate(edges):
        link = f"{labels[edge.source]} → {labels[edge.target]}"
        title = plain_math(f"{link}（{edge.origin}）" if edge.origin else link)
        net.add_edge(edge.source, edge.target, id=f"e{index}", title=" ".join(title.split()))
    vis_nodes: list[dict[str, Any]] = [dict(n) for n in net.nodes]
    vis_edges: list[dict[str, Any]] = [dict(e) for e in net.edges]
    return vis_nodes, vis_edges


def _question_table(nodes: list[MapNode]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Each question once (a question about three concepts is not written three times).

    `q` is the title as text; a title with formulas also has `qm`: its text and MathML trees
    in reading order (`map_math.title_segments`), which the page shows instead."""
    table: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    for node in nodes:
        for q in node.questions:
            if q.id not in index:
                index[q.id] = len(table)
                record: dict[str, Any] = {
                    "a": q.answer_html,
                    "id": q.id,
                    "q": q.question,
                    "src": q.source,
                }
                segments = title_segments(q.question)
                if segments is not None:
                    record["qm"] = segments
                table.append(record)
    return table, index


def _concept_record(node: MapNode, index: dict[str, int], core: bool) -> dict[str, Any]:
    return {
        "aliases": list(node.aliases),
        "core": core,
        "description": node.description,
        "domain": node.domain,
        "id": node.id,
        "label": node.label,
        "layer": node.layer,
        "questions": [index[q.id] for q in node.questions],
    }


def _legend(nodes: list[MapNode], colours: dict[str, str]) -> list[dict[str, Any]]:
    counts: dict[str, int] = defaultdict(int)
    for node in nodes:
        counts[node.domain] += 1
    return [
        {
            "color": colours[name],
            "count": counts[name],
            "label": name or NO_DOMAIN_LABEL,
            "name": name,
        }
        for name in sorted(counts)
    ]
