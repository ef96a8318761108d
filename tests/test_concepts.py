"""The concept stage: shipped catalogue, user catalogues, recognition and the concept graph."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bagu2anki.concepts import (
    Catalogue,
    Concept,
    ConceptGraph,
    build_graph,
    candidate_acronyms,
    load_catalogue,
)
from bagu2anki.concepts.catalogue import SHIPPED_PATH, alias_key, is_guarded
from bagu2anki.concepts.recognize import MAX_CONCEPTS, recognize
from bagu2anki.diagnostics import Diagnostics
from bagu2anki.model import Atom

DOMAINS = {
    "attention",
    "architecture",
    "position",
    "normalization",
    "inference",
    "peft",
    "sft",
    "alignment",
    "rl",
    "distributed",
    "rag",
    "agent",
    "training",
    "decoding",
}

# The only Latin aliases of one or two characters the shipped catalogue may have: real
# acronyms, all guarded by context during recognition.
SHORT_ACRONYMS = {"dp", "tp", "pp", "ep", "sp", "rm", "rl", "kl", "bn", "ln", "pi"}

REQUIRED_EDGES = [
    ("Attention", "MHA"),
    ("MHA", "MQA"),
    ("MQA", "GQA"),
    ("GQA", "MLA"),
    ("KV-Cache", "MQA"),
    ("KV-Cache", "GQA"),
    ("KV-Cache", "MLA"),
    ("Attention", "FlashAttention"),
    ("PositionalEncoding", "RoPE"),
    ("SFT", "RLHF"),
    ("RewardModel", "PPO"),
    ("PolicyGradient", "PPO"),
    ("PPO", "GRPO"),
    ("GRPO", "DAPO"),
    ("GRPO", "GSPO"),
    ("RLHF", "DPO"),
    ("LoRA", "QLoRA"),
    ("DP", "ZeRO-1"),
    ("ZeRO-1", "ZeRO-2"),
    ("ZeRO-2", "ZeRO-3"),
    ("ZeRO-3", "FSDP"),
    ("TP", "Megatron"),
    ("PP", "Megatron"),
    ("RAG", "HybridRetrieval"),
    ("HybridRetrieval", "RRF"),
    ("RRF", "Rerank"),
    ("FunctionCalling", "MCP"),
]

REQUIRED_CONCEPTS = [
    "SelfAttention",
    "CrossAttention",
    "CausalMask",
    "Transformer",
    "Softmax",
    "BatchNorm",
    "LayerNorm",
    "RMSNorm",
    "PreNorm",
    "SinusoidalPE",
    "ALiBi",
    "YaRN",
    "PositionInterpolation",
    "MoE",
    "SwiGLU",
    "Adapter",
    "PrefixTuning",
    "PromptTuning",
    "P-Tuning",
    "PEFT",
    "GAE",
    "KLPenalty",
    "ValueModel",
    "BradleyTerry",
    "PagedAttention",
    "vLLM",
    "SpeculativeDecoding",
    "Quantization",
    "AWQ",
    "GPTQ",
    "MixedPrecision",
    "DeepSpeed",
    "AllReduce",
    "Chunking",
    "EmbeddingModel",
    "VectorDB",
    "BM25",
    "HyDE",
    "QueryRewrite",
    "RAGEvaluation",
    "Hallucination",
    "Agent",
    "ReAct",
    "AgentMemory",
    "ToolUse",
    "MultiAgent",
    "LangChain",
    "Temperature",
    "TopK",
    "TopP",
]


def atom(
    question: str,
    answer: str = "",
    section: tuple[str, ...] = (),
    source: str = "notes/a.md",
    line: int = 1,
) -> Atom:
    return Atom(
        source=source,
        line=line,
        end_line=line + 1,
        section=section,
        number=None,
        kind=None,
        question=question,
        answer=answer,
        status="answered",
    )


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    diags = Diagnostics()
    cat = load_catalogue(None, diags)
    assert [d.format() for d in diags] == []
    return cat


@pytest.fixture(scope="module")
def graph(catalogue: Catalogue) -> ConceptGraph:
    diags = Diagnostics()
    g = build_graph(catalogue, [], diags)
    assert [d.format() for d in diags] == []
    return g


def concepts_of(
    cat: Catalogue, question: str, answer: str = "", section: tuple[str, ...] = ()
) -> tuple[str, ...]:
    return recognize(atom(question, answer, section), cat)[0]


# --------------------------------------------------------------------------- shipped catalogue


def test_shipped_catalogue_is_large_and_complete(catalogue: Catalogue) -> None:
    assert len(catalogue) >= 70
    ids = catalogue.ids()
    assert len(ids) == len(set(ids))
    assert set(catalogue.domain_names()) == DOMAINS
    for concept in catalogue:
        assert concept.name and concept.description and concept.aliases, concept.id
        assert concept.domain in DOMAINS
        assert concept.origin == "shipped"
        assert all(p in catalogue for p in concept.prereqs)
    for concept_id in REQUIRED_CONCEPTS:
        assert concept_id in catalogue


def test_gqa_entry_is_bilingual(catalogue: Catalogue) -> None:
    gqa = catalogue["GQA"]
    assert gqa.name == "GQA 分组查询注意力"
    assert {"GQA", "Grouped-Query Attention", "分组查询注意力"} <= set(gqa.aliases)
    assert gqa.domain == "attention"
    assert catalogue.resolve("grouped query attention") == "GQA"
    assert catalogue.resolve("分组查询注意力") == "GQA"
    assert catalogue.resolve("ZeRO-3") == "ZeRO-3"
    assert catalogue.resolve("nothing like this") is None


def test_short_latin_aliases_are_only_known_acronyms(catalogue: Catalogue) -> None:
    short = {alias_key(a) for c in catalogue for a in c.aliases if is_guarded(a)}
    assert short <= SHORT_ACRONYMS
    assert {"dp", "tp", "pp", "rm"} <= short
    for concept in catalogue:
        for alias in concept.aliases:
            key = alias_key(alias)
            assert not (key.isascii() and len(key) < 2), alias


@pytest.mark.parametrize(("source", "target"), REQUIRED_EDGES)
def test_required_chain_edges(graph: ConceptGraph, source: str, target: str) -> None:
    edge = graph.edge(source, target)
    assert edge is not None, f"{source} -> {target}"
    assert edge.origin == "catalogue" and edge.loc is None


def test_chains(graph: ConceptGraph) -> None:
    assert graph.chain("MLA") == ("Attention", "MHA", "MQA", "GQA", "MLA")
    assert graph.chain("DAPO") == (
        "RL",
        "PolicyGradient",
        "ValueModel",
        "GAE",
        "PPO",
        "GRPO",
        "DAPO",
    )
    assert graph.chain("FSDP") == ("AllReduce", "DP", "ZeRO-1", "ZeRO-2", "ZeRO-3", "FSDP")
    assert graph.chain("Rerank")[-3:] == ("HybridRetrieval", "RRF", "Rerank")
    assert graph.chain("Attention") == ("Attention",)


def test_shipped_graph_is_acyclic_and_ordered(catalogue: Catalogue, graph: ConceptGraph) -> None:
    assert graph.ignored == ()
    rank = graph.topo_rank()
    layers = graph.layers()
    assert set(rank) == set(catalogue.ids()) == set(layers)
    assert sorted(rank.values()) == list(range(len(catalogue)))
    for edge in graph.edges():
        assert rank[edge.source] < rank[edge.target]
        assert layers[edge.source] < layers[edge.target]
    assert layers["Attention"] == 0
    assert layers["MLA"] == 4


def test_topo_rank_breaks_ties_by_id(graph: ConceptGraph) -> None:
    rank = graph.topo_rank()
    roots = sorted(c for c, layer in graph.layers().items() if layer == 0)
    # The first concept of all is the smallest id without prerequisites.
    assert min(rank, key=rank.__getitem__) == roots[0]


def test_prerequisites_and_dependants_are_transitive(graph: ConceptGraph) -> None:
    assert {"Attention", "MHA", "MQA", "GQA", "KV-Cache"} <= set(graph.prerequisites("MLA"))
    assert "MLA" not in graph.prerequisites("MLA")
    assert {"MQA", "GQA", "MLA"} <= set(graph.dependants("MHA"))
    assert {"ZeRO-2", "ZeRO-3", "FSDP"} <= set(graph.dependants("ZeRO-1"))
    assert graph.dependants("FSDP") == ()
    rank = graph.topo_rank()
    prereqs = graph.prerequisites("DAPO")
    assert [rank[p] for p in prereqs] == sorted(rank[p] for p in prereqs)
    with pytest.raises(KeyError):
        graph.chain("NoSuchConcept")


# --------------------------------------------------------------------------- user catalogue


def test_user_yaml_overrides_extends_and_adds(tmp_path: Path) -> None:
    user = tmp_path / "concepts.yaml"
    user.write_text(
        """
concepts:
  - id: GQA
    description: 我自己的说明
    aliases: [分组 KV 头]
  - id: DCA
    name: DCA 双块注意力
    aliases: [DCA, Dual Chunk Attention, 双块注意力]
    description: 把长序列分块计算注意力的长度外推方法
    domain: position
    prereqs: [RoPE, 长度外推]
""",
        encoding="utf-8",
    )
    diags = Diagnostics()
    cat = load_catalogue(user, diags)
    assert [d.format() for d in diags] == []
    gqa = cat["GQA"]
    assert gqa.description == "我自己的说明"
    assert gqa.name == "GQA 分组查询注意力"
    assert "分组查询注意力" in gqa.aliases and "分组 KV 头" in gqa.aliases
    assert gqa.prereqs == ("MQA", "KV-Cache")
    assert gqa.origin == str(user)
    dca = cat["DCA"]
    assert dca.prereqs == ("RoPE", "LengthExtrapolation")  # prereqs may be written as aliases
    assert dca.origin == str(user)
    assert cat["MLA"].origin == "shipped"
    assert recognize(atom("DCA 怎么做长度外推？"), cat)[1] == "DCA"
    assert recognize(atom("分组 kv 头是什么"), cat)[1] == "GQA"
    graph = build_graph(cat, [], diags)
    assert graph.chain("DCA") == ("PositionalEncoding", "RelativePE", "RoPE", "DCA")
    assert graph.edge("LengthExtrapolation", "DCA") is not None


def test_user_replace_and_toml(tmp_path: Path) -> None:
    user = tmp_path / "concepts.toml"
    user.write_text(
        """
[domains]
rag = ["召回"]

[[concepts]]
id = "MQA"
prereqs = ["MHA"]
replace = true

[[concepts]]
id = "EQR"
name = "EQR 实体查询改写"
domain = "rag"
aliases = ["EQR"]
prereqs = ["QueryRewrite"]
""",
        encoding="utf-8",
    )
    diags = Diagnostics()
    cat = load_catalogue(user, diags)
    assert [d.format() for d in diags] == []
    assert cat["MQA"].prereqs == ("MHA",)
    assert cat["EQR"].name == "EQR 实体查询改写"
    assert cat["EQR"].description == ""
    assert "召回" in cat.context_words("rag")


def test_user_catalogue_problems_are_diagnostics(tmp_path: Path) -> None:
    user = tmp_path / "bad.yaml"
    user.write_text(
        """concepts:
  - id: NewThing
    name: 新东西
    aliases: [NewThing]
  - id: Other
    domain: ragg
  - id: Third
    domain: rag
    prereqs: [GQB]
    alias: [typo]
  - id: Fourth
    domain: rag
    aliases: GQA
  - id: Fifth
    domain: rag
    aliases: [GQA]
""",
        encoding="utf-8",
    )
    diags = Diagnostics()
    cat = load_catalogue(user, diags)
    found = {(d.severity, d.line): d.message for d in diags}
    path = str(user)
    assert all(d.path == path for d in diags)
    assert "needs a 'domain'" in found[("error", 2)]
    assert "unknown domain 'ragg'" in found[("error", 6)]
    assert "did you mean 'rag'" in found[("error", 6)]
    assert "unknown prerequisite 'GQB'" in found[("warning", 9)]
    assert "did you mean 'GQA'" in found[("warning", 9)]
    assert "unknown concept field 'alias'" in found[("warning", 10)]
    assert "did you mean 'aliases'" in found[("warning", 10)]
    assert "'aliases' must be a list" in found[("error", 13)]
    assert "already names 'GQA'" in found[("warning", 16)]
    assert "NewThing" not in cat and "Other" not in cat and "Fourth" not in cat
    assert cat["Third"].prereqs == ()
    assert cat["Fifth"].aliases == ()
    assert cat.resolve("GQA") == "GQA"


def test_unreadable_user_catalogues_never_raise(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("concepts:\n  - id: A\n    aliases: [x, y\n", encoding="utf-8")
    diags = Diagnostics()
    cat = load_catalogue(broken, diags)
    assert diags.errors == 1
    (problem,) = diags.items
    assert problem.path == str(broken) and problem.line is not None
    assert "GQA" in cat  # the shipped catalogue still loads

    for name, text in [("bad.toml", "[[concepts]\nid = 1"), ("notes.txt", "x")]:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        diags = Diagnostics()
        load_catalogue(path, diags)
        assert diags.errors == 1 and diags.items[0].path == str(path)

    diags = Diagnostics()
    load_catalogue(tmp_path / "missing.yaml", diags)
    assert diags.errors == 1


def test_user_file_that_creates_a_cycle(tmp_path: Path) -> None:
    user = tmp_path / "cycle.yaml"
    user.write_text("concepts:\n  - id: MHA\n    prereqs: [MLA]\n", encoding="utf-8")
    diags = Diagnostics()
    cat = load_catalogue(user, diags)
    graph = build_graph(cat, [], diags)
    (warning,) = [d for d in diags if d.code == "concept-cycle"]
    assert warning.path == str(user)
    assert "MLA -> MHA" in warning.message
    assert f"from catalogue ({user})" in warning.message
    assert set(graph.topo_rank()) == set(cat.ids())


# --------------------------------------------------------------------------- recognition


def test_latin_aliases_match_whole_terms_only(catalogue: Catalogue) -> None:
    assert concepts_of(catalogue, "MLAX 和 PPO2 是什么？") == ()
    assert concepts_of(catalogue, "用 MLA 压缩 KV") == ("MLA",)
    assert concepts_of(catalogue, "PPO的裁剪") == ("PPO",)
    assert concepts_of(catalogue, "(GQA)") == ("GQA",)
    assert concepts_of(catalogue, "用 zero_grad 清空梯度") == ()


def test_chinese_and_full_width_aliases(catalogue: Catalogue) -> None:
    assert concepts_of(catalogue, "什么是分组查询注意力？") == ("GQA",)
    assert concepts_of(catalogue, "ＧＱＡ 和 ＭＨＡ 的区别") == ("GQA", "MHA")
    assert concepts_of(catalogue, "什么是注意力机制") == ("Attention",)


@pytest.mark.parametrize(
    "text", ["KV cache", "KV-Cache", "kv_cache", "KVCache", "kv缓存", "KV 缓存", "ＫＶ－Ｃａｃｈｅ"]
)
def test_separator_variants(catalogue: Catalogue, text: str) -> None:
    assert concepts_of(catalogue, f"{text} 为什么能加速？") == ("KV-Cache",)


def test_longest_alias_wins(catalogue: Catalogue) -> None:
    assert concepts_of(catalogue, "ZeRO-3 与 FSDP") == ("ZeRO-3", "FSDP")
    assert concepts_of(catalogue, "zero-shot 与 few-shot") == ("ICL",)
    assert concepts_of(catalogue, "P-Tuning v2 的改进") == ("P-Tuning",)
    # 可量化 is an ignored phrase, 向量化 an EmbeddingModel alias: neither is 模型量化.
    assert "Quantization" not in concepts_of(catalogue, "这个指标可量化吗？文本向量化后入库")


def test_guarded_acronyms_need_context(catalogue: Catalogue) -> None:
    code = concepts_of(
        catalogue,
        "最长递增子序列怎么用 DP 做？",
        "dp[i] 表示以 i 结尾的最长长度，DP 的状态转移是 dp[i] = max(dp[j] + 1)。",
        section=("代码题",),
    )
    assert code == ()
    assert concepts_of(catalogue, "DP、TP、PP 的区别") == ("DP", "TP", "PP")
    assert concepts_of(catalogue, "DP 的通信量是多少？") == ("DP",)
    assert concepts_of(catalogue, "DP 是什么？", section=("分布式训练", "并行策略")) == ("DP",)
    assert concepts_of(catalogue, "BN 和 LN 的区别") == ("LayerNorm", "BatchNorm")
    far = "DP 用于 " + "很多很多的文字" * 20 + "数据并行在这里"
    assert "DP" in concepts_of(catalogue, "下面哪个是对的？", "分布式训练里 DP 很常见")
    assert concepts_of(catalogue, "讲讲这个方法", "DP。" + "无关的内容" * 30) == ()
    assert "DP" in concepts_of(catalogue, "讲讲这个方法", far)  # via 数据并行, not the far DP


def test_long_answer_links_to_few_concepts(catalogue: Catalogue) -> None:
    names = [
        "MHA", "MQA", "MLA", "RoPE", "ALiBi", "LoRA", "QLoRA", "PPO", "DPO", "GRPO", "RAG",
        "BM25", "RRF", "Rerank", "HyDE", "RAGAS", "vLLM", "PagedAttention", "FlashAttention",
        "SwiGLU", "MoE", "RMSNorm", "LayerNorm", "BatchNorm", "FSDP", "DeepSpeed", "Megatron",
        "MCP", "ReAct", "LangChain",
    ]  # fmt: skip
    answer = (
        "顺带一提：" + "、".join(names) + " 都和推理有关，它是 MQA 的折中。\n\n"
        "其中 SwiGLU 很常见。\n\n另外 SwiGLU 也好。"
    )
    concepts, main = recognize(atom("GQA 为什么省显存？", answer), catalogue)
    assert main == "GQA"
    assert concepts[0] == "GQA"
    assert len(concepts) <= MAX_CONCEPTS
    # Kept: SwiGLU, named in two paragraphs; not the 29 names of the enumeration, nor MQA,
    # named once in passing although it is linked to GQA.
    assert concepts == ("GQA", "SwiGLU")


def test_question_mentions_beat_answer_mentions(catalogue: Catalogue) -> None:
    concepts, main = recognize(
        atom("LoRA 的原理？", "QLoRA 在 QLoRA 论文里……QLoRA 还用了 NF4。"), catalogue
    )
    assert main == "LoRA"
    assert concepts == ("LoRA", "QLoRA")


def test_main_concept_rule(catalogue: Catalogue) -> None:
    # First-mentioned, skipping domain roots (entry points such as RAG, Transformer, PEFT).
    assert recognize(atom("MHA、MQA、GQA、MLA 的区别"), catalogue) == (
        ("MHA", "MQA", "GQA", "MLA"),
        "MHA",
    )
    assert recognize(atom("RAG 中 Rerank 怎么做？"), catalogue) == (("Rerank", "RAG"), "Rerank")
    assert recognize(atom("Transformer 里怎么实现 GQA"), catalogue)[1] == "GQA"
    assert recognize(atom("PEFT 里 LoRA 为什么好"), catalogue)[1] == "LoRA"
    assert recognize(atom("什么是 RAG？"), catalogue) == (("RAG",), "RAG")
    assert recognize(atom("你好", "没有概念"), catalogue) == ((), None)


def test_section_and_short_answer_fallbacks(catalogue: Catalogue) -> None:
    concepts, main = recognize(atom("原理是什么？", "低秩矩阵", ("微调", "LoRA")), catalogue)
    assert (concepts, main) == (("LoRA",), "LoRA")
    concepts, main = recognize(atom("怎么省显存？", "可以用 GQA 或者 MQA。"), catalogue)
    assert main is None and concepts == ("GQA", "MQA")


def test_a_page_title_does_not_put_its_concept_on_every_question(catalogue: Catalogue) -> None:
    """`Agent八股` is the page: a question that names its own subject is not about agents."""
    concepts, _ = recognize(atom("Embedding 有哪些常见的训练方法？", "对比学习、蒸馏。", ("Agent八股",)), catalogue)
    assert "Agent" not in concepts
    concepts, _ = recognize(atom("向量数据库和普通数据库有什么不同之处？", "索引结构不同。", ("Agent八股",)), catalogue)
    assert "Agent" not in concepts
    # an outer title never lends its concept, even to a question with no subject of its own
    concepts, _ = recognize(atom("原理是什么？", "一句话。", ("Agent八股", "其他")), catalogue)
    assert "Agent" not in concepts


def test_candidate_acronyms(catalogue: Catalogue) -> None:
    atoms = [
        atom("DCA 是什么？", "DCA 把序列分块，和 GQA 一起用", line=1),
        atom("EQR 怎么做", "EQR 要在 GPU 上跑", source="notes/b.md", line=5),
        atom("DCA 和 EQR", "", source="notes/b.md", line=9),
        atom("再说 EQR", "XYZ 只出现一次；ＥＱＲ", source="notes/c.md", line=2),
        atom("GPU 显存", "EAGLE-3 很快", line=20),
        atom("GQA 显存", "EAGLE-3 很快", line=30),
    ]
    assert candidate_acronyms(atoms, catalogue) == [
        ("EQR", 3, "notes/b.md:5"),
        ("DCA", 2, "notes/a.md:1"),
    ]


def test_ten_thousand_atoms(catalogue: Catalogue) -> None:
    usable = [
        (c.id, a)
        for c in catalogue
        for a in c.aliases
        if not is_guarded(a) and catalogue.resolve(a) == c.id
    ]
    atoms = []
    for i in range(10_000):
        concept_id, alias = usable[(i * 7) % len(usable)]
        other = usable[(i * 13 + 5) % len(usable)][1]
        answer = f"第 {i} 条：{alias} 的要点如下。它与{other}有关，" + "细节说明。" * 20
        atoms.append((concept_id, atom(f"{alias} 的原理是什么？", answer, line=i + 1)))
    results = [recognize(a, catalogue) for _, a in atoms]
    wrong = [
        (a.question, r)
        for (concept_id, a), r in zip(atoms, results, strict=True)
        if r[1] != concept_id
    ]
    assert wrong == []
    assert all(len(r[0]) <= MAX_CONCEPTS for r in results)


def test_recognize_with_a_hand_built_catalogue() -> None:
    cat = Catalogue(
        (
            Concept("A", "A 概念", ("Alpha", "甲"), "", "attention", (), "shipped"),
            Concept("B", "B 概念", ("Beta",), "", "attention", ("A",), "shipped"),
        ),
        (("attention", ()),),
    )
    assert recognize(atom("甲 和 Beta"), cat) == (("B", "A"), "B")
    assert recognize(atom("Alphabet"), cat) == ((), None)


# --------------------------------------------------------------------------- graph


def test_prose_chain_adds_notes_edges(catalogue: Catalogue) -> None:
    diags = Diagnostics()
    graph = build_graph(
        catalogue,
        [(("多头注意力", "GQA", "MLA"), "notes/attn.md", 12), (("MHA", "MQA"), "notes/b.md", 3)],
        diags,
    )
    assert [d.format() for d in diags] == []
    edge = graph.edge("MHA", "GQA")
    assert edge is not None and edge.origin == "notes" and edge.loc == "notes/attn.md:12"
    # A chain that repeats a catalogue edge keeps the catalogue origin.
    repeated = graph.edge("MHA", "MQA")
    assert repeated is not None and repeated.origin == "catalogue"
    assert graph.chain("MLA") == ("Attention", "MHA", "MQA", "GQA", "MLA")


def test_unknown_chain_part_is_a_warning_with_a_suggestion(catalogue: Catalogue) -> None:
    diags = Diagnostics()
    graph = build_graph(catalogue, [(("MHA", "GQB", "MLA"), "notes/attn.md", 7)], diags)
    (warning,) = diags.items
    assert (warning.severity, warning.path, warning.line) == ("warning", "notes/attn.md", 7)
    assert "unknown concept 'GQB'" in warning.message
    assert "did you mean 'GQA'" in warning.message
    assert graph.edge("MHA", "MLA") is None


def test_cycle_is_a_warning_and_ordering_still_works(catalogue: Catalogue) -> None:
    diags = Diagnostics()
    graph = build_graph(catalogue, [(("MLA", "MHA"), "notes/cycle.md", 4)], diags)
    (warning,) = diags.items
    assert warning.severity == "warning" and warning.code == "concept-cycle"
    assert (warning.path, warning.line) == ("notes/cycle.md", 4)
    assert "MLA -> MHA -> MQA -> GQA -> MLA" in warning.message
    assert "MLA -> MHA from notes (notes/cycle.md:4)" in warning.message
    assert "MHA -> MQA from catalogue" in warning.message
    assert diags.failed(strict=True) and not diags.failed(strict=False)
    rank = graph.topo_rank()
    assert set(rank) == set(catalogue.ids())
    assert sorted(rank.values()) == list(range(len(catalogue)))
    assert rank["MHA"] < rank["MLA"]  # the notes edge closing the cycle is the one left out
    assert set(graph.layers()) == set(catalogue.ids())
    assert graph.chain("MLA") == ("Attention", "MHA", "MQA", "GQA", "MLA")
    assert "MLA" in graph.prerequisites("MHA")  # transitive queries see every edge
    # Deterministic: the same input gives the same order.
    again = build_graph(catalogue, [(("MLA", "MHA"), "notes/cycle.md", 4)], Diagnostics())
    assert again.topo_rank() == rank


def test_catalogue_only_cycle() -> None:
    concepts = tuple(
        Concept(i, i, (i,), "", "rag", prereqs, "shipped")
        for i, prereqs in [("Xa", ("Xc",)), ("Xb", ("Xa",)), ("Xc", ("Xb",))]
    )
    diags = Diagnostics()
    graph = build_graph(Catalogue(concepts, (("rag", ()),)), [], diags)
    (warning,) = diags.items
    assert warning.path == SHIPPED_PATH
    assert "from catalogue" in warning.message
    assert set(graph.topo_rank()) == {"Xa", "Xb", "Xc"}
    # Edges go in in order Xc->Xa, Xa->Xb, Xb->Xc; the last one closes the cycle.
    assert "Ordering ignores Xb -> Xc" in warning.message
    assert graph.chain("Xb") == ("Xc", "Xa", "Xb")


def test_export(catalogue: Catalogue) -> None:
    graph = build_graph(catalogue, [(("MHA", "GQA"), "notes/a.md", 2)], Diagnostics())
    used = {"GQA": ["a.md:9", "a.md:3", "a.md:3"], "MHA": ["a.md:1"], "MQA": ["b.md:4"]}
    full = graph.to_export(used, only_used=False)
    assert set(full) == {"nodes", "edges"}
    assert len(full["nodes"]) == len(catalogue)
    ids = [str(n["id"]) for n in full["nodes"]]
    assert ids == sorted(ids)
    assert json.loads(json.dumps(full)) == full
    gqa = next(n for n in full["nodes"] if n["id"] == "GQA")
    assert gqa == {
        "id": "GQA",
        "label": "GQA 分组查询注意力",
        "aliases": list(catalogue["GQA"].aliases),
        "description": catalogue["GQA"].description,
        "domain": "attention",
        "atoms": ["a.md:3", "a.md:9"],
    }
    keys = [(str(e["source"]), str(e["target"])) for e in full["edges"]]
    assert keys == sorted(keys)
    assert all(set(e) == {"source", "target", "origin", "loc"} for e in full["edges"])

    small = graph.to_export(used, only_used=True)
    assert [n["id"] for n in small["nodes"]] == ["GQA", "MHA", "MQA"]
    assert small["edges"] == [
        {"source": "MHA", "target": "GQA", "origin": "notes", "loc": "notes/a.md:2"},
        {"source": "MHA", "target": "MQA", "origin": "catalogue", "loc": None},
        {"source": "MQA", "target": "GQA", "origin": "catalogue", "loc": None},
    ]
    assert graph.to_export(used, only_used=True) == small


def test_only_the_graph_module_imports_networkx() -> None:
    src = Path(__file__).resolve().parents[1] / "src" / "bagu2anki"
    importers = sorted(
        str(p.relative_to(src))
        for p in src.rglob("*.py")
        if re.search(r"^\s*(import|from)\s+networkx\b", p.read_text(encoding="utf-8"), re.M)
    )
    assert importers == ["concepts/graph.py"]
