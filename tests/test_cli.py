"""The command line: help everywhere, exit codes, public JSON shapes, GitHub annotations."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from conftest import need_seed

from bagu2anki.cli import main

ATOM_KEYS = [
    "id", "source", "line", "section", "number", "kind", "question", "answer", "status",
    "concepts", "front_html", "back_html",
]


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    out: list[tuple[str, click.Command]] = []
    for name, cmd in group.commands.items():
        out.append((prefix + name, cmd))
        if isinstance(cmd, click.Group):
            out.extend(_commands(cmd, prefix + name + " "))
    return out


def test_every_command_has_help() -> None:
    cmds = _commands(main)
    assert {n for n, _ in cmds} >= {"build", "check", "export", "export atoms", "export graph"}
    for name, cmd in cmds:
        assert cmd.help and cmd.help.strip(), f"{name} has no help text"
        for param in cmd.params:
            if isinstance(param, click.Option):
                assert param.help, f"{name} {param.opts} has no help text"


def test_build_writes_outputs_and_never_the_notes(notes_copy: Path, tmp_path: Path) -> None:
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in notes_copy.rglob("*") if p.is_file()}
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["build", str(notes_copy), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "questions from 8 files" in res.output
    assert (out / "notes.apkg").is_file() and (out / "graph.html").is_file() and (out / "report.md").is_file()
    assert (tmp_path / "bagu2anki.lock").is_file()  # beside the notes folder, not inside
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in notes_copy.rglob("*") if p.is_file()}
    assert after == before
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "## Questions per section" in report and "## To do" in report


def test_an_output_that_cannot_be_written_is_a_clear_error(notes_copy: Path, tmp_path: Path) -> None:
    """The map is written beside the deck (in a forked child on Linux): its failure still
    reaches the user as one line naming the file, exit 1, and no lock is written."""
    out = tmp_path / "out"
    (out / "graph.html" / "in-the-way").mkdir(parents=True)
    res = CliRunner().invoke(main, ["build", str(notes_copy), "-o", str(out)])
    assert res.exit_code == 1, res.output
    assert "graph.html" in res.output and "cannot write" in res.output
    assert "Traceback" not in res.output
    assert not (tmp_path / "bagu2anki.lock").exists()


def test_export_atoms_keys_and_order(notes_copy: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["export", "atoms", str(notes_copy), "--lock", str(tmp_path / "l.lock")])
    assert res.exit_code == 0, res.output
    records = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(records) >= 40
    for r in records:
        assert list(r) == ATOM_KEYS
        assert r["status"] in ("answered", "link_only", "reference", "unanswered")
        assert isinstance(r["section"], list) and isinstance(r["concepts"], list)
    for a, b in zip(records, records[1:], strict=False):
        if a["source"] == b["source"]:
            assert a["line"] < b["line"]
    assert not (tmp_path / "l.lock").exists()  # export never writes


def test_export_atoms_single_file_source_is_file_name(tmp_path: Path) -> None:
    seed = need_seed()
    res = CliRunner().invoke(main, ["export", "atoms", str(seed), "--lock", str(tmp_path / "l.lock")])
    assert res.exit_code == 0, res.output
    records = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(records) == 41  # 37 questions, two split into three parts each
    whole = CliRunner().invoke(main, ["export", "atoms", str(seed), "--no-split", "--lock", str(tmp_path / "l.lock")])
    assert len(whole.stdout.splitlines()) == 37
    assert {r["source"] for r in records} == {seed.name}
    by_q = {r["question"]: r for r in records}
    mha = next(r for q, r in by_q.items() if q.startswith("除了MHA"))
    assert {"MHA", "GQA", "MLA"} <= set(mha["concepts"])


def test_export_graph_has_the_chains(notes_copy: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(main, ["export", "graph", str(notes_copy), "--lock", str(tmp_path / "l.lock")])
    assert res.exit_code == 0, res.output
    graph = json.loads(res.stdout)
    assert set(graph) == {"nodes", "edges"}
    for n in graph["nodes"]:
        assert set(n) == {"id", "label", "aliases", "description", "domain", "atoms"}
    edges = {(e["source"], e["target"]) for e in graph["edges"]}
    for e in graph["edges"]:
        assert set(e) == {"source", "target", "origin", "loc"}
        assert e["origin"] in ("catalogue", "notes")
    for chain in (
        ["Attention", "MHA", "MQA", "GQA", "MLA"],
        ["PolicyGradient", "PPO", "GRPO", "DAPO"],
        ["DP", "ZeRO-1", "ZeRO-2", "ZeRO-3", "FSDP"],
    ):
        for a, b in zip(chain, chain[1:], strict=False):
            assert (a, b) in edges, (a, b)
    notes_edges = [e for e in graph["edges"] if e["origin"] == "notes"]
    assert all(e["loc"] and ":" in e["loc"] for e in notes_edges)
    used = {n["id"]: n for n in graph["nodes"]}
    assert used["GQA"]["atoms"]


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / name
    p.write_text(text, encoding="utf-8")
    return p


def test_check_exit_codes_and_formats(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    _write(notes, "a.md", "## 注意力\n\n### 为什么除以根号 dk？\n\n方差会变大，$x_1 + \\frac{a}{b} 没有闭合。\n")
    runner = CliRunner()
    ok = runner.invoke(main, ["check", str(notes), "--lock", str(tmp_path / "l.lock")])
    assert ok.exit_code == 0, ok.output
    assert "a.md:5: warning: unbalanced math" in ok.output
    strict = runner.invoke(main, ["check", str(notes), "--strict", "--lock", str(tmp_path / "l.lock")])
    assert strict.exit_code == 1
    gh = runner.invoke(main, ["check", str(notes), "--format", "github", "--lock", str(tmp_path / "l.lock")])
    assert f"::warning file={(notes / 'a.md').as_posix()},line=5::" in gh.output  # outside the working folder
    js = runner.invoke(main, ["check", str(notes), "--format", "json", "--lock", str(tmp_path / "l.lock")])
    items = json.loads(js.stdout)
    assert any(i["path"] == "a.md" and i["line"] == 5 for i in items)
    usage = runner.invoke(main, ["check", str(tmp_path / "nope")])
    assert usage.exit_code == 2


@pytest.mark.parametrize("args", [["build", "--fold-threshold", "5"], ["frobnicate"], ["export", "atoms", "--bogus"]])
def test_usage_errors_exit_2(args: list[str]) -> None:
    assert CliRunner().invoke(main, args).exit_code == 2


def test_strict_build_fails_on_warnings(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    _write(notes, "a.md", "## A\n\n### 图在哪？\n\n![图](missing.png)\n")
    runner = CliRunner()
    res = runner.invoke(main, ["build", str(notes), "-o", str(tmp_path / "out")])
    assert res.exit_code == 0
    assert "a.md:5: warning: image not found: missing.png" in res.output
    res = runner.invoke(main, ["build", str(notes), "-o", str(tmp_path / "out"), "--strict"])
    assert res.exit_code == 1


def test_export_shows_the_cards_the_build_writes(notes_copy: Path, tmp_path: Path) -> None:
    from bagu2anki.config import Config
    from bagu2anki.pipeline import build

    lock = tmp_path / "l.lock"
    result = build(Config(paths=(notes_copy,), out=tmp_path / "out", lock=lock))
    res = CliRunner().invoke(main, ["export", "atoms", str(notes_copy), "--lock", str(lock)])
    records = {r["id"]: r for r in map(json.loads, res.stdout.splitlines())}
    cards = [c for c in result.cards if c.atom.source != "concepts"]
    assert cards
    for c in cards:
        assert records[c.guid]["front_html"] == c.front_html
        assert records[c.guid]["back_html"] == c.back_html


def test_check_suggests_splitting_bundled_questions(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    _write(notes, "a.md", "## A\n\n### LoRA 原理是什么？怎么初始化？\n\n#### 原理\n\n低秩分解。\n\n#### 初始化\n\nB 取 0。\n")
    res = CliRunner().invoke(main, ["check", str(notes), "-v", "--lock", str(tmp_path / "l.lock")])
    assert "a.md:3: info: this card asks 2 questions" in res.output


def test_export_in_small_chunks_with_parked_answers_matches_the_build(
    notes_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Answers wait on disk during `export atoms` and come back a chunk at a time: with chunks
    of 7 (many chunks, one render pool for all) every card, references included, is the
    build's card, and every answer is the whole answer."""
    from bagu2anki import pipeline
    from bagu2anki.config import Config
    from bagu2anki.diagnostics import Diagnostics

    lock = tmp_path / "l.lock"
    result = pipeline.build(Config(paths=(notes_copy,), out=tmp_path / "out", lock=lock))
    monkeypatch.setattr(pipeline, "EXPORT_CHUNK", 7)
    records = list(pipeline.atom_records(Config(paths=(notes_copy,), lock=lock, jobs=2), Diagnostics()))
    by_id = {r["id"]: r for r in records}
    cards = [c for c in result.cards if c.atom.source != "concepts"]
    assert len(records) == len(result.analysis.atoms) > 14
    assert any(c.atom.status == "reference" for c in cards)
    for c in cards:
        rec = by_id[c.guid]
        assert rec["answer"] == c.atom.answer
        assert (rec["front_html"], rec["back_html"]) == (c.front_html, c.back_html)


@pytest.mark.parametrize(
    "args, expect",
    [([], "used"), (["--concept-cards", "all"], "all"), (["--concept-cards", "none"], "none"), (["--no-concept-cards"], "none")],
)
def test_concept_cards_option(notes_copy: Path, tmp_path: Path, args: list[str], expect: str) -> None:
    res = CliRunner().invoke(main, ["build", str(notes_copy), "-o", str(tmp_path / "out"), *args])
    assert res.exit_code == 0, res.output
    n = int(res.output.split(" + ")[1].split(" concept card")[0])
    report = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    if expect == "none":
        assert n == 0 and "## Concept cards" not in report
    else:
        assert n > 0 and f"## Concept cards ({n})" in report
        listed = [int(line.rsplit(": ", 1)[1].split()[0]) for line in report.splitlines() if line.startswith("- ") and " question" in line and "(" in line and line.rstrip().endswith(("question", "questions"))]
        assert listed and (min(listed) >= 2 if expect == "used" else min(listed) >= 1)


def test_repeated_warnings_of_a_kind_are_one_line_per_file(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text(
        "## 图？\n\n![](x1.png)\n\n![](x2.png)\n\n![](x3.png)\n\n## 公式？\n\n方差 $x_1 + \\frac{a}{b} 没有闭合。\n", encoding="utf-8"
    )
    short = CliRunner().invoke(main, ["check", str(notes), "--lock", str(tmp_path / "l.lock")])
    missing = [s for s in short.output.splitlines() if "image not found" in s]
    assert len(missing) == 1 and "and 2 more lines like it" in missing[0] and "-v" in missing[0]
    assert any("unbalanced math" in s for s in short.output.splitlines())  # another kind stays visible
    full = CliRunner().invoke(main, ["check", str(notes), "-v", "--lock", str(tmp_path / "l.lock")])
    assert len([s for s in full.output.splitlines() if "image not found" in s]) == 3
    js = CliRunner().invoke(main, ["check", str(notes), "--format", "json", "--lock", str(tmp_path / "l.lock")])
    assert len([i for i in json.loads(js.stdout) if i["code"] == "missing-image"]) == 3
