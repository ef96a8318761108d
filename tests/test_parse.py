"""Readers: golden fixtures, the real flat-text seed, a real Markdown corpus, and properties."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import NOTES, need_corpus, need_seed
from golden import expected_path, inputs, parse_fixture
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bagu2anki import sources
from bagu2anki.diagnostics import Diagnostics
from bagu2anki.model import Document, SourceFile
from bagu2anki.parse import read


def read_path(path: Path) -> list[Document]:
    diags = Diagnostics()
    docs = []
    for f in sources.discover([path], diags):
        src = sources.load(f, diags)
        if src is not None:
            docs.append(read(src, diags))
    return docs


def read_text(text: str, name: str = "n.md") -> Document:
    fmt = sources.detect_format(Path(name), text)
    src = SourceFile(Path(name), name, sources.normalise(text), "utf-8", fmt, Path("."))
    return read(src, Diagnostics())


@pytest.mark.parametrize("path", inputs(), ids=lambda p: p.name)
def test_golden(path: Path) -> None:
    expected = json.loads(expected_path(path).read_text(encoding="utf-8"))
    assert parse_fixture(path) == expected


def test_seed_has_37_questions_in_4_sections() -> None:
    [doc] = read_path(need_seed())
    atoms = doc.atoms
    assert len(atoms) == 37
    assert sorted({a.section[-1] for a in atoms}) == ["模板1", "模板2", "模板3", "模板4"]
    counts = {s: sum(1 for a in atoms if a.section[-1] == s) for s in ("模板1", "模板2", "模板3", "模板4")}
    assert counts == {"模板1": 10, "模板2": 12, "模板3": 10, "模板4": 5}
    kinds = [a.kind for a in atoms if a.section[-1] == "模板1"]
    assert kinds == ["八股"] * 5 + ["项目"] * 3 + ["智力题", "代码题"]
    numbers = [a.number for a in atoms if a.section[-1] == "模板4"]
    assert numbers == ["1", "4", "5", "7", "9"]  # numbers may skip


def test_seed_answers_stay_whole() -> None:
    [doc] = read_path(need_seed())
    by_q = {a.question: a for a in doc.atoms}
    rag_noise = by_q["RAG如果有噪声怎么办"]
    # the answer's own numbered list (2., 3.) stays inside answer 8
    assert "2. 检索阶段去噪技术" in rag_noise.answer and "3. 推理阶段抗噪优化" in rag_noise.answer
    zero = next(a for a in doc.atoms if "ZeRO Stage" in a.question)
    assert "1.模型参数:" in zero.answer and "megatron就是列切,行切" in zero.answer
    cross = next(a for a in doc.atoms if a.question.startswith("attention 及其变体"))
    assert "4. 为什么这样设计?" in cross.answer
    mla = next(a for a in doc.atoms if a.question.startswith("除了MHA"))
    assert "为什么这些改进重要?" in mla.answer  # a line ending in ？ inside an answer is no new card
    assert doc.atoms[0].status == "link_only"
    statuses = {a.question[:8]: a.status for a in doc.atoms}
    assert statuses["介绍RAG项目"] == "unanswered"


def test_seed_every_line_accounted_for() -> None:
    [doc] = read_path(need_seed())
    assert_lines_accounted(doc)


def assert_lines_accounted(doc: Document) -> None:
    lines = doc.source.text.split("\n")
    owner: dict[int, str] = {}
    for a in doc.atoms:
        for ln in range(a.line, a.end_line + 1):
            assert ln not in owner, f"line {ln} in two places"
            owner[ln] = "atom"
    for u in doc.unattached:
        for ln in range(u.line, u.end_line + 1):
            assert ln not in owner, f"line {ln} in two places"
            owner[ln] = "unattached"
    for ln in doc.structure:
        owner.setdefault(ln, "structure")
    missing = [i + 1 for i, t in enumerate(lines) if t.strip() and (i + 1) not in owner]
    assert not missing, f"lines lost: {missing[:10]}"
    starts = [a.line for a in doc.atoms]
    assert starts == sorted(starts)


def test_starter_notes_read() -> None:
    docs = read_path(NOTES)
    atoms = [a for d in docs for a in d.atoms]
    assert len(atoms) >= 40
    assert sum(1 for a in atoms if a.status == "answered") >= 40
    for d in docs:
        assert_lines_accounted(d)
    chains = {parts for d in docs for parts, _ in d.chains}
    assert ("MHA", "MQA", "GQA", "MLA") in chains
    assert ("DP", "ZeRO-1", "ZeRO-2", "ZeRO-3", "FSDP") in chains
    assert any(a.status == "reference" for a in atoms)
    assert any(a.status == "link_only" for a in atoms)


def test_corpus_styles_found() -> None:
    docs = read_path(need_corpus() / "docs")
    by_file = {d.source.rel: d for d in docs}
    assert len(by_file["interview/high-frequency.md"].atoms) >= 50  # **问题？** 答案
    assert len(by_file["interview/finetuning-platform-qna.md"].atoms) >= 15  # **Q：…** then answer
    assert len(by_file["interview/real-questions.md"].atoms) >= 100  # numbered lists of questions
    attention = by_file["basics/attention.md"]
    assert any(a.question.startswith("为什么除以") for a in attention.atoms)
    # a tutorial's `### 1.1 直觉` stays a section, its text is reported, not turned into a card
    assert not any(a.question == "直觉" for a in attention.atoms)
    assert attention.unattached
    for d in docs:
        assert_lines_accounted(d)


def test_headings_in_code_are_not_headings() -> None:
    doc = read_text("## 代码\n\n### 1. 怎么写 causal mask？\n\n```python\n# 这是注释\nx = 1\n```\n")
    assert len(doc.atoms) == 1
    assert "# 这是注释" in doc.atoms[0].answer


def test_explicit_id_is_read_and_removed() -> None:
    doc = read_text("## A\n\n### 为什么？\n<!-- id: why-1 -->\n答案。\n")
    assert doc.atoms[0].explicit_id == "why-1"
    assert "id:" not in doc.atoms[0].answer


def test_text_detected_without_markdown_structure() -> None:
    assert sources.detect_format(Path("a.txt"), "模板1\n八股:x?\n答案\n") == "text"
    assert sources.detect_format(Path("a.txt"), "# 标题\n\n```\ncode\n```\n") == "markdown"


_line = st.one_of(
    st.sampled_from(
        [
            "## 注意力",
            "### 1. 为什么要除以根号 dk？",
            "**Q：什么是 GQA？** 分组共享 KV。",
            "**RoPE 怎么外推？**",
            "- **Q：MCP 是什么？**",
            "  A：一个协议。",
            "八股：LoRA 的原理？",
            "项目:介绍项目",
            "1. 介绍 RAG",
            "2.怎么评估？",
            "模板1",
            "```python",
            "```",
            "$$",
            "x_1 + y",
            "$a_b$ 与 \\(c\\)",
            "| a | b |",
            "|---|---|",
            "- 列表项",
            "",
            "::: tip",
            ":::",
            "<eos> 和 <pad>",
            "\\[CLS] \\*\\*",
        ]
    ),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=30),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_line, max_size=40), st.sampled_from(["n.md", "n.txt"]))
def test_parser_never_raises_and_keeps_every_line(lines: list[str], name: str) -> None:
    doc = read_text("\n".join(lines), name)
    assert_lines_accounted(doc)


def test_a_section_intro_is_no_card_even_with_a_figure() -> None:
    """No card is made from a section just because it holds an image: the intro is listed."""
    doc = read_text("# RAG 基础\n\n![流程图](/diagrams/rag.svg)\n\n> 一段导语。\n\n## 问答\n\n**Q：RAG 是什么？** 检索增强生成。\n")
    assert [a.question for a in doc.atoms] == ["RAG 是什么？"]
    assert any("![流程图]" in u.text for u in doc.unattached)
    plain = read_text("# RAG 基础\n\n一段没有图的导语。\n\n## 问答\n\n**Q：RAG 是什么？** 检索增强生成。\n")
    assert [a.question for a in plain.atoms] == ["RAG 是什么？"] and plain.unattached


def test_bold_label_lists_are_not_questions() -> None:
    doc = read_text("## 方向\n\n1. **数据怎么进来**：解析、清洗。\n2. **证据怎么找对**：混合检索。\n")
    assert doc.atoms == ()


def test_numbered_points_of_an_answer_stay_in_it() -> None:
    """Numbered lines that ask without a mark start questions only when they continue the
    numbering of the questions before them; an answer's own points never split it."""
    doc = read_text(
        "## 微调\n\n**Q：LoRA 怎么用？**\n\n1、如何选择秩 r\n\n一般 8 到 64。\n\n2、如何初始化两个矩阵\n\nA 随机，B 置零。\n\n"
        "### 1. 什么是 SFT？\n\n有监督微调。\n\n**1. 原理**\n\n预测下一个 token。\n\n**2. 为什么要先做 SFT**\n\n学会对话格式。\n"
    )
    assert [a.question for a in doc.atoms] == ["LoRA 怎么用？", "什么是 SFT？"]
    assert "2、如何初始化两个矩阵" in doc.atoms[0].answer
    assert "**2. 为什么要先做 SFT**" in doc.atoms[1].answer
    assert_lines_accounted(doc)


def test_problem_statements_are_not_questions() -> None:
    """`问题：` also means "the problem:"; it labels a question only when a question follows."""
    doc = read_text(
        "## 量化\n\n### 为什么要量化？\n\n省显存。\n\n**问题**：离群值把 scale 撑大，其余数值挤进很少的格子：\n\n- 精度下降\n\n"
        "问题：per-tensor 量化损失大。\n"
    )
    assert [a.question for a in doc.atoms] == ["为什么要量化？"]
    assert "离群值" in doc.atoms[0].answer and "per-tensor" in doc.atoms[0].answer


def test_question_callout_answer_ends_with_its_quote() -> None:
    doc = read_text(
        "## RAG\n\n> [!question] 为什么要重排？\n> 召回粗，重排准。\n\n> [!tip] 提示\n> 这是普通提示框。\n"
    )
    assert [a.question for a in doc.atoms] == ["为什么要重排？"]
    assert doc.atoms[0].answer == "召回粗，重排准。\n\n> [!tip] 提示\n> 这是普通提示框。"


def test_bold_items_of_a_question_list_lose_their_stars() -> None:
    doc = read_text("## 面试题\n\n1. **简述 LoRA 的原理**\n   冻结原权重。\n2. **介绍一下 QLoRA？**\n   4bit 量化基座。\n")
    assert [a.question for a in doc.atoms] == ["简述 LoRA 的原理", "介绍一下 QLoRA？"]


def test_headings_that_ask_in_words_among_question_headings() -> None:
    doc = read_text(
        "## 位置编码\n\n### RoPE 为什么能外推？🔥\n\n配合插值。\n\n### ALiBi 为什么不需要位置向量？\n\n偏置只看距离。\n\n"
        "### 说一说 YaRN\n\n分段插值加温度。\n\n### 绝对和相对位置编码的区别\n\n加在输入上或注意力里。\n"
    )
    assert [a.question for a in doc.atoms] == [
        "RoPE 为什么能外推？🔥", "ALiBi 为什么不需要位置向量？", "说一说 YaRN", "绝对和相对位置编码的区别",
    ]
    tutorial = read_text("## 训练\n\n### 数据清洗\n\n去重。\n\n### 说明\n\n略。\n\n### 为什么要预热？\n\n稳定。\n")
    assert [a.question for a in tutorial.atoms] == ["为什么要预热？"]


def test_design_tasks_in_a_list_and_interview_headings() -> None:
    doc = read_text(
        "## 系统设计\n\n1. **设计一个企业知识库问答系统**：切分、检索、重排、权限。\n"
        "2. **设计一个高并发推理服务**：批处理、限流、缓存。\n\n"
        "## 面试专项：LoRA 参数怎么调\n\n先看任务复杂度，再定 r。\n\n## 面试专项：量化上线验收清单\n\n- 精度\n- 延迟\n"
    )
    assert [(a.question, a.answer) for a in doc.atoms] == [
        ("设计一个企业知识库问答系统", "切分、检索、重排、权限。"),
        ("设计一个高并发推理服务", "批处理、限流、缓存。"),
        ("LoRA 参数怎么调", "先看任务复杂度，再定 r。"),
    ]


@pytest.mark.parametrize(
    "titles",
    [
        ("项目一 知识库", "项目二 Agent", "项目三 微调", "项目四 部署"),
        ("一、基础", "二、进阶", "三、工程", "四、面经"),
        ("模板5:字节", "模板6:阿里", "模板7:腾讯", "模板8:美团"),
    ],
    ids=["项目一", "一、", "模板5:字节"],
)
def test_seed_reads_the_same_under_other_section_titles(titles: tuple[str, ...]) -> None:
    """The rest of the seed's notes name their sections otherwise; the questions must not move."""
    text = need_seed().read_text(encoding="utf-8")
    base = read_text(text, "seed.txt")
    for k, title in enumerate(titles, 1):
        text = text.replace(f"模板{k}", title)
    doc = read_text(text, "seed.txt")
    assert [a.question for a in doc.atoms] == [a.question for a in base.atoms]
    assert [a.section[-1] for a in doc.atoms] == [titles[int(a.section[-1][-1]) - 1] for a in base.atoms]


def test_one_question_per_file_the_name_asks() -> None:
    """`大模型有哪些评估指标？.md`: the file's name is the question, repeated (nearly) as its first
    line; the sub-headings that ask are steps of that one answer."""
    text = "大模型有哪些评估指标?\n\n## 1. 什么是困惑度?\n\n困惑度衡量预测的不确定性。\n\n## 2. 为什么还要人工评估?\n\n自动指标不够。\n"
    doc = read_text(text, "大模型有哪些评估指标？.md")
    assert [a.question for a in doc.atoms] == ["大模型有哪些评估指标？"]
    assert doc.atoms[0].line == 1 and doc.atoms[0].end_line == 9 and "什么是困惑度" in doc.atoms[0].answer
    assert_lines_accounted(doc)
    # a name that does not ask, or a file whose first line is something else with questions: as before
    plain = read_text("## 1. 什么是困惑度?\n\n困惑度。\n", "评估指标.md")
    assert [a.question for a in plain.atoms] == ["什么是困惑度?"]
    other = read_text("## 1. 什么是困惑度?\n\n困惑度。\n", "大模型有哪些评估指标？.md")
    assert [a.question for a in other.atoms] == ["什么是困惑度?"]
    article = read_text("开场白一段，讲背景。\n\n## 背景\n\n一些说明。\n", "为什么要做量化？.md")
    assert [a.question for a in article.atoms] == ["为什么要做量化？"]
