"""The concept benchmark (benchmarks/concepts/): the hand-made gold list is well-formed (its
questions exist at their lines, its concepts exist in the catalogue, its labels are our own
words), and the concepts attached to its 40 questions keep the precision and recall recorded
here. The scoring parts need the seed part in ../shared and are skipped without it."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

import pytest
from conftest import NOTES, ROOT, SEED

from bagu2anki.concepts import load_catalogue
from bagu2anki.concepts.recognize import recognize
from bagu2anki.diagnostics import Diagnostics
from bagu2anki.model import Atom

BENCH = ROOT / "benchmarks" / "concepts"

# The target is 0.9 for both. When the gold list was made: precision 0.815, recall 0.821;
# with structure-aware recognition (175 concepts): 0.946 / 0.910 whole, 0.953 / 0.910 split (see
# benchmarks/concepts/README.md for what is still missed). These floors are the achieved
# figures, rounded down; raise them as recognition improves.
FLOORS = {"precision": 0.94, "recall": 0.91}
PER_COLLECTION = 20
COPY_RUN = 6  # a label may share at most 5 characters in a row with its question


def _score() -> ModuleType:
    name = "b2a_concept_score"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCH / "score.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _shares_run(label: str, text: str, n: int) -> bool:
    label, text = label.lower(), text.lower()
    return any(label[i : i + n] in text for i in range(len(label) - n + 1))


def test_gold_is_well_formed() -> None:
    score = _score()
    gold = score.load_gold()
    assert gold.collections["notes"] == NOTES.resolve()
    assert gold.collections["seed"] == SEED.resolve()
    catalogue = load_catalogue(None, Diagnostics())
    by_collection: dict[str, int] = {}
    for q in gold.questions:
        by_collection[q.collection] = by_collection.get(q.collection, 0) + 1
        unknown = [c for c in q.concepts if c not in catalogue]
        assert not unknown, (q.source, q.line, unknown)
        assert set(q.added) <= set(q.concepts)
    assert by_collection == {"notes": PER_COLLECTION, "seed": PER_COLLECTION}
    labels = [(q.collection, q.label) for q in gold.questions]
    assert len(set(labels)) == len(labels)


@pytest.mark.parametrize("collection", ["notes", "seed"])
def test_gold_questions_exist_at_their_lines(collection: str) -> None:
    score = _score()
    gold = score.load_gold()
    path = gold.collections[collection]
    if collection == "seed" and not SEED.is_file():
        pytest.skip(f"seed notes not available at {SEED} (../shared is absent in this checkout)")
    atoms = score.read_links(path)
    for q in gold.questions:
        if q.collection != collection:
            continue
        atom = atoms.get(q.key)
        assert atom is not None, f"no question at {q.source}:{q.line} ({q.label})"
        assert not _shares_run(q.label, atom["question"], COPY_RUN), (q.label, atom["question"])


def test_precision_and_recall_of_attached_concepts() -> None:
    if not SEED.is_file():
        pytest.skip(f"seed notes not available at {SEED} (../shared is absent in this checkout)")
    score = _score()
    results, absent = score.run()
    assert absent == []
    assert len(results) == 2 * PER_COLLECTION and all(r.found for r in results)
    total = score.score(results)
    assert total.precision >= FLOORS["precision"], total
    assert total.recall >= FLOORS["recall"], total
    # the same questions read as the build reads them (split into parts) do no worse
    split = score.score(score.run(split=True)[0])
    assert split.precision >= FLOORS["precision"] and split.recall >= FLOORS["recall"], split


# --------------------------------------------------------------------------- rules the list relies on

FILLER = "这里是与本题无关的铺垫文字，用来把回答撑到一段正常的长度。" * 6


def _atom(question: str, answer: str) -> Atom:
    return Atom("notes/a.md", 1, 2, (), None, None, question, answer, "answered")


def _concepts(question: str, answer: str) -> tuple[str, ...]:
    return recognize(_atom(question, answer), load_catalogue(None, Diagnostics()))[0]


def test_a_bilingual_name_written_twice_is_one_mention() -> None:
    once = (
        FILLER + "长序列时可以换成稀疏注意力(Sparse Attention)。另外，稀疏注意力还能配合滑动窗口。"
    )
    assert "SparseAttention" not in _concepts("自注意力的计算复杂度是多少？", once)
    twice = FILLER + "长序列时可以换成稀疏注意力。\n\n另外，Sparse Attention 还能配合滑动窗口。"
    assert "SparseAttention" in _concepts("自注意力的计算复杂度是多少？", twice)


def test_a_root_question_does_not_take_every_step_its_answer_names() -> None:
    answer = FILLER + "流程是：文档分块、写入向量数据库、检索后重排序，再拼进提示词里生成。"
    assert _concepts("RAG 是什么？", answer) == ("RAG",)
    pipeline = FILLER + "离线流程：文档解析 → 切块 → embedding → 向量库。"
    assert _concepts("RAG 是什么？", pipeline) == ("RAG",)


def test_a_name_said_once_in_passing_is_not_the_subject() -> None:
    # linked to the question's concept, but named once inside a sentence about something else
    assert _concepts("GQA 为什么省显存？", FILLER + "它是 MQA 和 MHA 的折中。") == ("GQA",)
    # explained in two separate parts
    two = FILLER + "它是 MQA 和 MHA 的折中。\n\nMQA 让所有头共享一组 K、V。"
    assert "MQA" in _concepts("GQA 为什么省显存？", two)


def test_the_lead_of_a_part_is_its_subject() -> None:
    question = "RAG 的召回效果差怎么优化？"
    items = (
        FILLER + "\n\n- **Rerank**：召回后再精排一次。\n- 切块：按标题结构切，块大小在评测集上调。"
    )
    assert {"Rerank", "Chunking"} <= set(_concepts(question, items))
    table = FILLER + "\n\n| 模型 | 作用 |\n|---|---|\n| Reference Model | 算 KL |"
    assert "ReferenceModel" in _concepts("PPO 怎么训练？", table)
    # a table comparing concepts named in its header: its first column holds features
    compared = FILLER + "\n\n| 特性 | DPO | PPO |\n|---|---|---|\n| 是否需要强化学习 | 否 | 是 |"
    assert "RL" not in _concepts("DPO 和 RLHF 的区别？", compared)
    heading = FILLER + "\n\n一、背景：矩阵的瓶颈\n\nSRAM 很小，读写 HBM 慢。"
    assert "MemoryHierarchy" in _concepts("FlashAttention 的原理？", heading.replace("矩阵", "HBM"))
    # with no concept of its own in the question, the opening sentence says what it is about
    opening = "这属于 context engineering 的问题，核心是只放需要的信息。" + FILLER
    assert "ContextEngineering" in _concepts("长任务中上下文窗口快满了怎么办？", opening)
    # a term the answer defines with a gloss
    gloss = (
        "SFT 每个 token 都按标准答案拟合，模型看不到自己犯错后的状态（exposure bias）。" + FILLER
    )
    assert "ExposureBias" in _concepts("SFT 之后为什么还需要 RL？", gloss)


def test_items_under_group_titles_are_details() -> None:
    answer = (
        "分阶段来回答：\n\n数据处理阶段：\n\n- 数据清洗：去掉错误和重复的样本\n- 数据标注：标注事实\n\n"
        "训练阶段：\n\n- 模型集成：训练多个模型\n- 约束：使用约束解码\n\n" + FILLER
    )
    assert _concepts("怎么解决幻觉问题", answer) == ("Hallucination",)


def test_setting_concepts_need_to_lead_and_be_explained() -> None:
    used = (
        FILLER
        + "\n\n每步都要做注意力计算。\n\n缓存之后注意力只算新 token。\n\n注意力的 K、V 存起来。"
    )
    assert "Attention" not in _concepts("KV Cache 为什么能加速？", used)
    led = FILLER + "\n\n一、标准注意力的瓶颈\n要存 n×n 的矩阵。\n\n所以注意力是访存受限的。"
    assert "Attention" in _concepts("FlashAttention 的原理？", led)
    # the family name of the question's concept is its setting too
    family = FILLER + "\n\nLoRA 是一种 PEFT 方法。\n\nPEFT 库默认支持它。"
    assert "PEFT" not in _concepts("LoRA 的原理是什么？", family)


def test_asides_do_not_count() -> None:
    question = "为什么 Transformer 需要位置编码？"
    examples = FILLER + "\n\n分绝对和相对两种（如 RoPE、ALiBi）。\n\n比如 RoPE 作用在打分里。"
    assert "RoPE" not in _concepts(question, examples)
    yardstick = FILLER + "\n\n通信量与标准 DP 相同。\n\n像数据并行一样，每张卡算一份。"
    assert "DP" not in _concepts("ZeRO-1 切分了什么？", yardstick)
    closer = (
        FILLER
        + "\n\n如果你对 Multi-Head Attention 感兴趣，也可以继续问！\n\n如需 MHA 的代码也可以说。"
    )
    assert "MHA" not in _concepts("Attention 如何计算？", closer)
    link = FILLER + "\n\nMHA 详解：https://example.com/mha\n\n更多 MHA 内容见 [这里](./mha.md)。"
    assert "MHA" not in _concepts("Attention 如何计算？", link)


def test_an_announced_division_names_the_parts() -> None:
    answer = (
        FILLER
        + "\n\n注入方式大致分两类：绝对位置编码（加在输入上）和相对位置编码（作用在打分里）。"
    )
    concepts = _concepts("为什么 Transformer 需要位置编码？", answer)
    assert {"AbsolutePE", "RelativePE"} <= set(concepts)


def test_prose_in_a_text_fence_counts_and_code_does_not() -> None:
    prose = "```text\n" + FILLER + "\n- 路由器：为每个 token 选专家\n```"
    assert "MoERouting" in _concepts("MoE 怎么工作？", prose)
    code = "```python\n" + FILLER + "\n- 路由器：为每个 token 选专家\n```"
    assert "MoERouting" not in _concepts("MoE 怎么工作？", code)


def test_a_keyword_answer_is_all_content() -> None:
    concepts = _concepts("agent 方面有哪些了解", "框架 LangChain\n上下文压缩\nMCP")
    assert {"Agent", "LangChain", "ContextEngineering", "MCP"} <= set(concepts)
