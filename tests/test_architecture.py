"""The package's shape: no import circles between its modules (shared data types live in model.py)."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

SRC = Path(__file__).resolve().parent.parent / "src" / "bagu2anki"


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> nx.DiGraph:
    """Every import of one bagu2anki module by another: top level, inside functions and under
    TYPE_CHECKING alike (a circle hidden behind a lazy import is still a circle)."""
    modules = {_module_name(p): p for p in SRC.rglob("*.py")}
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                # `from pkg import mod` uses the module; `from mod import name` uses mod
                subs = [f"{base}.{alias.name}" for alias in node.names]
                targets = [t for t in subs if t in modules] or [base]
            for target in targets:
                if target in modules and target != name:
                    graph.add_edge(name, target)
    return graph


def test_the_graph_sees_the_package() -> None:
    graph = import_graph()
    assert "bagu2anki.pipeline" in graph and "bagu2anki.cli" in graph
    assert graph.has_edge("bagu2anki.pipeline", "bagu2anki.cards")
    assert graph.number_of_edges() > 50


def test_no_import_circles() -> None:
    graph = import_graph()
    cycles = sorted(sorted(c) for c in nx.simple_cycles(graph))
    assert cycles == [], "import circles: " + "; ".join(" -> ".join(c) for c in cycles[:10])
