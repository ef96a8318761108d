"""Where the map's concepts sit: computed at build time, so the page draws with physics off.

Two shapes, each computed for both views of the page (the core and the whole catalogue):

* wide screens: `layered_positions`, columns by `layer`, left to right;
* narrow portrait screens: `lane_positions`, a few lanes top to bottom, prerequisites above, so
  a phone scrolls the map like a page.

Both work on anything with the attributes below (the map's `MapNode` and `MapEdge`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Protocol

__all__ = [
    "LayoutEdge",
    "LayoutNode",
    "lane_positions",
    "layered_positions",
    "position_list",
]


class LayoutNode(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def domain(self) -> str: ...
    @property
    def layer(self) -> int: ...


class LayoutEdge(Protocol):
    @property
    def source(self) -> str: ...
    @property
    def target(self) -> str: ...


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


def layered_positions(nodes: Iterable[LayoutNode]) -> dict[str, tuple[float, float]]:
    """Wide screens: left-to-right layers, one band of columns per layer, nodes ordered by
    (domain, id).

    A layer with more nodes than fit in one column wraps into several columns, so a big map
    keeps a readable shape. Linear after the per-layer sort; y is centred on 0.
    """
    by_layer: dict[int, list[LayoutNode]] = defaultdict(list)
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
    nodes: Sequence[LayoutNode], edges: Iterable[LayoutEdge]
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


def position_list(
    nodes: Sequence[LayoutNode], positions: dict[str, tuple[float, float]]
) -> list[list[int] | None]:
    """[x, y] per node in page order (whole pixels), None for a node the layout leaves out."""
    out: list[list[int] | None] = []
    for node in nodes:
        p = positions.get(node.id)
        out.append(None if p is None else [round(p[0]), round(p[1])])
    return out
