"""`bagu2anki show FILE`: each line's role as the build read it, in a terminal and as an HTML page,
and the build's reading pages that report.md links each file to."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote

import pytest
from click.testing import CliRunner
from conftest import FIXTURES, NOTES, need_seed
from html_probe import active

from bagu2anki import sources
from bagu2anki.cli import main
from bagu2anki.concepts.catalogue import load_catalogue
from bagu2anki.diagnostics import Diagnostics, UserError
from bagu2anki.pipeline import _parse_one
from bagu2anki.show import line_roles, load, read_document, show_file
from bagu2anki.write.reading_view import MANIFEST, page_names, render_reading, write_reading_pages

SHOW = FIXTURES / "show"
MD = SHOW / "roles.md"
TXT = SHOW / "roles.txt"

# roles.md, line by line (blank lines have none)
MD_ROLES = {
    1: "structure", 2: "structure", 3: "structure",  # front matter
    5: "structure",  # the file's title
    7: "none", 8: "none",  # the chapter's introduction: in no question
    10: "structure",  # a section title
    12: "question", 14: "answer", 15: "answer",
    17: "question", 19: "answer",  # asks two things; answers the first ...
    21: "follow-up",  # ... and this part answers the second: a card of its own
    23: "todo",  # no answer
    25: "structure",
    27: "question", 29: "answer",
    31: "follow-up", 33: "answer",  # `追问：`
}
TXT_ROLES = {
    1: "structure", 2: "none", 3: "structure",
    4: "question", 5: "answer", 6: "answer", 7: "answer",
    8: "question", 9: "answer",
    10: "structure",
    11: "question", 12: "answer",
    13: "todo",
}
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _roles(path: Path, split: bool = True) -> dict[int, str | None]:
    src = load(path)
    return {ln.number: ln.role for ln in line_roles(read_document(src, split), src.text)}


@pytest.mark.parametrize(("path", "expected"), [(MD, MD_ROLES), (TXT, TXT_ROLES)], ids=["markdown", "flat-text"])
def test_each_line_gets_its_role(path: Path, expected: dict[int, str]) -> None:
    lines = path.read_text(encoding="utf-8").split("\n")[:-1]
    roles = _roles(path)
    assert len(roles) == len(lines)
    assert {n: r for n, r in roles.items() if r is not None} == expected
    assert all(roles[n] is None for n, s in enumerate(lines, 1) if not s.strip())


def test_no_split_keeps_the_parts_in_one_answer() -> None:
    roles = _roles(MD, split=False)
    assert roles[17] == "question" and roles[21] == "answer"
    assert roles[31] == "follow-up"  # a `追问：` question is a follow-up whether or not questions are split


def test_summary_counts() -> None:
    reading = show_file(MD)
    assert (reading.questions, reading.follow_ups, reading.todo, reading.in_no_card) == (6, 2, 1, 2)
    assert reading.summary() == "6 questions (2 follow-ups), 1 to do, 2 lines in no card"


@pytest.mark.parametrize("path", [MD, TXT, *sorted(NOTES.rglob("*.md")), *sorted(NOTES.rglob("*.txt"))],
                         ids=lambda p: p.name)
def test_show_reads_a_file_as_the_build_does(path: Path) -> None:
    """show's reading and the pipeline's agree (`pipeline._parse_one`): same questions, parts,
    unattached text and structure."""
    src = sources.load(sources.Found(path, path.name, path.parent), Diagnostics())
    assert src is not None
    built = _parse_one(src, load_catalogue(None, Diagnostics()))[0]
    shown = read_document(src)
    assert (shown.atoms, shown.unattached, shown.structure) == (built.atoms, built.unattached, built.structure)
    roles = [ln.role for ln in line_roles(shown, src.text)]
    assert roles.count("question") + roles.count("follow-up") + roles.count("todo") >= len(shown.atoms)


# ---------------------------------------------------------------- the command


def test_cli_prints_each_line_with_its_mark_and_a_summary() -> None:
    res = CliRunner().invoke(main, ["show", str(MD)])
    assert res.exit_code == 0, res.output
    out = res.output.splitlines()
    assert not ANSI.search(res.output)  # not a terminal: plain text
    assert out[0] == "S  1 │ ---"
    assert out[3] == "   4 │"  # a blank line has no mark
    assert out[11] == "Q 12 │ ### 什么是 Self-Attention？"
    assert out[13] == "A 14 │ 每个位置对所有位置做加权求和，"
    assert out[6] == "N  7 │ 这一章整理注意力相关的面试题，"
    assert out[20] == "F 21 │ **为什么除以根号 d_k**：防止点积方差过大，softmax 饱和。"
    assert out[22] == "T 23 │ ### KV cache 能省多少显存？"
    assert out[-2].startswith("Q question  F follow-up  T to do")
    assert out[-1] == f"{MD}: 6 questions (2 follow-ups), 1 to do, 2 lines in no card"


def test_cli_on_a_flat_text_file() -> None:
    res = CliRunner().invoke(main, ["show", str(TXT)])
    assert res.exit_code == 0, res.output
    out = res.output.splitlines()
    assert out[3] == "Q  4 │ 八股:Encoder 和 Decoder 里的 Attention 有什么区别?"
    assert out[12] == "T 13 │ 2.RLHF 里的 reward hacking 怎么缓解？"
    assert out[-1].endswith(": 4 questions, 1 to do, 1 line in no card")


def test_cli_on_the_flat_text_seed() -> None:
    seed = need_seed()
    res = CliRunner().invoke(main, ["show", str(seed)])
    assert res.exit_code == 0, res.output
    out = res.output.splitlines()
    numbered = [s for s in out if re.match(r"^[QFTASN ] +\d+ │", s)]
    assert len(numbered) == len(seed.read_text(encoding="utf-8").rstrip("\n").split("\n"))
    marks = {s[0] for s in numbered}
    assert {"Q", "A", "S", "F", "T"} <= marks  # the seed's bundled questions are split: follow-ups
    m = re.search(r": (\d+) questions \((\d+) follow-ups\), (\d+) to do, ", out[-1])
    assert m is not None and int(m.group(1)) > 30 and int(m.group(3)) > 0, out[-1]
    assert sum(1 for s in numbered if s[0] == "T") == int(m.group(3))


def test_cli_colours_only_when_asked_or_in_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    coloured = CliRunner().invoke(main, ["show", "--color", str(MD)])
    assert coloured.exit_code == 0 and ANSI.search(coloured.output)
    assert ANSI.sub("", coloured.output) == CliRunner().invoke(main, ["show", str(MD)]).output
    assert not ANSI.search(CliRunner().invoke(main, ["show", "--no-color", str(MD)]).output)
    monkeypatch.setattr("bagu2anki.cli._terminal", lambda: True)
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert ANSI.search(CliRunner().invoke(main, ["show", str(MD)]).output)  # a terminal
    monkeypatch.setenv("NO_COLOR", "")  # set but empty: no effect
    assert ANSI.search(CliRunner().invoke(main, ["show", str(MD)]).output)
    monkeypatch.setenv("NO_COLOR", "1")
    assert not ANSI.search(CliRunner().invoke(main, ["show", str(MD)]).output)
    assert ANSI.search(CliRunner().invoke(main, ["show", "--color", str(MD)]).output)  # asked for


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda d: d / "missing.md", "no such file"),
        (lambda d: d, "is a folder"),
        (lambda d: _write(d / "empty.md", b""), "empty file"),
        (lambda d: _write(d / "bin.md", b"\x00\x01\x02" * 100), "binary"),
        (lambda d: _write(d / "notes.pdf", "## 问？\n\n答。\n".encode()), "not a note file"),
    ],
    ids=["missing", "folder", "empty", "binary", "not-notes"],
)
def test_a_file_that_cannot_be_shown_is_one_line_and_exit_1(tmp_path: Path, make, says: str) -> None:  # type: ignore[no-untyped-def]
    path = make(tmp_path)
    res = CliRunner().invoke(main, ["show", str(path)])
    assert res.exit_code == 1, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and says in lines[0], res.output
    with pytest.raises(UserError):
        load(path)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# ---------------------------------------------------------------- the page

HOSTILE_NAME = "<script>alert(1)<script> & 'x'.md"
HOSTILE_TEXT = (
    "## <script>alert('title')</script> 基础\n\n"
    "### <img src=x onerror=alert(1)> 是什么？\n\n"
    "<script>alert(document.cookie)</script>\n"
    "</p></div><iframe src=javascript:alert(1)></iframe>\n"
    "<!-- <style>body{display:none}</style>\n"
)


def _body(page: str) -> str:
    m = re.search(r"<body>(.*)</body>", page, re.S)
    assert m is not None
    return m.group(1)


def test_the_page_escapes_everything_from_the_notes(tmp_path: Path) -> None:
    note = tmp_path / HOSTILE_NAME
    note.write_text(HOSTILE_TEXT, encoding="utf-8")
    out = tmp_path / "page.html"
    res = CliRunner().invoke(main, ["show", str(note), "--html", str(out)])
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[-1] == f"  wrote {out}"
    page = out.read_text(encoding="utf-8")
    assert "<script" not in page.lower() and "<iframe" not in page.lower()
    assert active(_body(page)) == []
    assert "&lt;script&gt;alert(document.cookie)&lt;/script&gt;" in page
    assert "&lt;script&gt;alert(1)&lt;script&gt; &amp; &#39;x&#39;.md" in page  # the file's name, in <title> and <h1>
    head = page.split("<body>", 1)[0]
    assert head.count("<style>") == 1 and "Content-Security-Policy" in head and "default-src 'none'" in head
    assert 'id="L5" class="none"' in page or 'id="L5" class="answer"' in page
    assert re.search(r'<div id="L3" class="(question|todo)">', page)


def test_the_page_shows_every_line_with_its_role(tmp_path: Path) -> None:
    page = render_reading(show_file(MD))
    rows = re.findall(r'<div id="L(\d+)"(?: class="([a-z-]+)")?><span>\d+</span>', page)
    assert [int(n) for n, _ in rows] == list(range(1, 34))
    assert {int(n): r for n, r in rows if r} == MD_ROLES
    for role in ("question", "follow-up", "todo", "answer", "structure", "none"):
        assert f'class="r-{role}"' in page  # in the legend
    assert "6 questions (2 follow-ups), 1 to do, 2 lines in no card" in page


def test_page_names_are_unique_safe_and_short() -> None:
    rels = ["基础/attention.md", "基础_attention.md", "基础_Attention.md", ".hidden.md", "../up.md",
            "x" * 300 + ".md", "a b/<c>?.txt", "/"]
    names = page_names(rels)
    assert names[0] == "基础_attention.md.html"
    assert len({n.casefold() for n in names}) == len(names)
    for n in names:
        assert "/" not in n and "\\" not in n and not n.startswith(".") and n.endswith(".html")
        assert len(n.encode("utf-8")) <= 130
        assert re.fullmatch(r"[\w.-]+", n)
    assert names == page_names(rels)  # the same names every build


# ---------------------------------------------------------------- the build's pages


def _linked_pages(report: str) -> dict[str, str]:
    """file (as the report shows it) -> page path, from report.md's table of reading pages."""
    section = report.split("## How each file was read", 1)[1].split("\n## ", 1)[0]
    found = re.findall(r"^\| \[((?:\\.|[^\]\\])+)\]\((reading/[^)]+)\) \| \d+ \| \d+ \|$", section, re.M)
    return {re.sub(r"\\(.)", r"\1", text): unquote(target) for text, target in found}


def test_the_report_links_each_file_to_its_page(notes_copy: Path, tmp_path: Path) -> None:
    (notes_copy / HOSTILE_NAME).write_text(HOSTILE_TEXT, encoding="utf-8")
    out = tmp_path / "out"
    args = ["build", str(notes_copy), "-o", str(out), "--lock", str(tmp_path / "l.lock")]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert f"  wrote {out / 'reading'}" in res.output
    report = (out / "report.md").read_text(encoding="utf-8")
    linked = _linked_pages(report)
    files = sorted(p.relative_to(notes_copy).as_posix() for p in notes_copy.rglob("*") if p.suffix in (".md", ".txt"))
    assert sorted(linked) == files
    for rel, target in linked.items():
        page = (out / target).read_text(encoding="utf-8")
        assert f"<h1>{_escaped(rel)}</h1>" in page
        assert "<script" not in page.lower()
    # the pages are those of `show`
    attention = (out / linked["基础/attention.md"]).read_text(encoding="utf-8")
    shown = render_reading(show_file(notes_copy / "基础" / "attention.md"), title="基础/attention.md")
    assert _body(attention) == _body(shown)
    pages = sorted(p.name for p in (out / "reading").iterdir())
    assert MANIFEST in pages and len(pages) == len(files) + 1

    # a file removed: its page goes with it; the others are kept as they were
    (notes_copy / HOSTILE_NAME).unlink()
    before = {t: (out / t).read_bytes() for r, t in linked.items() if r != HOSTILE_NAME}
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    again = _linked_pages((out / "report.md").read_text(encoding="utf-8"))
    assert HOSTILE_NAME not in again and not (out / linked[HOSTILE_NAME]).exists()
    assert {t: (out / t).read_bytes() for t in again.values()} == before
    assert not list(out.rglob("*.part")) and not (out / ".bagu2anki-tmp").exists()


def _escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("'", "&#39;").replace('"', "&#34;")


def test_a_file_in_the_way_of_the_pages_fails_the_build_and_replaces_nothing(notes_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "reading").write_text("not a folder", encoding="utf-8")
    res = CliRunner().invoke(main, ["build", str(notes_copy), "-o", str(out), "--lock", str(tmp_path / "l.lock")])
    assert res.exit_code == 1, res.output
    errors = [s for s in res.output.splitlines() if s.startswith("Error:")]
    assert len(errors) == 1 and "reading" in errors[0] and "cannot write" in errors[0], res.output
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["reading"]
    assert not (tmp_path / "l.lock").exists()


def test_unchanged_pages_are_kept_and_changed_ones_rendered_again(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    for name in ("a.md", "b.md"):
        (notes / name).write_text(f"## {name} 是什么？\n\n一个文件。\n", encoding="utf-8")
    docs = [read_document(load(notes / n, n, notes)) for n in ("a.md", "b.md")]
    first = write_reading_pages(tmp_path / "r1", docs)
    manifest = json.loads((tmp_path / "r1" / MANIFEST).read_text(encoding="utf-8"))
    assert sorted(manifest) == ["a.md.html", "b.md.html"]
    first[1].write_text("<script>tampered</script>", encoding="utf-8")  # changed since: not trusted
    second = write_reading_pages(tmp_path / "r2", docs, previous=tmp_path / "r1")
    assert second[0].read_bytes() == first[0].read_bytes()
    assert "<script" not in second[1].read_text(encoding="utf-8")
    assert second[1].read_text(encoding="utf-8") == render_reading(show_file(notes / "b.md"))


def test_a_file_name_question_marks_no_line_of_the_file_as_its_question(tmp_path: Path) -> None:
    """The file's name asks: its first line is the answer's, not the question's."""
    from bagu2anki.parse import read

    note = tmp_path / "为什么要用 RMSNorm？.md"
    note.write_text("相比 LayerNorm 去掉了减均值，只做缩放。\n\n好处：计算更少。\n", encoding="utf-8")
    src = sources.load(sources.Found(note, note.name, tmp_path), Diagnostics())
    assert src is not None
    doc = read(src, Diagnostics())
    assert [a.question for a in doc.atoms] == ["为什么要用 RMSNorm？"]
    assert [x.role for x in line_roles(doc, src.text)] == ["answer", None, "answer"]
