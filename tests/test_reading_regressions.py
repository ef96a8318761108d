"""Notes the reader must keep reading as before while it learns new styles: each case is a
pattern a newer rule could misfire on (numbered points inside answers, setext headings,
lowercase flashcards, prose that looks like code), with the reading a person expects."""

from __future__ import annotations

from pathlib import Path

from bagu2anki import sources
from bagu2anki.diagnostics import Diagnostics
from bagu2anki.model import Document, SourceFile
from bagu2anki.parse import read
from bagu2anki.parse.flatten import to_markdown


def _read(text: str, name: str = "n.md") -> Document:
    fmt = sources.detect_format(Path(name), text)
    return read(SourceFile(Path(name), name, sources.normalise(text), "utf-8", fmt, Path(".")), Diagnostics())


def _qa(doc: Document) -> list[tuple[str, str]]:
    return [(a.question, a.answer) for a in doc.atoms]


def test_setext_question_headings_stay_questions() -> None:
    doc = _read("推理\n====\n\n什么是 KV Cache？\n-----------------\n\n缓存历史 K、V。\n\nPagedAttention 解决了什么？\n---\n\n显存碎片。\n")
    assert _qa(doc) == [("什么是 KV Cache？", "缓存历史 K、V。"), ("PagedAttention 解决了什么？", "显存碎片。")]


def test_flashcards_with_lowercase_terms() -> None:
    doc = _read("## 卡片\n\nsoftmax::把分数变成概率\ndropout::训练时随机置零\nKV Cache::缓存历史 K 和 V\n")
    assert [a.question for a in doc.atoms] == ["softmax", "dropout", "KV Cache"]


def test_numbered_points_that_ask_in_words_stay_in_their_answer() -> None:
    doc = _read(
        "## 项目\n\n1. 召回率是怎么评估的？\n\n先看离线 Recall@5。\n\n2. 线上怎么评估\n\n看点赞率。\n\n"
        "2. 文档切分策略是怎样的？\n\n按标题切。\n\n**1. 学习率怎么设？**\n\n1. 为什么要预热\n\n稳定。\n\n2. 怎么确定预热步数\n\n总步数的 3%。\n"
    )
    assert [a.question for a in doc.atoms] == ["召回率是怎么评估的？", "文档切分策略是怎样的？", "学习率怎么设？"]
    assert "2. 线上怎么评估" in doc.atoms[0].answer
    assert "2. 怎么确定预热步数" in doc.atoms[2].answer


def test_a_tutorials_numbered_subsections_are_no_questions() -> None:
    doc = _read("## 归一化\n\n1. 为什么需要归一化\n\n分布漂移。\n\n2. 常见的归一化方法\n\nBN、LN、RMSNorm。\n")
    assert doc.atoms == ()


def test_question_tables_inside_an_answer_stay_tables() -> None:
    doc = _read("**RAG 怎么排障？**\n\n| 问题 | 要点 |\n|---|---|\n| 召回差 | 换 embedding |\n\n先看召回。\n")
    assert [a.question for a in doc.atoms] == ["RAG 怎么排障？"]
    assert "| 召回差 | 换 embedding |" in doc.atoms[0].answer and "先看召回。" in doc.atoms[0].answer


def test_handwriting_and_goals_are_no_hands_on_questions() -> None:
    doc = _read("## 手写数字识别实战\n\n### 数据\n\nMNIST。\n\n## 目标\n\n1. **实现一个字符级语言模型**：用 GRU。\n2. **实现一个分词器**：BPE。\n")
    assert doc.atoms == ()


def test_flat_chinese_points_inside_an_answer_are_no_sections() -> None:
    doc = _read(
        "训练面经\n1.什么是混合精度？\n前向用 fp16。\n2.梯度累积的作用？\n模拟大 batch。\n3.分布式训练有哪些并行方式？\n"
        "一、数据并行\n1.每张卡一份模型\n二、张量并行\n1.层内切分矩阵\n4.ZeRO 的三个阶段？\n切分三类状态。\n",
        "n.txt",
    )
    assert [a.question for a in doc.atoms] == ["什么是混合精度？", "梯度累积的作用？", "分布式训练有哪些并行方式？", "ZeRO 的三个阶段？"]
    assert "二、张量并行" in doc.atoms[2].answer and all(a.section == ("训练面经",) for a in doc.atoms)


def test_flat_look_ahead_stops_at_the_next_section() -> None:
    doc = _read(
        "模板1\n1.RAG 的流程？\n检索再生成。\n2.怎么选 chunk 大小？\n1. 看文档结构\n2. 看模型窗口\n3.向量数据库怎么选型？\n看规模。\n\n"
        "模板2\n\n1.什么是 HyDE？\n假设答案。\n2.什么是 RRF？\n倒数排名融合。\n3.什么是 GraphRAG？\n图。\n",
        "n.txt",
    )
    assert [a.question for a in doc.atoms][:3] == ["RAG 的流程？", "怎么选 chunk 大小？", "向量数据库怎么选型？"]


def test_flat_parenthesised_steps_of_the_last_question() -> None:
    doc = _read("模板3\n1.混合精度为什么要 loss scaling？\n防下溢。\n2.bf16 为什么更稳？\n（1）指数位多\n（2）不用 loss scaling\n（3）为什么 bf16 也要这样做\n略。\n", "n.txt")
    assert [a.question for a in doc.atoms] == ["混合精度为什么要 loss scaling？", "bf16 为什么更稳？"]


def test_flat_prose_that_starts_like_code_stays_prose() -> None:
    md = to_markdown("class imbalance 常见的处理方法有:\n    重采样\n    改损失权重\nimport 时依次执行:\n    加载模块")
    assert "```" not in md
    code = to_markdown("def f(x):\n    return x * 2\n上面就是实现。")
    assert code.startswith("```python\ndef f(x):\n    return x * 2\n```") and "上面就是实现。" in code


def test_flat_a_later_answers_steps_do_not_swallow_questions() -> None:
    doc = _read(
        "模板2\n1.介绍一下RAG项目\n企业知识库问答。\n2.怎么解决LLM幻觉问题?\n1.数据清洗\n2.检索增强\n3.LoRA和全参微调的区别?\n"
        "LoRA 只训练低秩矩阵。\n4.RAG的检索怎么优化?\n1.query改写\n2.混合检索\n3.重排\n",
        "n.txt",
    )
    assert len(doc.atoms) == 4 and doc.atoms[2].question == "LoRA和全参微调的区别?"


def test_flat_parenthesised_points_under_a_short_line_stay_in_the_answer() -> None:
    doc = _read("模板1\n1.为什么现在都用decoder-only?\n主要有三点原因\n（1）训练效率高\n（2）zero-shot 能力强\n2.什么是GRPO?\n组内相对优势。\n", "n.txt")
    assert [a.question for a in doc.atoms] == ["为什么现在都用decoder-only?", "什么是GRPO?"]
    assert "（2）zero-shot 能力强" in doc.atoms[0].answer


def test_flat_sections_whose_questions_skip_a_number() -> None:
    doc = _read("面经\n字节\n1.什么是 KV Cache?\n缓存。\n2.什么是 GQA?\n分组。\n腾讯\n1.什么是 RoPE?\n旋转。\n3.什么是 MoE?\n专家。\n", "n.txt")
    assert [a.section[-1] for a in doc.atoms] == ["字节", "字节", "腾讯", "腾讯"]


def test_flat_a_part_two_may_open_at_chapter_four() -> None:
    doc = _read("大模型面经(下)\n四、推理部署\n1.vLLM为什么快?\nPagedAttention。\n2.什么是投机解码?\n小模型起草。\n", "n.txt")
    assert [a.section for a in doc.atoms] == [("大模型面经(下)", "四、推理部署")] * 2


def test_a_bold_follow_up_keeps_the_numbered_heading_a_question() -> None:
    doc = _read(
        "### 1. 介绍一下 LoRA\n\n冻结原权重，训练低秩旁路。\n\n**为什么 B 要初始化为 0？**\n\n开始时旁路输出为 0。\n\n"
        "### 2. LoRA 和全参微调的区别\n\n参数量不同。\n"
    )
    assert [a.question for a in doc.atoms] == ["介绍一下 LoRA", "为什么 B 要初始化为 0？", "LoRA 和全参微调的区别"]


def test_problem_labels_with_answer_labels_are_questions() -> None:
    doc = _read("问题：LoRA 的原理\n\n答案：冻结原权重，训练低秩旁路。\n\n问题：Transformer 的位置编码\n\n答案：sinusoidal、RoPE。\n")
    assert [a.question for a in doc.atoms] == ["LoRA 的原理", "Transformer 的位置编码"]
