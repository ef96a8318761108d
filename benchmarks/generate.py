"""Deterministic synthetic interview notes for the benchmarks: Chinese Q&A atoms with formulas,
tables and code, in the note styles bagu2anki reads.

    python benchmarks/generate.py --atoms 10000 --out /tmp/bench10k
    python benchmarks/generate.py --atoms 10000 --out /tmp/bench10k --concepts 2000 --ankdown /tmp/bench10k-ankdown

Writes `atoms / 50` files of 50 questions each (about 1.6 KB per atom, so 10,000 atoms are
about 16 MB). Nine files in ten are Markdown, cycling through four styles (numbered question
headings, `**Q：…？** answer`, `八股：…` lines, `- **Q：…**` / `  A：…` list items); every tenth is a
flat text export (title line, `模板N` sections, `八股:` and `1.xxx` questions, `\\(…\\)` math).

Options:
  --concepts N   also write `concepts.yaml` (N synthetic concepts with prerequisite chains)
                 into the notes folder; the atoms mention these names whether or not the
                 catalogue is written, so a corpus with and without it has the same notes.
  --ankdown DIR  the same atoms in ankdown's own syntax (`%` between front and back, `---`
                 between cards, `\\(…\\)` / `\\[…\\]` math), one `.md` per source file.

`OUT/.bench-manifest.json` (a hidden file: bagu2anki skips it) lists every atom with the
`path:line` of its question and the formulas its answer must keep, for the math check.
The same seed and size always give byte-identical files.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path

ATOMS_PER_FILE = 50
SYNTHETIC_POOL = 2000  # synthetic concept names the atoms mention (at least --concepts)
MANIFEST = ".bench-manifest.json"

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
)
QUESTION_TEMPLATES = (
    "{a} 的原理是什么？",
    "{a} 和 {b} 有什么区别？",
    "为什么 {a} 能提升训练效率？",
    "{a} 在推理阶段是怎么工作的？",
    "如何估算 {a} 的显存开销？",
    "{a} 有哪些优缺点？",
    "讲一下 {a} 的实现细节？",
    "{a} 为什么要配合 {b} 使用？",
    "{a} 的计算复杂度是多少？",
    "面试官追问：{a} 失效时怎么排查？",
    "{a} 相比 {b} 解决了什么问题？",
    "如果让你改进 {a}，你会怎么做？",
)
INLINE_MATH = (
    r"d_k",
    r"QK^\top",
    r"\alpha_t * \beta_t",
    r"16\Phi",
    r"r \ll \min(d, k)",
    r"O(n^2 d)",
    r"\sqrt{d_k}",
    r"W_0 + \frac{\alpha}{r} BA",
    r"a_{ij} * b_{jk}",
    r"\|x\|_2 \le 1",
    r"p_i = \frac{e^{z_i}}{\sum_j e^{z_j}}",
    r"\theta_{t+1} = \theta_t - \eta \nabla_\theta L",
)
DISPLAY_MATH = (
    r"\mathrm{Attention}(Q, K, V) = \mathrm{softmax}\left(\frac{QK^\top}{\sqrt{d_k}} + M\right)V",
    r"\mathcal{L} = -\sum_{i=1}^{n} y_i \log \hat{y}_i",
    r"\begin{aligned} m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t \\ v_t &= \beta_2 v_{t-1} + (1-\beta_2) g_t^2 \end{aligned}",
    r"\mathrm{FLOPs} \approx 8nd^2 + 4n^2d",
    r"\max_{\pi_\theta} \mathbb{E}_{x \sim D,\, y \sim \pi_\theta}\big[r(x, y)\big] - \beta\, \mathrm{KL}\big[\pi_\theta \,\|\, \pi_{\mathrm{ref}}\big]",
    r"h = W_0 x + \frac{\alpha}{r} B A x, \qquad B \in \mathbb{R}^{d \times r}",
)
CODE_TEMPLATES = (
    """import torch
import torch.nn.functional as F


def {name}(q, k, v, mask=None):
    d_k = q.size(-1)
    scores = q @ k.transpose(-2, -1) / d_k ** 0.5
    if mask is not None:
        scores = scores.masked_fill(mask == 0, float("-inf"))
    weights = F.softmax(scores, dim=-1)
    return weights @ v""",
    """class {name}(torch.nn.Module):
    def __init__(self, base, r=8, alpha=16):
        super().__init__()
        self.base = base
        self.A = torch.nn.Parameter(torch.randn(r, base.in_features) * 0.01)
        self.B = torch.nn.Parameter(torch.zeros(base.out_features, r))
        self.scale = alpha / r

    def forward(self, x):
        return self.base(x) + (x @ self.A.T @ self.B.T) * self.scale""",
    """def {name}(logits, k=50, p=0.9, temperature=1.0):
    logits = logits / temperature
    top = torch.topk(logits, k)
    probs = torch.softmax(top.values, dim=-1)
    cum = probs.cumsum(-1)
    keep = cum - probs < p
    probs = probs * keep
    return top.indices[torch.multinomial(probs / probs.sum(), 1)]""",
    """def {name}(x, weight, eps=1e-6):
    # $ in code is not math: cost = $3 per 1M tokens
    rms = x.pow(2).mean(-1, keepdim=True).add(eps).sqrt()
    return x / rms * weight""",
)
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


# --- atoms ---------------------------------------------------------------------------------------


@dataclass
class Block:
    """One piece of an answer; `formulas` are the TeX strings it must keep."""

    kind: str  # "para" | "display" | "table" | "code" | "list"
    text: str
    formulas: list[str] = field(default_factory=list)


@dataclass
class AtomSpec:
    index: int
    question: str
    blocks: list[Block]
    status: str = "answered"  # "answered" | "unanswered" | "reference"
    reference: str = ""


class Writer:
    """Makes sentences, paragraphs and blocks from one seeded random stream."""

    def __init__(self, rng: random.Random, pool: int) -> None:
        self.rng = rng
        self.pool = pool

    def term(self) -> str:
        if self.rng.random() < 0.5:
            return self.rng.choice(SHIPPED_TERMS)
        return synthetic_name(self.rng.randrange(self.pool))

    def sentence(self, formulas: list[str], math: bool = True) -> str:
        r = self.rng
        s = r.choice(SUBJECTS) + "，" + self.term() + " " + r.choice(PREDICATES)
        if math and r.random() < 0.35:
            tex = r.choice(INLINE_MATH)
            formulas.append(tex)
            s += f"，其中 ${tex}$ 是关键量"
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
        tex = self.rng.choice(DISPLAY_MATH)
        return Block("display", tex, [tex])

    def table(self) -> Block:
        r = self.rng
        rows = ["| 方法 | 显存 | 通信量 | 说明 |", "|---|---|---|---|"]
        formulas = []
        for _ in range(r.randint(3, 5)):
            tex = r.choice((r"2\Phi", r"16\Phi / N", r"O(n^2)", r"4\Phi + 12\Phi/N"))
            formulas.append(tex)
            rows.append(
                f"| {self.term()} | ${tex}$ | {r.randint(1, 8)}x | {r.choice(PREDICATES)} |"
            )
        return Block("table", "\n".join(rows), formulas)

    def code(self, index: int) -> Block:
        body = self.rng.choice(CODE_TEMPLATES).format(name=f"fn_{index}")
        return Block("code", body)

    def bullets(self) -> Block:
        formulas: list[str] = []
        items = [self.sentence(formulas, math=True) for _ in range(self.rng.randint(3, 5))]
        return Block("list", "\n".join("- " + it for it in items), formulas)

    def atom(self, index: int) -> AtomSpec:
        r = self.rng
        a = synthetic_name((index * 7919) % self.pool)
        b = r.choice(SHIPPED_TERMS)
        question = r.choice(QUESTION_TEMPLATES).format(a=a, b=b)
        roll = r.random()
        if roll < 0.01:
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
        text = f"```python\n{b.text}\n```"
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
            parts.append(f"```python\n{b.text}\n```")
        else:
            pieces = b.text.split("$")
            parts.append("".join(("\\(" + p + "\\)") if i % 2 else p for i, p in enumerate(pieces)))
    back = "\n\n".join(parts) if parts else "（待补充）"
    return f"{atom.question}\n\n%\n\n{back}\n\n%\n\nbench\n"


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


def generate(
    atoms: int, out: Path, seed: int = 20240501, concepts: int = 0, ankdown: Path | None = None
) -> dict[str, object]:
    rng = random.Random(seed)
    pool = max(SYNTHETIC_POOL, concepts)
    writer = Writer(rng, pool)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    n_files = max(1, -(-atoms // ATOMS_PER_FILE))
    manifest: list[dict[str, object]] = []
    ank_files: dict[str, list[str]] = {}
    made = 0
    total_bytes = 0
    for k in range(n_files):
        count = min(ATOMS_PER_FILE, atoms - made)
        specs = [writer.atom(made + j) for j in range(count)]
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
            manifest.append(
                {
                    "source": rel,
                    "line": line,
                    "question": spec.question,
                    "status": spec.status,
                    "formulas": [t for b in spec.blocks for t in b.formulas],
                }
            )
        if ankdown is not None:
            ank_files[f"{folder}/{Path(name).stem}.md"] = [ankdown_card(s) for s in specs]
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
    summary = {
        "atoms": made,
        "files": n_files,
        "bytes": total_bytes,
        "concepts": concepts,
        "seed": seed,
    }
    (out / MANIFEST).write_text(
        json.dumps({"summary": summary, "atoms": manifest}, ensure_ascii=False), encoding="utf-8"
    )
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--atoms", type=int, default=10000, help="number of questions (default 10000)")
    ap.add_argument("--out", type=Path, required=True, help="notes folder to (re)create")
    ap.add_argument("--seed", type=int, default=20240501)
    ap.add_argument(
        "--concepts", type=int, default=0, help="also write concepts.yaml with N synthetic concepts"
    )
    ap.add_argument(
        "--ankdown", type=Path, default=None, help="also write the ankdown variant into this folder"
    )
    args = ap.parse_args()
    s = generate(args.atoms, args.out, args.seed, args.concepts, args.ankdown)
    print(f"{s['atoms']} atoms in {s['files']} files, {int(s['bytes']) / 1e6:.1f} MB -> {args.out}")


if __name__ == "__main__":
    main()
