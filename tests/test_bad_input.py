"""Bad input never crashes a build, never loses a line, never runs code, never touches the notes."""

from __future__ import annotations

import codecs
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from html_probe import active

from bagu2anki.cli import main
from bagu2anki.config import Config
from bagu2anki.diagnostics import Diagnostics
from bagu2anki.pipeline import BuildResult, build

Q = "## 注意力\n\n### 为什么要除以根号 d_k？\n\n点积方差随维度变大，缩放后 softmax 不饱和。\n"


def run(notes: Path, tmp: Path, **kw: object) -> BuildResult:
    return build(Config(paths=(notes,), out=tmp / "out", lock=tmp / "l.lock", **kw))  # type: ignore[arg-type]


def codes(result: BuildResult) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for d in result.diagnostics.items:
        out.setdefault(d.code, []).append(d.format())
    return out


@pytest.mark.parametrize(
    "encoded, note",
    [
        (codecs.BOM_UTF8 + Q.encode("utf-8"), None),
        (Q.encode("utf-16"), "UTF-16"),
        (Q.encode("gb18030"), "GB18030"),
        (Q.replace("\n", "\r\n").encode("utf-8"), None),
        (Q.replace("\n", "\r").encode("utf-8"), None),
        (Q.replace("点积", "点\u00a0积\u200b").encode("utf-8"), None),
    ],
    ids=["utf8-bom", "utf16-bom", "gb18030", "crlf", "cr", "nbsp-zero-width"],
)
def test_encodings_and_line_endings(tmp_path: Path, encoded: bytes, note: str | None) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_bytes(encoded)
    result = run(notes, tmp_path)
    [atom] = result.analysis.atoms
    assert atom.question == "为什么要除以根号 d_k？"
    assert atom.line == 3
    assert "点" in atom.answer and "\u200b" not in atom.answer and "\r" not in atom.answer
    if note:
        assert any(note in d.message for d in result.diagnostics.items), note
    assert (notes / "a.md").read_bytes() == encoded


def test_odd_files_are_skipped_with_a_note(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    (notes / "子 目录 全角／").mkdir(parents=True)
    (notes / "子 目录 全角／名字 有空格．md.md").write_text(Q, encoding="utf-8")
    (notes / "empty.md").write_text("", encoding="utf-8")
    (notes / "binary.md").write_bytes(b"\x00\x01\x02PNG\x00" * 100)
    (notes / "data.bin").write_bytes(os.urandom(64))
    (notes / "pic.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (notes / "loop").symlink_to(notes, target_is_directory=True)
    (notes / "dangling.md").symlink_to(notes / "nowhere.md")
    (tmp_path / "secret.md").write_text(Q, encoding="utf-8")
    (notes / "outside.md").symlink_to(tmp_path / "secret.md")
    (notes / "folder.md").mkdir()
    result = run(notes, tmp_path)
    assert len(result.analysis.atoms) == 1
    assert result.analysis.atoms[0].source == "子 目录 全角／名字 有空格．md.md"
    c = codes(result)
    assert "empty" in c and "binary" in c and "skipped-file" in c and "unreadable" in c
    assert "symlink-outside" in c  # a note that is a symlink out of the folder is not read
    messages = " ".join(d.message for d in result.diagnostics.items)
    assert "symlink loop" in messages or "loop" not in [a.source.split("/")[0] for a in result.analysis.atoms]


def test_markdown_debris(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    text = (
        "## 杂项\n\n"
        "### 1. 特殊 token 有哪些？\n\n"
        "常见的有 <eos> 和 <pad>，还有 <unk>。\n\n"
        "Notion 导出会留下 \\*\\*粗体\\*\\* 和 \\[toc] 以及 \\[CLS] 这样的转义。\n\n"
        "- 一层\n  - 两层\n    - 三层\n      - 四层\n        - 五层\n          - 六层\n\n"
        "<div onclick=\"alert(1)\">原始 HTML <b>片段</b></div>\n\n"
        "```python\n# 这是注释，不是标题\nprint('$不是公式$')\n```\n\n"
        "### 2. 公式没闭合会怎样？\n\n这里 $x_1 + y 没有闭合，还有 \\(a_b 也没有。\n\n"
        "### 3. 最后一题？\n\n```python\nx = 1\n"
    )
    (notes / "a.md").write_text(text, encoding="utf-8")
    result = run(notes, tmp_path)
    atoms = result.analysis.atoms
    assert [a.question for a in atoms] == ["特殊 token 有哪些？", "公式没闭合会怎样？", "最后一题？"]
    back = result.cards[[c.atom.question for c in result.cards].index("特殊 token 有哪些？")].back_html
    assert "&lt;eos&gt;" in back and "&lt;pad&gt;" in back and "&lt;unk&gt;" in back
    assert "**粗体**" in back and "[toc]" in back and "[CLS]" in back and "\\[" not in back
    assert "六层" in back and "onclick" not in back and "<b>片段</b>" in back
    assert "# 这是注释" in back and "$不是公式$" in back
    c = codes(result)
    assert len(c["math"]) == 2 and all("a.md:25" in m for m in c["math"])
    assert any("a.md:29" in m for m in c["unclosed-fence"])


@pytest.mark.parametrize(
    "snippet, bad",
    [
        ("<script>window.__xss=1</script>", "<script"),
        ('<img src=x onerror="window.__xss=1">', "onerror"),
        ("[点我](javascript:alert(1))", 'href="javascript:'),
        ('<a href="javascript:alert(1)">a</a>', 'href="javascript:'),
        ("<iframe src=\"https://example.com\"></iframe>", "<iframe"),
        ("<svg onload=alert(1)>", "onload"),
    ],
)
def test_nothing_runs(tmp_path: Path, snippet: str, bad: str) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text(f"## A\n\n### GQA 是什么？\n\n答案 {snippet} 结束。\n", encoding="utf-8")
    result = run(notes, tmp_path)
    for card in result.cards:
        for html_text in card.fields:
            assert not active(html_text), (bad, html_text)
            assert bad not in html_text.lower() or "&lt;" in html_text  # only as text
    page = (tmp_path / "out" / "graph.html").read_text(encoding="utf-8")
    # note text only lives in the escaped JSON data block of the map
    if "<" in snippet:
        assert snippet not in page


def test_images_outside_the_notes_are_refused_and_remote_ones_not_fetched(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (tmp_path / "secret.png").write_bytes(b"\x89PNG\r\n\x1a\nsecret")
    (notes / "ok.png").write_bytes(b"\x89PNG\r\n\x1a\nok")
    text = (
        "## A\n\n### 图？\n\n![ok](ok.png)\n\n![up](../secret.png)\n\n"
        f"![abs]({tmp_path / 'secret.png'})\n\n![remote](https://example.com/x.png)\n"
    )
    (notes / "a.md").write_text(text, encoding="utf-8")
    result = run(notes, tmp_path)
    [card] = [c for c in result.cards if c.atom.source == "a.md"]
    assert len(card.media) == 1 and card.media[0].name == "ok.png"
    assert card.back_html.count("<img") == 1  # only the image inside the notes folder
    assert 'href="https://example.com/x.png"' in card.back_html and "<img src=\"https" not in card.back_html
    c = codes(result)
    assert len(c["image-outside"]) == 2


def test_interrupted_build_leaves_previous_outputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text(Q, encoding="utf-8")
    run(notes, tmp_path)
    deck = tmp_path / "out" / "notes.apkg"
    before = deck.read_bytes()
    (notes / "a.md").write_text(Q + "\n### 新问题？\n\n新答案。\n", encoding="utf-8")
    import zipfile

    real_writestr = zipfile.ZipFile.writestr

    def boom(self: zipfile.ZipFile, info: zipfile.ZipInfo | str, data: object, *a: object, **k: object) -> None:
        # the collection is already in the half-written `.part` file when the user hits Ctrl-C
        name = info.filename if isinstance(info, zipfile.ZipInfo) else info
        if name == "media":
            raise KeyboardInterrupt
        real_writestr(self, info, data, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(zipfile.ZipFile, "writestr", boom)
    with pytest.raises(KeyboardInterrupt):
        run(notes, tmp_path)
    assert deck.read_bytes() == before
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.endswith((".part", ".tmp"))]


def test_big_and_many_files(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    block = "### {i}. 第 {i} 个问题是什么？\n\n" + "这是答案的一句话，含公式 $x_{i}^2$。" * 30 + "\n\n"
    big = "## 大文件\n\n" + "".join(block.format(i=i) for i in range(1, 9000))
    assert len(big.encode("utf-8")) > 20 * 1024 * 1024 // 2
    (notes / "big.md").write_text(big, encoding="utf-8")
    many = notes / "many"
    many.mkdir()
    for i in range(2000):
        (many / f"n{i:05d}.md").write_text(f"## 小\n\n### 问题 {i} 是什么？\n\n答案 {i}。\n", encoding="utf-8")
    diags = Diagnostics()
    from bagu2anki.pipeline import analyse

    analysis = analyse(Config(paths=(notes,)), diags)
    assert len(analysis.atoms) == 8999 + 2000
    assert diags.errors == 0


def test_mixed_bad_folder_builds_imports_and_reports_each_problem_once(tmp_path: Path) -> None:
    pytest.importorskip("anki")
    from anki_support import import_package, new_collection

    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "gbk.md").write_bytes(Q.encode("gb18030"))
    (notes / "bom16.md").write_bytes(("## B\n\n### MQA 是什么？\n\n<script>alert(1)</script>共享 KV。\n").encode("utf-16"))
    (notes / "math.md").write_text("## C\n\n### 公式？\n\n$a_1 + b\n\n![x](../../etc/passwd)\n", encoding="utf-8")
    (notes / "empty.md").write_text("", encoding="utf-8")
    (notes / "fence.md").write_text("## D\n\n### 代码？\n\n```\nx\n", encoding="utf-8")
    res = CliRunner().invoke(main, ["build", str(notes), "-o", str(tmp_path / "out"), "--lock", str(tmp_path / "l.lock")])
    assert res.exit_code == 1  # the refused image is an error
    report = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    diag_lines = [ln for ln in report.splitlines() if ln.startswith("- `")]
    assert len(diag_lines) == len(set(diag_lines))
    for needle in ("math.md:5", "math.md:7", "fence.md:5", "gbk.md", "empty.md"):
        assert any(needle in ln for ln in diag_lines), needle
    col = new_collection(tmp_path / "anki")
    try:
        import_package(col, tmp_path / "out" / "notes.apkg")
        assert col.note_count() >= 4
    finally:
        col.close()


def test_a_missing_image_in_the_notes_is_not_refused_as_outside(tmp_path: Path) -> None:
    """`../img/x.png` from `sub/a.md` points inside the notes (read from the root it would leave
    them): a missing file is `missing-image`, not a refused path."""
    notes = tmp_path / "notes"
    (notes / "sub").mkdir(parents=True)
    (notes / "sub" / "a.md").write_text("## A\n\n### 图？\n\n![x](../img/x.png)\n", encoding="utf-8")
    c = codes(run(notes, tmp_path))
    assert "image-outside" not in c and len(c["missing-image"]) == 1
