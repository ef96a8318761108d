"""Deterministic synthetic interview notes for the benchmarks: distinct Chinese Q&A atoms with
formulas, tables and code, in the note styles bagu2anki reads, and the same atoms in the input
syntax of the peers the benchmark compares with (ankdown, md2anki).

    python benchmarks/generate.py --atoms 10000 --out /tmp/bench10k
    python benchmarks/generate.py --atoms 10000 --out /tmp/bench10k --concepts 2000 \\
        --ankdown /tmp/bench10k-ankdown --md2anki /tmp/bench10k-md2anki

No question and no code block repeats: real notes rarely do, and a corpus that repeats flatters
any cache keyed by content and hides work that grows with the number of distinct items. Each
question is one combination of a topic (a concept name), a question pattern and a scenario,
drawn without replacement from about a million with a seeded RNG; each code block (Python,
C++ or shell) comes from one of 14 templates with its own identifiers and values. The generator
counts duplicates of both and stops if there is any. Formulas are made from templates with
varied symbols and numbers, so most of them are distinct too.

Writes `atoms / 50` files of 50 questions each (about 1.6 KB per atom, so 10,000 atoms are
about 16 MB). Nine files in ten are Markdown, cycling through four styles (numbered question
headings, `**Q：…？** answer`, `八股：…` lines, `- **Q：…**` / `  A：…` list items); every tenth is a
flat text export (title line, `模板N` sections, `八股:` and `1.xxx` questions, `\\(…\\)` math,
line-numbered code, `同模板1 第2题` references).

Options:
  --concepts N   also write `concepts.yaml` (N synthetic concepts with prerequisite chains)
                 into the notes folder; the atoms mention these names whether or not the
                 catalogue is written, so a corpus with and without it has the same notes.
  --ankdown DIR  the same atoms in ankdown's own syntax (`%` between front and back, `---`
                 between cards, `\\(…\\)` / `\\[…\\]` math), one `.md` per source file.
  --md2anki DIR  the same atoms in md2anki's syntax: one `.md` per source file, `# title` (its
                 deck), `## Subdeck: section`, `### question` with the answer below it, `$…$` /
                 `$$…$$` math, a `{=:bench:=}` tag for the file.

`OUT/.bench-manifest.json` (a hidden file: bagu2anki skips it) lists every atom with the
`path:line` of its question, the formulas its answer must keep, and how many tables and code
blocks it has, for the checks of each deck. The same seed and size always give byte-identical
files.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ATOMS_PER_FILE = 50
SYNTHETIC_POOL = 2000  # synthetic concept names the atoms mention (at least --concepts)
MANIFEST = ".bench-manifest.json"
SEED = 20240501

# --- vocabulary ----------------------------------------------------------------------------------

# Aliases of concepts in the shipped catalogue, so recognition and the concept map have work.
SHIPPED_TERMS = (
    "Attention",
    "MHA",
    "MQA",
    "GQA",
    "MLA",
    "FlashAttention",
    "KV Cache",
    "RoPE",
    "ALiBi",
    "LayerNorm",
    "RMSNorm",
    "SwiGLU",
    "MoE",
    "LoRA",
    "QLoRA",
    "SFT",
    "RLHF",
    "PPO",
    "DPO",
    "GRPO",
    "ZeRO",
    "FSDP",
    "RAG",
    "ReAct",
    "Transformer",
    "Softmax",
    "Beam Search",
    "Top-p",
    "PagedAttention",
    "vLLM",
    "Speculative Decoding",
    "Tokenizer",
    "BPE",
    "Reward Model",
)
CHAINS = (
    "MHA -> MQA -> GQA -> MLA",
    "PPO -> DPO",
    "LoRA -> QLoRA",
    "LayerNorm -> RMSNorm",
    "Attention -> FlashAttention",
)
# A question is PATTERN.format(a=topic, b=another term, ctx=scenario); (topic, pattern, scenario)
# never repeats, and every pattern uses {a} and {ctx}, so no two questions are the same text.
QUESTION_PATTERNS = (
    "{ctx}，{a} 的原理是什么？",
    "{ctx}，{a} 和 {b} 有什么区别？",
    "{ctx}，为什么 {a} 能提升训练效率？",
    "{a} {ctx}是怎么工作的？",
    "{ctx}，如何估算 {a} 的显存开销？",
    "{ctx}，{a} 有哪些优缺点？",
    "{ctx}，讲一下 {a} 的实现细节？",
    "{ctx}，{a} 为什么要配合 {b} 使用？",
    "{ctx}，{a} 的计算复杂度是多少？",
    "面试官追问：{ctx}，{a} 失效了怎么排查？",
    "{ctx}，{a} 相比 {b} 解决了什么问题？",
    "{ctx}，如果让你改进 {a}，你会怎么做？",
    "{ctx}，{a} 的超参数怎么选？",
    "{a} {ctx}会带来哪些副作用？",
    "{ctx}，怎么验证 {a} 真的有效？",
    "{ctx}，{a} 的瓶颈在哪里？",
    "{ctx}，{a} 能不能和 {b} 一起用？",
    "{ctx}，{a} 的通信量怎么算？",
    "为什么有人说 {a} {ctx}不稳定？",
    "{ctx}，手写 {a} 要注意什么？",
    "{ctx}，{a} 对吞吐和延迟各有什么影响？",
    "{ctx}，{a} 的梯度是怎么回传的？",
    "{ctx}，怎样向非技术同事解释 {a}？",
    "{ctx}，{a} 的输入输出形状分别是什么？",
)
SCENARIOS = (
    "在长上下文推理时",
    "在八卡数据并行训练时",
    "显存只有 24 GB 时",
    "batch size 很大时",
    "用 FP16 混合精度时",
    "在手机端部署时",
    "做多轮对话时",
    "做检索增强问答时",
    "标注数据只有几千条时",
    "线上对延迟很敏感时",
    "序列长度到 128k 时",
    "微调 7B 模型时",
    "做代码生成任务时",
    "做数学推理任务时",
    "流式输出时",
    "同一服务承载多个租户时",
    "从零预训练时",
    "做知识蒸馏时",
    "权重量化到 INT4 之后",
    "训练中出现 loss 尖峰时",
    "做偏好对齐时",
    "在 TPU 集群上训练时",
    "评测集很小时",
    "多模态输入混在一起时",
)
SUBJECTS = (
    "这种做法",
    "训练时",
    "推理阶段",
    "在长序列场景下",
    "工程实现上",
    "从显存角度看",
    "对于大模型来说",
    "实际项目里",
    "论文里的消融实验表明",
    "面试时可以先说结论",
    "从计算量上看",
    "在多卡训练中",
    "和基线方法相比",
    "落地时",
    "数据量不大的时候",
    "上线之后",
    "从梯度传播的角度",
    "如果序列很长",
    "换一个角度想",
    "按我们组的经验",
    "从系统设计看",
    "若只看单卡",
)
PREDICATES = (
    "会显著降低显存占用",
    "需要额外的通信开销",
    "可以把计算量从平方级降到线性",
    "更容易出现数值溢出",
    "对学习率比较敏感",
    "能让训练更稳定",
    "几乎不增加推理延迟",
    "对长上下文更友好",
    "需要仔细调超参数",
    "会牺牲一部分精度",
    "可以和其他方法叠加使用",
    "本质上是用计算换显存",
    "收敛速度明显更快",
    "对数据质量要求更高",
    "主要瓶颈在访存带宽",
    "在小模型上收益不明显",
    "能减少重复计算",
    "需要在吞吐和延迟之间权衡",
    "对下游任务的泛化更好",
    "实现起来比较简单",
    "容易被忽略的是初始化方式",
    "要和分词器一起考虑",
    "对批大小不太敏感",
    "会让显存碎片变多",
)
TAILS = (
    "这也是它被广泛采用的原因",
    "具体数值要在评测集上验证",
    "这一点在面试里经常被追问",
    "所以要结合业务场景来选",
    "后续很多工作都沿着这个方向改进",
    "但代价是实现复杂度上升",
    "可以通过监控指标及早发现问题",
    "原论文给出了详细的推导",
    "最好先用小规模实验确认",
    "上线前要做回归测试",
)
MATH_LEADS = ("其中 ${}$ 是关键量", "可以记作 ${}$", "粗略估计为 ${}$", "约束条件是 ${}$")
SECTION_TOPICS = (
    "基础",
    "进阶",
    "工程实践",
    "面试追问",
    "原理推导",
    "对比总结",
    "常见坑",
    "系统设计",
)
TABLE_KINDS = (
    ("方法", "显存", "通信量", "说明"),
    ("模型", "参数量", "上下文", "备注"),
    ("策略", "吞吐", "延迟", "适用场景"),
    ("阶段", "计算量", "数据量", "风险"),
)
SYLLABLES_A = (
    "Ko",
    "Va",
    "Ze",
    "Lu",
    "Mi",
    "Tor",
    "Qua",
    "Fen",
    "Dra",
    "Sil",
    "Ny",
    "Bex",
    "Cor",
    "Hal",
    "Jin",
    "Pry",
    "Ulm",
    "Wex",
    "Yor",
    "Gav",
)
SYLLABLES_B = (
    "ra",
    "li",
    "no",
    "ve",
    "tu",
    "ma",
    "xi",
    "do",
    "pe",
    "ka",
    "zo",
    "ri",
    "sa",
    "le",
    "mu",
    "ta",
    "ne",
    "go",
    "fi",
    "bu",
)
SYLLABLES_C = ("vex", "lin", "tron", "mar", "dex", "ton", "rix", "nar", "pel", "zor")


def shipped_domains() -> tuple[str, ...]:
    """The domains of the shipped catalogue: synthetic concepts spread over the real ones."""
    from bagu2anki.concepts.catalogue import load_catalogue
    from bagu2anki.diagnostics import Diagnostics

    return load_catalogue(None, Diagnostics()).domain_names()


def synthetic_name(k: int) -> str:
    """k-th synthetic concept name: `Koravex`, `Valinlin`, … (unique for k < 4000)."""
    a = SYLLABLES_A[k % 20]
    b = SYLLABLES_B[(k // 20) % 20]
    c = SYLLABLES_C[(k // 400) % 10]
    return a + b + c


# --- formulas ------------------------------------------------------------------------------------
# Each maker draws its symbols and numbers, so formulas vary like those of real notes (most are
# distinct; none starts or ends with a space, none holds `$`; table cells hold no `|`).

LETTERS = ("d", "h", "k", "n", "m", "r", "s", "L", "N", "H")
INDICES = ("i", "j", "t", "l", "u")
GREEK = ("alpha", "beta", "gamma", "lambda", "tau", "eta", "rho")


def _inline_index(r: random.Random) -> str:
    v, i = r.choice(LETTERS), r.choice(INDICES)
    return f"{v}_{{{i}}}"


def _inline_product(r: random.Random) -> str:
    i, j, k = r.sample(INDICES, 3)
    a, b = r.sample(("a", "b", "w", "x", "q"), 2)
    return f"{a}_{{{i}{j}}} * {b}_{{{j}{k}}}"


def _inline_softmax(r: random.Random) -> str:
    i, j = r.sample(INDICES, 2)
    z = r.choice(("z", "s", "o"))
    return f"p_{i} = \\frac{{e^{{{z}_{i}}}}}{{\\sum_{j} e^{{{z}_{j}}}}}"


def _inline_norm(r: random.Random) -> str:
    return f"\\|x_{{{r.choice(INDICES)}}}\\|_{r.choice((1, 2))} \\le {r.randint(1, 9)}"


def _inline_update(r: random.Random) -> str:
    lr = f"{r.randint(1, 9)} \\times 10^{{-{r.randint(3, 6)}}}"
    return f"\\theta_{{t+1}} = \\theta_t - {lr} \\nabla_\\theta L"


INLINE_MAKERS: tuple[Callable[[random.Random], str], ...] = (
    _inline_index,
    _inline_product,
    _inline_softmax,
    _inline_norm,
    _inline_update,
    lambda r: f"{r.choice(LETTERS)}^\\top {r.choice(LETTERS)}_{{{r.randint(1, 9)}}}",
    lambda r: f"\\{r.choice(GREEK)}_t * \\{r.choice(GREEK)}_{{t-{r.randint(1, 4)}}}",
    lambda r: f"{r.randint(2, 64)}\\Phi",
    lambda r: f"r \\ll \\min({r.choice(LETTERS)}, {r.choice(LETTERS)})",
    lambda r: f"O({r.choice(LETTERS)}^{r.randint(2, 3)} {r.choice(LETTERS)})",
    lambda r: f"\\sqrt{{{r.choice(LETTERS)}_{{{r.choice(INDICES)}}}}}",
    lambda r: f"W_{r.randint(0, 9)} + \\frac{{\\alpha}}{{{r.choice((4, 8, 16, 32, 64))}}} BA",
    lambda r: f"\\{r.choice(GREEK)} = {r.randint(1, 99) / 100:g}",
    lambda r: f"{r.randint(2, 128)} \\times {r.randint(2, 128)}",
)


def _display_attention(r: random.Random) -> str:
    d = r.choice(("d_k", "d_h", "64", "128", "d"))
    bias = r.choice((" + M", " + B", ""))
    return (
        f"\\mathrm{{Attention}}(Q, K, V) = \\mathrm{{softmax}}\\left("
        f"\\frac{{QK^\\top}}{{\\sqrt{{{d}}}}}{bias}\\right)V"
    )


def _display_loss(r: random.Random) -> str:
    n, i = r.choice(("N", "n", "B", "T")), r.choice(INDICES)
    return f"\\mathcal{{L}} = -\\frac{{1}}{{{n}}}\\sum_{{{i}=1}}^{{{n}}} y_{i} \\log \\hat{{y}}_{i}"


def _display_adam(r: random.Random) -> str:
    b1 = r.choice((0.8, 0.85, 0.9, 0.95))
    b2 = r.choice((0.95, 0.98, 0.99, 0.995, 0.999))
    return (
        f"\\begin{{aligned}} m_t &= {b1:g} m_{{t-1}} + {1 - b1:.2g} g_t \\\\ "
        f"v_t &= {b2:g} v_{{t-1}} + {1 - b2:.3g} g_t^2 \\end{{aligned}}"
    )


def _display_rl(r: random.Random) -> str:
    beta = r.choice(("\\beta", "0.1", "0.05", "0.02", "\\lambda"))
    return (
        f"\\max_{{\\pi_\\theta}} \\mathbb{{E}}_{{x \\sim D,\\, y \\sim \\pi_\\theta}}"
        f"\\big[r(x, y)\\big] - {beta}\\, \\mathrm{{KL}}\\big[\\pi_\\theta \\,\\|\\, "
        f"\\pi_{{\\mathrm{{ref}}}}\\big]"
    )


def _display_lora(r: random.Random) -> str:
    rank, alpha = r.choice((4, 8, 16, 32, 64)), r.choice((8, 16, 32, 128))
    d = r.choice(("d", "4096", "5120", "d_{model}"))
    return (
        f"h = W_0 x + \\frac{{{alpha}}}{{{rank}}} B A x, \\qquad "
        f"B \\in \\mathbb{{R}}^{{{d} \\times {rank}}}"
    )


DISPLAY_MAKERS: tuple[Callable[[random.Random], str], ...] = (
    _display_attention,
    _display_loss,
    _display_adam,
    _display_rl,
    _display_lora,
    lambda r: f"\\mathrm{{FLOPs}} \\approx {r.randint(2, 24)}nd^2 + {r.randint(2, 8)}n^2d",
    lambda r: (
        f"\\theta_i = {r.choice((10000, 500000, 1000000))}^{{-2i/{r.choice((64, 128, 256))}}}"
    ),
    lambda r: (
        f"M \\approx {r.choice((2, 4, 12, 16, 18))}\\Phi + "
        f"{r.randint(2, 40)} \\cdot b \\cdot s \\cdot h \\cdot L"
    ),
)

TABLE_CELL_MAKERS: tuple[Callable[[random.Random], str], ...] = (
    lambda r: f"{r.randint(2, 20)}\\Phi",
    lambda r: f"{r.randint(2, 20)}\\Phi / N",
    lambda r: f"O(n^{r.randint(2, 3)})",
    lambda r: f"{r.randint(2, 8)}\\Phi + {r.randint(2, 16)}\\Phi/N",
    lambda r: f"O(n \\log {r.choice(('n', 'k', 'V'))})",
    lambda r: f"{r.randint(1, 70)}B",
)


# --- code ----------------------------------------------------------------------------------------
# Templates with `<<slot>>`s. Every block gets identifiers made from its atom's index, so no two
# blocks are the same text, and its own values. No line starts with `#` + space or is `---` / `%`
# (md2anki and ankdown read those as structure).

CODE_TEMPLATES: tuple[tuple[str, str, dict[str, tuple[str, ...]]], ...] = (
    (
        "python",
        """import torch
import torch.nn.functional as F


def <<verb>>_attention_<<id>>(q, k, v, mask=None, dropout_p=<<p>>):
    scale = q.size(-1) ** -0.5
    scores = torch.matmul(q, k.transpose(-2, -1)) * scale
    if mask is not None:
        scores = scores.masked_fill(mask == 0, float("<<fill>>"))
    weights = F.softmax(scores.float(), dim=-1).to(q.dtype)
    weights = F.dropout(weights, p=dropout_p, training=<<train>>)
    return weights @ v""",
        {
            "verb": ("scaled", "masked", "causal", "local", "plain"),
            "p": ("0.0", "0.1", "0.05", "0.2"),
            "fill": ("-inf", "-1e9", "-1e4"),
            "train": ("True", "False", "self.training"),
        },
    ),
    (
        "python",
        """class LowRank<<Noun>><<id>>(torch.nn.Module):
    def __init__(self, base, r=<<r>>, alpha=<<alpha>>, dropout=<<p>>):
        super().__init__()
        self.base = base
        self.drop = torch.nn.Dropout(dropout)
        self.A = torch.nn.Parameter(torch.randn(r, base.in_features) * <<init>>)
        self.B = torch.nn.Parameter(torch.zeros(base.out_features, r))
        self.scale = alpha / r

    def forward(self, x):
        delta = self.drop(x) @ self.A.T @ self.B.T
        return self.base(x) + delta * self.scale""",
        {
            "Noun": ("Adapter", "Linear", "Delta", "Proj", "Update"),
            "r": ("4", "8", "16", "32", "64"),
            "alpha": ("8", "16", "32", "64"),
            "p": ("0.0", "0.05", "0.1"),
            "init": ("0.01", "0.02", "1e-3"),
        },
    ),
    (
        "python",
        """def sample_<<how>>_<<id>>(logits, k=<<k>>, p=<<p>>, temperature=<<t>>):
    logits = logits / max(temperature, 1e-5)
    top = torch.topk(logits, k)
    probs = torch.softmax(top.values, dim=-1)
    cum = probs.cumsum(-1)
    keep = cum - probs < p
    probs = probs * keep
    choice = torch.multinomial(probs / probs.sum(), 1)
    return top.indices[choice]""",
        {
            "how": ("nucleus", "topk", "mixed", "tempered"),
            "k": ("20", "40", "50", "100", "200"),
            "p": ("0.8", "0.9", "0.95", "0.99"),
            "t": ("0.7", "1.0", "1.2", "0.5"),
        },
    ),
    (
        "python",
        """class RootMeanNorm<<id>>(torch.nn.Module):
    def __init__(self, dim=<<dim>>, eps=<<eps>>):
        super().__init__()
        self.eps = eps
        self.weight = torch.nn.Parameter(torch.ones(dim))

    def forward(self, x):
        <<note>>
        rms = x.float().pow(2).mean(-1, keepdim=True).add(self.eps).rsqrt()
        return (x.float() * rms).type_as(x) * self.weight""",
        {
            "dim": ("1024", "2048", "4096", "5120", "8192"),
            "eps": ("1e-5", "1e-6", "1e-8"),
            "note": (
                "# $ in code is not math: cost = $3 per 1M tokens",
                "# fp32 for the reduction, then back to the input dtype",
                "# no mean subtraction, unlike LayerNorm",
            ),
        },
    ),
    (
        "python",
        """def rotary_cache_<<id>>(dim=<<dim>>, max_pos=<<pos>>, base=<<base>>):
    inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2).float() / dim))
    t = torch.arange(max_pos, dtype=torch.float32)
    freqs = torch.outer(t, inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def rotate_half_<<id>>(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)""",
        {
            "dim": ("64", "128", "96"),
            "pos": ("2048", "4096", "8192", "32768"),
            "base": ("10000", "500000", "1000000"),
        },
    ),
    (
        "python",
        """class KVCache<<id>>:
    def __init__(self, layers=<<layers>>, heads=<<heads>>, head_dim=<<hd>>, max_len=<<len>>):
        shape = (layers, 2, max_len, heads, head_dim)
        self.buf = torch.zeros(shape, dtype=torch.<<dtype>>)
        self.used = 0

    def append(self, layer, k, v):
        n = k.size(0)
        self.buf[layer, 0, self.used : self.used + n] = k
        self.buf[layer, 1, self.used : self.used + n] = v
        return self.buf[layer, :, : self.used + n]""",
        {
            "layers": ("24", "32", "40", "80"),
            "heads": ("8", "16", "32"),
            "hd": ("64", "128"),
            "len": ("2048", "4096", "16384"),
            "dtype": ("float16", "bfloat16"),
        },
    ),
    (
        "python",
        """def repeat_kv_<<id>>(x, n_rep=<<rep>>):
    batch, kv_heads, seq, head_dim = x.shape
    if n_rep == 1:
        return x
    x = x[:, :, None, :, :].expand(batch, kv_heads, n_rep, seq, head_dim)
    return x.reshape(batch, kv_heads * n_rep, seq, head_dim)""",
        {"rep": ("2", "4", "8", "16")},
    ),
    (
        "python",
        """import math


def lr_at_<<id>>(step, peak=<<peak>>, warmup=<<warm>>, total=<<total>>, floor=<<floor>>):
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
    return peak * (floor + (1.0 - floor) * cosine)""",
        {
            "peak": ("3e-4", "1e-4", "2e-5", "6e-4"),
            "warm": ("500", "1000", "2000", "100"),
            "total": ("10000", "50000", "100000"),
            "floor": ("0.1", "0.0", "0.05"),
        },
    ),
    (
        "python",
        """def preference_loss_<<id>>(pi_chosen, pi_rejected, ref_chosen, ref_rejected, beta=<<beta>>):
    chosen = pi_chosen - ref_chosen
    rejected = pi_rejected - ref_rejected
    margin = beta * (chosen - rejected)
    loss = -F.logsigmoid(margin)<<smooth>>
    return loss.mean(), (margin > 0).float().mean()""",
        {
            "beta": ("0.1", "0.05", "0.2", "0.5"),
            "smooth": ("", " * 0.9 - F.logsigmoid(-margin) * 0.1"),
        },
    ),
    (
        "python",
        """def clipped_objective_<<id>>(logp_new, logp_old, advantages, clip=<<clip>>):
    ratio = torch.exp(logp_new - logp_old)
    unclipped = ratio * advantages
    clipped = torch.clamp(ratio, 1.0 - clip, 1.0 + clip) * advantages
    loss = -torch.min(unclipped, clipped).mean()
    kl = (logp_old - logp_new).mean()
    return loss + <<kl>> * kl""",
        {"clip": ("0.1", "0.2", "0.3"), "kl": ("0.0", "0.01", "0.05", "0.1")},
    ),
    (
        "python",
        """class TopKRouter<<id>>(torch.nn.Module):
    def __init__(self, hidden=<<hidden>>, experts=<<experts>>, k=<<k>>):
        super().__init__()
        self.k = k
        self.gate = torch.nn.Linear(hidden, experts, bias=False)

    def forward(self, x):
        logits = self.gate(x)
        weights, chosen = torch.topk(logits.softmax(-1), self.k, dim=-1)
        weights = weights / weights.sum(-1, keepdim=True)
        aux = logits.softmax(-1).mean(0).pow(2).sum() * <<aux>>
        return weights, chosen, aux""",
        {
            "hidden": ("1024", "2048", "4096"),
            "experts": ("8", "16", "64", "128"),
            "k": ("1", "2", "4"),
            "aux": ("0.01", "0.001", "0.02"),
        },
    ),
    (
        "python",
        """def train_step_<<id>>(model, batches, optimizer, accum=<<accum>>, max_norm=<<norm>>):
    model.train()
    total = 0.0
    for i, batch in enumerate(batches[:accum]):
        loss = model(**batch).loss / accum
        loss.backward()
        total += loss.item()
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return total""",
        {"accum": ("2", "4", "8", "16", "32"), "norm": ("1.0", "0.5", "5.0")},
    ),
    (
        "bash",
        """export MASTER_PORT=<<port>>
export CUDA_VISIBLE_DEVICES=<<devs>>
torchrun --nproc_per_node=<<n>> --master_port=$MASTER_PORT \\
    train_<<id>>.py --lr <<lr>> --micro-batch <<mb>> --grad-accum <<ga>> \\
    --zero-stage <<zero>> --save-dir ckpt/run_<<id>>""",
        {
            "port": ("29500", "29501", "29510", "12355"),
            "devs": ("0,1", "0,1,2,3", "0,1,2,3,4,5,6,7"),
            "n": ("2", "4", "8"),
            "lr": ("1e-5", "2e-5", "3e-4"),
            "mb": ("1", "2", "4", "8"),
            "ga": ("1", "4", "16"),
            "zero": ("1", "2", "3"),
        },
    ),
    (
        "cpp",
        """#include <algorithm>
#include <cmath>
#include <vector>

void softmax_row_<<id>>(std::vector<float>& row, float temperature = <<t>>f) {
    float peak = row[0];
    for (float x : row) peak = std::max(peak, x);
    float total = 0.0f;
    for (float& x : row) {
        x = std::exp((x - peak) / temperature);
        total += x;
    }
    for (float& x : row) x /= total + <<eps>>f;
}""",
        {"t": ("1.0", "0.7", "2.0"), "eps": ("1e-6", "1e-9", "0.0")},
    ),
)


def make_code(r: random.Random, index: int) -> tuple[str, str]:
    """(language, code) for atom `index`: a template with this atom's names and its own values."""
    lang, text, slots = r.choice(CODE_TEMPLATES)
    text = text.replace("<<id>>", str(index))
    for slot, choices in slots.items():
        text = text.replace(f"<<{slot}>>", r.choice(choices))
    return lang, text


# --- atoms ---------------------------------------------------------------------------------------


@dataclass
class Block:
    """One piece of an answer; `formulas` are the TeX strings it must keep."""

    kind: str  # "para" | "display" | "table" | "code" | "list"
    text: str
    formulas: list[str] = field(default_factory=list)
    lang: str = ""  # code blocks


@dataclass
class AtomSpec:
    index: int
    question: str
    blocks: list[Block]
    status: str = "answered"  # "answered" | "unanswered" | "reference"
    reference: str = ""

    def count(self, kind: str) -> int:
        return sum(b.kind == kind for b in self.blocks)


def question_space(pool: int) -> int:
    """How many distinct questions there are to draw from."""
    return (pool + len(SHIPPED_TERMS)) * len(QUESTION_PATTERNS) * len(SCENARIOS)


class Writer:
    """Makes questions, sentences, paragraphs and blocks from one seeded random stream."""

    def __init__(self, rng: random.Random, pool: int) -> None:
        self.rng = rng
        self.pool = pool

    def term(self) -> str:
        if self.rng.random() < 0.5:
            return self.rng.choice(SHIPPED_TERMS)
        return synthetic_name(self.rng.randrange(self.pool))

    def question(self, key: int) -> str:
        """The question numbered `key` in `question_space()`: distinct keys, distinct texts."""
        topics = self.pool + len(SHIPPED_TERMS)
        topic, rest = key % topics, key // topics
        pattern, scenario = rest % len(QUESTION_PATTERNS), rest // len(QUESTION_PATTERNS)
        a = synthetic_name(topic) if topic < self.pool else SHIPPED_TERMS[topic - self.pool]
        b = self.rng.choice(SHIPPED_TERMS)
        if b == a:
            b = SHIPPED_TERMS[(SHIPPED_TERMS.index(b) + 1) % len(SHIPPED_TERMS)]
        return QUESTION_PATTERNS[pattern].format(a=a, b=b, ctx=SCENARIOS[scenario])

    def sentence(self, formulas: list[str], math: bool = True) -> str:
        r = self.rng
        s = r.choice(SUBJECTS) + "，" + self.term() + " " + r.choice(PREDICATES)
        if math and r.random() < 0.35:
            tex = r.choice(INLINE_MAKERS)(r)
            formulas.append(tex)
            s += "，" + r.choice(MATH_LEADS).format(tex)
        if r.random() < 0.5:
            s += "，" + r.choice(PREDICATES)
        if r.random() < 0.3:
            s += "，" + r.choice(TAILS)
        return s + "。"

    def paragraph(self, n: int) -> Block:
        formulas: list[str] = []
        text = "".join(self.sentence(formulas) for _ in range(n))
        return Block("para", text, formulas)

    def display(self) -> Block:
        tex = self.rng.choice(DISPLAY_MAKERS)(self.rng)
        return Block("display", tex, [tex])

    def table(self) -> Block:
        r = self.rng
        head = r.choice(TABLE_KINDS)
        rows = ["| " + " | ".join(head) + " |", "|---|---|---|---|"]
        formulas = []
        for _ in range(r.randint(3, 5)):
            tex = r.choice(TABLE_CELL_MAKERS)(r)
            formulas.append(tex)
            rows.append(
                f"| {self.term()} | ${tex}$ | {r.randint(1, 16)}x | {r.choice(PREDICATES)} |"
            )
        return Block("table", "\n".join(rows), formulas)

    def code(self, index: int) -> Block:
        lang, body = make_code(self.rng, index)
        return Block("code", body, lang=lang)

    def bullets(self) -> Block:
        formulas: list[str] = []
        items = [self.sentence(formulas, math=True) for _ in range(self.rng.randint(3, 5))]
        return Block("list", "\n".join("- " + it for it in items), formulas)

    def atom(self, index: int, key: int) -> AtomSpec:
        r = self.rng
        question = self.question(key)
        if r.random() < 0.01:
            return AtomSpec(index, question, [], status="unanswered")
        blocks = [self.paragraph(r.randint(2, 5))]
        if r.random() < 0.45:
            blocks.append(self.display())
        if r.random() < 0.35:
            blocks.append(self.bullets())
        if r.random() < 0.30:
            blocks.append(self.table())
        if r.random() < 0.30:
            blocks.append(self.code(index))
        for _ in range(r.choice((1, 2, 2, 3, 3))):
            blocks.append(self.paragraph(r.randint(2, 5)))
        if r.random() < 0.05:
            blocks.append(Block("para", "演进路线：" + r.choice(CHAINS) + "。"))
        return AtomSpec(index, question, blocks)


def duplicates(items: list[str]) -> int:
    """How many items repeat an earlier one."""
    return sum(n - 1 for n in Counter(items).values())


# --- file styles ---------------------------------------------------------------------------------


@dataclass
class FileOut:
    rel: str
    lines: list[str] = field(default_factory=list)
    atoms: list[tuple[int, AtomSpec]] = field(default_factory=list)  # (1-based question line, atom)

    def add(self, *lines: str) -> None:
        for chunk in lines:
            self.lines.extend(chunk.split("\n"))

    def mark(self, atom: AtomSpec) -> None:
        """The next line written is the question line of `atom`."""
        self.atoms.append((len(self.lines) + 1, atom))


def md_block(b: Block, indent: str = "") -> str:
    if b.kind == "display":
        text = f"$$\n{b.text}\n$$"
    elif b.kind == "code":
        text = f"```{b.lang}\n{b.text}\n```"
    else:
        text = b.text
    return "\n".join((indent + ln) if ln else ln for ln in text.split("\n"))


def md_answer(atom: AtomSpec, indent: str = "") -> list[str]:
    if atom.status == "unanswered":
        return []
    if atom.status == "reference":
        return [indent + atom.reference]
    out: list[str] = []
    for b in atom.blocks:
        out.append(md_block(b, indent))
        out.append("")
    return out


def write_markdown(
    f: FileOut, title: str, sections: list[tuple[str, list[AtomSpec]]], style: int
) -> None:
    f.add(f"# {title}", "")
    for sec_title, atoms in sections:
        f.add(f"## {sec_title}", "")
        for n, atom in enumerate(atoms, 1):
            if style == 0:  # numbered question heading
                f.mark(atom)
                f.add(f"### {n}. {atom.question}", "")
                f.add(*md_answer(atom))
            elif style == 1:  # bold question, answer on the same line
                f.mark(atom)
                body = md_answer(atom)
                if body:
                    f.add(f"**Q：{atom.question}** {body[0]}", *body[1:])
                else:
                    f.add(f"**Q：{atom.question}**", "")
            elif style == 2:  # kind prefix
                f.mark(atom)
                f.add(f"八股：{atom.question}", "")
                f.add(*md_answer(atom))
            else:  # list item with Q:/A:
                f.mark(atom)
                body = md_answer(atom, "  ")
                f.add(f"- **Q：{atom.question}**")
                if body:
                    f.add("  A：" + body[0].lstrip(), *body[1:])
                else:
                    f.add("")
    while f.lines and not f.lines[-1]:
        f.lines.pop()


def text_math(s: str) -> str:
    """`$x$` -> `\\( x \\)`, as a page copied as text shows MathJax source."""
    out, inside = [], False
    for part in s.split("$"):
        out.append(("\\( " + part + " \\)") if inside else part)
        inside = not inside
    return "".join(out)


def text_answer(atom: AtomSpec) -> list[str]:
    if atom.status == "unanswered":
        return []
    if atom.status == "reference":
        return [atom.reference]
    out: list[str] = []
    first = True
    for b in atom.blocks:
        if b.kind == "display":
            out.append(f"\\[ {b.text} \\]")
        elif b.kind == "code":
            # the export kept the editor's line-number gutter
            out.extend(f"{k} | {ln} |" for k, ln in enumerate(b.text.split("\n"), 1))
        elif b.kind == "table":
            out.extend(text_math(ln) for ln in b.text.split("\n"))
        else:
            for ln in b.text.split("\n"):
                out.append(("答:" if first else "") + text_math(ln))
                first = False
            continue
        first = False
    return out


def write_text(f: FileOut, title: str, sections: list[tuple[str, list[AtomSpec]]]) -> None:
    f.add(title, "几次面试里被反复问到的题，答案按自己的理解整理，仅供复习参考。")
    for k, (_sec, atoms) in enumerate(sections, 1):
        f.add(f"模板{k}")
        numbered = k % 2 == 0
        for n, atom in enumerate(atoms, 1):
            f.mark(atom)
            f.add(f"{n}.{atom.question}" if numbered else f"八股:{atom.question}")
            f.add(*text_answer(atom))


def ankdown_card(atom: AtomSpec) -> str:
    """One card in ankdown's syntax; math as `\\(…\\)` / `\\[…\\]` (its default mode)."""
    parts: list[str] = []
    if atom.status == "reference":
        parts.append(atom.reference)
    for b in atom.blocks:
        if b.kind == "display":
            parts.append(f"\\[{b.text}\\]")
        elif b.kind == "code":
            parts.append(f"```{b.lang}\n{b.text}\n```")
        else:
            pieces = b.text.split("$")
            parts.append("".join(("\\(" + p + "\\)") if i % 2 else p for i, p in enumerate(pieces)))
    back = "\n\n".join(parts) if parts else "（待补充）"
    return f"{atom.question}\n\n%\n\n{back}\n\n%\n\nbench\n"


def md2anki_file(title: str, sections: list[tuple[str, list[AtomSpec]]]) -> str:
    """One source file in md2anki's syntax: `# deck`, `## Subdeck: …`, `### question`, answer.

    The answers are the Markdown ones (`$…$`, `$$…$$`, fences); the `{=:bench:=}` line tags every
    note of the file, as ankdown's cards carry the tag `bench`.
    """
    lines = [f"# {title}", "", "`{=:bench:=}`", ""]
    for sec_title, atoms in sections:
        lines += [f"## Subdeck: {sec_title}", ""]
        for atom in atoms:
            lines += [f"### {atom.question}", ""]
            lines += md_answer(atom)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n"


# --- catalogue -----------------------------------------------------------------------------------


def catalogue_yaml(n: int, rng: random.Random) -> str:
    """n synthetic concepts, each with 0-2 prerequisites among earlier ones of its domain."""
    lines = ["# synthetic concept catalogue (benchmarks/generate.py)", "concepts:"]
    by_domain: dict[str, list[str]] = {}
    domains = shipped_domains()
    for k in range(n):
        name = synthetic_name(k)
        cid = f"Syn{k:04d}"
        domain = domains[k % len(domains)]
        earlier = by_domain.setdefault(domain, [])
        prereqs = sorted(
            set(rng.sample(earlier[-40:], min(len(earlier[-40:]), rng.choice((0, 1, 1, 2)))))
        )
        earlier.append(cid)
        lines += [
            f"  - id: {cid}",
            f"    name: {name} 方法",
            f"    aliases: [{name}]",
            f"    description: {rng.choice(SUBJECTS)}，{name} {rng.choice(PREDICATES)}",
            f"    domain: {domain}",
            f"    prereqs: [{', '.join(prereqs)}]",
        ]
    return "\n".join(lines) + "\n"


# --- corpus --------------------------------------------------------------------------------------


class NotDistinct(RuntimeError):
    """The corpus repeats a question or a code block (it must not)."""


def generate(
    atoms: int,
    out: Path,
    seed: int = SEED,
    concepts: int = 0,
    ankdown: Path | None = None,
    md2anki: Path | None = None,
) -> dict[str, object]:
    rng = random.Random(seed)
    pool = max(SYNTHETIC_POOL, concepts)
    if atoms > question_space(pool):
        raise ValueError(f"at most {question_space(pool):,} distinct questions")
    keys = rng.sample(range(question_space(pool)), atoms)
    writer = Writer(rng, pool)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    n_files = max(1, -(-atoms // ATOMS_PER_FILE))
    manifest: list[dict[str, object]] = []
    ank_files: dict[str, list[str]] = {}
    md2_files: dict[str, str] = {}
    questions: list[str] = []
    codes: list[str] = []
    formulas: list[str] = []
    made = 0
    total_bytes = 0
    for k in range(n_files):
        count = min(ATOMS_PER_FILE, atoms - made)
        specs = [writer.atom(made + j, keys[made + j]) for j in range(count)]
        made += count
        is_text = k % 10 == 9
        if is_text:
            # a few answers only point at an earlier question (`同模板1 第2题`)
            for j, spec in enumerate(specs):
                if j >= 12 and j % 17 == 0 and spec.status == "answered":
                    spec.status, spec.reference, spec.blocks = "reference", "同模板1 第2题", []
        folder = f"{k // 20:02d}-{SECTION_TOPICS[(k // 20) % len(SECTION_TOPICS)]}"
        name = f"笔记{k:04d}" + (".txt" if is_text else ".md")
        rel = f"{folder}/{name}"
        per_section = 10 if not is_text else 25
        sections = [
            (f"{SECTION_TOPICS[(k + s) % len(SECTION_TOPICS)]} {s + 1}", specs[i : i + per_section])
            for s, i in enumerate(range(0, len(specs), per_section))
        ]
        f = FileOut(rel)
        title = f"大模型面试八股 第{k + 1}篇"
        if is_text:
            write_text(f, title + "（网页导出）", sections)
        else:
            write_markdown(f, title, sections, k % 4)
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        data = ("\n".join(f.lines) + "\n").encode("utf-8")
        path.write_bytes(data)
        total_bytes += len(data)
        for line, spec in f.atoms:
            tex = [t for b in spec.blocks for t in b.formulas]
            manifest.append(
                {
                    "source": rel,
                    "line": line,
                    "question": spec.question,
                    "status": spec.status,
                    "formulas": tex,
                    "tables": spec.count("table"),
                    "code": spec.count("code"),
                }
            )
            questions.append(spec.question)
            codes.extend(b.text for b in spec.blocks if b.kind == "code")
            formulas.extend(tex)
        peer_rel = f"{folder}/{Path(name).stem}.md"
        if ankdown is not None:
            ank_files[peer_rel] = [ankdown_card(s) for s in specs]
        if md2anki is not None:
            md2_files[peer_rel] = md2anki_file(title, sections)
    dup_q, dup_c = duplicates(questions), duplicates(codes)
    if dup_q or dup_c:
        raise NotDistinct(f"{dup_q} repeated questions, {dup_c} repeated code blocks")
    if concepts:
        (out / "concepts.yaml").write_text(
            catalogue_yaml(concepts, random.Random(seed + 1)), encoding="utf-8"
        )
    if ankdown is not None:
        if ankdown.exists():
            shutil.rmtree(ankdown)
        for rel, cards in ank_files.items():
            p = ankdown / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text("\n---\n\n".join(cards), encoding="utf-8")
    if md2anki is not None:
        if md2anki.exists():
            shutil.rmtree(md2anki)
        for rel, text in md2_files.items():
            p = md2anki / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text, encoding="utf-8")
    summary = {
        "atoms": made,
        "files": n_files,
        "bytes": total_bytes,
        "concepts": concepts,
        "seed": seed,
        "questions_repeated": dup_q,
        "code_blocks": len(codes),
        "code_repeated": dup_c,
        "tables": sum(int(m["tables"]) for m in manifest),  # type: ignore[call-overload]
        "formulas": len(formulas),
        "formulas_distinct": len(set(formulas)),
    }
    (out / MANIFEST).write_text(
        json.dumps({"summary": summary, "atoms": manifest}, ensure_ascii=False), encoding="utf-8"
    )
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--atoms", type=int, default=10000, help="number of questions (default 10000)")
    ap.add_argument("--out", type=Path, required=True, help="notes folder to (re)create")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument(
        "--concepts", type=int, default=0, help="also write concepts.yaml with N synthetic concepts"
    )
    ap.add_argument(
        "--ankdown", type=Path, default=None, help="also write the ankdown variant into this folder"
    )
    ap.add_argument(
        "--md2anki", type=Path, default=None, help="also write the md2anki variant into this folder"
    )
    args = ap.parse_args()
    s = generate(args.atoms, args.out, args.seed, args.concepts, args.ankdown, args.md2anki)
    print(
        f"{s['atoms']} atoms in {s['files']} files, {int(s['bytes']) / 1e6:.1f} MB -> {args.out}; "
        f"questions repeated: {s['questions_repeated']}, code blocks: {s['code_blocks']} "
        f"(repeated: {s['code_repeated']}), formulas: {s['formulas']} "
        f"({s['formulas_distinct']} distinct)"
    )


if __name__ == "__main__":
    main()
