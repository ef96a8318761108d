"""A notes folder written by an attacker and an unlucky user at once, built and imported into
real Anki: no script reachable on any card, every question imported, nothing read from outside
the folder; and random hostile Markdown thrown at `build`."""

from __future__ import annotations

import os
import re
import stat
import zipfile
from dataclasses import replace
from html import unescape
from pathlib import Path

import pytest
from html_probe import active
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_parse import assert_lines_accounted

from bagu2anki import sources
from bagu2anki.config import Config
from bagu2anki.diagnostics import Diagnostics
from bagu2anki.pipeline import BuildResult, build

_FIELD_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
GBK_NAME = "面经一面".encode("gbk") + b".md"  # a file name from a Windows zip: not UTF-8


def hostile_notes(root: Path) -> Path:
    notes = root / "notes"
    (notes / ".ssh").mkdir(parents=True)
    (notes / ".ssh" / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nsecret\n", encoding="utf-8")
    (root / "outside.md").write_text("## 外面的文件？\n\n不该被读到。\n", encoding="utf-8")
    (notes / "注意力.md").write_text(
        '# 注意力 <img src=x onerror="alert(document.title)">\n\n'
        "## 1. <style> 和 <link> 的区别？\n\n<style> 写样式，<link> 引入外部样式表。\n\n"
        "## 2. List<Object> 和 Map<K, V> 是什么？\n\n<script>\n泛型容器；`List<String>` 也是。\n\n"
        "## 3. <div> 和 <span> 的区别？\n\n<textarea> 之后的内容也要在。块级与行内。\n\n"
        "## 4. 控制字符\x1f会怎样？\n\n答案里也有\x1f一个\x07。\n\n"
        "## 5. 图片能读到密钥吗？\n\n![](.ssh/id_rsa) ![](a%00.png) ![](../outside.md)\n\n"
        "## 6. 特殊 token <eos> 和 <pad>？\n\n结束与填充。<b>粗</b>仍是粗体。\n",
        encoding="utf-8",
    )
    (notes / "<img src=x onerror=alert(1)>.md").write_text("## 文件名有脚本？\n\n答案。\n", encoding="utf-8")
    (notes / "\x1f控制.md").write_text("## 文件名里有分隔符？\n\n答案。\n", encoding="utf-8")
    fd = os.open(os.fsencode(notes) + b"/" + GBK_NAME, os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(fd, "## GBK 文件名的题？\n\n照样读。\n".encode())
    os.close(fd)
    os.mkfifo(notes / "pipe.md")
    (notes / "zero.md").symlink_to("/dev/zero")
    (notes / "leak.md").symlink_to(root / "outside.md")
    return notes


def _build(notes: Path, root: Path) -> BuildResult:
    return build(Config(paths=(notes,), out=root / "out", lock=root / "l.lock", deck="..", jobs=500))


def test_hostile_notes_build_safely(tmp_path: Path) -> None:
    notes = hostile_notes(tmp_path)
    result = _build(notes, tmp_path)
    questions = [a.question for a in result.analysis.atoms]
    assert "<style> 和 <link> 的区别？" in questions
    assert "List<Object> 和 Map<K, V> 是什么？" in questions and "<div> 和 <span> 的区别？" in questions
    assert "特殊 token <eos> 和 <pad>？" in questions  # later questions survive the tags above them
    assert "GBK 文件名的题？" in questions and "文件名有脚本？" in questions
    assert "外面的文件？" not in questions  # the symlink out of the folder is not followed
    assert not any(c.media for c in result.cards)  # no key, no NUL path, nothing outside bundled
    codes = {d.code for d in result.diagnostics.items}
    assert {"special-file", "symlink-outside", "control-character", "image-refused"} <= codes
    deck = tmp_path / "out" / "deck.apkg"  # --deck .. names no hidden file
    assert deck.is_file() and not (tmp_path / "out" / "...apkg").exists()
    for card in result.cards:
        for f in card.fields:
            assert not _FIELD_BAD.search(f) and not active(f), f
        assert not any(_FIELD_BAD.search(t) or " " in t for t in card.tags)
        assert not _FIELD_BAD.search(card.deck)
    back = next(c for c in result.cards if c.atom.question.startswith("List<Object>")).back_html
    assert "泛型容器" in back and "&lt;script&gt;" in back
    with zipfile.ZipFile(deck) as z:
        assert z.testzip() is None


def test_hostile_deck_in_real_anki(tmp_path: Path) -> None:
    anki_support = pytest.importorskip("anki_support")
    notes = hostile_notes(tmp_path)
    result = _build(notes, tmp_path)
    col = anki_support.new_collection(tmp_path / "anki")
    try:
        anki_support.import_package(col, tmp_path / "out" / "deck.apkg")
        assert col.note_count() == len(result.cards)  # every note imported
        shown = []
        for cid in col.find_cards(""):
            card = col.get_card(cid)
            q, a = card.question(), card.answer()
            assert not active(q) and not active(a), (q, a)
            shown.append(unescape(re.sub(r"<[^>]+>", "", q)))
        text = "\n".join(shown)
        assert "<style> 和 <link> 的区别？" in text and "List<Object>" in text and "<div> 和 <span>" in text
        assert 'onerror="alert(document.title)"' in text  # the heading's tag is shown as text
    finally:
        col.close()


_FRAGMENT = st.one_of(
    st.sampled_from([
        "## 什么是 GQA？", "### 1. <style> 和 <link>？", "**Q：为什么？**", "A：因为。", "- 问题？", "1. 第一问？",
        "<script>alert(1)</script>", "<style>", "</div>", "<div>", "<details><summary>答案</summary>", "</details>",
        "<img src=x onerror=alert(1)>", "List<Object>", "<eos>", "<textarea>", "<!-- id: x -->", "<pre>",
        "$a", "$$", "\\(", "\\[", "$x_1$ 与 $ y $", "```", "~~~", "`<b>`", "| a | b |", "|---|---|",
        "\x1f", "\x00", "\x07", "\x0b", "\ufeff", "\u2028", "> 问：引用的问题？", "::: tip", ":::", "[[链接]]", "![](x.png)",
        "", "", "正文一行。",
    ]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(_FRAGMENT, min_size=1, max_size=30), st.sampled_from(["n.md", "n.txt"]))
def test_random_hostile_notes_build(tmp_path_factory: pytest.TempPathFactory, lines: list[str], name: str) -> None:
    root = tmp_path_factory.mktemp("fuzz")
    notes = root / "notes"
    notes.mkdir()
    text = "\n".join(lines)
    (notes / name).write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        result = build(Config(paths=(notes,), out=root / "out", lock=root / "l.lock", use_cache=False, jobs=1))
    except Exception as err:  # no notes read (a file of control characters only) is a clean user error
        assert type(err).__name__ == "UserError", err
        return
    for doc in result.analysis.documents:  # the build drops each file's text once read: read it again
        diags = Diagnostics()
        [found] = sources.discover([notes / doc.source.rel], diags)
        again = sources.load(found, diags)
        assert again is not None
        assert_lines_accounted(replace(doc, source=again))
    for card in result.cards:
        for f in card.fields:
            assert not _FIELD_BAD.search(f) and not active(f), f
    with zipfile.ZipFile(root / "out" / "notes.apkg") as z:
        assert z.testzip() is None
    assert stat.S_ISREG((root / "out" / "graph.html").stat().st_mode)
