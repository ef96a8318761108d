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

Layout is computed here, not in the browser, physics is off, so a few thousand nodes draw in
about a second. On wide screens nodes sit in columns by `MapNode.layer`, left to right; on
narrow portrait ones in a few lanes, prerequisites above (a phone scrolls the map like a page).
Each of the two views has its own layout, so neither has holes: the *core* (the concepts the
notes use, with their prerequisite ancestors so every chain stays whole), which the page opens
with, and the whole catalogue.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from markupsafe import Markup
from pyvis.network import Network

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

# Wide screens: a layer is a column (several when it is long), layers left to right.
LAYER_GAP = 260.0  # px from the last column of one layer to the first of the next
SUBCOLUMN_GAP = 170.0  # px between the columns of one layer wrapped over several columns
ROW_GAP = 62.0  # px between nodes in one column
MIN_ROWS_PER_COLUMN = 24
# Narrow portrait screens: a few lanes top to bottom (see lane_positions), as wide as a phone
# at a scale where labels stay legible.
NARROW_COLUMN_GAP = 150.0  # px between lanes (labels wrap at 150 px)
NARROW_ROW_GAP = 92.0  # px between rows
MIN_NODES_PER_ROW = 3

BIG_NODES = 800
BIG_EDGES = 1200


@dataclass(frozen=True, slots=True)
class MapQuestion:
    """One question under a concept; `answer_html` is sanitised card HTML, `question` plain text."""

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
                "all": _position_list(nodes, layout(nodes)),
                "core": None if core_nodes is None else _position_list(nodes, layout(core_nodes)),
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


def layered_positions(nodes: Iterable[MapNode]) -> dict[str, tuple[float, float]]:
    """Wide screens: left-to-right layers, one band of columns per layer, nodes ordered by
    (domain, id).

    A layer with more nodes than fit in one column wraps into several columns, so a big map
    keeps a readable shape. Linear after the per-layer sort; y is centred on 0.
    """
    by_layer: dict[int, list[MapNode]] = defaultdict(list)
    count = 0
    for node in nodes:
        by_layer[node.layer].append(node)
        count += 1
    rows_per_column = max(MIN_ROWS_PER_COLUMN, math.ceil(math.sqrt(count)))
    positions: dict[str, tuple[float, float]] = {}
    x = 0.0
    for layer in sorted(by_layer):
        members = sorted(by_layer[layer], key=lambda n: (n.domain, n.id))
        columns = math.ceil(len(members) / rows_per_column)
        for column in range(columns):
            chunk = members[column * rows_per_column : (column + 1) * rows_per_column]
            top = -(len(chunk) - 1) * ROW_GAP / 2
            for row, node in enumerate(chunk):
                positions[node.id] = (x + column * SUBCOLUMN_GAP, top + row * ROW_GAP)
        x += (columns - 1) * SUBCOLUMN_GAP + LAYER_GAP
    return positions


def lane_positions(
    nodes: Sequence[MapNode], edges: Iterable[MapEdge]
) -> dict[str, tuple[float, float]]:
    """Narrow portrait screens: a few lanes side by side, prerequisites always in higher rows.

    A layering of bounded width (in the spirit of Coffman–Graham): rows hold at most `lanes`
    concepts, every edge points down, and a chain runs down one lane where it can. Concepts are
    placed as a depth-first walk down the dependants meets them; a concept whose other
    prerequisites are not placed yet pulls them in first, next to where they are needed, so a
    chain spans few rows and a tap can frame it at a scale where it still reads. Each concept
    takes the first row below all its prerequisites with a free lane (a next-free-row table with
    path compression finds it), preferring the lane of its nearest prerequisite.
    Linear in nodes + edges after sorting; x is centred on 0, the first row is y = 0.
    """
    order = sorted(nodes, key=lambda n: (n.layer, n.domain, n.id))
    rank = {n.id: i for i, n in enumerate(order)}
    parents: dict[str, list[str]] = {n.id: [] for n in order}
    children: dict[str, list[str]] = {n.id: [] for n in order}
    for edge in edges:
        if edge.source in rank and edge.target in rank and edge.source != edge.target:
            parents[edge.target].append(edge.source)
            children[edge.source].append(edge.target)
    for table in (parents, children):
        for linked in table.values():
            linked.sort(key=rank.__getitem__)
    # three lanes fit a phone at a legible scale; only a map of many hundreds gets more
    lanes = max(MIN_NODES_PER_ROW, math.ceil(math.sqrt(len(order)) / 8))
    row: dict[str, int] = {}
    lane: dict[str, int] = {}
    used: dict[int, list[bool]] = defaultdict(lambda: [False] * lanes)
    full_up_to: dict[int, int] = {}  # a full row -> a row at or below it that may have room

    def free_row(r: int) -> int:
        path = []
        while r in full_up_to:
            path.append(r)
            r = full_up_to[r]
        for q in path:
            full_up_to[q] = r
        return r

    def place(nid: str, floor: int) -> None:
        placed = [p for p in parents[nid] if p in row]
        r = free_row(max([floor, *(row[p] + 1 for p in placed)]))
        slots = used[r]
        want = lane[max(placed, key=row.__getitem__)] if placed else 0
        best = min((i for i in range(lanes) if not slots[i]), key=lambda i: (abs(i - want), i))
        slots[best] = True
        row[nid], lane[nid] = r, best
        if all(slots):
            full_up_to[r] = r + 1

    pending: set[str] = set()

    def ensure(nid: str) -> None:
        """Place nid, its unplaced prerequisites first (a cycle is cut where it is met)."""
        stack: list[tuple[str, int, bool]] = [(nid, 0, False)]
        while stack:
            current, floor, ready = stack.pop()
            if current in row:
                continue
            if ready:
                place(current, floor)
                continue
            if current in pending:
                continue
            pending.add(current)
            stack.append((current, floor, True))
            near = max((row[p] for p in parents[current] if p in row), default=floor)
            for p in reversed(parents[current]):
                if p not in row and p not in pending:
                    stack.append((p, near, False))

    visited: set[str] = set()
    for start in order:
        walk = [start.id]
        while walk:
            nid = walk.pop()
            if nid in visited:
                continue
            visited.add(nid)
            ensure(nid)
            walk.extend(c for c in reversed(children[nid]) if c not in visited)
    middle = (lanes - 1) / 2
    return {
        n.id: ((lane[n.id] - middle) * NARROW_COLUMN_GAP, row[n.id] * NARROW_ROW_GAP) for n in order
    }


def _position_list(
    nodes: list[MapNode], positions: dict[str, tuple[float, float]]
) -> list[list[int] | None]:
    """[x, y] per node in page order (whole pixels), None for a node the layout leaves out."""
    out: list[list[int] | None] = []
    for node in nodes:
        p = positions.get(node.id)
        out.append(None if p is None else [round(p[0]), round(p[1])])
    return out


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
    (and one line keeps innerText from adding <br> elements)."""
    parts = [node.label, *node.aliases, f"{len(node.questions)} 道题"]
    return " · ".join(" ".join(p.split()) for p in parts)


def _vis_elements(
    nodes: list[MapNode],
    edges: list[MapEdge],
    colours: dict[str, str],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Node and edge records for vis-network, assembled by pyvis (no pyvis HTML involved)."""
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
        title = f"{link}（{edge.origin}）" if edge.origin else link
        net.add_edge(edge.source, edge.target, id=f"e{index}", title=" ".join(title.split()))
    vis_nodes: list[dict[str, Any]] = [dict(n) for n in net.nodes]
    vis_edges: list[dict[str, Any]] = [dict(e) for e in net.edges]
    return vis_nodes, vis_edges


def _question_table(nodes: list[MapNode]) -> tuple[list[dict[str, str]], dict[str, int]]:
    """Each question once (a question about three concepts is not written three times)."""
    table: list[dict[str, str]] = []
    index: dict[str, int] = {}
    for node in nodes:
        for q in node.questions:
            if q.id not in index:
                index[q.id] = len(table)
                table.append({"a": q.answer_html, "id": q.id, "q": q.question, "src": q.source})
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
