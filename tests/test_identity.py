"""Rebuilds never cost a review: stable GUIDs, edits that land, reproducible bytes, a safe lock."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from anki_support import import_package, new_collection, notes_by_guid, study_everything

from bagu2anki.config import Config
from bagu2anki.diagnostics import Diagnostics, UserError
from bagu2anki.identity import assign
from bagu2anki.lockfile import Lock, LockEntry
from bagu2anki.model import Atom
from bagu2anki.pipeline import BuildResult, build
from bagu2anki.write.apkg import MODEL_NAME

SCHED = "type, queue, due, ivl, factor, reps, lapses, left, odue, odid, did"


def run_build(notes: Path, tmp: Path, out: str = "out", **kw: Any) -> BuildResult:
    return build(Config(paths=(notes,), out=tmp / out, lock=tmp / "bagu2anki.lock", **kw))


def apkg(result: BuildResult) -> Path:
    return next(p for p in result.outputs if p.suffix == ".apkg")


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _atom(result: BuildResult, needle: str) -> Atom:
    return next(a for a in result.analysis.atoms if needle in a.question)


def _cut(path: Path, atom: Atom) -> str:
    lines = path.read_text(encoding="utf-8").split("\n")
    block = lines[atom.line - 1 : atom.end_line]
    del lines[atom.line - 1 : atom.end_line]
    path.write_text("\n".join(lines), encoding="utf-8")
    return "\n".join(block)


def test_edits_keep_history_and_land(notes_copy: Path, tmp_path: Path) -> None:
    v1 = run_build(notes_copy, tmp_path, "v1")
    v1_guid = {c.atom.question: c.guid for c in v1.cards}

    # the six everyday edits
    attention = notes_copy / "基础" / "attention.md"
    rag = notes_copy / "rag" / "rag.md"
    agent = notes_copy / "agent" / "agent.md"
    peft = notes_copy / "微调" / "peft.md"
    typo_old = _atom(v1, "MQA 和 GQA 有什么区别")
    text = attention.read_text(encoding="utf-8").replace("MQA 和 GQA 有什么区别", "MQA 与 GQA 有什么区别")
    attention.write_text(text, encoding="utf-8")  # 1. typo fixed in a question
    rewritten = _atom(v1, "RRF 怎么融合两路排序")
    text = rag.read_text(encoding="utf-8").replace(
        "**Q：RRF 怎么融合两路排序？**", "**Q：RRF 怎么融合两路排序？** 先说结论：只看名次，不看分数。"
    )
    rag.write_text(text, encoding="utf-8")  # 2. answer rewritten
    moved = _atom(v1, "怎么评估一个 Agent")
    block = _cut(agent, moved)  # 3. question moved to another file and section
    rag.write_text(rag.read_text(encoding="utf-8") + "\n\n## 从 Agent 挪过来的\n\n" + block.replace("- **Q：", "**Q：").replace("  A：", "A：") + "\n", encoding="utf-8")
    deleted = _atom(v1, "LoRA 和全参微调怎么选")
    _cut(peft, deleted)  # 4. question deleted
    peft.write_text(peft.read_text(encoding="utf-8") + "\n\n八股：DoRA 和 LoRA 有什么不同？\nDoRA 把权重分成方向和幅度两部分，只对方向做低秩更新。\n", encoding="utf-8")  # 5. inserted
    text = rag.read_text(encoding="utf-8").replace("## 检索\n", "## 检索与排序\n")
    assert text != rag.read_text(encoding="utf-8")
    rag.write_text(text, encoding="utf-8")  # 6. section renamed

    v2 = run_build(notes_copy, tmp_path, "v2")
    v2_by_guid = {c.guid: c for c in v2.cards}
    assert v1_guid[typo_old.question] in v2_by_guid  # the typo fix kept its identity
    assert v1_guid[moved.question] in v2_by_guid
    assert v1_guid[deleted.question] not in v2_by_guid
    orphans = {o.guid for o in v2.identity.orphans}
    assert v1_guid[deleted.question] in orphans
    new_guids = set(v2_by_guid) - set(v1_guid.values())
    assert {v2_by_guid[g].atom.question for g in new_guids} == {"DoRA 和 LoRA 有什么不同？"}

    col = new_collection(tmp_path / "anki")
    try:
        import_package(col, apkg(v1))
        assert study_everything(col) == len(v1.cards)
        before_cards = {r[0]: tuple(r[1:]) for r in col.db.all(f"select id, {SCHED} from cards")}
        before_revlog = sorted(tuple(r) for r in col.db.all("select * from revlog"))
        before_notes = notes_by_guid(col)
        resp = import_package(col, apkg(v2))
        after_notes = notes_by_guid(col)
        # the only new notes are the inserted ones; nothing duplicated; one note type
        assert set(after_notes) - set(before_notes) == new_guids
        assert len(resp.log.new) == len(new_guids) and len(resp.log.conflicting) == 0
        updated_nids = {n.id.nid for n in resp.log.updated}  # unchanged notes are logged as "duplicate"
        assert [m.name for m in col.models.all_names_and_ids()].count(MODEL_NAME) == 1
        assert len(col.models.all_names_and_ids()) == len(new_collection(tmp_path / "fresh").models.all_names_and_ids()) + 1
        # every edited note updated in place
        for q in (typo_old.question, rewritten.question, moved.question):
            g = v1_guid[q]
            assert after_notes[g]["nid"] == before_notes[g]["nid"]
            assert before_notes[g]["nid"] in updated_nids
            assert after_notes[g]["fields"][0] == v2_by_guid[g].front_html
            assert after_notes[g]["fields"][1] == v2_by_guid[g].back_html
        assert "MQA 与 GQA" in after_notes[v1_guid[typo_old.question]]["fields"][0]
        assert "只看名次" in after_notes[v1_guid[rewritten.question]]["fields"][1]
        # scheduling and review history untouched
        after_cards = {r[0]: tuple(r[1:]) for r in col.db.all(f"select id, {SCHED} from cards")}
        for cid, sched in before_cards.items():
            assert after_cards[cid] == sched
        assert sorted(tuple(r) for r in col.db.all("select * from revlog")) == before_revlog
    finally:
        col.close()


def test_same_notes_same_bytes_cold_and_incremental(
    notes_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_build(notes_copy, tmp_path, "a")  # first build: writes the lock and the cache
    first = {n: sha(tmp_path / "a" / n) for n in ("notes.apkg", "graph.html")}
    warm = run_build(notes_copy, tmp_path, "a")  # incremental: everything from the cache
    assert (tmp_path / "a" / ".bagu2anki-cache").is_file()
    cold = run_build(notes_copy, tmp_path, "c", use_cache=False)
    assert not (tmp_path / "c" / ".bagu2anki-cache").exists()
    for name, digest in first.items():
        assert sha(tmp_path / "a" / name) == digest == sha(tmp_path / "c" / name), name
    assert [x.guid for x in warm.cards] == [x.guid for x in cold.cards]
    # edit one file: the incremental build equals a cold build of the edited notes
    rag = notes_copy / "rag" / "rag.md"
    rag.write_text(rag.read_text(encoding="utf-8") + "\n\n**Q：向量检索为什么要归一化？** 让内积等于余弦相似度。\n", encoding="utf-8")
    lock_before = (tmp_path / "bagu2anki.lock").read_bytes()
    # an edit is stamped with the clock; pin it so both builds see the same one
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(2_000_000_000))
    run_build(notes_copy, tmp_path, "a")
    (tmp_path / "bagu2anki.lock").write_bytes(lock_before)
    run_build(notes_copy, tmp_path, "c", use_cache=False)
    for name in ("notes.apkg", "graph.html"):
        assert sha(tmp_path / "a" / name) == sha(tmp_path / "c" / name), name


def test_unchanged_notes_keep_their_time_changed_ones_move_forward(notes_copy: Path, tmp_path: Path) -> None:
    v1 = run_build(notes_copy, tmp_path, "v1")
    rag = notes_copy / "rag" / "rag.md"
    rag.write_text(rag.read_text(encoding="utf-8").replace("**Q：RRF 怎么融合两路排序？**", "**Q：RRF 怎么融合两路排序？** 补一句。"), encoding="utf-8")
    v2 = run_build(notes_copy, tmp_path, "v2")
    mod1 = {c.guid: c.mod for c in v1.cards}
    changed = {c.guid for c in v2.cards if c.mod != mod1.get(c.guid)}
    rrf = next(c.guid for c in v2.cards if "RRF 怎么融合" in c.atom.question)
    assert rrf in changed
    assert all(c.mod > mod1[c.guid] for c in v2.cards if c.guid in changed and c.guid in mod1)
    # only the edited card and cards that show it (related questions) changed
    assert len(changed) <= 8


def test_explicit_id_wins(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text("## 注意力\n\n### 为什么要缩放？\n<!-- id: attn-scale -->\n因为方差。\n", encoding="utf-8")
    v1 = run_build(notes, tmp_path, "v1")
    (notes / "a.md").write_text("## 变了\n\n### 点积注意力为何除以根号 d？\n<!-- id: attn-scale -->\n因为方差。\n", encoding="utf-8")
    v2 = run_build(notes, tmp_path, "v2")
    q1 = [c.guid for c in v1.cards if c.atom.source != "concepts"]
    q2 = [c.guid for c in v2.cards if c.atom.source != "concepts"]
    assert q1 == q2


def test_deleting_the_first_of_two_equal_questions_keeps_the_second_its_guid(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    first = "### 什么是注意力？\n基础里的回答。\n\n"
    rest = "## 进阶\n\n### 什么是注意力？\n进阶里的回答。\n\n### 什么是 LoRA？\n低秩适配。\n"
    (notes / "a.md").write_text("## 基础\n\n" + first + rest, encoding="utf-8")
    v1 = run_build(notes, tmp_path, "v1")
    (notes / "a.md").write_text("## 基础\n\n" + rest, encoding="utf-8")
    v2 = run_build(notes, tmp_path, "v2")

    def guid(result: BuildResult, answer: str) -> str:
        return next(c.guid for c in result.cards if answer in c.atom.answer)

    assert guid(v2, "进阶里的回答") == guid(v1, "进阶里的回答")
    assert guid(v2, "低秩适配") == guid(v1, "低秩适配")
    assert guid(v1, "基础里的回答") in {o.guid for o in v2.identity.orphans}


def test_ambiguous_match_is_reported_not_guessed(tmp_path: Path) -> None:
    def atom(q: str, line: int) -> Atom:
        return Atom("a.md", line, line, ("S",), None, None, q, "答", "answered")

    diags = Diagnostics()
    first = assign([atom("LoRA 的秩 r 怎么选一", 1), atom("LoRA 的秩 r 怎么选二", 2)], Lock(), diags)
    lock = Lock()
    from bagu2anki.identity import fingerprint
    from bagu2anki.lockfile import LockEntry

    for g, a in zip(first.guids, [atom("LoRA 的秩 r 怎么选一", 1), atom("LoRA 的秩 r 怎么选二", 2)], strict=True):
        lock.entries[g] = LockEntry(g, fingerprint(a), a.question, "a.md:1", "S", "x", 1)
    diags = Diagnostics()
    second = assign([atom("LoRA 的秩 r 怎么选三", 1)], lock, diags)
    assert second.guids[0] not in first.guids
    assert any(d.code == "ambiguous-identity" for d in diags.items)


@pytest.mark.parametrize("notetype", [None, ("d\"1", 5)])
@pytest.mark.parametrize("entries", [0, 1, 3])
def test_the_lock_file_is_what_json_dumps_would_write(notetype: tuple[str, int] | None, entries: int) -> None:
    """`Lock.dumps` spells the JSON out itself (the json module encodes indented JSON in Python)."""
    odd = ["", "引号\"与\\反斜杠", "\u2028\x01\t\x7f", "é › 🙂", "b2a-concept-x"]
    lock = Lock(
        {
            f"g{k}{odd[k % 5]}": LockEntry(f"g{k}", odd[k % 5], odd[(k + 1) % 5], f"a.md:{k}", odd[(k + 2) % 5],
                                           odd[(k + 3) % 5], 2**62 + k, k % 2 == 1)
            for k in range(entries)
        },
        None,
        notetype,
    )
    notes = {
        g: {"fingerprint": e.fingerprint, "question": e.question, "source": e.source, "section": e.section,
            "content": e.content, "changed": e.changed, **({"orphan": True} if e.orphan else {})}
        for g, e in lock.entries.items()
    }
    body: dict[str, object] = {"tool": "bagu2anki", "version": 1, "notes": notes}
    if notetype is not None:
        body["notetype"] = {"digest": notetype[0], "changed": notetype[1]}
    assert lock.dumps() == json.dumps(body, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


@pytest.mark.parametrize(
    "content, needle",
    [
        ("{not json", "cannot be read"),
        (json.dumps({"tool": "other"}), "not a bagu2anki lock file"),
        (json.dumps({"tool": "bagu2anki", "version": 99, "notes": {}}), "version 99"),
        (json.dumps({"tool": "bagu2anki", "version": 1, "notes": {"g": {"content": "x"}}}), "damaged"),
    ],
)
def test_bad_lock_file_is_a_clear_error(tmp_path: Path, content: str, needle: str) -> None:
    p = tmp_path / "bagu2anki.lock"
    p.write_text(content, encoding="utf-8")
    with pytest.raises(UserError, match=needle):
        Lock.load(p)
    assert p.read_text(encoding="utf-8") == content  # never silently reset


def test_new_templates_update_the_note_type_in_place(notes_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A later bagu2anki with other CSS/templates: same note type, updated on import, history kept."""
    import bagu2anki.write.apkg as apkg_mod

    v1 = run_build(notes_copy, tmp_path, "v1")
    original = apkg_mod.template_text

    def newer(name: str) -> str:
        text = original(name)
        if name == "card.css":
            return text + "\n.b2a-next-version { color: red; }\n"
        if name == "back.html":
            return text.replace('<div class="answer">', '<div class="answer v2">')
        return text

    monkeypatch.setattr(apkg_mod, "template_text", newer)
    v2 = run_build(notes_copy, tmp_path, "v2")
    col = new_collection(tmp_path / "anki")
    try:
        import_package(col, apkg(v1))
        study_everything(col)
        before = {r[0]: tuple(r[1:]) for r in col.db.all(f"select id, {SCHED} from cards")}
        import_package(col, apkg(v2))
        models = [m for m in col.models.all_names_and_ids() if m.name.startswith(MODEL_NAME)]
        assert len(models) == 1
        model = col.models.get(models[0].id)
        assert ".b2a-next-version" in model["css"]
        assert 'class="answer v2"' in model["tmpls"][0]["afmt"]
        after = {r[0]: tuple(r[1:]) for r in col.db.all(f"select id, {SCHED} from cards")}
        assert after == before
        card = col.get_card(col.find_cards("")[0])
        assert "answer v2" in card.answer()
    finally:
        col.close()


def test_content_hash_sees_what_a_person_sees_not_markup() -> None:
    """An edit to an image's alt text is a change (Anki must take it: shown when the image does not
    load, read aloud); a different spelling of the same markup is not."""
    from bagu2anki.lockfile import content_hash

    base = content_hash(['<p><img src="a.svg" alt="GQA 分组示意"></p>'])
    assert content_hash(['<p><img src="a.svg" alt="GQA 分组（group）示意"></p>']) != base
    assert content_hash(['<p><img src="b.svg" alt="GQA 分组示意"></p>']) != base
    assert content_hash(['<p>\n<img  src="a.svg" alt="GQA 分组示意" />\n</p>']) == base


def test_content_hash_attributes_start_at_a_word_boundary() -> None:
    """`src=`, `href=`, `alt=`, `title=` count only as whole attribute names (`data-src=` is one,
    `xsrc=`, `中title=` and `_alt=` are not), exactly as a `\\b` before the name reads them; the
    lock files users keep hold hashes made that way."""
    import re

    from bagu2anki.lockfile import _REF_RE

    by_boundary = re.compile(r"""\b(?:src|href|alt|title)=["']([^"'<>]*)["']""")
    texts = [
        '<img src="a.png" alt="x">', "src='s' at the start", '<i data-src="d">', '<i xsrc="no">',
        '<i 中title="no" title="yes">', '<a _alt="no" href="h">', 'x src="a title=\'b\'"', "alt=\"\" title=''",
        '<p>subtitle="no" (title="yes")</p>', 'ssrc="n" s src="y"', "hhref='n' \u00e9alt='n' 1src='n' -src='y'",
    ]
    for t in texts:
        assert _REF_RE.findall(t) == by_boundary.findall(t), t
