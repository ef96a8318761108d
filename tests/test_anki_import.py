"""End to end: build the starter notes and the seed, import each deck into real Anki, look inside."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from anki_support import (
    import_package,
    math_balanced,
    new_collection,
    new_queue_order,
    notes_by_guid,
)
from conftest import need_seed

from bagu2anki.config import Config
from bagu2anki.pipeline import BuildResult, build
from bagu2anki.write.apkg import FIELDS, MODEL_NAME


def run_build(paths: tuple[Path, ...], tmp: Path, **kw: Any) -> BuildResult:
    cfg = Config(paths=paths, out=tmp / "out", lock=tmp / "bagu2anki.lock", **kw)
    return build(cfg)


def deck_file(result: BuildResult) -> Path:
    return next(p for p in result.outputs if p.suffix == ".apkg")


def test_starter_notes_import_into_real_anki(notes_copy: Path, tmp_path: Path) -> None:
    result = run_build((notes_copy,), tmp_path)
    assert result.diagnostics.errors == 0, [d.format() for d in result.diagnostics.sorted()]
    col = new_collection(tmp_path / "anki")
    try:
        resp = import_package(col, deck_file(result))
        log = resp.log
        assert len(log.conflicting) == 0 and len(log.missing_notetype) == 0 and len(log.duplicate) == 0
        n_cards = len(result.cards)
        assert col.note_count() == n_cards
        assert col.card_count() == n_cards
        assert n_cards >= 40 + result.concept_cards
        # one note type, our fields
        names = [m.name for m in col.models.all_names_and_ids()]
        assert names.count(MODEL_NAME) == 1
        model = col.models.by_name(MODEL_NAME)
        assert [f["name"] for f in model["flds"]] == list(FIELDS)
        # decks follow the notes' sections
        decks = {d.name for d in col.decks.all_names_and_ids()}
        assert "notes::注意力机制::注意力" in decks
        assert "notes::概念" in decks
        notes = notes_by_guid(col)
        by_q = {n["fields"][0]: n for n in notes.values()}
        gqa = next(n for q, n in by_q.items() if "MQA 和 GQA 有什么区别" in q)
        assert "concept::GQA" in gqa["tags"] and "status::answered" in gqa["tags"]
        assert gqa["fields"][4].startswith("基础/attention.md:")
        prefixed = next(n for q, n in by_q.items() if "LoRA 的初始化为什么 B 取 0" in q)
        assert "八股" in prefixed["tags"]
        # images bundled, every referenced file in the media folder
        media_dir = Path(col.media.dir())
        referenced = set()
        for n in notes.values():
            referenced.update(re.findall(r'<img src="([^"]+)"', n["fields"][1]))
        assert len(referenced) >= 2
        for name in referenced:
            assert (media_dir / name).is_file(), name
        # every card renders; formulas balanced; code highlighted; tables are tables
        saw_table = saw_code = saw_math = False
        for cid in col.find_cards(""):
            card = col.get_card(cid)
            q, a = card.question(), card.answer()
            assert q.strip() and a.strip() and q != a
            assert math_balanced(q) and math_balanced(a), card.note().fields[0]
            saw_table |= "<table>" in a
            saw_code |= 'class="highlight"' in a
            saw_math |= "\\[" in a
        assert saw_table and saw_code and saw_math
    finally:
        col.close()


def _positions(col: Any, result: BuildResult, top: str) -> dict[str, list[int]]:
    main_by_guid = {c.guid: c.main_concept for c in result.cards}
    positions: dict[str, list[int]] = {}
    for pos, nid in enumerate(new_queue_order(col, top)):
        main = main_by_guid.get(col.get_note(nid).guid)
        positions.setdefault(main or "", []).append(pos)
    return positions


CHAINS = (("MHA", "GQA"), ("GQA", "MLA"), ("PPO", "GRPO"), ("GRPO", "DAPO"), ("LoRA", "QLoRA"))


def _assert_prerequisites_first(positions: dict[str, list[int]]) -> None:
    checked = 0
    for before, after in CHAINS:
        if before in positions and after in positions:
            assert min(positions[after]) > min(positions[before]), (before, after, positions)
            checked += 1
    assert checked >= 3, positions


@pytest.mark.parametrize("concept_cards", [False, True])
def test_flat_deck_new_cards_in_prerequisite_order(notes_copy: Path, tmp_path: Path, concept_cards: bool) -> None:
    """Anki's default options (gather by deck, then position): one deck keeps the whole order."""
    result = run_build((notes_copy,), tmp_path, concept_cards=concept_cards, flat_decks=True)
    col = new_collection(tmp_path / "anki")
    try:
        import_package(col, deck_file(result))
        _assert_prerequisites_first(_positions(col, result, "notes"))
    finally:
        col.close()


def test_section_decks_in_prerequisite_order_by_position(notes_copy: Path, tmp_path: Path) -> None:
    """With section sub-decks, the order holds inside each deck, and across decks once the
    preset's new-card gather order is 'ascending position' (what the README tells users)."""
    result = run_build((notes_copy,), tmp_path, concept_cards=False)
    col = new_collection(tmp_path / "anki")
    try:
        import_package(col, deck_file(result))
        for conf in col.decks.all_config():
            conf["newGatherPriority"] = 1  # NEW_CARD_GATHER_PRIORITY_LOWEST_POSITION
            col.decks.update_config(conf)
        _assert_prerequisites_first(_positions(col, result, "notes"))
        # inside one deck the order holds with the default options too
        for d in col.decks.all_names_and_ids():
            if d.name.endswith("注意力变体"):
                dues = [col.get_card(c).due for c in col.find_cards(f'"deck:{d.name}"')]
                assert len(dues) == len(set(dues))
    finally:
        col.close()


def test_corpus_builds_with_its_figures(tmp_path: Path) -> None:
    from conftest import need_corpus

    docs = need_corpus() / "docs"
    result = run_build((docs,), tmp_path)
    assert len(result.analysis.atoms) >= 600
    media = {p.name for c in result.cards for p in c.media}
    # its three figures sit in tutorial sections' introductions: no card is made for them (a section
    # is no question because it holds an image), and they are listed as text in no question
    assert media == set()
    stray = "\n".join(u.text for d in result.analysis.documents for u in d.unattached)
    assert all(name in stray for name in ("moe.svg", "rag.svg", "transformer.svg"))
    col = new_collection(tmp_path / "anki")
    try:
        import_package(col, deck_file(result))
        assert col.note_count() == len(result.cards)
        for cid in col.find_cards("")[:400]:
            card = col.get_card(cid)
            assert math_balanced(card.answer())
    finally:
        col.close()


def test_seed_imports_whole(tmp_path: Path) -> None:
    seed = need_seed()
    result = run_build((seed,), tmp_path, include_unanswered=True)
    atoms = result.analysis.atoms
    # 37 questions; two of them ask three things each with a part for each: six cards
    assert len(atoms) == 41 and len({a.part_of for a in atoms if a.part_of}) == 2
    col = new_collection(tmp_path / "anki")
    try:
        import_package(col, deck_file(result))
        assert col.note_count() == len(result.cards)
        backs = {c.atom.question: c.back_html for c in result.cards if c.atom.source != "concepts"}
        for q, back in backs.items():
            assert math_balanced(back), q
        attn = next(b for q, b in backs.items() if q.startswith("Attention如何计算"))
        assert "\\(\\sqrt{d_k}\\)" in attn  # `(\sqrt{d_k})` lost its delimiters in the export
        mask = next(b for q, b in backs.items() if q.startswith("mask attention"))  # its own card now
        assert "<pre" in mask and "mask = [[0, 1, 1, 1]," in mask  # code rebuilt from the gutter
        assert mask.count("<table>") == 1 or "<details" in mask  # the summary table closes the last part
        pdf = next(b for q, b in backs.items() if q.startswith("rag中怎么做的pdf解析"))
        table = re.search(r"<table>.*?</table>", pdf, re.S)
        assert table and "保留段落、标题层级、字体大小、位置坐标" in table.group(0)  # broken row rejoined
        self_attn = next(b for q, b in backs.items() if q.startswith("自注意力机制是什么"))
        assert "\\(d_k = d_v = d\\)" in self_attn or "\\(d_k = d_v = d\\)" in self_attn.replace("\\( ", "\\(")
        for cid in col.find_cards(""):
            card = col.get_card(cid)
            assert math_balanced(card.answer())
        todo = [c for c in result.cards if "待补充" in c.tags]
        assert len(todo) == sum(1 for a in atoms if a.status == "unanswered")
    finally:
        col.close()
