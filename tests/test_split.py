"""One fact per card: a question that asks several things, answered part by part, becomes one
card per part; the parts keep their identities across edits, in real Anki."""

from __future__ import annotations

from pathlib import Path

from anki_support import import_package, new_collection, notes_by_guid, study_everything
from click.testing import CliRunner
from test_parse import assert_lines_accounted, read_text

from bagu2anki.cli import main
from bagu2anki.config import Config
from bagu2anki.pipeline import BuildResult, build
from bagu2anki.split import split_atom, sub_questions

NOTE = """# 注意力

## Attention如何计算?为什么除以根号下Dk?mask attention是如何实现的?

先说结论：缩放点积。

### 计算

$\\mathrm{softmax}(QK^T/\\sqrt{d_k})V$，先算相似度再加权。

### 为什么除以根号 dk

点积方差随维度增大，缩放让 softmax 不饱和。

### mask 的实现

在 softmax 前把不可见位置加上 $-\\infty$。

## LoRA 是什么？有什么优点？

低秩分解，训练参数少。

## RoPE 的原理？和绝对位置编码比有什么好处？

1. 原理：把位置编码成旋转。
2. 好处：相对位置自然出现，外推更好。
3. 代价：实现稍复杂。
"""


def _split(text: str) -> list:  # type: ignore[type-arg]
    doc = read_text(text)
    lines = text.split("\n")
    return [p for a in doc.atoms for p in split_atom(a, lines)]


def test_sub_questions() -> None:
    assert sub_questions("Attention如何计算?为什么除以根号下Dk?mask attention是如何实现的?") == [
        "Attention如何计算?", "为什么除以根号下Dk?", "mask attention是如何实现的?"]
    assert sub_questions("LoRA 是什么？") == []
    assert sub_questions("A 和 B 的区别？（高频）") == []


def test_a_question_with_a_part_per_ask_is_split_and_others_stay_whole() -> None:
    atoms = _split(NOTE)
    questions = [a.question for a in atoms]
    assert questions == [
        "Attention如何计算?", "为什么除以根号下Dk?", "mask attention是如何实现的?",
        "LoRA 是什么？有什么优点？",  # one short answer for both: stays whole
        "RoPE 的原理？和绝对位置编码比有什么好处？",  # three points for two asks: not matched, whole
    ]
    first, second, third = atoms[:3]
    assert first.line == 3 and "先说结论" in first.answer and "### 计算" in first.answer
    assert second.line == 11 and second.answer.startswith("### 为什么除以根号 dk") and "方差" in second.answer
    assert third.line == 15 and "-\\infty" in third.answer and third.end_line == 17
    assert all(a.part_of == "Attention如何计算?为什么除以根号下Dk?mask attention是如何实现的?" for a in atoms[:3])
    assert [a.part for a in atoms[:3]] == [1, 2, 3]
    doc = read_text(NOTE)
    from dataclasses import replace

    assert_lines_accounted(replace(doc, atoms=tuple(atoms)))  # the parts divide the lines


def _build(notes: Path, tmp: Path, out: str, **kw: object) -> BuildResult:
    return build(Config(paths=(notes,), out=tmp / out, lock=tmp / "bagu2anki.lock", **kw))  # type: ignore[arg-type]


def test_split_cards_show_where_they_come_from_and_no_split_keeps_them_whole(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text(NOTE, encoding="utf-8")
    result = _build(notes, tmp_path, "out")
    parts = [c for c in result.cards if c.atom.part_of]
    assert len(parts) == 3
    assert all('class="part-of"' in c.front_html and "拆自（第" in c.front_html for c in parts)
    assert "\\(\\mathrm{softmax}" in parts[0].back_html
    whole = CliRunner().invoke(main, ["export", "atoms", str(notes), "--no-split", "--lock", str(tmp_path / "x.lock")])
    assert whole.exit_code == 0 and len(whole.stdout.splitlines()) == 3


def test_split_cards_in_real_anki_and_an_edited_part_updates_in_place(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    note = notes / "a.md"
    note.write_text(NOTE, encoding="utf-8")
    v1 = _build(notes, tmp_path, "v1")
    guid = {c.atom.question: c.guid for c in v1.cards}
    # edit the second part's answer, and the wording of the third ask
    note.write_text(
        NOTE.replace("点积方差随维度增大", "点积的方差随维度 d_k 线性增大").replace("mask attention是如何实现的?", "mask attention 如何实现?"),
        encoding="utf-8",
    )
    v2 = _build(notes, tmp_path, "v2")
    by_guid = {c.guid: c for c in v2.cards}
    second = guid["为什么除以根号下Dk?"]
    third = guid["mask attention是如何实现的?"]
    assert second in by_guid and "线性增大" in by_guid[second].back_html
    assert third in by_guid and by_guid[third].atom.question == "mask attention 如何实现?"
    assert set(by_guid) == set(guid.values())  # no new notes, no orphans
    col = new_collection(tmp_path / "anki")
    try:
        import_package(col, next(p for p in v1.outputs if p.suffix == ".apkg"))
        assert col.note_count() == len(v1.cards)
        assert study_everything(col) == len(v1.cards)
        reviews = col.db.scalar("select count() from revlog")
        before = notes_by_guid(col)
        import_package(col, next(p for p in v2.outputs if p.suffix == ".apkg"))
        after = notes_by_guid(col)
        assert set(after) == set(before)
        assert after[second]["nid"] == before[second]["nid"] and "线性增大" in after[second]["fields"][1]
        assert "mask attention 如何实现?" in after[third]["fields"][0]
        assert col.db.scalar("select count() from revlog") == reviews
    finally:
        col.close()
