"""The concept map page, checked as text and in real headless Chromium (Debian's, never a download).

The browser tests block every request that is not file:/data:/blob:/about: and fail if one was
attempted; they also fail on console errors, page errors, dialogs and any window.__xss* marker
set by the hostile note text below.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import screenshot_helpers

from bagu2anki.write.graph_html import (
    MapData,
    MapEdge,
    MapNode,
    MapQuestion,
    core_ids,
    lane_positions,
    render_map,
    write_map,
)
from bagu2anki.write.map_math import (
    MATHML_ATTRIBUTES,
    MATHML_ELEMENTS,
    plain_math,
    title_segments,
)

_SHOTS = screenshot_helpers()
CHROMIUM: Path = _SHOTS.CHROMIUM
CHROMIUM_ARGS: list[str] = _SHOTS.CHROMIUM_ARGS
LOCAL_SCHEMES: tuple[str, ...] = _SHOTS.LOCAL_SCHEMES
CHECK_GRAPH = Path("/work/shared/tools/check_graph.py")
REPO = Path(__file__).resolve().parents[1]
SCREENSHOTS = REPO / "out" / "screenshots"

XSS_SCRIPT = "<script>window.__xss1=1</script>"
XSS_IMG = '<img src=x onerror="window.__xss2=1">'
XSS_BREAKOUT = "</script><script>window.__xss3=1</script>"
XSS_LABEL = "\"'><svg onload=window.__xss4=1>"
# A title whose formulas carry markup: each must stay text (in MathML or as TeX), never an element.
XSS_FORMULAS = (
    XSS_IMG
    + " 和 $<script>$ 与 $\\text{<img src=x onerror=window.__xss8=1>}$"
    + " 与 $\\href{javascript:window.__xss9=1}{点}$ 与 $\\style{background:url(https://example.com/x.png)}{y}$"
)
SQRT_TITLE = "为什么要除以 $\\sqrt{d_k}$？"


# ---------------------------------------------------------------- data


def _q(qid: str, question: str, answer: str, source: str) -> MapQuestion:
    return MapQuestion(id=qid, question=question, answer_html=answer, source=source)


def _node(
    nid: str,
    label: str,
    aliases: tuple[str, ...],
    description: str,
    domain: str,
    layer: int,
    questions: tuple[MapQuestion, ...] = (),
) -> MapNode:
    return MapNode(nid, label, aliases, description, domain, layer, questions)


ATT = "注意力机制"
INF = "推理优化"
RL = "强化学习"
POS = "位置编码"

SMALL_NODES = (
    _node(
        "attention",
        "Attention",
        ("注意力机制", "Self-Attention"),
        "用 Query 与 Key 的相似度对 Value 加权求和。",
        ATT,
        0,
        (
            _q(
                "q-att-1",
                "Self-Attention 的计算公式是什么？",
                "<p>softmax(QK<sup>T</sup>/√d)V</p>",
                "notes/attention.md:3",
            ),
            _q(
                "q-att-2",
                SQRT_TITLE,
                "<p>防止点积过大导致 softmax 梯度消失。</p>",
                "notes/attention.md:9",
            ),
        ),
    ),
    _node(
        "mha",
        "MHA",
        ("多头注意力", "Multi-Head Attention"),
        "把注意力拆成多个头，每个头在不同子空间里学习。",
        ATT,
        1,
        (
            _q(
                "q-mha-1",
                XSS_BREAKOUT + " 多头注意力为什么要多头？",
                "<p>因为不同的头关注不同的模式。</p>"
                + XSS_SCRIPT
                + XSS_IMG
                + '<a href="javascript:window.__xss5=1">点我</a>'
                + '<img src="https://example.com/tracker.png" alt="远程图片">'
                + '<p style="background:url(https://example.com/bg.png)">背景</p>'
                + "<pre><code>heads = 8</code></pre>",
                "notes/attention.md:20",
            ),
        ),
    ),
    _node(
        "mqa",
        "MQA",
        ("多查询注意力", "Multi-Query Attention"),
        "所有头共享同一组 K、V，显著减小 KV-Cache。",
        ATT,
        2,
        (
            _q(
                "q-mqa-1",
                "MQA 相比 MHA 省了什么？",
                "<p>省了 K、V 的投影与缓存。</p>",
                "notes/attention.md:31",
            ),
        ),
    ),
    _node(
        "kv-cache",
        "KV-Cache",
        ("KV 缓存", "键值缓存"),
        "自回归解码时缓存历史 token 的 K、V，避免重复计算。",
        INF,
        0,
        (
            _q(
                "q-kv-1",
                "KV-Cache 的显存占用怎么算？",
                "<p>2 × 层数 × 头数 × 维度 × 长度。</p>",
                "notes/inference.md:5",
            ),
        ),
    ),
    _node(
        "gqa",
        "GQA",
        ("分组查询注意力", "Grouped-Query Attention"),
        "把查询头分组，组内共享 K、V：介于 MHA 与 MQA 之间。" + XSS_IMG,
        ATT,
        3,
        (
            _q(
                "q-gqa-1",
                "GQA 为什么能兼顾效果和速度？" + XSS_IMG,
                "<p>分组数可调，在 MHA 与 MQA 之间折中。</p>",
                "notes/attention.md:40",
            ),
            _q("q-gqa-2", "Llama 2 70B 用了几组？", "<p>8 组。</p>", "notes/attention.md:47"),
        ),
    ),
    _node(
        "mla",
        "MLA",
        ("多头潜在注意力", "Multi-head Latent Attention"),
        "DeepSeek-V2 提出：把 K、V 压缩到低秩潜在向量。",
        ATT,
        4,
        (
            _q(
                "q-mla-1",
                "MLA 怎么和 RoPE 兼容？",
                "<p>解耦的 RoPE 分量单独缓存。</p>",
                "notes/attention.md:60",
            ),
        ),
    ),
    _node("flash", "FlashAttention", ("闪存注意力",), "分块计算注意力，减少 HBM 读写。", INF, 1),
    _node(
        "paged",
        "分页注意力",
        ("PagedAttention", "vLLM"),
        "像操作系统分页一样管理 KV-Cache。",
        INF,
        2,
    ),
    _node(
        "rlhf",
        "RLHF",
        ("基于人类反馈的强化学习",),
        "先训奖励模型，再用强化学习对齐。",
        RL,
        0,
        (
            _q(
                "q-rlhf-1",
                "RLHF 分几步？",
                "<ol><li>SFT</li><li>RM</li><li>PPO</li></ol>",
                "notes/rl.md:2",
            ),
        ),
    ),
    _node(
        "ppo",
        "PPO",
        ("近端策略优化", "Proximal Policy Optimization"),
        "裁剪概率比，限制每次策略更新的幅度。",
        RL,
        1,
        (_q("q-ppo-1", "PPO 的 clip 起什么作用？", "<p>防止策略更新过大。</p>", "notes/rl.md:10"),),
    ),
    _node(
        "grpo",
        "GRPO",
        ("组相对策略优化",),
        "去掉价值网络，用组内相对奖励做基线。",
        RL,
        2,
        (
            _q(
                "q-grpo-1",
                "GRPO 为什么不需要 critic？",
                "<p>用同一问题多次采样的均值做基线。</p>",
                "notes/rl.md:20",
            ),
        ),
    ),
    _node("dapo", "DAPO", ("解耦裁剪与动态采样策略优化",), "在 GRPO 基础上改进裁剪与采样。", RL, 3),
    _node("dpo", "直接偏好优化", ("DPO",), "不训奖励模型，直接用偏好数据优化策略。", RL, 1),
    _node(
        "rope",
        "旋转位置编码",
        ("RoPE", "Rotary Position Embedding"),
        "用旋转矩阵把相对位置编码进 Q、K。",
        POS,
        0,
    ),
    _node(
        "evil",
        XSS_LABEL,
        ("恶意节点",),
        "描述里有脚本：" + XSS_SCRIPT + XSS_BREAKOUT + " <!-- 注释 -->",
        "测试</script><script>window.__xss6=1</script>",
        1,
        (
            _q("q-evil-1", XSS_SCRIPT + "问题？", XSS_BREAKOUT + XSS_IMG, "notes/evil.md:1"),
            _q("q-evil-2", XSS_FORMULAS, "<p>公式里的标记。</p>", "notes/evil.md:5"),
        ),
    ),
)

SMALL_EDGES = tuple(
    MapEdge(s, t, "catalogue")
    for s, t in (
        ("attention", "mha"),
        ("mha", "mqa"),
        ("mqa", "gqa"),
        ("kv-cache", "gqa"),
        ("gqa", "mla"),
        ("rope", "mla"),
        ("attention", "flash"),
        ("kv-cache", "paged"),
        ("rlhf", "ppo"),
        ("ppo", "grpo"),
        ("grpo", "dapo"),
        ("rlhf", "dpo"),
        ("attention", "evil"),
    )
)

SMALL = MapData(
    title="大模型八股概念图 </title><script>window.__xss7=1</script>",
    nodes=SMALL_NODES,
    edges=SMALL_EDGES,
)


def big_map(nodes: int = 3000, edges: int = 4000, layers: int = 10) -> MapData:
    rng = random.Random(20240601)
    domains = (
        "注意力机制",
        "推理优化",
        "强化学习",
        "位置编码",
        "分布式训练",
        "Agent",
        "RAG",
        "微调",
    )
    items = []
    for i in range(nodes):
        questions = tuple(
            _q(
                f"q{i}-{k}",
                f"概念 {i} 的第 {k} 个问题是什么？",
                f"<p>答案 {i}-{k}：要点若干。</p>",
                f"notes/big/{i % 50}.md:{k + 1}",
            )
            for k in range(rng.randrange(0, 4))
        )
        items.append(
            _node(
                f"c{i:04d}",
                f"概念{i}",
                (f"concept-{i}",),
                f"第 {i} 个概念的说明。",
                domains[i % len(domains)],
                i * layers // nodes,
                questions,
            )
        )
    by_layer: dict[int, list[str]] = {}
    for n in items:
        by_layer.setdefault(n.layer, []).append(n.id)
    pairs: set[tuple[str, str]] = set()
    while len(pairs) < edges:
        lo = rng.randrange(0, layers - 1)
        hi = rng.randrange(lo + 1, min(layers, lo + 3))
        pairs.add((rng.choice(by_layer[lo]), rng.choice(by_layer[hi])))
    return MapData("大图", tuple(items), tuple(MapEdge(s, t, "test") for s, t in sorted(pairs)))


# ---------------------------------------------------------------- plain tests


def _data_block(page: str) -> str:
    found = re.search(r'<script type="application/json" id="map-data">(.*?)</script>', page, re.S)
    assert found
    return found.group(1)


def test_render_is_deterministic_and_order_independent() -> None:
    first = render_map(SMALL)
    assert render_map(SMALL) == first
    shuffled = list(SMALL.nodes)
    random.Random(3).shuffle(shuffled)
    edges = list(SMALL.edges)[::-1]
    assert render_map(MapData(SMALL.title, tuple(shuffled), tuple(edges))) == first


def test_page_is_self_contained_and_note_text_is_inert() -> None:
    page = render_map(SMALL)
    assert '<html lang="zh-CN">' in page
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert '"Noto Sans CJK SC"' in page and '"WenQuanYi Micro Hei"' in page
    assert not re.search(r"<(script|link|img|iframe)[^>]*\s(src|href)=", page, re.I)
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", page, re.I)
    # exactly our three script blocks: data, vis-network, the page script
    assert len(re.findall(r"^<script\b", page, re.M)) == 3  # vis has "<script>" in a JS string
    block = _data_block(page)
    assert "<" not in block and ">" not in block and "&" not in block
    data = json.loads(block)
    evil = next(c for c in data["concepts"] if c["id"] == "evil")
    assert evil["label"] == XSS_LABEL
    assert XSS_BREAKOUT in evil["description"]
    for marker in ("<script>window.__xss", "<img src=x", "<svg onload"):
        assert marker not in page
    # No random ids (pyvis or uuid) or timestamps in what we generate.
    ours = page.replace(_vis_script(page), "")
    assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-", ours)
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:", ours)


def _vis_script(page: str) -> str:
    scripts = re.findall(r"^<script>(.*?)^</script>", page, re.S | re.M)
    assert len(scripts) == 2 and "vis-network" in scripts[0]
    return str(scripts[0])


# The concepts SMALL's notes use, with their prerequisites: FlashAttention, 分页注意力, DAPO and
# 直接偏好优化 have no question and lead to none; 旋转位置编码 has none but MLA needs it.
SMALL_CORE = {
    "attention",
    "mha",
    "mqa",
    "kv-cache",
    "gqa",
    "mla",
    "rope",
    "rlhf",
    "ppo",
    "grpo",
    "evil",
}


def _layouts(data: dict[str, Any]) -> dict[str, dict[str, dict[str, tuple[int, int]]]]:
    """shape -> view -> id -> (x, y), from the page's aligned position lists."""
    ids = [n["id"] for n in data["nodes"]]
    return {
        shape: {
            view: {i: (p[0], p[1]) for i, p in zip(ids, positions, strict=True) if p is not None}
            for view, positions in views.items()
            if isinstance(positions, list)
        }
        for shape, views in data["layouts"].items()
    }


def test_core_is_used_concepts_and_their_prerequisites() -> None:
    assert core_ids(SMALL.nodes, SMALL.edges) == SMALL_CORE
    data = json.loads(_data_block(render_map(SMALL)))
    assert {c["id"] for c in data["concepts"] if c["core"]} == SMALL_CORE
    # no questions anywhere: everything is the core, and the page has no second layout
    bare = tuple(
        MapNode(n.id, n.label, n.aliases, n.description, n.domain, n.layer, ()) for n in SMALL_NODES
    )
    assert core_ids(bare, SMALL_EDGES) == {n.id for n in SMALL_NODES}
    layouts = json.loads(_data_block(render_map(MapData("x", bare, SMALL_EDGES))))["layouts"]
    assert layouts["wide"]["core"] is None and layouts["narrow"]["core"] is None


def test_layout_is_layered_and_physics_off() -> None:
    data = json.loads(_data_block(render_map(SMALL)))
    layouts = _layouts(data)
    for view, ids in (("all", {n.id for n in SMALL_NODES}), ("core", SMALL_CORE)):
        wide = layouts["wide"][view]
        assert set(wide) == ids
        x = {i: p[0] for i, p in wide.items()}
        for a, b in (("attention", "mha"), ("mha", "mqa"), ("mqa", "gqa"), ("gqa", "mla")):
            assert x[a] < x[b]
        assert x["attention"] == x["kv-cache"] == x["rlhf"] == x["rope"]
        # each view has its own layout: no column keeps a hole for a concept left out
        columns: dict[int, list[int]] = {}
        for px, py in wide.values():
            columns.setdefault(px, []).append(py)
        for ys in columns.values():
            ys.sort()
            assert len({b - a for a, b in zip(ys, ys[1:], strict=False)}) <= 1
        narrow = layouts["narrow"][view]
        assert set(narrow) == ids
        for e in SMALL_EDGES:
            if e.source in ids and e.target in ids:
                assert narrow[e.source][1] < narrow[e.target][1], e  # prerequisites above
        assert max(x for x, _ in narrow.values()) - min(x for x, _ in narrow.values()) <= 300
    assert data["options"]["physics"]["enabled"] is False
    sizes = {n["id"]: n["size"] for n in data["nodes"]}
    assert sizes["gqa"] > sizes["mqa"] > sizes["flash"]
    colours = {n["id"]: n["color"]["background"] for n in data["nodes"]}
    assert colours["mha"] == colours["gqa"] != colours["ppo"]
    assert [d["name"] for d in data["domains"]] == sorted(d["name"] for d in data["domains"])


def test_lanes_keep_rows_narrow_and_edges_downward() -> None:
    data = big_map(nodes=600, edges=900)
    positions = lane_positions(data.nodes, data.edges)
    assert set(positions) == {n.id for n in data.nodes}
    rows: dict[float, int] = {}
    for _, y in positions.values():
        rows[y] = rows.get(y, 0) + 1
    lanes = len({x for x, _ in positions.values()})
    assert max(rows.values()) <= lanes <= 7
    assert len(rows) <= len(data.nodes) / lanes * 1.5  # few holes
    for e in data.edges:
        assert positions[e.source][1] < positions[e.target][1]
    # a cycle (bad input the page still draws) is cut, not looped over
    cyc = (MapEdge("mha", "attention", "t"), *SMALL_EDGES)
    assert len(lane_positions(SMALL_NODES, cyc)) == len(SMALL_NODES)


def _math_trees(node: Any) -> Iterator[list[Any]]:
    if isinstance(node, list) and node and isinstance(node[0], str) and isinstance(node[1], dict):
        yield node
        for child in node[2:]:
            yield from _math_trees(child)


def test_formulas_in_titles_travel_as_allowlisted_mathml() -> None:
    data = json.loads(_data_block(render_map(SMALL)))
    by_id = {q["id"]: q for q in data["questions"]}
    assert "qm" not in by_id["q-gqa-2"]  # a title without a formula stays plain text
    sqrt = by_id["q-att-2"]
    assert sqrt["q"] == SQRT_TITLE
    assert sqrt["qm"][0] == "为什么要除以 " and sqrt["qm"][-1] == "？"
    tags = [t[0] for t in _math_trees(sqrt["qm"][1])]
    assert tags[0] == "math" and "msqrt" in tags and "msub" in tags
    hostile = by_id["q-evil-2"]["qm"]
    assert hostile[0].startswith(XSS_IMG)  # the note's markup is text
    nodes = [t for part in hostile for t in _math_trees(part)]
    assert {t[0] for t in nodes} <= MATHML_ELEMENTS
    assert {a for t in nodes for a in t[1]} <= MATHML_ATTRIBUTES
    texts = [c for t in nodes for c in t[2:] if isinstance(c, str)]
    assert "<img\xa0src=x\xa0onerror=window.__xss8=1>" in texts  # \text{...}: <mtext> text
    # A formula latex2mathml cannot read, or one defining macros, stays TeX (as text).
    assert title_segments("不完整 $\\sqrt$ 与 $\\newcommand{\\a}{x}\\a$") == [
        "不完整 \\sqrt 与 \\newcommand{\\a}{x}\\a"
    ]
    # Tooltips are plain text: a formula reads as Unicode there.
    assert plain_math(SQRT_TITLE) == "为什么要除以 √(dₖ)？"
    assert plain_math("复杂度 $O(n^2)$，$\\frac{QK^T}{\\sqrt{d_k}}$") == "复杂度 O(n²)，QKᵀ/√(dₖ)"
    assert plain_math("价格 \\$5") == "价格 \\$5"  # no formula: unchanged
    quad = _node("quad", "Attention 复杂度", ("$O(n^2)$ 注意力",), "", ATT, 0)
    vis = json.loads(_data_block(render_map(MapData("x", (quad,), ()))))["nodes"]
    assert vis[0]["title"] == "Attention 复杂度 · O(n²) 注意力 · 0 道题"


def test_bad_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown"):
        render_map(MapData("x", SMALL_NODES, (MapEdge("attention", "nope", "t"),)))
    with pytest.raises(ValueError, match="repeated"):
        render_map(MapData("x", SMALL_NODES + SMALL_NODES[:1], ()))


def test_write_map_is_atomic(tmp_path: Path) -> None:
    target = tmp_path / "site" / "map.html"
    write_map(SMALL, target)
    write_map(SMALL, target)
    assert target.read_text(encoding="utf-8") == render_map(SMALL)
    assert [p.name for p in target.parent.iterdir()] == ["map.html"]


# ---------------------------------------------------------------- browser harness


class PageWatch:
    """Everything a page did that it should not have."""

    def __init__(self) -> None:
        self.blocked: list[str] = []
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        self.dialogs: list[str] = []

    def assert_clean(self, page: Any) -> None:
        markers = page.evaluate("() => Object.keys(window).filter(k => k.startsWith('__xss'))")
        assert markers == [], f"XSS markers set: {markers}"
        assert self.dialogs == [], f"dialogs opened: {self.dialogs}"
        assert self.blocked == [], f"network requests attempted: {self.blocked}"
        assert self.page_errors == [], f"page errors: {self.page_errors}"
        assert self.console_errors == [], f"console errors: {self.console_errors}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium fonts-wqy-microhei)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def open_page(
    browser: Any, path: Path, width: int, height: int, scale: float = 1
) -> tuple[Any, Any, PageWatch]:
    watch = PageWatch()
    context = browser.new_context(
        viewport={"width": width, "height": height},
        device_scale_factor=scale,
        service_workers="block",
    )

    def route(r: Any) -> None:
        if r.request.url.startswith(LOCAL_SCHEMES):
            r.continue_()
        else:
            watch.blocked.append(r.request.url)
            r.abort("internetdisconnected")

    context.route("**/*", route)
    page = context.new_page()
    page.on("console", lambda m: watch.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: watch.page_errors.append(str(e)))

    def on_dialog(d: Any) -> None:
        watch.dialogs.append(f"{d.type}: {d.message}")
        d.dismiss()

    page.on("dialog", on_dialog)
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_function("() => window.__mapReady !== undefined", timeout=30_000)
    return context, page, watch


def node_screen_position(page: Any, node_id: str) -> tuple[float, float]:
    pos = page.evaluate(
        """id => {
            const p = window.network.canvasToDOM(window.network.getPositions([id])[id]);
            const r = document.getElementById('map').getBoundingClientRect();
            return [r.left + p.x, r.top + p.y];
        }""",
        node_id,
    )
    return float(pos[0]), float(pos[1])


def click_node(page: Any, node_id: str, label: str | None = None, tries: int = 8) -> None:
    """Click a node until its panel opens: the view may still be gliding after a selection."""
    for _ in range(tries):
        page.wait_for_timeout(400)
        x, y = node_screen_position(page, node_id)
        page.mouse.click(x, y)
        try:
            page.wait_for_function(
                "([id, label]) => !document.querySelector('#panel').hidden"
                " && network.getSelectedNodes()[0] === id"
                " && (label === null || document.querySelector('#panel .panel-title')?.textContent === label)",
                arg=[node_id, label],
                timeout=2_000,
            )
            return
        except Exception:  # noqa: BLE001 - retried; the last try raises below
            continue
    raise AssertionError(f"clicking node {node_id!r} never opened its panel")


def canvas_ink(page: Any) -> float:
    return float(
        page.evaluate(
            """() => {
                const c = document.querySelector('#map canvas');
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                let ink = 0, n = 0;
                for (let i = 0; i < d.length; i += 4 * 5) { n++; if (d[i + 3] > 0) ink++; }
                return ink / n;
            }"""
        )
    )


def search(page: Any, text: str) -> list[str]:
    page.fill("#search", text)
    return [str(t) for t in page.locator("#results .result-label").all_text_contents()]


def drawn(page: Any) -> set[str]:
    """The nodes vis draws (the DataSet holds every concept; those outside the view are hidden)."""
    return set(page.evaluate("() => network.body.nodeIndices"))


def label_px(page: Any) -> dict[str, float]:
    """Each drawn label's size on screen: font size x scale, as vis draws it."""
    sizes = page.evaluate(
        """() => Object.fromEntries(network.body.nodeIndices.map(
            id => [id, network.body.nodes[id].options.font.size * network.getScale()]))"""
    )
    return {str(k): float(v) for k, v in sizes.items()}


def settle(page: Any) -> None:
    """Wait for a camera glide to end: the view stops moving."""
    for _ in range(40):
        still = page.evaluate(
            """() => new Promise(done => {
                const view = () => JSON.stringify([network.getViewPosition(), network.getScale()]);
                const before = view();
                setTimeout(() => done(before === view()), 150);
            })"""
        )
        if still:
            return
    raise AssertionError("the view never stopped moving")


def chain_lines(page: Any) -> list[str]:
    return [
        re.sub(r"\s*→\s*", " → ", " ".join((t or "").split()))
        for t in page.locator("#chains .chain-line").all_text_contents()
    ]


def visible_tooltips(page: Any) -> int:
    return int(
        page.evaluate(
            """() => Array.from(document.querySelectorAll('div.vis-tooltip')).filter(t =>
                getComputedStyle(t).visibility === 'visible' && t.getBoundingClientRect().width > 0
                && t.textContent.trim() !== '').length"""
        )
    )


@pytest.fixture(scope="module")
def small_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("map") / "map.html"
    write_map(SMALL, path)
    return path


# ---------------------------------------------------------------- browser tests


def test_small_map_in_chromium(browser: Any, small_page: Path) -> None:
    context, page, watch = open_page(browser, small_page, 1280, 800)
    try:
        counts = page.evaluate(
            "() => [network.body.data.nodes.length, network.body.data.edges.length]"
        )
        assert counts == [len(SMALL_NODES), len(SMALL_EDGES)]
        assert drawn(page) == SMALL_CORE  # the first view: the concepts the notes use
        assert canvas_ink(page) > 0.001
        assert page.evaluate("() => network.physics.options.enabled") is False
        assert page.locator("#map-title").inner_text() == SMALL.title
        assert page.title() == SMALL.title
        stats = page.locator("#legend-stats").text_content() or ""
        assert f"显示 {len(SMALL_CORE)} / {len(SMALL_NODES)} 个概念" in stats

        before = {n["id"]: n for n in page.evaluate("() => network.body.data.nodes.get()")}
        click_node(page, "gqa")
        panel = page.locator("#panel").text_content() or ""
        assert "GQA" in panel and "分组查询注意力" in panel
        assert "介于 MHA 与 MQA 之间" in panel
        assert "Attention → MHA → MQA → GQA" in panel
        assert "KV-Cache → GQA" in panel
        assert "MLA" in panel  # a dependant
        assert "GQA 为什么能兼顾效果和速度？" in panel

        after = {n["id"]: n for n in page.evaluate("() => network.body.data.nodes.get()")}
        chain = {"attention", "mha", "mqa", "kv-cache", "gqa", "mla"}
        for nid, node in after.items():
            if nid in chain:
                assert node.get("opacity", 1) == 1, nid
                assert node["color"] == before[nid]["color"], nid
            else:
                assert node["opacity"] < 1, nid
                assert node["color"] != before[nid]["color"], nid
        assert page.evaluate("() => network.getSelectedNodes()") == ["gqa"]

        # Search: Chinese alias, English alias in another case, full-width letters (NFKC).
        assert search(page, "分组查询")[0] == "GQA"
        assert search(page, "proximal")[0] == "PPO"
        assert search(page, "ｇｒｐｏ")[0] == "GRPO"
        assert search(page, "rope")[0] == "旋转位置编码"
        assert search(page, "不存在的概念") == []
        # A concept outside the core: found, marked, and choosing it shows the whole catalogue.
        assert search(page, "vLLM")[0] == "分页注意力"
        assert page.locator("#results .result-note").first.text_content() == "笔记未用"
        page.keyboard.press("Enter")
        page.wait_for_function(
            "() => document.querySelector('#panel .panel-title').textContent === '分页注意力'"
        )
        assert drawn(page) == {n.id for n in SMALL_NODES}
        assert page.locator("#view-toggle").get_attribute("aria-pressed") == "true"
        settle(page)
        x, _ = node_screen_position(page, "paged")
        assert 0 < x < (page.locator("#panel").bounding_box() or {"x": 0})["x"]
        # back to the notes' concepts: the selection outside it is cleared
        page.locator("#view-toggle").click()
        assert drawn(page) == SMALL_CORE
        assert page.locator("#panel").is_hidden()
        search(page, "多头注意")
        page.keyboard.press("Enter")
        page.wait_for_function(
            "() => document.querySelector('#panel .panel-title').textContent === 'MHA'"
        )
        assert page.evaluate("() => network.getSelectedNodes()") == ["mha"]

        # Open every answer (the hostile one included): sanitised, nothing runs or loads.
        for summary in page.locator("#panel details > summary").all():
            summary.click()
        # the answer is put in on the `toggle` event, which the browser dispatches as a task after
        # the click: wait for it rather than read the still empty element
        page.wait_for_function(
            "() => [...document.querySelectorAll('#panel .answer')].every(a => a.hasChildNodes())"
        )
        answer = page.locator("#panel .answer").first
        assert "因为不同的头关注不同的模式。" in (answer.text_content() or "")
        assert "heads = 8" in (answer.text_content() or "")
        assert "［图片：远程图片］" in (answer.text_content() or "")
        assert (
            page.evaluate(
                """() => document.querySelectorAll(
                '#panel script, #panel img, #panel svg, #panel [onerror], .answer [style],'
                + ' #panel a').length"""
            )
            == 0
        )
        assert XSS_BREAKOUT in (page.locator("#panel summary").first.text_content() or "")

        # The hostile node: its label is drawn and shown as plain text.
        page.keyboard.press("Escape")  # close the panel: it may cover the node
        click_node(page, "evil", XSS_LABEL)
        for summary in page.locator("#panel details > summary").all():
            summary.click()
        assert XSS_SCRIPT in (page.locator("#panel .description").text_content() or "")
        legend = page.locator("#legend").text_content() or ""
        assert "测试</script><script>window.__xss6=1</script>" in legend
        # Tooltips are plain text.
        page.mouse.move(*node_screen_position(page, "mha"))
        page.wait_for_timeout(600)
        assert page.evaluate("() => document.querySelectorAll('div.vis-tooltip *').length") == 0

        # Escape clears the selection and the highlight.
        page.keyboard.press("Escape")
        assert page.locator("#panel").is_hidden()
        restored = page.evaluate("() => network.body.data.nodes.get()")
        assert all(n.get("opacity", 1) == 1 for n in restored)
        page.wait_for_timeout(300)
        watch.assert_clean(page)
    finally:
        context.close()


def test_phone_width_screenshot(browser: Any, small_page: Path) -> None:
    context, page, watch = open_page(browser, small_page, 390, 844, scale=2)
    try:
        assert canvas_ink(page) > 0.001
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
        # the first view: the core only, every node inside the visible map, labels legible
        assert drawn(page) == SMALL_CORE
        assert min(label_px(page).values()) >= 11
        box = page.locator("#map").bounding_box()
        assert box is not None
        for nid in SMALL_CORE:
            x, y = node_screen_position(page, nid)
            assert box["x"] <= x <= box["x"] + box["width"], nid
            assert box["y"] <= y <= box["y"] + box["height"], nid
        # the header fits: title, search and the three buttons
        for sel in ("#search", "#view-toggle", "#chains-open", "#fit"):
            b = page.locator(sel).bounding_box()
            assert b is not None and b["x"] >= 0 and b["x"] + b["width"] <= 390, sel
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "map-390-overview.png"))
        search(page, "分组查询注意力")
        page.keyboard.press("Enter")
        page.wait_for_selector("#panel:not([hidden])")
        panel_box = page.locator("#panel").bounding_box()
        assert panel_box is not None
        assert panel_box["width"] == pytest.approx(390, abs=1)  # bottom sheet
        assert panel_box["y"] + panel_box["height"] == pytest.approx(
            box["y"] + box["height"], abs=1
        )
        assert "Attention → MHA → MQA → GQA" in (page.locator("#panel").text_content() or "")
        settle(page)
        x, y = node_screen_position(page, "gqa")
        assert box["y"] < y < panel_box["y"], "selected node hidden behind the bottom sheet"
        page.screenshot(path=str(SCREENSHOTS / "map-390.png"))
        watch.assert_clean(page)
    finally:
        context.close()


def test_formulas_in_question_titles_render_as_math(browser: Any, small_page: Path) -> None:
    """A title's `$\\sqrt{d_k}$` shows as drawn MathML in the sheet, and formulas holding markup
    stay text: nothing in them becomes an element of the page, runs or loads."""
    context, page, watch = open_page(browser, small_page, 390, 844, scale=2)
    try:
        search(page, "Self-Attention")
        page.keyboard.press("Enter")
        page.wait_for_function(
            "() => document.querySelector('#panel .panel-title')?.textContent === 'Attention'"
        )
        summary = page.locator("#panel details.question > summary", has_text="为什么要除以")
        summary.scroll_into_view_if_needed()
        text = summary.text_content() or ""
        assert "$" not in text and "sqrt" not in text
        math = page.evaluate(
            """() => {
                const s = [...document.querySelectorAll('#panel details.question > summary')]
                    .find(e => e.textContent.includes('为什么要除以'));
                const m = s.querySelector('math');
                const root = m && m.querySelector('msqrt');
                const box = root ? root.getBoundingClientRect() : null;
                return {
                    ns: m && m.namespaceURI,
                    display: m && getComputedStyle(m).display,
                    sqrt: box && [box.width, box.height],
                    text: m && m.textContent,
                };
            }"""
        )
        assert math["ns"] == "http://www.w3.org/1998/Math/MathML"
        assert math["display"] in ("inline math", "math", "inline"), math  # drawn by the MathML engine
        assert math["text"] == "dk"
        assert math["sqrt"][0] > 8 and math["sqrt"][1] > 10, math  # a radical drawn around d_k
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "map-390-formula.png"))

        page.keyboard.press("Escape")
        search(page, "恶意节点")
        page.keyboard.press("Enter")
        page.wait_for_selector("#panel:not([hidden])")
        hostile = page.locator("#panel details.question > summary", has_text="onerror")
        shown = hostile.text_content() or ""
        assert XSS_IMG in shown and "<img src=x onerror=window.__xss8=1>" in shown.replace("\xa0", " ")
        hostile.click()  # opening it changes nothing either
        page.wait_for_function(  # its answer is in (put in on `toggle`), so the check below sees it
            "() => [...document.querySelectorAll('#panel details.question[open] .answer')].every(a => a.hasChildNodes())"
        )
        found = page.evaluate(
            """() => {
                const panel = document.getElementById('panel');
                const maths = [...panel.querySelectorAll('math, math *')];
                const questions = '#panel details.question ';
                const bad = ['img', 'script', 'svg', 'a', '[onerror]', '[href]', '[style]'];
                return {
                    elements: document.querySelectorAll(bad.map(b => questions + b).join(', ')).length,
                    maths: maths.length,
                    foreign: maths.filter(e => e.namespaceURI !== 'http://www.w3.org/1998/Math/MathML').length,
                    attrs: [...new Set(maths.flatMap(e => [...e.attributes].map(a => a.name)))].sort(),
                };
            }"""
        )
        assert found["elements"] == 0, found
        assert found["maths"] > 0 and found["foreign"] == 0, found
        assert set(found["attrs"]) <= MATHML_ATTRIBUTES, found
        page.wait_for_timeout(300)
        watch.assert_clean(page)
    finally:
        context.close()


def test_phone_first_view_is_legible(browser: Any, tmp_path: Path) -> None:
    """A map too big to fit legibly opens where the chains start, at a readable scale."""
    data = big_map(nodes=150, edges=220)
    core = core_ids(data.nodes, data.edges)
    assert len(core) < len(data.nodes)
    path = tmp_path / "mid.html"
    write_map(data, path)
    context, page, watch = open_page(browser, path, 390, 844)
    try:
        assert drawn(page) == core
        sizes = label_px(page)
        assert min(sizes.values()) >= 11, min(sizes.values())
        # the top row of the narrow layout (where the chains start) is on screen
        box = page.locator("#map").bounding_box()
        assert box is not None
        tops = page.evaluate(
            """() => { const pos = network.getPositions(network.body.nodeIndices);
                const top = Math.min(...Object.values(pos).map(p => p.y));
                return Object.keys(pos).filter(id => pos[id].y === top); }"""
        )
        assert tops
        for nid in tops:
            x, y = node_screen_position(page, nid)
            assert box["x"] < x < box["x"] + box["width"] and box["y"] < y < box["y"] + 200, nid
        # 全图 still fits everything, labels or not
        page.locator("#fit").click()
        settle(page)
        for nid in core:
            x, y = node_screen_position(page, nid)
            assert box["x"] <= x <= box["x"] + box["width"], nid
            assert box["y"] <= y <= box["y"] + box["height"], nid
        watch.assert_clean(page)
    finally:
        context.close()


def test_tap_frames_the_chain_above_the_sheet(browser: Any, small_page: Path) -> None:
    context, page, watch = open_page(browser, small_page, 390, 844)
    try:
        click_node(page, "gqa", "GQA")
        settle(page)
        box = page.locator("#map").bounding_box()
        sheet = page.locator("#panel").bounding_box()
        assert box is not None and sheet is not None
        for nid in ("attention", "mha", "mqa", "kv-cache", "gqa", "mla"):
            x, y = node_screen_position(page, nid)
            assert 0 < x < 390, nid
            assert box["y"] < y < sheet["y"], f"{nid} is not in the free area above the sheet"
        # its labels still read (the framed chain's labels never drop below START_PX)
        sizes = label_px(page)
        assert sizes["gqa"] >= 11 and sizes["attention"] >= 11
        watch.assert_clean(page)
    finally:
        context.close()


def test_tooltip_never_covers_the_panel(browser: Any, small_page: Path) -> None:
    context, page, watch = open_page(browser, small_page, 1280, 800)
    try:
        page.mouse.move(*node_screen_position(page, "mqa"))
        page.wait_for_function(
            "() => Array.from(document.querySelectorAll('div.vis-tooltip'))"
            ".some(t => getComputedStyle(t).visibility === 'visible')",
            timeout=3_000,
        )
        click_node(page, "mqa", "MQA")
        settle(page)
        # hover nodes while the panel is open: no tooltip shows, over the panel or anywhere
        for nid in ("mqa", "mha", "gqa"):
            page.mouse.move(*node_screen_position(page, nid))
            page.wait_for_timeout(500)
            assert visible_tooltips(page) == 0, nid
        panel = page.locator("#panel").bounding_box()
        assert panel is not None
        centre = (panel["x"] + panel["width"] / 2, panel["y"] + 40)
        assert page.evaluate(
            "([x, y]) => document.getElementById('panel').contains(document.elementFromPoint(x, y))",
            list(centre),
        )
        page.keyboard.press("Escape")
        page.mouse.move(1, 1)
        page.mouse.move(*node_screen_position(page, "mha"))
        page.wait_for_function(
            "() => Array.from(document.querySelectorAll('div.vis-tooltip'))"
            ".some(t => getComputedStyle(t).visibility === 'visible')",
            timeout=3_000,
        )  # back once the panel is closed
        watch.assert_clean(page)
    finally:
        context.close()


def test_chains_view_lists_chains_and_selects(browser: Any, small_page: Path) -> None:
    context, page, watch = open_page(browser, small_page, 390, 844)
    try:
        page.locator("#chains-open").click()
        assert page.locator("#chains").is_visible()
        lines = chain_lines(page)
        assert "Attention → MHA → MQA → GQA → MLA" in lines
        assert "RLHF → PPO → GRPO" in lines  # GRPO's dependant DAPO is outside the core
        assert f"Attention → {XSS_LABEL}" in lines
        assert len(lines) == len(set(lines)) == 3
        groups = [t.strip() for t in page.locator("#chains .chain-group h3").all_text_contents()]
        assert ATT in groups and RL in groups
        assert any("window.__xss6" in g for g in groups)  # hostile domain name: text only
        assert (
            page.evaluate("() => document.querySelectorAll('#chains svg, #chains script').length")
            == 0
        )
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "map-390-chains.png"))
        page.locator("#chains .chain-line", has_text="GQA").get_by_text("MQA", exact=True).click()
        page.wait_for_function(
            "() => document.querySelector('#panel .panel-title')?.textContent === 'MQA'"
        )
        assert page.locator("#chains").is_hidden()
        assert page.evaluate("() => network.getSelectedNodes()") == ["mqa"]
        settle(page)
        x, y = node_screen_position(page, "mqa")
        sheet = page.locator("#panel").bounding_box()
        assert sheet is not None and 0 < x < 390 and y < sheet["y"]
        # the whole catalogue has its own chains
        page.keyboard.press("Escape")
        page.locator("#view-toggle").click()
        page.locator("#chains-open").click()
        lines = chain_lines(page)
        assert "RLHF → PPO → GRPO → DAPO" in lines
        watch.assert_clean(page)
    finally:
        context.close()


def test_toggle_shows_the_whole_catalogue(browser: Any, small_page: Path) -> None:
    for width, height in ((390, 844), (1280, 800)):
        context, page, watch = open_page(browser, small_page, width, height)
        try:
            toggle = page.locator("#view-toggle")
            assert drawn(page) == SMALL_CORE
            before = toggle.text_content()
            toggle.click()
            assert drawn(page) == {n.id for n in SMALL_NODES}
            assert toggle.text_content() != before
            assert toggle.get_attribute("aria-pressed") == "true"
            stats = page.locator("#legend-stats").text_content() or ""
            assert f"{len(SMALL_NODES)} 个概念" in stats and "/" not in stats
            assert f"{len(SMALL_EDGES)} 条前置关系" in stats
            settle(page)
            box = page.locator("#map").bounding_box()
            assert box is not None
            if width > 700:  # a desktop shows everything it has, fitted
                for nid in (n.id for n in SMALL_NODES):
                    x, y = node_screen_position(page, nid)
                    assert box["x"] <= x <= box["x"] + box["width"], nid
                    assert box["y"] <= y <= box["y"] + box["height"], nid
            else:
                assert min(label_px(page).values()) >= 11
            # each view has its own layout: positions differ between the two
            everywhere = "() => network.getPositions()"
            in_all = page.evaluate(everywhere)
            toggle.click()
            assert drawn(page) == SMALL_CORE
            assert toggle.text_content() == before
            in_core = page.evaluate(everywhere)
            assert any(in_core[nid] != in_all[nid] for nid in SMALL_CORE)
            watch.assert_clean(page)
        finally:
            context.close()


def test_desktop_screenshot(browser: Any, small_page: Path) -> None:
    context, page, watch = open_page(browser, small_page, 1280, 800)
    try:
        click_node(page, "gqa")
        page.locator("#panel details > summary").first.click()
        page.get_by_text("在图中显示整条链").click()
        page.wait_for_timeout(700)  # let the camera animation finish
        panel_left = page.locator("#panel").bounding_box()["x"]
        for nid in ("attention", "mha", "mqa", "kv-cache", "gqa", "mla"):
            x, _ = node_screen_position(page, nid)
            assert 0 < x < panel_left, f"{nid} is hidden behind the panel"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.mouse.move(1, 300)
        page.screenshot(path=str(SCREENSHOTS / "map-1280.png"))
        watch.assert_clean(page)
    finally:
        context.close()


def test_big_map_draws(browser: Any, tmp_path: Path) -> None:
    data = big_map()
    t0 = time.perf_counter()
    path = tmp_path / "big.html"
    write_map(data, path)
    build_s = time.perf_counter() - t0
    size = path.stat().st_size
    assert size < 5 * 1024 * 1024
    t1 = time.perf_counter()
    context, page, watch = open_page(browser, path, 1280, 800)
    try:
        wall_s = time.perf_counter() - t1
        ready_ms = page.evaluate("() => window.__mapReady")
        counts = page.evaluate(
            "() => [network.body.data.nodes.length, network.body.data.edges.length]"
        )
        assert counts == [3000, 4000]
        assert canvas_ink(page) > 0.001
        t2 = time.perf_counter()
        page.fill("#search", "concept-1500")
        page.keyboard.press("Enter")
        page.wait_for_selector("#panel:not([hidden])")
        select_s = time.perf_counter() - t2
        print(
            f"\n3000 nodes / 4000 edges: page {size / 1e6:.2f} MB, built in {build_s:.2f} s, "
            f"first draw at {ready_ms} ms after navigation ({wall_s:.2f} s wall incl. load), "
            f"search+highlight {select_s:.2f} s"
        )
        watch.assert_clean(page)
    finally:
        context.close()


def test_check_graph_tool_passes(small_page: Path) -> None:
    if not CHECK_GRAPH.exists():
        pytest.skip(f"{CHECK_GRAPH} not present")
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [
            sys.executable,
            str(CHECK_GRAPH),
            str(small_page),
            "--json",
            "--screenshot",
            str(SCREENSHOTS / "map-check-graph.png"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ),
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert done.returncode == 0, report
    assert report["nodes"] == len(SMALL_NODES) and report["blocked_requests"] == 0
