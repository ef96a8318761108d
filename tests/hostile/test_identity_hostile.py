"""Identities under deletions, copies and bulk edits, and damaged lock files (issues #14, #17).

Growth is checked as a ratio at 4x the size (best of 3), never as a wall time, except where a
count of hash calls says it better.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner

import bagu2anki.identity as identity_mod
from bagu2anki.cli import main
from bagu2anki.diagnostics import Diagnostics, UserError
from bagu2anki.identity import Identity, assign, fingerprint
from bagu2anki.lockfile import Lock, LockEntry
from bagu2anki.model import Atom

Item = str | tuple[str, str]
"""A line of a made-up notes file: "## section", or (key, question) for a question."""


def atom(question: str, line: int, source: str = "a.md", section: tuple[str, ...] = ("S",)) -> Atom:
    return Atom(source, line, line + 1, section, None, None, question, "答", "answered")


def notes_file(items: Sequence[Item], source: str = "a.md") -> dict[str, Atom]:
    """Atoms of a file laid out as written: a question takes three lines (question, answer,
    blank), a section heading two, so deleting a question moves every later one up."""
    out: dict[str, Atom] = {}
    line, section = 1, ("S",)
    for item in items:
        if isinstance(item, str):
            section = (item.removeprefix("## "),)
            line += 2
            continue
        key, question = item
        out[key] = atom(question, line, source, section)
        line += 3
    return out


def lock_of(atoms: Sequence[Atom], ident: Identity) -> Lock:
    """The lock a build writes for these atoms (what pipeline._updated_lock records)."""
    lock = Lock()
    for g, a in zip(ident.guids, atoms, strict=True):
        lock.entries[g] = LockEntry(
            g, fingerprint(a), a.question[:80], f"{a.source}:{a.line}", " › ".join(a.section), "c", 1
        )
    return lock


def rebuild(before: dict[str, Atom], after: dict[str, Atom]) -> tuple[dict[str, str], dict[str, str], Diagnostics]:
    """GUIDs by key: a first build of `before`, then a build of `after` with its lock."""
    first = assign(list(before.values()), Lock(), Diagnostics())
    diags = Diagnostics()
    second = assign(list(after.values()), lock_of(list(before.values()), first), diags)
    return dict(zip(before, first.guids, strict=True)), dict(zip(after, second.guids, strict=True)), diags


def ambiguous(diags: Diagnostics) -> int:
    return sum(1 for d in diags.items if d.code == "ambiguous-identity")


def best_of_3(run: Callable[[], object]) -> float:
    times = []
    for _ in range(3):
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    return min(times)


# --- copies of one question (issue #14) -------------------------------------------------

ATTN = "什么是注意力？"

COPIES: dict[str, list[Item]] = {
    "other sections": ["## 基础", ("a1", ATTN), ("u1", "什么是 LoRA？"), "## 进阶", ("a2", ATTN), ("u2", "什么是 RAG？")],
    "one section, a question between": [("a1", ATTN), ("u1", "什么是 LoRA？"), ("a2", ATTN), ("u2", "什么是 RAG？")],
    "far down (line numbers past 9 sort before 3 as text)": [
        *((f"u{k}", f"第{k}个不同的问题是什么？") for k in range(4)),
        ("a1", ATTN),
        *((f"v{k}", f"另一组第{k}个问题是什么？") for k in range(5)),
        ("a2", ATTN),
        ("x", "中间的问题是什么？"),
        ("a3", ATTN),
        ("w", "最后一个问题是什么？"),
    ],
}


@pytest.mark.parametrize("layout", COPIES, ids=list(COPIES))
@pytest.mark.parametrize("gone", ["a1", "a2"])
def test_deleting_one_copy_leaves_the_others_their_own_guid(layout: str, gone: str) -> None:
    items = COPIES[layout]
    before = notes_file(items)
    after = notes_file([x for x in items if isinstance(x, str) or x[0] != gone])
    old, new, diags = rebuild(before, after)
    assert new == {k: old[k] for k in after}
    assert old[gone] not in new.values()
    assert ambiguous(diags) == 0


def test_of_two_copies_side_by_side_one_keeps_its_guid() -> None:
    """Deleting either of two identical questions next to each other leaves the same file:
    the one left keeps one of the two GUIDs, the other is an orphan."""
    items: list[Item] = [("u1", "什么是 LoRA？"), ("a1", ATTN), ("a2", ATTN), ("u2", "什么是 RAG？")]
    old, new, diags = rebuild(notes_file(items), notes_file([x for x in items if x[0] != "a2"]))
    assert new["a1"] in (old["a1"], old["a2"])
    assert {k: new[k] for k in ("u1", "u2")} == {k: old[k] for k in ("u1", "u2")}
    assert ambiguous(diags) == 0


def test_copies_in_other_files_keep_their_own_guid() -> None:
    before = {**notes_file([("a1", ATTN), ("u1", "什么是 LoRA？")], "a.md"),
              **notes_file([("u2", "什么是 RAG？"), ("a2", ATTN)], "b.md")}
    after = {k: a for k, a in before.items() if k != "a1"}
    after["u1"] = atom("什么是 LoRA？", 1, "a.md")  # a.md's first question is gone: LoRA moves up
    old, new, _ = rebuild(before, after)
    assert new == {k: old[k] for k in after}


def test_inserting_and_deleting_other_questions_keeps_every_copy_its_guid() -> None:
    items: list[Item] = [
        "## 一", ("a1", ATTN), ("u1", "什么是 LoRA？"), ("u2", "什么是 RAG？"),
        "## 二", ("u3", "什么是 MoE？"), ("a2", ATTN), ("u4", "什么是 KV cache？"),
        "## 三", ("a3", ATTN), ("a4", ATTN), ("u5", "什么是 PPO？"),
    ]
    before = notes_file(items)
    edited: list[Item] = [("n1", "新问题：什么是 DPO？")]
    for x in items:
        if x == ("u3", "什么是 MoE？"):
            continue  # deleted
        edited.append(x)
        if x == ("a2", ATTN):
            edited.append(("n2", "新问题：什么是 GRPO？"))
    after = notes_file(edited)
    old, new, diags = rebuild(before, after)
    assert {k: new[k] for k in after if k in old} == {k: old[k] for k in after if k in old}
    assert new["n1"] not in old.values() and new["n2"] not in old.values()
    assert ambiguous(diags) == 0


def test_copies_keep_their_guids_build_after_build() -> None:
    items: list[Item] = [(f"a{k}", ATTN) if k % 3 == 0 else (f"u{k}", f"第{k}题是什么？") for k in range(40)]
    atoms = list(notes_file(items).values())
    first = assign(atoms, Lock(), Diagnostics())
    second = assign(atoms, lock_of(atoms, first), Diagnostics())
    third = assign(atoms, lock_of(atoms, second), Diagnostics())
    assert first.guids == second.guids == third.guids


# --- many copies: linear, and the GUIDs a fresh build always gave ---------------------------


def test_new_copies_take_the_next_guids_of_their_sequence_in_linear_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0
    real = identity_mod.guid_for

    def counting(seed: str) -> str:
        nonlocal calls
        calls += 1
        return real(seed)

    monkeypatch.setattr(identity_mod, "guid_for", counting)
    atoms = [atom(ATTN, 3 * k + 1) for k in range(5000)]
    started = time.perf_counter()
    got = assign(atoms, Lock(), Diagnostics())
    assert time.perf_counter() - started < 1.0  # was over a minute (12.5M hash calls)
    fp = fingerprint(atoms[0])
    assert got.guids == tuple([real("q:" + fp)] + [real(f"q:{fp}#{k}") for k in range(2, 5001)])
    assert calls == 5000

    # more copies later: the kept ones keep theirs, the new ones carry on the sequence
    calls = 0
    few = atoms[:3]
    first = assign(few, Lock(), Diagnostics())
    more = [atom(ATTN, 3 * k + 1) for k in range(6)]
    again = assign(more, lock_of(few, first), Diagnostics())
    assert again.guids[:3] == first.guids
    assert again.guids[3:] == tuple(real(f"q:{fp}#{k}") for k in (4, 5, 6))


def test_copies_scale_linearly() -> None:
    def run(n: int) -> Callable[[], object]:
        atoms = [atom(ATTN, 3 * k + 1) for k in range(n)]
        lock = lock_of(atoms, assign(atoms, Lock(), Diagnostics()))
        fewer = atoms[1:]  # one copy deleted: the rest still pair up in linear time
        return lambda: (assign(atoms, Lock(), Diagnostics()), assign(fewer, lock, Diagnostics()))

    small, large = run(1250), run(5000)
    ratio = best_of_3(large) / best_of_3(small)
    assert ratio < 9, ratio  # linear ~4, n log n ~4.5, quadratic 16: room for a loaded machine


# --- bulk edits of similar questions (issue #17) ---------------------------------------------

TEMPLATES = {
    "short": ("第{i}题：什么是 X{i} 的作用？", "第{i}题：请说明 X{i} 的作用？"),
    "long, shared tail": (
        "第{i}题：什么是 X{i} 的作用？请结合工程经验与线上案例展开",
        "第{i}题：请说明 X{i} 的作用？请结合工程经验与线上案例展开",
    ),
    "numbered alike": (
        "问题 X{i:04d}：什么是它的作用？请结合工程经验与线上案例展开",
        "问题 X{i:04d}：请说明它的作用？请结合工程经验与线上案例展开",
    ),
}


def templated(template: str, n: int, first_line: int = 1) -> dict[str, Atom]:
    return {f"q{i}": atom(template.format(i=i), first_line + 3 * i) for i in range(n)}


@pytest.mark.parametrize("name", TEMPLATES)
def test_a_bulk_edit_of_templated_questions_keeps_every_guid(name: str) -> None:
    was, now = TEMPLATES[name]
    old, new, diags = rebuild(templated(was, 800), templated(now, 800))
    assert new == old
    assert ambiguous(diags) == 0


@pytest.mark.parametrize("name", TEMPLATES)
def test_a_bulk_edit_with_a_question_inserted_and_one_deleted_keeps_every_guid(name: str) -> None:
    """Nothing is left unedited to anchor positions, and every question shifts by one: the
    closest old question is then the wrong one, and similarity must still decide."""
    was, now = TEMPLATES[name]
    before = templated(was, 800)
    after = {"new": atom("全新的问题：模型怎么部署上线？", 1), **templated(now, 800, first_line=4)}
    del after["q400"]
    old, new, diags = rebuild(before, after)
    assert {k: new[k] for k in after if k != "new"} == {k: old[k] for k in after if k != "new"}
    assert new["new"] not in old.values()
    assert ambiguous(diags) == 0


def test_a_bulk_edit_scales_linearly() -> None:
    was, now = TEMPLATES["numbered alike"]

    def run(n: int) -> Callable[[], object]:
        before = list(templated(was, n).values())
        lock = lock_of(before, assign(before, Lock(), Diagnostics()))
        after = list(templated(now, n).values())
        return lambda: assign(after, lock, Diagnostics())

    small, large = run(600), run(2400)  # was 18.7 s at 800 and 116 s at 1,600
    ratio = best_of_3(large) / best_of_3(small)
    assert ratio < 9, ratio  # linear ~4, n log n ~4.5, quadratic 16: room for a loaded machine


def test_equally_good_candidates_in_other_files_are_reported_not_guessed() -> None:
    before = {"one": atom("LoRA 的秩 r 怎么选一", 1, "a.md"), "two": atom("LoRA 的秩 r 怎么选二", 1, "b.md")}
    old, new, diags = rebuild(before, {"three": atom("LoRA 的秩 r 怎么选三", 1, "c.md")})
    assert new["three"] not in old.values()
    assert ambiguous(diags) == 1


def test_two_new_questions_equally_like_one_old_one_both_get_new_guids() -> None:
    before = {"one": atom("LoRA 的秩 r 怎么选一", 1, "a.md")}
    after = {"two": atom("LoRA 的秩 r 怎么选二", 1, "b.md"), "three": atom("LoRA 的秩 r 怎么选三", 1, "c.md")}
    old, new, diags = rebuild(before, after)
    assert not set(new.values()) & set(old.values())
    assert ambiguous(diags) == 2


def test_position_breaks_a_tie_between_equally_similar_questions() -> None:
    others: list[Item] = [(f"u{k}", f"第{k}个不同的问题是什么？") for k in range(6)]
    before = notes_file([("one", "LoRA 的秩 r 怎么选一"), *others, ("two", "LoRA 的秩 r 怎么选二")])
    after = notes_file([("three", "LoRA 的秩 r 怎么选三"), *others])  # one rewritten in place, two deleted
    old, new, diags = rebuild(before, after)
    assert new["three"] == old["one"]
    assert ambiguous(diags) == 0


def test_position_breaks_a_tie_among_many_equally_similar_questions() -> None:
    chars = "甲乙丙丁戊己庚辛壬癸子丑"
    before = notes_file([*((f"c{k}", f"LoRA 的秩 r 怎么选{c}") for k, c in enumerate(chars)), ("u", "别的问题是什么？")])
    after = notes_file([("z", "LoRA 的秩 r 怎么选寅"), ("u", "别的问题是什么？")])  # the last one rewritten
    old, new, diags = rebuild(before, after)
    assert new["z"] == old["c11"]
    assert ambiguous(diags) == 0


def test_a_clearly_better_match_wins_over_a_close_one() -> None:
    before = {"a": atom("Transformer 为什么要用多头注意力机制", 1), "b": atom("Transformer 为什么要用层归一化", 4)}
    after = {"a": atom("Transformer 为什么要用多头注意力机制呢", 1)}
    old, new, diags = rebuild(before, after)
    assert new["a"] == old["a"]
    assert ambiguous(diags) == 0


# --- damaged lock files ----------------------------------------------------------------------

GOOD = {"fingerprint": "f", "question": "q", "source": "a.md:1", "section": "S", "content": "c", "changed": 1}


def lock_text(notes_json: str) -> str:
    return '{"tool": "bagu2anki", "version": 1, "notes": ' + notes_json + "}"


def entry(**changes: object) -> str:
    return json.dumps({"g1": {**GOOD, **changes}})


DAMAGED_ENTRIES = {
    "changed infinite (1e999)": entry().replace('"changed": 1', '"changed": 1e999'),
    "changed Infinity": entry().replace('"changed": 1', '"changed": Infinity'),
    "changed NaN": entry().replace('"changed": 1', '"changed": NaN'),
    "changed 10**30": entry(changed=10**30),
    "changed 2**63": entry(changed=2**63),
    "changed negative": entry(changed=-1),
    "changed a fraction": entry(changed=1.5),
    "changed text": entry(changed="x"),
    "changed true": entry(changed=True),
    "changed null": entry(changed=None),
    "changed a list": entry(changed=[1]),
    "changed missing": json.dumps({"g1": {k: v for k, v in GOOD.items() if k != "changed"}}),
    "fingerprint a number": entry(fingerprint=5),
    "fingerprint null": entry(fingerprint=None),
    "fingerprint missing": json.dumps({"g1": {k: v for k, v in GOOD.items() if k != "fingerprint"}}),
    "content an object": entry(content={"a": 1}),
    "question a list": entry(question=["q"]),
    "orphan text": entry(orphan="yes"),
    "entry a number": json.dumps({"g1": 5}),
    "entry text": json.dumps({"g1": "fingerprint"}),
    "entry a list": json.dumps({"g1": []}),
    "entry null": json.dumps({"g1": None}),
    "entry nested deep": '{"g1": ' + "[" * 500 + "]" * 500 + "}",
}


@pytest.mark.parametrize("notes", DAMAGED_ENTRIES.values(), ids=list(DAMAGED_ENTRIES))
def test_a_damaged_entry_is_one_line_naming_the_file_and_the_entry(tmp_path: Path, notes: str) -> None:
    path = tmp_path / "bagu2anki.lock"
    path.write_text(lock_text(notes), encoding="utf-8")
    with pytest.raises(UserError) as err:
        Lock.load(path)
    message = err.value.format_message()
    assert str(path) in message and "'g1'" in message and "damaged" in message
    assert "\n" not in message


BAD_IDS = {
    "empty": "",
    "a space": "b2a abc",
    "a newline": "b2a\nabc",
    "a tab": "b2a\tabc",
    "the field separator": "b2a\x1fabc",
    "not ASCII": "b2aé",
    "too long": "b" * 1025,
    "a quote": 'b2a"abc',
}


@pytest.mark.parametrize("guid", BAD_IDS.values(), ids=list(BAD_IDS))
def test_a_guid_that_is_no_note_id_is_a_damaged_entry(tmp_path: Path, guid: str) -> None:
    path = tmp_path / "bagu2anki.lock"
    path.write_text(lock_text(json.dumps({guid: GOOD})), encoding="utf-8")
    with pytest.raises(UserError) as err:
        Lock.load(path)
    message = err.value.format_message()
    assert str(path) in message and repr(guid)[:20] in message and "damaged" in message
    assert "\n" not in message


UNREADABLE = {
    "an entry nested 100000 deep": lock_text('{"g1": ' + "[" * 100_000 + "]" * 100_000 + "}"),
    "the whole file nested 100000 deep": "[" * 100_000 + "]" * 100_000,
    "a 5000-digit number": lock_text('{"g1": {"changed": ' + "9" * 5000 + "}}"),
    "not UTF-8": '{"tool": "bagu2anki", "x": "\udcff"}',
}


@pytest.mark.parametrize("content", UNREADABLE.values(), ids=list(UNREADABLE))
def test_a_lock_that_cannot_be_read_is_one_line_naming_the_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bagu2anki.lock"
    path.write_bytes(content.encode("utf-8", "surrogateescape"))
    with pytest.raises(UserError) as err:
        Lock.load(path)
    message = err.value.format_message()
    assert str(path) in message and "cannot be read" in message
    assert "\n" not in message
    assert path.read_bytes() == content.encode("utf-8", "surrogateescape")  # never silently reset


def test_ids_bagu2anki_writes_are_read(tmp_path: Path) -> None:
    ids = [
        "b2aabcdefghij27",  # a question
        "b2a-concept-" + "Very_Long.Concept-Id" * 10,  # a concept with a long id
        "a!#$%&()*+,-./:;<=>?@[]^_`{|}~",  # Anki's own GUID alphabet
    ]
    path = tmp_path / "bagu2anki.lock"
    path.write_text(lock_text(json.dumps(dict.fromkeys(ids, GOOD))), encoding="utf-8")
    assert sorted(Lock.load(path).entries) == sorted(ids)


@pytest.mark.parametrize("changed", [0, 1_700_000_000, 2**63 - 1, 1.7e9])
def test_times_in_range_are_read(tmp_path: Path, changed: float) -> None:
    path = tmp_path / "bagu2anki.lock"
    path.write_text(lock_text(entry(changed=changed)), encoding="utf-8")
    assert Lock.load(path).entries["g1"].changed == int(changed)


@pytest.mark.parametrize("changed", [10**30, -5, True, "1", 1e300])
def test_a_note_type_time_out_of_range_is_recomputed_not_kept(tmp_path: Path, changed: object) -> None:
    path = tmp_path / "bagu2anki.lock"
    body = json.loads(lock_text(entry()))
    body["notetype"] = {"digest": "d", "changed": changed}
    path.write_text(json.dumps(body), encoding="utf-8")
    assert Lock.load(path).notetype is None


def test_the_command_line_says_one_line_for_a_damaged_lock(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text("## 注意力\n\n### 为什么要缩放？\n因为方差。\n", encoding="utf-8")
    for name, content in (("inf", lock_text(DAMAGED_ENTRIES["changed infinite (1e999)"])),
                          ("deep", UNREADABLE["an entry nested 100000 deep"])):
        lock = tmp_path / f"{name}.lock"
        lock.write_text(content, encoding="utf-8")
        res = CliRunner().invoke(main, ["check", str(notes), "--lock", str(lock)])
        assert res.exit_code == 1, res.output
        assert "Traceback" not in res.output and isinstance(res.exception, SystemExit)
        errors = [line for line in res.output.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1 and str(lock) in errors[0], res.output
