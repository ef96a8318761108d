"""Concepts on real notes: every question about MHA/GQA/MLA/PPO/GRPO carries those concepts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import NOTES, need_seed

from bagu2anki.config import Config
from bagu2anki.diagnostics import Diagnostics
from bagu2anki.pipeline import analyse

NAMES = {n: rf"(?<![A-Za-z0-9]){n}(?![A-Za-z0-9])" for n in ("MHA", "GQA", "MLA", "PPO", "GRPO")}


@pytest.mark.parametrize("which", ["starter", "seed"])
def test_questions_carry_their_concepts(which: str) -> None:
    path = NOTES if which == "starter" else need_seed()
    analysis = analyse(Config(paths=(Path(path),)), Diagnostics())
    checked = 0
    for atom, (concepts, main) in zip(analysis.atoms, analysis.links, strict=True):
        for cid, pattern in NAMES.items():
            if re.search(pattern, atom.question):
                assert cid in concepts, (atom.source, atom.line, atom.question, concepts)
                checked += 1
        if main is not None:
            assert main in concepts
    assert checked >= (5 if which == "starter" else 3)
    graph = analysis.graph
    assert graph.chain("MLA")[-4:] == ("MHA", "MQA", "GQA", "MLA")
    assert graph.chain("DAPO")[-3:] == ("PPO", "GRPO", "DAPO")


def test_prose_chain_in_notes_is_an_edge_with_its_location() -> None:
    analysis = analyse(Config(paths=(NOTES,)), Diagnostics())
    export = analysis.graph.to_export({}, only_used=False)
    notes_edges = {(e["source"], e["target"]): e["loc"] for e in export["edges"] if e["origin"] == "notes"}
    catalogue_edges = {(e["source"], e["target"]) for e in export["edges"]}
    assert ("ZeRO-3", "FSDP") in catalogue_edges
    # the chain written in the notes is known; where it adds an edge, it says where
    for loc in notes_edges.values():
        assert re.match(r".+\.(md|txt):\d+$", loc)
