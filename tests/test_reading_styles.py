"""Styles the reader infers from a file's own consistency (our examples, written for these tests):
decorated topic headings per question, question spines (numbered, lettered, quoted, bulleted),
fenced interview logs, to-do runs, placeholder answers, references in several wordings, bold
questions with the mark outside, and file-name questions over an article."""

from __future__ import annotations

from pathlib import Path

import pytest

from bagu2anki import sources
from bagu2anki.diagnostics import Diagnostics
from bagu2anki.model import Document, SourceFile
from bagu2anki.parse import read


def _read(text: str, name: str = "n.md") -> Document:
    fmt = sources.detect_format(Path(name), text)
    return read(SourceFile(Path(name), name, sources.normalise(text), "utf-8", fmt, Path(".")), Diagnostics())


def _questions(doc: Document) -> list[str]:
    return [a.question for a in doc.atoms]


def test_decorated_topic_heading_per_question() -> None:
    doc = _read(
        "# 训练\n\n## Q07 · 学习率预热\n\n### 🎯 一句话答案\n\n先小后大。\n\n### 📖 推导\n\n$$\\eta_t = \\eta \\cdot t / T$$\n\n"
        "### 🪤 为什么预热能稳定训练？\n\nAdam 的二阶矩估计一开始不准。\n\n"
        "## 题目 3｜KV Cache\n\n缓存历史 K、V。\n\n### 问题 12 — 位置编码\n\n给每个位置一个向量。\n"
    )
    assert _questions(doc) == ["学习率预热", "为什么预热能稳定训练？", "KV Cache", "位置编码"]
    first = doc.atoms[0]
    assert first.number == "07" or first.number == "7"
    assert "先小后大" in first.answer and "eta_t" in first.answer  # its decorated sub-headings stay
    assert doc.atoms[2].number == "3" and doc.atoms[3].number == "12"


def test_numbered_sub_parts_stay_in_their_question() -> None:
    doc = _read(
        "## 概率\n\n### 3. MLE 和 MAP 的区别？\n\n#### 3.1 MLE\n\n只看似然。\n\n#### 3.2 MAP\n\n加先验。\n\n"
        "### 4. 什么是共轭先验？\n\n后验与先验同族。\n"
    )
    assert _questions(doc) == ["MLE 和 MAP 的区别？", "什么是共轭先验？"]
    assert "加先验" in doc.atoms[0].answer


def test_numbered_spine_of_topic_phrases_with_fenced_answers() -> None:
    text = (
        "1. 模型结构图\n\n```text\n左边编码器，右边解码器\n1.编码器六层\n2.解码器六层\n```\n\n"
        "2. 为什么用多头注意力\n\n```text\n多个子空间\n```\n\n"
        "3. 为什么要位置编码\n\n```text\n注意力本身不看顺序\n```\n"
    )
    doc = _read(text)
    assert _questions(doc) == ["模型结构图", "为什么用多头注意力", "为什么要位置编码"]
    assert "解码器六层" in doc.atoms[0].answer


def test_points_of_an_answer_are_no_spine() -> None:
    doc = _read("**怎么做数据清洗？**\n\n分三步：\n\n1. 去重\n2. 过滤低质\n3. 脱敏\n")
    assert _questions(doc) == ["怎么做数据清洗？"]


def test_lettered_and_quoted_questions() -> None:
    lettered = _read("a. 自注意力的公式\n\n\n\nb. 为什么要缩放\n\n防止 softmax 饱和。\n\nc. 为什么用 LayerNorm？\n\n按样本归一。\n")
    assert _questions(lettered) == ["自注意力的公式", "为什么要缩放", "为什么用 LayerNorm？"]
    assert lettered.atoms[0].status == "unanswered"
    quoted = _read("> BatchNorm 与 LayerNorm 的异同\n\n一个按批，一个按样本。\n\n> 为什么用 RMSNorm？\n\n省计算。\n")
    assert _questions(quoted) == ["BatchNorm 与 LayerNorm 的异同", "为什么用 RMSNorm？"]


def test_troubleshooting_bullets_ask_with_their_errors() -> None:
    doc = _read(
        "### 报错\n\n- AttributeError: 'Tok' object has no attribute 'sp'\n\n降级 transformers。\n\n"
        "- RuntimeError: worker is killed by signal\n\n调小 num_workers。\n\n"
        "- cannot copy out of meta tensor\n\n加载时关掉 empty_init。\n"
    )
    assert len(doc.atoms) == 3 and doc.atoms[1].answer == "调小 num_workers。"


def test_fenced_interview_log_and_later_answers() -> None:
    doc = _read(
        "面试记录\n\n```text\n1.lora 的参数\n2.deepspeed 了解吗\n3.位置编码有哪些\n还有一些记不清了\n```\n\n"
        "### DeepSpeed\n\nZeRO 分片优化器状态。\n\n3. 位置编码\n\n绝对、相对、旋转。\n"
    )
    assert _questions(doc)[:3] == ["lora 的参数", "deepspeed 了解吗", "位置编码有哪些"]
    assert all(a.status == "unanswered" for a in doc.atoms[:3])
    assert _questions(doc)[3:] == ["DeepSpeed", "位置编码"]


def test_a_todo_list_after_a_log_line_takes_no_remark() -> None:
    doc = _read("1. 讲一下 RAG 的流程\n2. 微调步骤\n3. 注意力机制怎么算\n\n求求了让我过吧\n")
    assert [a.status for a in doc.atoms] == ["unanswered"] * 3
    assert "求求了" not in doc.atoms[2].answer


def test_file_name_question_over_an_article() -> None:
    doc = _read(
        "## 导入\n\n价格在降，输出却更贵。\n\n## 机制\n\n预填充并行，解码串行。\n\n## 哪个开销更大？\n\n解码。\n\n"
        "## FAQ\n\nQ: 为什么 Q 不用缓存？\n\nA: 每步只用当前的 Q。\n",
        "输出token为什么比输入token贵？.md",
    )
    assert _questions(doc) == ["输出token为什么比输入token贵？", "为什么 Q 不用缓存？"]
    assert doc.atoms[0].line == 1 and "解码串行" in doc.atoms[0].answer and "哪个开销更大" in doc.atoms[0].answer


def test_headings_that_ask_in_words_and_headings_about_the_page() -> None:
    doc = _read("## 怎么用这页\n\n按顺序读。\n\n## 如何输出 json\n\n用约束解码。\n\n## What is LoRA\n\n低秩旁路。\n\n## A vs B\n\n对比。\n")
    assert _questions(doc) == ["如何输出 json", "What is LoRA"]


def test_bold_question_heading_ends_at_the_next_bold_line() -> None:
    doc = _read("## 3. 扣子\n\n**什么是扣子**\n\n一个应用开发平台。\n\n**发布平台**\n\n社交媒体。\n")
    assert _questions(doc) == ["什么是扣子"] and doc.atoms[0].answer == "一个应用开发平台。"


def test_a_coding_section_is_no_problem_its_tasks_are() -> None:
    doc = _read(
        "## 手撕 / 编码题\n\n常考。\n\n1. 用 PyTorch 实现 **Self-Attention**。\n2. 实现 **Softmax**（数值稳定）。\n"
        "3. 手写交叉熵。\n"
    )
    assert [a.kind for a in doc.atoms] == [None, None, None]
    assert len(doc.atoms) == 3 and "Softmax" in doc.atoms[1].question


def test_placeholder_answers_are_to_do() -> None:
    doc = _read("## 八股\n\n### 什么是 MoE？\n\n略\n\n### 什么是 GQA？\n\n。。不会\n\n### 什么是 MLA？\n\nTODO\n\n### 什么是 MHA？\n\n多头。\n")
    assert [a.status for a in doc.atoms] == ["unanswered", "unanswered", "unanswered", "answered"]
    same = _read("### 什么是 MoE？\n\n同上\n\n### 什么是 GQA？\n\n分组共享 KV。\n\n### GQA 的组数怎么选？\n\n同上\n")
    assert [a.status for a in same.atoms] == ["unanswered", "answered", "reference"]


def test_references_in_common_wordings() -> None:
    from bagu2anki.parse.rules import parse_reference

    assert parse_reference("模板2 问题4") == ("模板2", "4")
    assert parse_reference("见模板2 第4题") == ("模板2", "4")
    assert parse_reference("同模板2 Q4") == ("模板2", "4")
    assert parse_reference("参考 2.4 节") == ("", "2.4")
    assert parse_reference("2.4") is None and parse_reference("模板2 3") is None
    assert parse_reference("第二步先做归一化") is None


def test_check_names_the_likely_target_of_a_reference_one_off(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from bagu2anki.cli import main

    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "t.md").write_text(
        "## 模板2\n\n### 1. 什么是 LoRA？\n\nLoRA 在权重旁加低秩矩阵 A、B，只训练 A、B；LoRA 的秩 r 很小。\n\n"
        "### 2. 什么是 KV Cache？\n\nKV Cache 缓存历史的 K、V，KV Cache 让解码不再重算。\n\n"
        "## 模板3\n\n### 1. KV Cache 为什么能加速推理？\n\n模板2 问题1\n",
        encoding="utf-8",
    )
    res = CliRunner().invoke(main, ["check", str(notes), "-v", "--lock", str(tmp_path / "l.lock")])
    line = next(ln for ln in res.output.splitlines() if "is that the one meant" in ln)
    assert "t.md:13" in line and "什么是 LoRA" in line and "什么是 KV Cache" in line


def test_declared_patterns_win(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`[reading]` in bagu2anki.toml: the user's own question marker wins over our rules (a heading
    `Q3 · 预热` would be one anyway; `面试点 12` and `考点 -` are read only because they are declared),
    and `not_question` keeps a line that asks text."""
    import json

    from click.testing import CliRunner

    from bagu2anki.cli import main
    from bagu2anki.parse.common import ReadingRules

    rules = ReadingRules(question=(r"^面试点\s*\d+\s*[:：]", r"^考点\s*-"), not_question=(r"^思考题",))
    md = "## 面试点 12：学习率预热\n\n先小后大。\n\n考点 - 梯度裁剪\n\n按范数缩放。\n\n### 思考题：为什么？\n\n留给读者。\n"
    src = SourceFile(Path("n.md"), "n.md", md, "utf-8", "markdown", Path("."))
    doc = read(src, Diagnostics(), rules)
    assert _questions(doc) == ["学习率预热", "梯度裁剪"]
    assert "留给读者" not in doc.atoms[1].answer or doc.atoms[1].end_line < 11
    flat = "面试点 1：学习率预热\n先小后大。\n面试点 2：梯度裁剪\n按范数缩放。\n"
    src = SourceFile(Path("n.txt"), "n.txt", flat, "utf-8", "text", Path("."))
    assert _questions(read(src, Diagnostics(), rules)) == ["学习率预热", "梯度裁剪"]

    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "n.md").write_text(md, encoding="utf-8")
    settings = tmp_path / "bagu2anki.toml"
    settings.write_text(
        "[reading]\nquestion = ['^面试点\\s*\\d+\\s*[:：]', '^考点\\s*-']\nnot_question = '^思考题'\n", encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    res = runner.invoke(main, ["export", "atoms", str(notes), "--lock", str(tmp_path / "l.lock")])
    assert res.exit_code == 0, res.output
    assert [json.loads(r)["question"] for r in res.output.splitlines() if r.startswith("{")] == ["学习率预热", "梯度裁剪"]
    settings.write_text("[reading]\nquestion = ['(unclosed']\n", encoding="utf-8")
    bad = runner.invoke(main, ["check", str(notes)])
    assert bad.exit_code != 0 and "reading.question" in bad.output and "(unclosed" in bad.output


def test_inline_math_pairs_as_a_person_reads_it() -> None:
    from bagu2anki.parse.math import find_math

    def formulas(text: str) -> tuple[list[str], list[str]]:
        spans, problems = find_math(text)
        return [text[s.start : s.end] for s in spans], [p.message for p in problems]

    assert formulas("设 $ x $ 为输入，$a$ 和 $ b $，然后 $c$ 是输出") == (["$ x $", "$a$", "$ b $", "$c$"], [])
    assert formulas("$x_{正}$ 与 $ \\alpha $") == (["$x_{正}$", "$ \\alpha $"], [])
    assert formulas("价格 $5 和 $10") == ([], [])
    found, problems = formulas("买了 $3 的东西，$ 好贵")
    assert found == [] and len(problems) == 1 and "ambiguous $" in problems[0]
    # an escaped bracket and a numbered citation are no formulas and no unbalanced math
    assert formulas("BERT 用 \\[CLS] 分类，见 [\\[5\\]](https://x.org)") == ([], [])


def test_math_pairing_stays_linear() -> None:
    import time

    from bagu2anki.parse.math import find_math

    def cost(n: int) -> float:
        text = "中文 $ a $，" * n + "$ 价格" * n
        t0 = time.perf_counter()
        find_math(text)
        return time.perf_counter() - t0

    cost(200)
    small, large = min(cost(2000) for _ in range(3)), min(cost(20000) for _ in range(3))
    assert large / small < 25  # ten times the text: about ten times the work, never a hundred


def test_bold_questions_with_the_mark_outside_and_notes() -> None:
    doc = _read("## 训练\n\n**为什么要 warmup**？\n\n稳定。\n\n**学习率怎么衰减**\n\n余弦。\n\n**什么是梯度裁剪**（常考）\n\n按范数。\n")
    assert [(a.question, a.answer) for a in doc.atoms] == [
        ("为什么要 warmup？", "稳定。"), ("学习率怎么衰减", "余弦。"), ("什么是梯度裁剪（常考）", "按范数。")
    ]


def test_a_run_of_asking_bullets_after_an_answer_is_a_todo_list() -> None:
    flat = "八股\n1.什么是 RAG？\n检索增强生成。\n- 什么是重排？\n- 什么是混合检索？\n- 什么是 HyDE？\n"
    doc = _read(flat, "n.txt")
    assert [(a.question, a.status) for a in doc.atoms] == [
        ("什么是 RAG？", "answered"), ("什么是重排？", "unanswered"), ("什么是混合检索？", "unanswered"),
        ("什么是 HyDE？", "unanswered"),
    ]
    assert doc.atoms[0].answer == "检索增强生成。"
    md = "## RAG\n\n### 什么是 RAG？\n\n检索增强生成。\n\n- 什么是重排？\n- 什么是混合检索？\n- 什么是 HyDE？\n\n## 下一节\n"
    doc = _read(md)
    assert [(a.question, a.status) for a in doc.atoms][1:] == [
        ("什么是重排？", "unanswered"), ("什么是混合检索？", "unanswered"), ("什么是 HyDE？", "unanswered")
    ]
    assert doc.atoms[0].answer == "检索增强生成。"
    # introduced by the answer, they are its own points
    kept = _read("## RAG\n\n### 什么是 RAG？\n\n检索增强生成。常见问题：\n\n- 怎么切块？\n- 怎么重排？\n- 怎么评估？\n")
    assert len(kept.atoms) == 1


def test_list_answer_labels_leave_the_card() -> None:
    from bagu2anki.parse.rules import ANSWER_LABEL

    assert ANSWER_LABEL.sub("", "- A1: 低秩旁路", count=1) == "低秩旁路"
    assert ANSWER_LABEL.sub("", "Adam 是优化器", count=1) == "Adam 是优化器"


def test_short_title_lines_open_sections_in_flat_text() -> None:
    flat = (
        "Agent八股\n1.什么是 ReAct？\nReAct 交替推理与行动。\n2.什么是 Reflexion？\n自我反思。\n"
        "50问\n1.什么是 MCP？\n工具协议。\n2.什么是 A2A？\n智能体间协议。\n"
    )
    doc = _read(flat, "n.txt")
    assert [(a.section[-1], a.question) for a in doc.atoms] == [
        ("Agent八股", "什么是 ReAct？"), ("Agent八股", "什么是 Reflexion？"), ("50问", "什么是 MCP？"), ("50问", "什么是 A2A？")
    ]


def test_an_answer_title_line_leaves_the_card(tmp_path: Path) -> None:
    """`## 问题？` then `### 答` (or `**答案**`, `参考答案` alone on a line) over the answer: the
    label is not content and leaves the back; a choice question answered `A` keeps its answer."""
    from bagu2anki.config import Config
    from bagu2anki.pipeline import build

    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "n.md").write_text(
        "# 训练\n\n## ZeRO 有哪几个阶段？\n\n### 答\n\nZeRO-1 切优化器状态。\n\n"
        "## 数据并行和模型并行的区别？\n\n**参考答案**\n\n数据并行复制模型。\n\n"
        "## 下面哪个不需要奖励模型？\n\nA\n\n## DPO 的损失是什么形式？\n\n### 回答要点\n\n对数 sigmoid。\n",
        encoding="utf-8",
    )
    result = build(Config(paths=(notes,), out=tmp_path / "out", lock=tmp_path / "l.lock"))
    backs = {c.atom.question: c.back_html for c in result.cards if c.atom.source == "n.md"}
    assert backs["ZeRO 有哪几个阶段？"].startswith("<p>ZeRO-1") and "<h3>答</h3>" not in backs["ZeRO 有哪几个阶段？"]
    assert backs["数据并行和模型并行的区别？"].startswith("<p>数据并行") and "参考答案" not in backs["数据并行和模型并行的区别？"]
    assert backs["下面哪个不需要奖励模型？"] == "<p>A</p>\n"
    assert "<h3>回答要点</h3>" in backs["DPO 的损失是什么形式？"]  # a heading that says more is content
    assert (notes / "n.md").read_text(encoding="utf-8").count("### 答\n") == 1  # the notes are never changed


def test_an_answer_heading_under_a_question_heading_opens_its_answer() -> None:
    """`#### Q：…？` / `#### A：…` at one level (and `## 答案` under `## …？`): the labelled heading is
    the answer's head, not a section that leaves the question unanswered."""
    doc = _read(
        "# 推理优化\n\n#### Q：什么是 KV Cache？\n#### A：缓存算过的 K 和 V。\n\n"
        "#### Q：PagedAttention 解决什么问题？\n#### A：显存碎片。\n按页管理 KV Cache。\n\n"
        "## 什么是 LoRA？\n\n## 答案\n\n低秩分解。\n\n## A/B 测试怎么做？\n\n分流。\n"
    )
    got = [(a.question, a.status, a.answer, a.section) for a in doc.atoms]
    assert got == [
        ("什么是 KV Cache？", "answered", "A：缓存算过的 K 和 V。", ("推理优化",)),
        ("PagedAttention 解决什么问题？", "answered", "A：显存碎片。\n\n按页管理 KV Cache。", ("推理优化",)),
        ("什么是 LoRA？", "answered", "答案\n\n低秩分解。", ("推理优化",)),
        ("A/B 测试怎么做？", "answered", "分流。", ("推理优化",)),  # `A/B` is no answer label
    ]


def test_an_answer_that_is_only_its_label_waits_to_be_written() -> None:
    doc = _read("## 什么是 LoRA？\n\n答案：\n\n## 什么是 QLoRA？\n\n## 答案\n\n## 哪个选项正确？\n\nA\n")
    assert [(a.question, a.status) for a in doc.atoms] == [
        ("什么是 LoRA？", "unanswered"), ("什么是 QLoRA？", "unanswered"), ("哪个选项正确？", "answered")
    ]


def test_question_labels_keep_their_numbers_and_bracketed_kinds() -> None:
    """`Q1：…`, `**问题3：…**`, `### Question 4: …` carry their numbers (references such as `同 Q2`
    find them); `面试题：…` and `【八股】…` are kind prefixes like `八股：…`."""
    doc = _read(
        "# RL\n\nQ1：什么是 RLHF？\n\n先训练奖励模型。\n\nQ2：什么是 DPO？\n\n直接用偏好对优化。\n\n"
        "**问题3：GRPO 的优势怎么估计？**\n\n组内奖励标准化。\n\n"
        "## 解码\n\n### Question 4: What is beam search?\n\nKeep the top-k partial sequences.\n\n"
        "## 采样\n\n面试题：什么是 top-p 采样？\n\n按累计概率截断。\n\n【八股】温度系数的作用？\n\n控制分布的平滑程度。\n"
    )
    got = [(a.number, a.kind, a.question) for a in doc.atoms]
    assert got == [
        ("1", None, "什么是 RLHF？"),
        ("2", None, "什么是 DPO？"),
        ("3", None, "GRPO 的优势怎么估计？"),
        ("4", None, "What is beam search?"),
        (None, "面试题", "什么是 top-p 采样？"),
        (None, "八股", "温度系数的作用？"),
    ]


def test_labelled_pairs_without_blank_lines_are_one_card_each() -> None:
    """`问：…` / `答：…` / `问：…` / `答：…` on consecutive lines (one Markdown paragraph), and
    the same with `Q1：`/`A1：`, bare answers, `**Q：…？**`: a card per question, not one card
    holding the rest."""
    for text, answers in [
        ("## E\n\n问：什么是对比学习？\n答：拉近正样本。\n问：为什么要 hard negative？\n答：随机负样本太易分。\n",
         ["答：拉近正样本。", "答：随机负样本太易分。"]),
        ("# D\n\nQ1：数据怎么清洗？\nA1：规则过滤。\nQ2：合成数据有什么风险？\nA2：模型崩溃。\n", ["A1：规则过滤。", "A2：模型崩溃。"]),
        ("# D\n\nQ1：数据怎么清洗？\n规则过滤。\n去重。\nQ2：合成数据有什么风险？\n模型崩溃。\n", ["规则过滤。\n去重。", "模型崩溃。"]),
        ("## E\n\n**Q：什么是对比学习？**\nA：拉近正样本。\n**Q：为什么要 hard negative？**\nA：太易分。\n", ["A：拉近正样本。", "A：太易分。"]),
    ]:
        doc = _read(text)
        assert [a.answer for a in doc.atoms] == answers, text
    kept = _read("## E\n\n问：什么是对比学习？\n答：拉近正样本，问：这句话不是新问题。\n")
    assert [a.answer for a in kept.atoms] == ["答：拉近正样本，问：这句话不是新问题。"]


def test_q_dot_labels_and_level_one_questions() -> None:
    """`Q1. …？` with its answer on the next line; `# 什么是 Prefix LM？` and `# Q1：…` headings
    (many write one level-1 heading per question); a level-1 title that asks only in words over an
    article, or that holds several questions, stays a title."""
    doc = _read("# 数据\n\nQ1. 数据怎么清洗？\n规则过滤。\nQ2. 合成数据有什么风险？\n模型崩溃。\n")
    assert [(a.number, a.question, a.answer) for a in doc.atoms] == [
        ("1", "数据怎么清洗？", "规则过滤。"), ("2", "合成数据有什么风险？", "模型崩溃。")
    ]
    h1 = _read("# 什么是 Prefix LM？\n\n输入双向，输出单向。\n\n# Q2：什么是 Scaling Law\n\n幂律。\n\n# 涌现能力是真的吗\n\n有争议。\n")
    assert [(a.question, a.answer) for a in h1.atoms] == [
        ("什么是 Prefix LM？", "输入双向，输出单向。"), ("什么是 Scaling Law", "幂律。"), ("涌现能力是真的吗", "有争议。")
    ]
    one = _read("# 大模型为什么会复读？\n\n## 原因\n\n正反馈。\n\n## 解决\n\n重复惩罚。\n")
    assert [a.question for a in one.atoms] == ["大模型为什么会复读？"] and "重复惩罚" in one.atoms[0].answer
    article = _read("# 如何学习大模型\n\n## 先学数学\n\n线性代数。\n\n## 再读论文\n\n从 Transformer 开始。\n")
    assert article.atoms == ()
    container = _read("# 大模型面试题有哪些？\n\n## 什么是 LoRA？\n\n低秩。\n\n## 什么是 QLoRA？\n\n量化加低秩。\n")
    assert [(a.question, a.section) for a in container.atoms] == [
        ("什么是 LoRA？", ("大模型面试题有哪些？",)), ("什么是 QLoRA？", ("大模型面试题有哪些？",))
    ]


def test_flat_text_question_labels() -> None:
    """A flat-text export with `问：`/`答：` or `Q：`/`A：` lines: every labelled question is one,
    asking with a mark or not, and its label leaves the front (the answer's label leaves the card
    when it renders)."""
    flat = (
        "微调笔记\n问：什么是 Instruction Tuning\n答：把任务改写成指令格式混合训练。\n"
        "问：SFT 数据怎么保证质量？\n答：去重、过滤、打分。\n抽检也要做。\n"
        "Q2：为什么 SFT 只对 answer 算 loss\nA2：prompt 是给定的。\n"
    )
    doc = _read(flat, "n.txt")
    assert [(a.number, a.question, a.answer) for a in doc.atoms] == [
        (None, "什么是 Instruction Tuning", "答：把任务改写成指令格式混合训练。"),
        (None, "SFT 数据怎么保证质量？", "答：去重、过滤、打分。\n抽检也要做。"),
        ("2", "为什么 SFT 只对 answer 算 loss", "A2：prompt 是给定的。"),
    ]
    assert [a.section for a in doc.atoms] == [("微调笔记",)] * 3


def test_a_break_after_a_bold_question_leaves_the_answer_markdown(tmp_path: Path) -> None:
    """`**Q：…？**<br>` then `A：…**直接**…` and a list (Typora, CSDN): the `<br>` once made the
    whole answer one raw HTML block, its Markdown shown as typed and its label left on."""
    from bagu2anki.config import Config
    from bagu2anki.pipeline import build

    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "n.md").write_text(
        "## 归一化\n\n**Q：Pre-LN 为什么更稳定？**<br>\nA：梯度可以**直接**回传，比如 `x + F(LN(x))`。<br>\n- 要点一\n- 要点二\n\n"
        "**Q：top-k 为什么不如 top-p？**<br/>**A：** k 固定。\n",
        encoding="utf-8",
    )
    result = build(Config(paths=(notes,), out=tmp_path / "out", lock=tmp_path / "l.lock"))
    backs = [c.back_html for c in result.cards if c.atom.source == "n.md"]
    assert backs[0].startswith("<p>梯度可以<strong>直接</strong>回传，比如 <code>x + F(LN(x))</code>")
    assert "<li>要点一</li>" in backs[0] and "A：" not in backs[0]
    assert backs[1] == "<p>k 固定。</p>\n"


def test_a_section_of_hands_on_tasks() -> None:
    """`## 手撕代码` over `### 1. 实现 RMSNorm` or `### LayerNorm`: a section whose headings are one
    task each; `## 手撕 MHA` stays one task with its `### 代码` part."""
    numbered = _read("## 手撕代码\n\n### 1. 实现 RMSNorm\n\n```python\nx / rms\n```\n\n### 2. 实现因果 mask\n\n```python\ntriu\n```\n")
    assert [(a.question, a.section) for a in numbered.atoms] == [("实现 RMSNorm", ("手撕代码",)), ("实现因果 mask", ("手撕代码",))]
    named = _read("## 手撕代码\n\n### LayerNorm\n\n```python\nln\n```\n\n### 交叉熵\n\n```python\nce\n```\n\n## 反问\n\n问了业务。\n")
    assert [(a.question, a.kind) for a in named.atoms] == [("手撕 LayerNorm", "手撕"), ("手撕 交叉熵", "手撕")]
    one = _read("## 手撕 MHA\n\n### 代码\n\n```python\nattn\n```\n\n### 复杂度\n\nO(n^2)。\n")
    assert [a.question for a in one.atoms] == ["手撕 MHA"] and "O(n^2)" in one.atoms[0].answer


def test_anchors_in_headings_and_review_lists() -> None:
    """`## <span id="q1">1. …？</span>` (Typora anchors) is the question it wraps; a list of
    one-line questions alone under a heading (`- [ ] 什么是 ring attention？`) is questions still to
    answer, the task box off the front, and what follows the list is no answer of theirs."""
    doc = _read('# 框架\n\n## <span id="q1">1. vLLM 的核心技术？</span>\n\nPagedAttention。\n\n'
                '## <a name="q2"></a>2. SGLang 快在哪？\n\nRadixAttention。\n')
    assert [(a.number, a.question, a.answer) for a in doc.atoms] == [
        ("1", "vLLM 的核心技术？", "PagedAttention。"), ("2", "SGLang 快在哪？", "RadixAttention。")
    ]
    review = _read("# 清单\n\n## 已掌握\n\n- [x] 什么是梯度累积？\n  > 累加后再更新。\n\n"
                   "## 待复习\n\n- [ ] 张量并行和流水线并行的区别？\n- [ ] 什么是 ring attention？\n\n下周再看。\n")
    assert [(a.question, a.status) for a in review.atoms] == [
        ("什么是梯度累积？", "answered"), ("张量并行和流水线并行的区别？", "unanswered"), ("什么是 ring attention？", "unanswered")
    ]
    kept = _read("## 什么是 RAG？\n\n检索增强生成。常见追问：\n\n- 怎么切块？\n- 怎么重排？\n")
    assert len(kept.atoms) == 1 and "怎么重排" in kept.atoms[0].answer


def test_question_tables_with_other_headers() -> None:
    """`| 题目 | 解析 |` and `| 序号 | 问题 | 答案 |` are question tables too; a comparison is not."""
    doc = _read("## 表\n\n| 题目 | 解析 |\n|---|---|\n| 什么是 LoRA？ | 低秩适配 |\n\n"
                "| 序号 | 问题 | 答案 |\n|---|---|---|\n| 1 | 什么是 QLoRA？ | 4bit 底座 |\n\n"
                "| 方法 | 显存 |\n|---|---|\n| LoRA | 低 |\n")
    assert [(a.question, a.answer) for a in doc.atoms] == [("什么是 LoRA？", "低秩适配"), ("什么是 QLoRA？", "4bit 底座")]


def test_ordinals_leave_the_front() -> None:
    """`第1题　…`, `一、…`, `① …`, `1️⃣ **…**` before a question: its number, off the front."""
    doc = _read(
        "## 一\n\n**第1题　什么是 SFT？**\n\nA。\n\n**第二题：RM 的损失是什么？**\n\nB。\n\n"
        "## 二\n\n① 怎么稳定输出 JSON？\n\nC。\n\n② 提示词注入怎么防？\n\nD。\n\n"
        "## 三\n\n### 1️⃣ **什么是 MCP？**\n\nE。\n\n### 2️⃣ **MCP 和 Function Calling 的关系？**\n\nF。\n"
    )
    assert [(a.number, a.question) for a in doc.atoms] == [
        ("1", "什么是 SFT？"), ("2", "RM 的损失是什么？"), ("1", "怎么稳定输出 JSON？"), ("2", "提示词注入怎么防？"),
        ("1", "什么是 MCP？"), ("2", "MCP 和 Function Calling 的关系？"),
    ]


def test_a_table_of_contents_is_no_section_and_back_links_leave_the_card(tmp_path: Path) -> None:
    from bagu2anki.config import Config
    from bagu2anki.pipeline import build

    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "n.md").write_text(
        "# 目录\n\n- [什么是蒸馏？](#什么是蒸馏)\n\n## 什么是蒸馏？\n\n学 teacher 的分布。\n\n[返回目录](#目录)\n\n"
        "## 温度有什么用？\n\n让分布更平滑。\n\n[⬆ 回到顶部](#top)\n\n```md\n[返回目录](#目录)\n```\n",
        encoding="utf-8",
    )
    result = build(Config(paths=(notes,), out=tmp_path / "out", lock=tmp_path / "l.lock"))
    cards = [c for c in result.cards if c.atom.source == "n.md"]
    assert [c.atom.section for c in cards] == [(), ()]
    assert cards[0].back_html == "<p>学 teacher 的分布。</p>\n"
    assert "回到顶部" not in cards[1].back_html and "返回目录" in cards[1].back_html  # code keeps it


def test_line_breaks_inside_a_paragraph_stay_on_the_card(tmp_path: Path) -> None:
    """`①…` / `②…` on lines of their own, an error over its cause: kept as line breaks (as
    Obsidian, Typora and Hexo show them) on both rendering paths; code keeps its own lines."""
    from bagu2anki.diagnostics import Diagnostics
    from bagu2anki.model import Atom
    from bagu2anki.render import Renderer

    text = "原因：\n①权重读写\n②**自回归**串行\n\n- 一项\n  续行\n\n```python\nx = 1\ny = 2\n```\n\n硬换行  \n之后\n"
    atom = Atom(source="n.md", line=1, end_line=2, section=(), number=None, kind=None, question="q", answer=text, status="answered")
    r = Renderer(Diagnostics())
    for fast in (True, False):
        r.fast = fast
        back = r.answer(atom, tmp_path, tmp_path).html
        assert back.startswith("<p>原因：<br>\n①权重读写<br>\n②<strong>自回归</strong>串行</p>"), (fast, back)
        assert "<li>一项<br>\n续行</li>" in back and "<br" not in back.split("<pre>")[1].split("</pre>")[0]
        assert back.count("<br") == 4, (fast, back)  # three kept breaks and the hard one


def test_deep_nesting_keeps_the_questions_after_it_or_says_so() -> None:
    """Ten nested lists (CommonMark's default limit) no longer swallow the next question; past the
    reader's limit a warning names the line."""
    from bagu2anki.parse.markdown import read_markdown

    def nested(depth: int) -> str:
        items = "".join("  " * k + f"- 层{k}\n" for k in range(depth))
        return f"## 1. 深嵌套列表？\n\n{items}\n## 2. 后面的问题？\n\n答案。\n"

    assert [a.question for a in _read(nested(10)).atoms] == ["深嵌套列表？", "后面的问题？"]
    diags = Diagnostics()
    text = nested(120)
    read_markdown(SourceFile(Path("n.md"), "n.md", text, "utf-8", "markdown", Path(".")), diags)
    assert [(d.code, d.line) for d in diags.items if d.code == "deep-nesting"] == [("deep-nesting", 51)]  # `- 层48`


def test_a_question_line_with_its_answer_on_the_next_line() -> None:
    """`1、什么是 OOV？` (or `什么是 OOV？`) with its answer on the very next line, no blank line
    between (Typora, CSDN): a question with that answer, not a paragraph in no card; several such
    pairs in one paragraph are a card each; a numbered line in prose stays prose."""
    numbered = _read("## 一、基础\n\n1、什么是 OOV 问题？\n词表中没有的词。\n\n2、为什么用 BPE？\n词表可控。\n\n3、为什么扩词表？\n\n中文切分太碎。\n")
    assert [(a.number, a.question, a.answer) for a in numbered.atoms] == [
        ("1", "什么是 OOV 问题？", "词表中没有的词。"), ("2", "为什么用 BPE？", "词表可控。"), ("3", "为什么扩词表？", "中文切分太碎。")
    ]
    plain = _read("## 基础\n\n什么是 OOV 问题？\n词表中没有的词。\n\n为什么用 BPE？\n词表可控。\n")
    assert [(a.question, a.answer) for a in plain.atoms] == [("什么是 OOV 问题？", "词表中没有的词。"), ("为什么用 BPE？", "词表可控。")]
    one = _read("1、什么是 OOV？\n没有的词。\n2、为什么用 BPE？\n词表可控。\n3、为什么扩词表？\n切分太碎。\n")
    assert [a.question for a in one.atoms] == ["什么是 OOV？", "为什么用 BPE？", "为什么扩词表？"]
    worded = _read("# 字节一面\n\n1、介绍一下 RLHF 的流程\nSFT、RM、PPO。\n\n2、PPO 的 clip 是干什么的？\n\n限制比值。\n")
    assert [(a.question, a.answer) for a in worded.atoms] == [("介绍一下 RLHF 的流程", "SFT、RM、PPO。"), ("PPO 的 clip 是干什么的？", "限制比值。")]
    prose = _read("## 归一化\n\n1. 为什么需要归一化\n因为分布会漂移。\n\n2. 常见的归一化方法\nBN、LN。\n")
    assert prose.atoms == ()


def test_headings_that_ask_the_reader_to_tell_or_do() -> None:
    """`### 介绍一下 GQA`, `### 简述…`, `### 说说…`, `### 请解释 …`, tasks (`### 手写 …`, `### 实现 …`,
    `### 推导 …`) are questions without a mark; among them `### 比较 …` too. `### 实现细节`,
    `### 推导过程`, `### 解释器` stay topics."""
    doc = _read(
        "## T\n\n### 简述残差连接\n\n缓解退化。\n\n### 介绍一下 GQA\n\n分组共享 KV。\n\n### 手写 attention\n\n```python\nsoftmax(q @ k.T) @ v\n```\n\n"
        "### 推导 RoPE 的相对位置性质\n\n$R_m^T R_n = R_{n-m}$\n\n### 比较 MHA 和 GQA\n\nKV 头数不同。\n"
    )
    assert [a.question for a in doc.atoms] == ["简述残差连接", "介绍一下 GQA", "手写 attention", "推导 RoPE 的相对位置性质", "比较 MHA 和 GQA"]
    topics = _read("## 实现细节\n\n用 PyTorch。\n\n## 推导过程\n\n见论文。\n\n## 解释器\n\nCPython。\n")
    assert topics.atoms == ()


def test_review_tables_references_upwards_and_bold_tasks() -> None:
    """`| 问题 | 我的回答 | 面试官反馈 |` is a question table; `见上` / `见上题` point at the question
    above as `同上` does; a bold task line (`**实现 RoPE**`) over its code is a question."""
    doc = _read(
        "## 面经\n\n| 问题 | 我的回答 | 面试官反馈 |\n|---|---|---|\n| 什么是 GQA？ | 分组共享 KV | 还行 |\n\n"
        "## 优化器\n\n### 1. AdamW 和 Adam 的区别？\n\n解耦权重衰减。\n\n### 2. AdamW 的衰减设多少？\n\n见上题\n\n"
        "## 手撕\n\n**实现 RoPE**\n\n```python\nrope(x)\n```\n"
    )
    assert [(a.question, a.status, a.answer) for a in doc.atoms] == [
        ("什么是 GQA？", "answered", "分组共享 KV / 还行"),
        ("AdamW 和 Adam 的区别？", "answered", "解耦权重衰减。"),
        ("AdamW 的衰减设多少？", "reference", "见上题"),
        ("实现 RoPE", "answered", "```python\nrope(x)\n```"),
    ]


def test_a_missing_image_is_named_as_the_note_spells_it(tmp_path: Path) -> None:
    from bagu2anki.config import Config
    from bagu2anki.pipeline import build

    notes = tmp_path / "notes"
    (notes / "sub").mkdir(parents=True)
    (notes / "sub" / "n.md").write_text("## 什么是 mask？\n\n![图](../训练/img/mask.png)\n", encoding="utf-8")
    result = build(Config(paths=(notes,), out=tmp_path / "out", lock=tmp_path / "l.lock"))
    messages = [d.message for d in result.diagnostics.items if d.code == "missing-image"]
    assert messages and "../训练/img/mask.png" in messages[0] and "%E8" not in messages[0]
    assert "[图片缺失: ../训练/img/mask.png]" in result.cards[0].back_html


def test_mkdocs_admonitions() -> None:
    """MkDocs Material: `??? question "…"` (folded, or `???+` open) with its indented body is a
    question and its answer; `!!! note "补充"` inside an answer is a titled box; code fences and
    their `!!!` lines are left alone."""
    doc = _read(
        '# 分布式\n\n??? question "数据并行和模型并行的区别？"\n    数据并行切数据；模型并行切模型。\n\n'
        '???+ question "ZeRO 切分什么？"\n\n    优化器状态、梯度、参数。\n\n    ```python\n    !!! not an admonition\n    ```\n\n'
        '!!! note "补充"\n    可以卸载到 CPU。\n'
    )
    assert [a.question for a in doc.atoms] == ["数据并行和模型并行的区别？", "ZeRO 切分什么？"]
    assert doc.atoms[0].answer == "数据并行切数据；模型并行切模型。"
    second = doc.atoms[1].answer
    assert second == "优化器状态、梯度、参数。\n\n```python\n!!! not an admonition\n```\n\n> [!note] 补充\n> 可以卸载到 CPU。"


def test_docusaurus_titled_boxes(tmp_path: Path) -> None:
    from bagu2anki.diagnostics import Diagnostics
    from bagu2anki.model import Atom
    from bagu2anki.render import Renderer

    text = ":::info[简答]\nGPTQ 逐列量化；AWQ 保护重要通道。\n:::\n\n:::nonsense[x]\n不是盒子。\n:::\n"
    atom = Atom(source="n.md", line=1, end_line=2, section=(), number=None, kind=None, question="q", answer=text, status="answered")
    back = Renderer(Diagnostics()).answer(atom, tmp_path, tmp_path).html
    assert back.startswith('<div class="callout info"><p class="callout-title">简答</p>')
    assert ":::nonsense[x]" in back  # an unknown kind stays text


def test_a_dialog_answer_loses_its_speaker(tmp_path: Path) -> None:
    """`面试官：…？` / `我：…`: the candidate's label leaves the back as `答：` does."""
    from bagu2anki.diagnostics import Diagnostics
    from bagu2anki.render import Renderer

    doc = _read("## 三面\n\n面试官：RAG 怎么切分？\n\n我：按段落切，相邻块重叠。\n")
    assert [a.question for a in doc.atoms] == ["RAG 怎么切分？"]
    back = Renderer(Diagnostics()).answer(doc.atoms[0], tmp_path, tmp_path).html
    assert back == "<p>按段落切，相邻块重叠。</p>\n"


def test_a_closing_section_of_a_flat_interview_log_is_no_answer() -> None:
    """Flat text: `HR面` / `聊人生…` after `一面` / `二面`: a section of its own (text in no card), not
    the last technical answer's tail."""
    flat = "大模型面经\n一面\n1.讲一下Transformer的结构\n编码器解码器。\n二面\n1.讲一下MoE\n稀疏激活。\nHR面\n聊人生，问了职业规划。\n"
    doc = _read(flat, "n.txt")
    assert [(a.section[-1], a.question, a.answer) for a in doc.atoms] == [
        ("一面", "讲一下Transformer的结构", "编码器解码器。"), ("二面", "讲一下MoE", "稀疏激活。")
    ]
    assert [u.section[-1] for u in doc.unattached] == ["HR面"]


def test_exam_style_questions() -> None:
    """Choice questions keep their options on the front (the back says `B`); a statement to judge
    (`…。（ ）`) and a blank to fill (`…是 ______。`) are questions, as a `？` is."""
    doc = _read(
        "## 选择题\n\n1. 以下哪种方法不属于参数高效微调？\n   A. LoRA\n   B. 全参数微调\n   C. Adapter\n\n   答案：B\n\n"
        "2. FFN 的中间维度是隐藏维度的几倍？\n\n   A. 2  B. 4  C. 8\n\n   答案：B\n\n"
        "## 判断题\n\n3. LayerNorm 对 batch size 敏感。（ ）\n\n   答案：错。\n\n"
        "## 填空题\n\n4. 缩放点积注意力中除以的是 ______。\n\n   答案：$\\sqrt{d_k}$\n"
    )
    assert [(a.number, a.question, a.answer) for a in doc.atoms] == [
        ("1", "以下哪种方法不属于参数高效微调？\nA. LoRA\nB. 全参数微调\nC. Adapter", "答案：B"),
        ("2", "FFN 的中间维度是隐藏维度的几倍？\nA. 2  B. 4  C. 8", "答案：B"),
        ("3", "LayerNorm 对 batch size 敏感。（ ）", "答案：错。"),
        ("4", "缩放点积注意力中除以的是 ______。", "答案：$\\sqrt{d_k}$"),
    ]
    kept = _read("## 什么是 A/B 测试？\n\nA. 分流\nB. 对比指标\n\n上线前必做。\n")
    assert kept.atoms[0].answer.startswith("A. 分流")  # no answer line after them: an answer's own points


def test_a_choice_question_keeps_its_note_when_its_options_move_to_the_front() -> None:
    from bagu2anki.identity import fingerprint
    from bagu2anki.model import Atom

    def atom(q: str) -> Atom:
        return Atom(source="n.md", line=1, end_line=2, section=(), number=None, kind=None, question=q, answer="B", status="answered")

    assert fingerprint(atom("以下哪种不是 PEFT？\nA. LoRA\nB. 全参")) == fingerprint(atom("以下哪种不是 PEFT？"))


def test_a_choice_questions_options_are_not_its_subject() -> None:
    from bagu2anki.concepts.catalogue import load_catalogue
    from bagu2anki.concepts.recognize import recognize

    doc = _read("## 选择题\n\n1. 以下哪种方法不属于参数高效微调（PEFT）？\n   A. LoRA\n   B. 全参数微调\n   C. Adapter\n\n   答案：B\n")
    concepts, main = recognize(doc.atoms[0], load_catalogue(None, Diagnostics()))
    assert main == "PEFT" and "LoRA" not in concepts


def test_flat_text_short_answers_are_not_section_titles() -> None:
    """Flat text: a short line right under a question (`略`, `同上`, `4bit量化底座`, `A1：router是线性层`,
    `用的vLLM` under a `八股:` question) is its answer, not a section that takes the questions after
    it; a count that starts again at 1 under a short line still opens a section."""
    numbered = _read("模板3\n1.什么是LoRA\n低秩适配\n2.什么是QLoRA\n4bit量化底座\n3.什么是DoRA\n略\n4.LoRA的秩取多少\n8到64\n", "n.txt")
    assert [(a.question, a.status, a.answer, a.section) for a in numbered.atoms] == [
        ("什么是LoRA", "answered", "低秩适配", ("模板3",)),
        ("什么是QLoRA", "answered", "4bit量化底座", ("模板3",)),
        ("什么是DoRA", "unanswered", "略", ("模板3",)),
        ("LoRA的秩取多少", "answered", "8到64", ("模板3",)),
    ]
    prefixed = _read("项目八股\n八股:QLoRA用了什么技术?\n用的vLLM\n八股:DoRA是什么?\n权重分解\n", "n.txt")
    assert [(a.question, a.answer) for a in prefixed.atoms] == [("QLoRA用了什么技术?", "用的vLLM"), ("DoRA是什么?", "权重分解")]
    labelled = _read("模板15\nQ1：MoE的路由是怎么做的？\nA1：router是线性层\nQ2：共享专家的作用\nA2：学公共知识\n", "n.txt")
    assert [a.answer for a in labelled.atoms] == ["A1：router是线性层", "A2：学公共知识"]
    restart = _read("模板3\n1.什么是LoRA\n低秩适配\n2.什么是QLoRA\n分布式训练\n1.什么是ZeRO\n切分状态\n", "n.txt")
    assert [(a.question, a.section[-1]) for a in restart.atoms] == [
        ("什么是LoRA", "模板3"), ("什么是QLoRA", "模板3"), ("什么是ZeRO", "分布式训练")
    ]


def test_an_escaped_angle_bracket_is_shown_once(tmp_path: Path) -> None:
    """`\\<PAD>` in Markdown and `<think>` in flat text (which the flat reader escapes so) show as
    `<PAD>` / `<think>`, not as `&lt;PAD>`."""
    from bagu2anki.diagnostics import Diagnostics
    from bagu2anki.model import Atom
    from bagu2anki.render import Renderer

    r = Renderer(Diagnostics())
    for fmt, text, shown in [
        ("text", "先在<think>里推理,a<b 且 c>d", "<p>先在&lt;think&gt;里推理,a&lt;b 且 c&gt;d</p>"),
        ("markdown", '用 {"\\<PAD>": 0} 和 \\\\<eos>', '<p>用 {"&lt;PAD&gt;": 0} 和 \\&lt;eos&gt;</p>'),
    ]:
        atom = Atom(source="n", line=1, end_line=2, section=(), number=None, kind=None, question="q",
                    answer=text, status="answered", fmt=fmt)
        for fast in (True, False):
            r.fast = fast
            assert r.answer(atom, tmp_path, tmp_path).html.strip() == shown, (fmt, fast)
    front = r.question(Atom(source="n", line=1, end_line=2, section=(), number=None, kind=None,
                            question='word_2_index = {"\\<PAD>": 0} 何用?', answer="", status="answered"))
    assert "&lt;PAD&gt;" in front and "&amp;" not in front


def test_flat_text_questions_asked_in_words_without_a_mark() -> None:
    flat = "笔记\n模板13:快手\n如何评估RAG系统的好坏\n检索的召回率\n生成的忠实度\n评测集怎么构造\n线上怎么做AB实验\n分桶对比。\n模板14\n1.什么是GQA?\n分组。\n"
    doc = _read(flat, "n.txt")
    assert [(a.question, a.status, a.section[-1]) for a in doc.atoms] == [
        ("如何评估RAG系统的好坏", "answered", "模板13:快手"),
        ("评测集怎么构造", "unanswered", "模板13:快手"),
        ("线上怎么做AB实验", "answered", "模板13:快手"),
        ("什么是GQA?", "answered", "模板14"),
    ]
    assert doc.atoms[0].answer == "检索的召回率\n生成的忠实度"


def test_flat_text_a_number_written_twice() -> None:
    """`5.DPO有哪些变体` … `5.在线和离线偏好优化的区别` … `6.…`: the second 5 is a question of its own;
    an answer's own points numbered from 1 stay in it."""
    flat = ("模板5\n4.什么是KL惩罚\n限制偏离。\n5.DPO有哪些变体\n- IPO\n- KTO\n5.在线和离线偏好优化的区别\n在线用当前策略采样\n"
            "6.什么是reward hacking\n钻奖励模型的空子\n")
    doc = _read(flat, "n.txt")
    assert [(a.number, a.question) for a in doc.atoms] == [
        ("4", "什么是KL惩罚"), ("5", "DPO有哪些变体"), ("5", "在线和离线偏好优化的区别"), ("6", "什么是reward hacking")
    ]


def test_flat_text_topic_titles_between_questions() -> None:
    """`Transformer基础`, `RAG相关`, `其他场景题` between an answer and the next question open a section."""
    flat = "笔记\n模板1\n八股:整体架构怎么设计?\n分层扩容\nTransformer基础\n八股:为什么除以根号dk?\n防止softmax饱和\nRAG相关\n八股:怎么切块?\n按段落\n"
    doc = _read(flat, "n.txt")
    assert [(a.question, a.answer, a.section[-1]) for a in doc.atoms] == [
        ("整体架构怎么设计?", "分层扩容", "模板1"),
        ("为什么除以根号dk?", "防止softmax饱和", "Transformer基础"),
        ("怎么切块?", "按段落", "RAG相关"),
    ]


def test_labelled_placeholders_and_references_and_dotted_answer_labels() -> None:
    """`答:待补充` waits for its answer, `答:同上` refers as `同上` does; `Q2.` / `A2.` pairs read as
    `Q2：` / `A2：` do."""
    flat = "模板15\nQ1：路由怎么做？\nA1：线性层\nQ2. 共享专家的作用\nA2. 学公共知识\n八股:什么是EP?\n答:待补充\n八股:什么是TP?\n答:同上\n"
    doc = _read(flat, "n.txt")
    assert [(a.number, a.question, a.status) for a in doc.atoms] == [
        ("1", "路由怎么做？", "answered"), ("2", "共享专家的作用", "answered"),
        (None, "什么是EP?", "unanswered"), (None, "什么是TP?", "reference"),
    ]
    from bagu2anki.parse.rules import ANSWER_LABEL

    assert ANSWER_LABEL.sub("", "A2. 学公共知识", count=1) == "学公共知识"
    assert ANSWER_LABEL.sub("", "A2.5 倍", count=1) == "A2.5 倍"


def test_an_answer_that_shows_nothing_is_no_card(tmp_path: Path) -> None:
    """`7.…` over a bare `8.` (its text missing) waits for its answer; an answer that renders to
    markup alone (`&nbsp;<br>`) is left out of the deck with a warning, never an empty back."""
    from bagu2anki.config import Config
    from bagu2anki.pipeline import build

    flat = _read("模板12\n1.什么是MoE\n稀疏激活\n2.困惑度是什么\n3.\n4.BLEU和ROUGE的区别\n前者看precision\n", "n.txt")
    assert [(a.question, a.status) for a in flat.atoms][1:2] == [("困惑度是什么", "unanswered")]
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "n.md").write_text("## 什么是 GQA？\n\n&nbsp;<br>\n\n## 什么是 MQA？\n\n共享一组 KV。\n", encoding="utf-8")
    result = build(Config(paths=(notes,), out=tmp_path / "out", lock=tmp_path / "l.lock"))
    assert [d.line for d in result.diagnostics.items if d.code == "empty-back"] == [1]
    import sqlite3
    import zipfile

    with zipfile.ZipFile(next((tmp_path / "out").glob("*.apkg"))) as z:
        (tmp_path / "c.db").write_bytes(z.read("collection.anki2"))
    fronts = [r[0].split("\x1f")[0] for r in sqlite3.connect(tmp_path / "c.db").execute("select flds from notes")]
    assert "什么是 GQA？" not in fronts and "什么是 MQA？" in fronts


def test_flat_text_a_question_over_two_lines() -> None:
    doc = _read("场景题\n场景题:用户反馈模型回答越来越慢,\n你怎么定位?\n先看监控\n场景题:怎么降本?\n量化\n", "n.txt")
    assert [(a.question, a.answer) for a in doc.atoms] == [("用户反馈模型回答越来越慢,你怎么定位?", "先看监控"), ("怎么降本?", "量化")]
