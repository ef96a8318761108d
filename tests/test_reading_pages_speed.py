"""The reading pages at the size of real notes: their lines made without a template loop (and
still exactly what the loop made), and the build's pages kept by key without reading the files
again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, NOTES
from markupsafe import Markup

from bagu2anki import sources
from bagu2anki.diagnostics import Diagnostics
from bagu2anki.model import Document, SourceFile
from bagu2anki.show import (
    LABEL,
    MARK,
    ROLES,
    Reading,
    ShownLine,
    load,
    read_document,
    reading_of,
)
from bagu2anki.write import reading_view
from bagu2anki.write.page_assets import FONT_STACK_CSS, environment
from bagu2anki.write.reading_view import MANIFEST, render_reading, write_reading_pages

# The page's lines as a Jinja2 loop makes them, autoescape and all: what `_lines_html` stands for.
LOOP = """\
{% for ln in reading.lines %}
{% if ln.role %}
<div id="L{{ ln.number }}" class="{{ ln.role }}"><span>{{ ln.number }}</span><p>{{ ln.text }}</p></div>
{% else %}
<div id="L{{ ln.number }}"><span>{{ ln.number }}</span></div>
{% endif %}
{% endfor %}
"""

HOSTILE_LINES = [
    "## <script>alert('x')</script> 基础",
    "</p></div><iframe src=javascript:alert(1)></iframe>",
    "&amp; &lt; &#39; &#34; & < > ' \"",
    "\tindented\twith tabs\t",
    "中文的问题是什么？ 𝄞 😀 👩‍💻",
    "lone \ud800 surrogate \udfff",
    "%s %d %% {0} {} {{ x }} {% if %}",
    "",
    "   ",
    "\x0b\x0c\u2028\u2029 other breaks",
    "<!-- <style>body{display:none}</style>",
]


def _by_loop(reading: Reading, title: str | None = None, note: str = "") -> str:
    """The whole page with its lines made by the loop in the template."""
    source = reading_view._template_source()
    assert source.count("{{ lines }}") == 1
    template = environment().from_string(source.replace("{{ lines }}", LOOP))
    return template.render(
        title=title or reading.rel,
        reading=reading,
        markdown=reading.format == "markdown",
        summary=reading.summary(),
        note=note,
        roles=ROLES,
        mark=MARK,
        label=LABEL,
        font_stack=Markup(FONT_STACK_CSS),
    )


def _hostile_reading(roles: list[Any], fmt: str = "markdown", repeat: int = 3) -> Reading:
    texts = HOSTILE_LINES * repeat
    lines = tuple(ShownLine(n, roles[n % len(roles)], t) for n, t in enumerate(texts, 1))
    return Reading("<b>&'\"名.md", fmt, lines, 3, 1, 1)  # type: ignore[arg-type]


@pytest.mark.parametrize("fmt", ["markdown", "text"])
@pytest.mark.parametrize(
    ("title", "note"),
    [(None, ""), ("<i>t</i> & 'x'", 'could not read <b>it</b> & "why"'), ("", "")],
)
def test_the_lines_are_those_the_template_loop_made(fmt: str, title: str | None, note: str) -> None:
    roles: list[Any] = [None, *ROLES, ""]
    reading = _hostile_reading(roles, fmt)
    assert render_reading(reading, title, note) == _by_loop(reading, title, note)


def test_odd_readings_render_as_the_loop_did() -> None:
    empty = Reading("empty.md", "markdown", (), 0, 0, 0)
    assert render_reading(empty) == _by_loop(empty)
    blank = Reading("blank.md", "text", (ShownLine(1, None, ""), ShownLine(2, None, "  ")), 0, 0, 0)
    assert render_reading(blank) == _by_loop(blank)
    # a role of our own making and lines holding a line feed (no file's lines do)
    odd = _hostile_reading(['we<ird> "%s" {0}', "answer"], repeat=1)
    odd = Reading(odd.rel, odd.format, (*odd.lines, ShownLine(99, "none", "a\nb<c>")), 1, 0, 0)
    assert render_reading(odd) == _by_loop(odd)
    numbered = Reading(
        "n.md", "markdown", (ShownLine(7, "todo", "<x>"), ShownLine(3, None, "")), 1, 0, 1
    )
    assert render_reading(numbered) == _by_loop(numbered)


@pytest.mark.parametrize(
    "path",
    [FIXTURES / "show" / "roles.md", FIXTURES / "show" / "roles.txt", *sorted(NOTES.rglob("*.md"))],
    ids=lambda p: p.name,
)
def test_real_notes_render_as_the_loop_did(path: Path) -> None:
    src = load(path)
    reading = reading_of(read_document(src), src.text)
    assert reading.lines
    assert render_reading(reading) == _by_loop(reading)


# ---------------------------------------------------------------- the build's pages

HOSTILE_FILE = (
    "---\ntitle: <x>\n---\n\n# <script>alert(1)</script>\n\n介绍 & 'intro'\n\n"
    '## Q1 <b>是什么</b>？\n\n答案 </p> "quoted"\n\tTab 𝄞\n\n## Q2 为什么？\n\n'
    "## 追问：那 & 呢？\n\n好的 &amp;\n"
)


def _notes(tmp_path: Path, count: int = 3) -> tuple[Path, list[Document]]:
    notes = tmp_path / "notes"
    notes.mkdir()
    names = [f"n{i}.md" for i in range(count)]
    for i, name in enumerate(names):
        (notes / name).write_text(HOSTILE_FILE + f"\n## Q{i} 最后？\n\n{i}\n", encoding="utf-8")
    return notes, [read_document(load(notes / n, n, notes)) for n in names]


def _reading(doc: Document) -> Reading:
    src = doc.source
    again = sources.load(sources.Found(src.path, src.rel, src.root), Diagnostics())
    assert again is not None
    return reading_of(doc, again.text)


def test_the_build_pages_are_the_pages_of_show(tmp_path: Path) -> None:
    _, docs = _notes(tmp_path)
    for keys in (None, ["k0", "k1", "k2"]):
        folder = tmp_path / f"r-{keys is None}"
        pages = write_reading_pages(folder, docs, keys=keys)
        for doc, page in zip(docs, pages, strict=True):
            assert page.read_bytes() == _by_loop(_reading(doc)).encode("utf-8")
            assert page.read_text(encoding="utf-8") == render_reading(_reading(doc))


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files read since (by path as read): the pages' and the test's own."""
    seen: list[str] = []
    real = sources.load

    def load_again(found: sources.Found, diags: Diagnostics) -> SourceFile | None:
        seen.append(found.rel)
        return real(found, diags)

    monkeypatch.setattr(sources, "load", load_again)
    return seen


def test_a_page_whose_key_is_unchanged_is_linked_without_reading_its_file(
    tmp_path: Path, loads: list[str]
) -> None:
    notes, docs = _notes(tmp_path)
    loads.clear()
    first = write_reading_pages(tmp_path / "r1", docs, keys=["a", "b", "c"])
    assert loads == ["n0.md", "n1.md", "n2.md"]
    loads.clear()
    # n1.md changed on disk: its new key renders it again; the others are the last build's pages
    (notes / "n1.md").write_text("## 新的问题？\n\n新的答案 <b>\n", encoding="utf-8")
    docs[1] = read_document(load(notes / "n1.md", "n1.md", notes))
    loads.clear()
    second = write_reading_pages(tmp_path / "r2", docs, tmp_path / "r1", keys=["a", "b2", "c"])
    assert loads == ["n1.md"]
    assert second[0].read_bytes() == first[0].read_bytes()
    assert second[2].read_bytes() == first[2].read_bytes()
    assert second[1].read_text(encoding="utf-8") == render_reading(_reading(docs[1]))
    manifest = json.loads((tmp_path / "r2" / MANIFEST).read_text(encoding="utf-8"))
    assert all(len(entry) == 3 for entry in manifest.values())


def test_a_key_is_trusted_only_with_the_page_its_manifest_describes(
    tmp_path: Path, loads: list[str]
) -> None:
    _, docs = _notes(tmp_path)
    keys = ["a", "b", "c"]
    first = write_reading_pages(tmp_path / "r1", docs, keys=keys)
    first[0].write_text("<script>tampered</script>", encoding="utf-8")  # changed since
    (tmp_path / "r1" / first[1].name).unlink()  # gone since
    loads.clear()
    second = write_reading_pages(tmp_path / "r2", docs, tmp_path / "r1", keys=keys)
    assert sorted(loads) == ["n0.md", "n1.md"]
    for doc, page in zip(docs, second, strict=True):
        assert page.read_text(encoding="utf-8") == render_reading(_reading(doc))


def test_the_page_key_covers_the_page_name_and_the_template(
    tmp_path: Path, loads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, docs = _notes(tmp_path)
    write_reading_pages(tmp_path / "r1", docs, keys=["same"] * 3)
    manifest = json.loads((tmp_path / "r1" / MANIFEST).read_text(encoding="utf-8"))
    assert len({entry[2] for entry in manifest.values()}) == 3  # one key given, three pages
    loads.clear()
    source = reading_view._template_source()
    monkeypatch.setattr(reading_view, "_template_source", lambda: source + "{# another #}")
    write_reading_pages(tmp_path / "r2", docs, tmp_path / "r1", keys=["same"] * 3)
    assert len(loads) == 3  # a new template: every file read again


def test_pages_of_a_build_without_keys_are_read_again_then_kept(
    tmp_path: Path, loads: list[str]
) -> None:
    _, docs = _notes(tmp_path)
    first = write_reading_pages(tmp_path / "r1", docs)
    manifest = json.loads((tmp_path / "r1" / MANIFEST).read_text(encoding="utf-8"))
    assert all(len(entry) == 2 for entry in manifest.values())
    loads.clear()
    second = write_reading_pages(tmp_path / "r2", docs, tmp_path / "r1", keys=["a", "b", "c"])
    assert len(loads) == 3  # no key to go by: what the pages show decides
    assert [p.read_bytes() for p in second] == [p.read_bytes() for p in first]
    loads.clear()
    write_reading_pages(tmp_path / "r3", docs, tmp_path / "r2", keys=["a", "b", "c"])
    assert loads == []


def test_a_page_saying_its_file_could_not_be_read_is_not_kept_by_key(
    tmp_path: Path, loads: list[str]
) -> None:
    notes, docs = _notes(tmp_path, 1)
    text = (notes / "n0.md").read_bytes()
    (notes / "n0.md").unlink()
    first = write_reading_pages(tmp_path / "r1", docs, keys=["a"])
    assert "could not read the file again" in first[0].read_text(encoding="utf-8")
    (notes / "n0.md").write_bytes(text)  # back, as the build read it
    loads.clear()
    second = write_reading_pages(tmp_path / "r2", docs, tmp_path / "r1", keys=["a"])
    assert loads == ["n0.md"]
    assert second[0].read_text(encoding="utf-8") == render_reading(_reading(docs[0]))


@pytest.mark.parametrize(
    "manifest",
    [
        "not json",
        "[]",
        '{"n0.md.html": "x"}',
        '{"n0.md.html": ["a"]}',
        '{"n0.md.html": ["a", "b", "c", "d"]}',
        '{"n0.md.html": ["a", 1, "c"]}',
        '{"n0.md.html": [null, "b", "c"]}',
        '{"n0.md.html": {"shows": "a"}}',
    ],
)
def test_a_damaged_manifest_has_the_pages_made_again(tmp_path: Path, manifest: str) -> None:
    _, docs = _notes(tmp_path, 1)
    write_reading_pages(tmp_path / "r1", docs, keys=["a"])
    (tmp_path / "r1" / MANIFEST).write_text(manifest, encoding="utf-8")
    second = write_reading_pages(tmp_path / "r2", docs, tmp_path / "r1", keys=["a"])
    assert second[0].read_text(encoding="utf-8") == render_reading(_reading(docs[0]))
    entry = json.loads((tmp_path / "r2" / MANIFEST).read_text(encoding="utf-8"))["n0.md.html"]
    assert len(entry) == 3


def test_keys_go_one_per_document(tmp_path: Path) -> None:
    _, docs = _notes(tmp_path, 2)
    with pytest.raises(ValueError, match="1 keys for 2 documents"):
        write_reading_pages(tmp_path / "r", docs, keys=["a"])
