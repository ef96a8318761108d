"""The concept graph: catalogue prerequisites plus concept chains stated in the notes.

Takes a `Catalogue` and the chains the parser found (`MHA -> GQA -> MLA`); gives a
`ConceptGraph` for chains, ordering, layout and export. The only module that imports networkx,
and only to work out the acyclic view (`Solved`), which the build cache keeps: a rebuild whose
catalogue and chains are unchanged does not load networkx at all.

An edge `a -> b` means a is a prerequisite of b. Cycles are reported as warnings and the build
goes on: ordering uses an acyclic view made by adding edges in order — catalogue edges first
(concept by concept, shipped concepts before those a user file changed, each concept's
prerequisites as listed), then notes edges as given — and leaving out every edge that would
close a cycle.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Literal, Protocol

from bagu2anki.concepts.catalogue import SHIPPED_ORIGIN, SHIPPED_PATH, Catalogue
from bagu2anki.diagnostics import Diagnostics

Origin = Literal["catalogue", "notes"]
ProseChain = tuple[Sequence[str], str, int]
"""A chain as written in the notes: its parts (aliases or ids), the file and the line."""


@dataclass(frozen=True, slots=True)
class Edge:
    source: str
    target: str
    origin: Origin
    loc: str | None
    """`path:line` of the notes chain that stated it; None for catalogue edges."""


@dataclass(frozen=True, slots=True)
class Solved:
    """The acyclic view of a graph as `solve` works it out: a function of the concept ids and
    the edges in their order alone (`solve_key`), so the build cache can keep it."""

    ignored: tuple[tuple[str, str, tuple[str, ...]], ...]
    """(source, target, the cycle the edge would close) for each edge left out."""
    order: tuple[str, ...]
    """A topological order of the acyclic view, ties by id."""
    depth: tuple[int, ...]
    """Longest-path depth of each concept of `order`."""
    best: tuple[tuple[str, str], ...]
    """(concept, the prerequisite on its longest chain)."""


class Memo(Protocol):
    """Where a `Solved` may be kept between builds (the build cache)."""

    def get(self, key: str) -> Any | None: ...

    def put(self, key: str, value: Any) -> None: ...


def solve_key(ids: Iterable[str], edges: Iterable[tuple[str, str]]) -> str:
    h = hashlib.sha256(b"concept-graph")
    for part in (*ids, "\x01", *(f"{s}\x00{t}" for s, t in edges)):
        h.update(part.encode("utf-8", "surrogatepass") + b"\x02")
    return h.hexdigest()


def solve(ids: Sequence[str], edges: Sequence[tuple[str, str]]) -> Solved:
    """Edges added in order, each left out when it would close a cycle; then a topological
    order (ties by id) and each concept's longest prerequisite chain. `edges` holds no
    repeats and no loops."""
    import networkx as nx  # here only: a rebuild takes the solved graph from the cache

    graph: Any = nx.DiGraph()
    graph.add_nodes_from(ids)
    graph.add_edges_from(edges)
    component = {}
    for index, nodes in enumerate(nx.strongly_connected_components(graph)):
        for node in nodes:
            component[node] = index
    dag: Any = nx.DiGraph()
    dag.add_nodes_from(ids)
    ignored: list[tuple[str, str, tuple[str, ...]]] = []
    for source, target in edges:
        # A cycle never leaves a strongly connected component, so only edges inside one
        # can close a cycle.
        if component[source] == component[target] and nx.has_path(dag, target, source):
            back = nx.shortest_path(dag, target, source)
            ignored.append((source, target, (source, *(str(n) for n in back))))
        else:
            dag.add_edge(source, target)
    order = [str(n) for n in nx.lexicographical_topological_sort(dag, key=str)]
    depths: dict[str, int] = {}
    best: dict[str, str] = {}
    for node in order:
        depth = 0
        for pred in dag.predecessors(node):
            # Predecessors come in insertion order, so on a tie the prerequisite listed
            # first in the catalogue (then the first notes chain) wins.
            if depths[pred] + 1 > depth:
                depth = depths[pred] + 1
                best[node] = str(pred)
        depths[node] = depth
    return Solved(tuple(ignored), tuple(order), tuple(depths[n] for n in order), tuple(best.items()))


class ConceptGraph:
    """Concepts and prerequisite edges, with a deterministic acyclic view for ordering."""

    def __init__(self, catalogue: Catalogue, edges: Sequence[Edge], solved: Solved | None = None) -> None:
        """`solved`: the acyclic view of these very concepts and edges (from the build cache);
        worked out here when None."""
        self.catalogue = catalogue
        self._edges: dict[tuple[str, str], Edge] = {}
        for edge in edges:
            key = (edge.source, edge.target)
            if key not in self._edges and edge.source != edge.target:
                self._edges[key] = edge
        self._graph: Any = None  # networkx, made when asked for ancestors or descendants
        if solved is None:
            solved = solve(catalogue.ids(), list(self._edges))
        self.solved = solved
        self.ignored: tuple[tuple[Edge, tuple[str, ...]], ...] = tuple(
            (self._edges[(s, t)], cycle) for s, t, cycle in solved.ignored
        )
        """Edges left out of the acyclic view, each with the cycle it would close."""
        self._rank = {node: i for i, node in enumerate(solved.order)}
        self._depth: dict[str, int] = dict(zip(solved.order, solved.depth, strict=True))
        self._best_prereq: dict[str, str] = dict(solved.best)

    def _full(self) -> Any:
        if self._graph is None:
            import networkx as nx

            graph = nx.DiGraph()
            graph.add_nodes_from(self.catalogue.ids())
            graph.add_edges_from(self._edges)
            self._graph = graph
        return self._graph

    def __contains__(self, concept_id: object) -> bool:
        return concept_id in self._rank

    def _check(self, concept_id: str) -> None:
        if concept_id not in self._rank:
            raise KeyError(f"unknown concept id {concept_id!r}")

    def edges(self) -> tuple[Edge, ...]:
        """Every edge (including any left out of the acyclic view), by source then target."""
        return tuple(self._edges[key] for key in sorted(self._edges))

    def edge(self, source: str, target: str) -> Edge | None:
        return self._edges.get((source, target))

    def chain(self, concept_id: str) -> tuple[str, ...]:
        """The longest prerequisite path ending at the concept, e.g. Attention … GQA, MLA."""
        self._check(concept_id)
        path = [concept_id]
        while path[-1] in self._best_prereq:
            path.append(self._best_prereq[path[-1]])
        return tuple(reversed(path))

    def topo_rank(self) -> dict[str, int]:
        """Position of each concept in a topological order of the acyclic view, ties by id."""
        return dict(self._rank)

    def layers(self) -> dict[str, int]:
        """Longest-path depth of each concept (0 for no prerequisites), for layered layouts."""
        return dict(self._depth)

    def prerequisites(self, concept_id: str) -> tuple[str, ...]:
        """Every concept with a path to this one, in topological order."""
        self._check(concept_id)
        import networkx as nx

        return self._ordered(nx.ancestors(self._full(), concept_id) - {concept_id})

    def dependants(self, concept_id: str) -> tuple[str, ...]:
        """Every concept reachable from this one, in topological order."""
        self._check(concept_id)
        import networkx as nx

        return self._ordered(nx.descendants(self._full(), concept_id) - {concept_id})

    def _ordered(self, nodes: set[Any]) -> tuple[str, ...]:
        return tuple(sorted((str(n) for n in nodes), key=lambda n: (self._rank[n], n)))

    def to_export(
        self, atom_ids_by_concept: Mapping[str, Sequence[str]], only_used: bool
    ) -> dict[str, list[dict[str, object]]]:
        """Nodes (by id, atom ids sorted) and edges (by source, target) for the map and JSON.

        With `only_used`, only concepts that have atoms, and the edges between them.
        """
        nodes: list[dict[str, object]] = []
        for concept in sorted(self.catalogue, key=lambda c: c.id):
            atoms = sorted(set(atom_ids_by_concept.get(concept.id, ())))
            if only_used and not atoms:
                continue
            nodes.append(
                {
                    "id": concept.id,
                    "label": concept.name,
                    "aliases": list(concept.aliases),
                    "description": concept.description,
                    "domain": concept.domain,
                    "atoms": atoms,
                }
            )
        kept = {node["id"] for node in nodes}
        edges: list[dict[str, object]] = [
            {"source": e.source, "target": e.target, "origin": e.origin, "loc": e.loc}
            for e in self.edges()
            if e.source in kept and e.target in kept
        ]
        return {"nodes": nodes, "edges": edges}


def _catalogue_edges(catalogue: Catalogue) -> list[Edge]:
    """Edges of shipped concepts first, then of concepts a user catalogue added or changed, so
    that when a user file closes a cycle, its edge is the one the acyclic view leaves out."""
    ordered = sorted(catalogue, key=lambda c: c.origin != SHIPPED_ORIGIN)
    return [
        Edge(prereq, concept.id, "catalogue", None)
        for concept in ordered
        for prereq in concept.prereqs
        if prereq in catalogue
    ]


def _notes_edges(
    catalogue: Catalogue, prose_chains: Sequence[ProseChain], diags: Diagnostics
) -> list[Edge]:
    edges: list[Edge] = []
    for parts, path, line in prose_chains:
        written = " -> ".join(parts)
        ids: list[str | None] = []
        for part in parts:
            concept_id = catalogue.resolve(part)
            if concept_id is None:
                hint = catalogue.suggest(part)
                diags.warning(
                    path,
                    line,
                    f"unknown concept {part!r} in chain '{written}'"
                    + (f"; did you mean {hint}?" if hint else ""),
                    code="unknown-concept",
                )
            ids.append(concept_id)
        for source, target in pairwise(ids):
            if source is None or target is None:
                continue
            if source == target:
                diags.info(
                    path,
                    line,
                    f"chain '{written}' names {source!r} twice in a row",
                    code="chain-repeat",
                )
                continue
            edges.append(Edge(source, target, "notes", f"{path}:{line}"))
    return edges


def _describe(edge: Edge, catalogue: Catalogue) -> str:
    if edge.origin == "notes":
        return f"{edge.source} -> {edge.target} from notes ({edge.loc})"
    origin = catalogue[edge.target].origin
    where = "" if origin == SHIPPED_ORIGIN else f" ({origin})"
    return f"{edge.source} -> {edge.target} from catalogue{where}"


def _report_cycles(graph: ConceptGraph, diags: Diagnostics) -> None:
    catalogue = graph.catalogue
    for ignored, cycle in graph.ignored:
        steps = list(pairwise(cycle))
        edges = [graph.edge(s, t) for s, t in steps]
        known = [e for e in edges if e is not None]
        located = [ignored] + [e for e in known if e.origin == "notes"]
        anchor = next((e for e in located if e.loc is not None), None)
        if anchor is not None and anchor.loc is not None:
            path, _, line = anchor.loc.rpartition(":")
            where: tuple[str, int | None] = (path, int(line) if line.isdigit() else None)
        else:
            origin = catalogue[ignored.target].origin
            where = (SHIPPED_PATH if origin == SHIPPED_ORIGIN else origin, None)
        diags.warning(
            where[0],
            where[1],
            f"prerequisite cycle {' -> '.join(cycle)}: "
            + "; ".join(_describe(e, catalogue) for e in known)
            + f". Ordering ignores {ignored.source} -> {ignored.target}.",
            code="concept-cycle",
        )


def build_graph(
    catalogue: Catalogue, prose_chains: Sequence[ProseChain], diags: Diagnostics, memo: Memo | None = None
) -> ConceptGraph:
    """Catalogue edges plus the chains written in the notes.

    Each chain part is resolved through ids and aliases; an unknown part is a warning at the
    chain's `path:line` with a "did you mean" hint, and only its links are skipped. A notes edge
    that repeats a catalogue edge keeps the catalogue origin. Cycles are warnings that name the
    cycle and where each of its edges came from.
    """
    edges = _catalogue_edges(catalogue) + _notes_edges(catalogue, prose_chains, diags)
    if memo is None:
        graph = ConceptGraph(catalogue, edges)
    else:
        key = solve_key(catalogue.ids(), dict.fromkeys((e.source, e.target) for e in edges if e.source != e.target))
        known = memo.get(key)
        graph = ConceptGraph(catalogue, edges, known if isinstance(known, Solved) else None)
        memo.put(key, graph.solved)
    _report_cycles(graph, diags)
    return graph
