"""`check` tells where notes may have been misread: a file with text but no question
(`no-questions`), text in no question (`unattached`, informational) and text that looks like the
rest of an answer cut off by a heading (`unattached-after-answer`)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from conftest import NOTES

from bagu2anki.cli import main

READING = ("no-questions", "article", "uncarded-text", "unattached", "unattached-after-answer")

PROSE = """---
title: 学习笔记
---

## 背景

注意力机制让每个位置都能看到其它位置。
多头注意力把表示拆到多个子空间。

## 细节

KV Cache 缓存历史的键和值。
GQA 让多个查询头共享一组键值头。
MLA 把键值压缩成低秩的潜向量。
"""

TABLE = """# 位置编码速查

| 考点 | 说明 |
| --- | --- |
| RoPE 为什么能外推？ | 要配合插值 |
| ALiBi 为什么不需要位置向量？🔥 | 偏置只和距离有关 |
"""

ANSWERED = "## 注意力\n\n### 为什么要除以根号 d？\n\n方差会随维度变大。\n"

CUT = """## 注意力

**1. 什么是 Self-Attention？**

每个位置都能看到其它所有位置。

#### 代码实现

```python
def attention(q, k, v):
    return softmax(q @ k.T) @ v
```

## 归一化

**2. 为什么用 RMSNorm？**

省掉减均值，计算更省。
"""


def _notes(tmp_path: Path, files: dict[str, str]) -> Path:
    notes = tmp_path / "notes"
    for name, text in files.items():
        (notes / name).parent.mkdir(parents=True, exist_ok=True)
        (notes / name).write_text(text, encoding="utf-8")
    return notes


def _check(tmp_path: Path, notes: Path, *args: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, ["check", str(notes), "--lock", str(tmp_path / "l.lock"), *args])
    if "github" in args:  # annotations name files from the working folder; these notes are elsewhere
        return res.exit_code, res.output.replace(f"file={notes.as_posix()}/", "file=")
    return res.exit_code, res.output


def _json(tmp_path: Path, notes: Path) -> list[dict[str, object]]:
    code, out = _check(tmp_path, notes, "--format", "json")
    assert code in (0, 1), out
    items: list[dict[str, object]] = json.loads(out)
    return [i for i in items if i["code"] in READING]


def test_a_file_of_prose_with_no_question_is_a_warning(tmp_path: Path) -> None:
    """Headings that state topics over prose, nothing that asks: read as an article, and said."""
    notes = _notes(tmp_path, {"prose.md": PROSE, "ok.md": ANSWERED})
    code, out = _check(tmp_path, notes)
    assert code == 0, out
    # the first line of text, past the front matter and the heading
    assert "prose.md:7: warning: read as an article: 2 headings that state topics and 5 lines of prose" in out
    assert "docs/reading.md" in out  # the hint points at the list of styles
    code, _ = _check(tmp_path, notes, "--strict")
    assert code == 1
    [item] = [i for i in _json(tmp_path, notes) if i["code"] == "article"]
    assert (item["path"], item["line"], item["severity"]) == ("prose.md", 7, "warning")
    # a file that asks but gives no question is the other warning
    asks = _notes(tmp_path / "b", {"asks.md": "## 背景\n\n注意力为什么要缩放？\n这里没有写成问题的样子。\n还有一行。\n"})
    _code, out = _check(tmp_path / "b", asks)
    assert "no question read from" in out or "asks.md" not in out


def test_questions_in_a_table_are_not_read_and_that_is_said(tmp_path: Path) -> None:
    """A table headed 问题 | 答案 gives a card per row; one headed otherwise stays a table, and a
    file of such tables says that no question was read."""
    notes = _notes(tmp_path, {"速查.md": TABLE})
    code, out = _check(tmp_path, notes, "--strict")
    assert code == 1
    assert "速查.md:3: warning: no question read from 3 lines of text" in out
    assert "0 questions; 0 errors, 1 warning\n" in out
    (notes / "速查.md").write_text(TABLE.replace("| 考点 | 说明 |", "| 问题 | 答案 |"), encoding="utf-8")
    code, out = _check(tmp_path, notes, "--strict")
    assert code == 0, out
    assert "2 questions; 0 errors, 0 warnings" in out


def test_files_that_are_not_notes_are_not_flagged(tmp_path: Path) -> None:
    notes = _notes(
        tmp_path,
        {
            "README.md": "# 我的八股笔记\n\n整理的大模型面试笔记，持续更新。\n\n## 目录\n\n"
            "- [注意力](attention.md)\n- [位置编码](pos.md)\n- [微调](https://example.com/ft)\n",
            "SOURCE.txt": "repo: https://github.com/x/y\ncommit: abc\nlicense: MIT License\n"
            "extracted: 49 markdown files\nnotes: site sources copied as they are\nfiles:\n  docs/a.md\n",
            "index.md": "---\nlayout: home\nhero:\n  name: 面试指南\n  tagline: 系统整理大模型八股文与高频面试题\n---\n\n"
            "## 必看\n\n- **[入门](/start)**：完全没接触过 AI？从这里开始。\n\n"
            '<div class="cta">\n  <p>本项目完全开源免费，持续更新维护。</p>\n</div>\n',
            "concepts.yaml": "- id: GQA\n  name: GQA\n",
            "attention.md": ANSWERED,
        },
    )
    code, out = _check(tmp_path, notes, "--strict")
    assert code == 0, out
    assert not [i for i in _json(tmp_path, notes) if i["severity"] != "info"]


def test_text_in_no_question_is_an_info_with_its_line_and_opening(tmp_path: Path) -> None:
    intro = "本节整理注意力相关的高频问题，答案以自己的理解为主，公式推导和代码实现都放在本文最后的附录里面，方便复习。"
    assert len(intro) > 40
    notes = _notes(
        tmp_path,
        {"a.md": f"## 注意力\n\n{intro}\n\n### 为什么要除以根号 d？\n\n方差会随维度变大。\n"},
    )
    code, out = _check(tmp_path, notes, "--strict")
    assert code == 0, out
    assert "unattached" not in out and "in no question" not in out  # informational: only with -v
    code, out = _check(tmp_path, notes, "-v")
    assert code == 0
    assert f"a.md:3: info: text in no question (under “注意力”): {intro[:40]}…" in out
    [item] = _json(tmp_path, notes)
    assert (item["path"], item["line"], item["severity"], item["code"]) == (
        "a.md",
        3,
        "info",
        "unattached",
    )
    code, out = _check(tmp_path, notes, "--format", "github", "-v")
    assert "::notice file=a.md,line=3::text in no question" in out


def test_a_heading_that_cuts_an_answer_short_is_a_warning(tmp_path: Path) -> None:
    notes = _notes(tmp_path, {"a.md": CUT})
    code, out = _check(tmp_path, notes)
    assert code == 0, out
    assert (
        "a.md:9: warning: 4 lines (under “代码实现”) right after the answer at line 3 are in no question"
        in out
    )
    code, out = _check(tmp_path, notes, "--strict")
    assert code == 1
    code, out = _check(tmp_path, notes, "--format", "github")
    assert "::warning file=a.md,line=9::4 lines (under “代码实现”)" in out
    items = _json(tmp_path, notes)
    assert [(i["line"], i["code"]) for i in items] == [(9, "unattached-after-answer")]


def test_introductions_and_tutorial_sections_stay_informational(tmp_path: Path) -> None:
    """An introduction with questions under it, and a tutorial section after a heading
    question (its own section, not part of that answer), are not misreadings."""
    notes = _notes(
        tmp_path,
        {
            "intro.md": "## 注意力\n\n**1. 什么是 Self-Attention？**\n\n每个位置都能看到其它位置。\n\n"
            "### 变体\n\n下面几题都和省 KV 有关：\n\n- MQA\n- GQA\n- MLA\n\n"
            "**2. GQA 为什么省显存？**\n\nKV 头变少了。\n",
            "tutorial.md": "# 位置编码\n\n## 一、为什么需要位置编码？\n\n注意力对顺序无感知。\n\n"
            "## 二、主要方案\n\n| 方案 | 类型 |\n| --- | --- |\n| RoPE | 相对 |\n| ALiBi | 偏置 |\n",
        },
    )
    code, out = _check(tmp_path, notes, "--strict")
    assert code == 0, out
    items = _json(tmp_path, notes)
    assert {(i["path"], i["line"], i["severity"]) for i in items} == {
        ("intro.md", 9, "info"),
        ("tutorial.md", 9, "info"),
    }


def test_the_report_lists_unattached_text_once_and_marks_the_suspicious(tmp_path: Path) -> None:
    notes = _notes(tmp_path, {"a.md": CUT, "prose.md": PROSE})
    out = tmp_path / "out"
    res = CliRunner().invoke(
        main, ["build", str(notes), "-o", str(out), "--lock", str(tmp_path / "l.lock")]
    )
    assert res.exit_code == 0, res.output
    report = (out / "report.md").read_text(encoding="utf-8")
    listed, diagnostics = report.split("## Diagnostics", 1)
    assert "- a.md:9-12 ⚠ — ```python" in listed
    assert "- prose.md:7-8 — 注意力机制让每个位置都能看到其它位置。" in listed  # an article: nothing misread
    assert "`a.md:9`: warning: 4 lines (under “代码实现”)" in diagnostics
    assert "`prose.md:7`: warning: read as an article" in diagnostics
    assert (
        "info: text in no question" not in diagnostics
    )  # the informational notes are the list above
    assert "- prose.md:12-14 — KV Cache 缓存历史的键和值。" in listed


def test_the_starter_notes_stay_clean_under_strict(tmp_path: Path) -> None:
    code, out = _check(tmp_path, NOTES, "--strict")
    assert code == 0, out
    items = _json(tmp_path, NOTES)
    assert all(i["severity"] == "info" for i in items), items


def test_a_flat_answers_list_item_that_could_be_the_next_question_is_noted(tmp_path: Path) -> None:
    text = "模板1\n1.RAG 的流程？\n检索再生成。\n2.怎么选 chunk 大小？\n1. 看文档结构\n2. 看模型窗口\n3. 为什么不能太小\n3.向量数据库怎么选型？\n看规模。\n"
    notes = _notes(tmp_path, {"flat.txt": text})
    code, out = _check(tmp_path, notes, "-v", "--strict")
    assert code == 0, out  # informational: the reading is the likely one
    assert "flat.txt:7: info: '3. 为什么不能太小' could be question 3" in out
    assert "3 questions" in out


def test_a_file_whose_text_mostly_reaches_no_card_says_where(tmp_path: Path) -> None:
    """One question and three long paragraphs of tutorial prose around it: one warning naming the
    largest blocks left out by line (and a pointer to `show`), not one line per block."""
    para = "注意力机制让每个位置都能看到其它位置，多头把表示拆到多个子空间，再拼回去做线性变换。" * 3
    text = f"## 背景\n\n{para}\n\n## 细节\n\n{para}\n{para}\n\n### 什么是 GQA？\n\n多个查询头共享一组键值头。\n\n## 小结\n\n{para}\n"
    notes = _notes(tmp_path, {"mixed.md": text})
    _code, out = _check(tmp_path, notes)
    [line] = [ln for ln in out.splitlines() if "is in no card" in ln]
    assert line.startswith("mixed.md:7: warning: ") and "lines 7–8" in line and "bagu2anki show mixed.md" in line
    items = [i for i in _json(tmp_path, notes) if i["code"] == "uncarded-text"]
    assert len(items) == 1
