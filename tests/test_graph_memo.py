"""The concept graph's acyclic view, kept in the build cache: the same graph, without networkx."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from bagu2anki.cache import BuildCache
from bagu2anki.concepts import build_graph, load_catalogue
from bagu2anki.concepts.graph import ConceptGraph, Solved
from bagu2anki.diagnostics import Diagnostics

CHAINS = [
    (("多头注意力", "GQA", "MLA"), "notes/attn.md", 12),
    (("MLA", "MHA"), "notes/cycle.md", 4),  # closes a cycle: a warning, an edge left out
    (("PPO", "GRPO", "DAPO"), "notes/rl.md", 3),
]


def summary(graph: ConceptGraph) -> tuple[object, ...]:
    ids = graph.catalogue.ids()
    return (
        graph.topo_rank(),
        graph.layers(),
        [graph.chain(c) for c in ids],
        [(e, cycle) for e, cycle in graph.ignored],
        graph.edges(),
        graph.prerequisites("MLA"),
        graph.dependants("MHA"),
    )


def test_a_kept_view_gives_the_graph_a_fresh_one_does(tmp_path: Path) -> None:
    catalogue = load_catalogue(None, Diagnostics())
    fresh_diags = Diagnostics()
    fresh = build_graph(catalogue, CHAINS, fresh_diags)
    cache = BuildCache.open(tmp_path)
    first = build_graph(catalogue, CHAINS, Diagnostics(), cache)
    cache.save()
    again = BuildCache.open(tmp_path)  # read back from the file
    kept_diags = Diagnostics()
    kept = build_graph(catalogue, CHAINS, kept_diags, again)
    assert again.hits == 1 and isinstance(kept.solved, Solved)
    assert summary(kept) == summary(first) == summary(fresh)
    assert [d.format() for d in kept_diags] == [d.format() for d in fresh_diags]  # the cycle is told again
    assert any("prerequisite cycle" in d.message for d in kept_diags)
    other = build_graph(catalogue, CHAINS[:1], Diagnostics(), again)  # other chains: worked out anew
    assert not other.ignored and again.hits == 1


def test_a_rebuild_with_the_same_concepts_does_not_load_networkx(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text("## GQA 是什么？\n\nMHA 和 MQA 之间的折中：几个头共用一组 K/V。\n\nMHA -> GQA -> MLA\n", encoding="utf-8")
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from bagu2anki.cache import BuildCache
        from bagu2anki.config import Config
        from bagu2anki.diagnostics import Diagnostics
        from bagu2anki.pipeline import analyse
        cfg = Config(paths=(Path({str(notes)!r}),), out=Path({str(tmp_path / "out")!r}))
        cache = BuildCache.open(cfg.out)
        analysis = analyse(cfg, Diagnostics(), cache=cache)
        cache.save()
        print("networkx" in sys.modules, analysis.graph.chain("MLA"))
        """
    )
    runs = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout for _ in range(2)]
    assert runs[0].startswith("True ")  # the first build works the view out
    assert runs[1].startswith("False ")  # the second finds it in the cache
    assert runs[0].split(" ", 1)[1] == runs[1].split(" ", 1)[1]
