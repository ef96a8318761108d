"""Card HTML: formulas survive Markdown and typeset in MathJax 3, note text stays inert, flat
exports get their formulas back, long answers fold behind their summary.

The MathJax check runs every formula of every card of the starter notes and of the seed
through mathjax-full 3.2 (the MathJax Anki ships) in one node process: tests/js/typeset.mjs.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import NOTES, ROOT, SEED

from bagu2anki.config import Config
from bagu2anki.diagnostics import Diagnostics
from bagu2anki.model import Atom
from bagu2anki.parse.flatten import flattening_problems, to_markdown
from bagu2anki.parse.repair import repair_flattened, repair_flattened_report
from bagu2anki.pipeline import BuildResult, build
from bagu2anki.render import FOLD_THRESHOLD, Renderer, plain_text
from bagu2anki.write.apkg import FIELDS, template_text

JS = ROOT / "tests" / "js"
TYPESET = JS / "typeset.mjs"
MATHJAX = JS / "node_modules" / "mathjax-full"

# ---------------------------------------------------------------- helpers

_CODE = re.compile(r"<(pre|code|style|script)\b[^>]*>.*?</\1\s*>", re.S | re.I)
_DELIM = re.compile(r"\\\\|\\\(|\\\)|\\\[|\\\]")


@dataclass(frozen=True)
class Formula:
    tex: str
    display: bool
    where: str


def formulas(fragment: str, where: str = "") -> list[Formula]:
    """Every `\\(…\\)` / `\\[…\\]` MathJax would see (code skipped), HTML-unescaped.

    A delimiter that does not pair up is an error: MathJax would show it as text.
    """
    text = _CODE.sub("", fragment)
    found: list[Formula] = []
    opened: re.Match[str] | None = None
    for m in _DELIM.finditer(text):
        tok = m.group(0)
        if tok == "\\\\":
            continue
        if tok in ("\\(", "\\["):
            assert opened is None, f"{where}: {tok} inside {opened.group(0) if opened else ''}: {text[m.start() - 40 : m.end() + 40]!r}"
            opened = m
            continue
        want = "\\(" if tok == "\\)" else "\\["
        assert opened is not None and opened.group(0) == want, f"{where}: stray {tok}: {text[m.start() - 40 : m.end() + 10]!r}"
        raw = text[opened.end() : m.start()]
        found.append(Formula(html.unescape(re.sub(r"<[^>]+>", "", raw)), tok == "\\]", where))
        opened = None
    assert opened is None, f"{where}: unclosed {opened.group(0) if opened else ''}"
    return found


def atom(answer: str, fmt: str = "markdown", question: str = "问题？") -> Atom:
    return Atom(
        source="t.md" if fmt == "markdown" else "t.txt",
        line=1,
        end_line=1,
        section=("测试",),
        number=None,
        kind=None,
        question=question,
        answer=answer,
        status="answered",
        fmt=fmt,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(Diagnostics())


def back(renderer: Renderer, answer: str, fmt: str = "markdown") -> str:
    return renderer.answer(atom(answer, fmt), ROOT, ROOT).html


def texts(fragment: str) -> list[str]:
    return [f.tex for f in formulas(fragment)]


# ---------------------------------------------------------------- every formula typesets


def typeset(items: list[dict[str, object]]) -> list[dict[str, object]]:
    if shutil.which("node") is None:
        pytest.skip("node is not installed: the MathJax check needs node 18+")
    if not MATHJAX.is_dir():
        pytest.skip(f"{MATHJAX} is missing: run `npm install` in tests/js (scripts/test.sh does)")
    done = subprocess.run(
        ["node", str(TYPESET)],
        input=json.dumps(items),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: list[dict[str, object]] = json.loads(done.stdout)
    assert [r["id"] for r in result] == [i["id"] for i in items]
    return result


def test_typeset_reports_tex_errors() -> None:
    """The checker itself: a good formula passes, broken ones report MathJax's message."""
    items: list[dict[str, object]] = [
        {"id": "ok", "tex": r"\operatorname{softmax}\left(\frac{QK^\top}{\sqrt{d_k}}\right)V", "display": True},
        {"id": "ams", "tex": r"\begin{aligned} a &= b \\ c &= \boldsymbol{d} \end{aligned}", "display": True},
        {"id": "undefined", "tex": r"\softmax(x)", "display": False},
        {"id": "brace", "tex": r"x^{2", "display": False},
    ]
    result = {r["id"]: r for r in typeset(items)}
    assert result["ok"]["ok"] and result["ams"]["ok"]
    assert not result["undefined"]["ok"] and "softmax" in str(result["undefined"]["error"])
    assert not result["brace"]["ok"]


def _built(paths: tuple[Path, ...], out: Path, **kw: object) -> BuildResult:
    cfg = Config(paths=paths, out=out, lock=out / "bagu2anki.lock", **kw)  # type: ignore[arg-type]
    return build(cfg)


@pytest.fixture(scope="module")
def notes_build(tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    return _built((NOTES,), tmp_path_factory.mktemp("notes"))


@pytest.fixture(scope="module")
def seed_build(tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    if not SEED.is_file():
        pytest.skip(f"seed notes not available at {SEED} (../shared is absent in this checkout)")
    return _built((SEED,), tmp_path_factory.mktemp("seed"), include_unanswered=True, split=False)  # formulas of whole answers


def card_formulas(result: BuildResult) -> list[Formula]:
    found: list[Formula] = []
    for card in result.cards:
        where = f"{card.atom.source}:{card.atom.line}"
        for side in (card.front_html, card.back_html, card.prereq_html, card.related_html):
            found.extend(formulas(side, where))
    return found


@pytest.fixture(scope="module")
def typeset_all(
    notes_build: BuildResult, request: pytest.FixtureRequest
) -> dict[str, list[tuple[Formula, dict[str, object]]]]:
    """Every formula of the starter notes and of the seed, typeset in one node process."""
    corpora = {"notes": card_formulas(notes_build)}
    if SEED.is_file():
        corpora["seed"] = card_formulas(request.getfixturevalue("seed_build"))
    flat = [(which, f) for which, found in corpora.items() for f in found]
    items: list[dict[str, object]] = [
        {"id": str(k), "tex": f.tex, "display": f.display} for k, (_, f) in enumerate(flat)
    ]
    out: dict[str, list[tuple[Formula, dict[str, object]]]] = {which: [] for which in corpora}
    for (which, f), r in zip(flat, typeset(items), strict=True):
        out[which].append((f, r))
    return out


@pytest.mark.parametrize("which", ["notes", "seed"])
def test_every_card_formula_typesets_in_mathjax3(
    which: str, typeset_all: dict[str, list[tuple[Formula, dict[str, object]]]]
) -> None:
    if which not in typeset_all:
        pytest.skip(f"seed notes not available at {SEED} (../shared is absent in this checkout)")
    results = typeset_all[which]
    assert len(results) > (40 if which == "notes" else 100), "expected many formulas"
    failed = [f"{f.where}: {f.tex!r}: {r['error']}" for f, r in results if not r["ok"]]
    print(f"\n{which}: {len(results)} formulas typeset by MathJax 3, {len(failed)} failed")
    assert not failed, "formulas MathJax 3 cannot typeset:\n" + "\n".join(failed)


@pytest.mark.parametrize("which", ["notes", "seed"])
def test_no_tex_left_in_prose(which: str, request: pytest.FixtureRequest) -> None:
    r"""Outside formulas and code, no `\sqrt`, `\frac`, `\text{…}`: the reader would see TeX."""
    result: BuildResult = request.getfixturevalue(f"{which}_build")
    leftovers = []
    for card in result.cards:
        for side in (card.front_html, card.back_html):
            prose = _CODE.sub("", side)
            prose = re.sub(r"\\\((.*?)\\\)|\\\[(.*?)\\\]", " ", prose, flags=re.S)
            for m in re.finditer(r"\\(?:[A-Za-z]{2,}|[{}])", html.unescape(prose)):
                leftovers.append(f"{card.atom.source}:{card.atom.line}: {m.group(0)}")
    assert not leftovers, leftovers


def test_seed_flattened_formulas_come_back(seed_build: BuildResult) -> None:
    backs = {f"{c.atom.source}:{c.atom.line}": c.back_html for c in seed_build.cards}
    attention = backs["bagu-notes-part1.txt:7"]
    assert r"\sqrt{d_k}" in texts(attention)  # `(\sqrt{d_k})`
    assert "V" in texts(attention) and "q" in texts(attention)  # `(V)`, `(q)`
    variants = backs["bagu-notes-part1.txt:77"]
    assert "h" in texts(variants)  # `(h)`
    self_attention = backs["bagu-notes-part1.txt:342"]
    assert {"n", "d", "O(n^2 d)", "X W", "A V"} <= set(texts(self_attention))
    # `\[ … \]-` glued the next item's marker: it is a list item again
    assert "<li><span class=\"math\">\\(QK^\\top \\in" in self_attention
    flash = backs["bagu-notes-part1.txt:555"]
    assert {"O(nd)", "O(n^2 + nd)", "QK^\\top", "n < 512"} <= set(texts(flash))
    text = plain_text(flash)
    assert "(I/O)" in text and "(AV)" in text and "(Online Softmax)" in text
    for side in backs.values():
        prose = plain_text(re.sub(r'<span class="math[^"]*">.*?</span>', "", side, flags=re.S))
        for flat in ("( d_k )", "(\\sqrt{d_k})", "( O(n^2 d) )", "(h)", "( n )"):
            assert flat not in prose


def test_seed_ambiguous_spans_are_reported(seed_build: BuildResult) -> None:
    found = []
    for a in seed_build.analysis.atoms:
        if a.fmt != "text":
            continue
        for p in flattening_problems(a.answer):
            found.append((a.line + 1 + a.answer[: p.offset].count("\n"), p.message))
    messages = " ".join(m for _, m in found)
    assert "(AV)" in messages and "(I/O)" in messages
    assert any("empty parentheses" in m for _, m in found)
    assert "(Query)" not in messages and "(如" not in messages


# ---------------------------------------------------------------- formulas survive Markdown


@pytest.mark.parametrize(
    "source, tex",
    [
        ("下标 $a_1 * b_2 * c_3$ 和 $x_i$", ["a_1 * b_2 * c_3", "x_i"]),
        (r"换行 $$\begin{aligned} a &= b \\ c &< d \end{aligned}$$", [r"\begin{aligned} a &= b \\ c &< d \end{aligned}"]),
        (r"转义 \(a<b \& c>d\)", [r"a<b \& c>d"]),
        ("绝对值 $|x| + \\|y\\|$ 和 *强调*", [r"|x| + \|y\|"]),
        ("星号 $a*b$ 与 $c*d$", ["a*b", "c*d"]),
    ],
)
def test_formula_characters_survive(renderer: Renderer, source: str, tex: list[str]) -> None:
    out = back(renderer, source)
    assert texts(out) == tex
    assert "<em>" not in re.sub(r"<em>强调</em>", "", out)


def test_pipes_in_table_formulas(renderer: Renderer) -> None:
    out = back(renderer, "| 范数 | 公式 |\n|---|---|\n| L1 | $\\|x\\|_1 = \\sum_i |x_i|$ |\n| 比较 | $a<b$ & $c>d$ |\n")
    assert '<div class="table-wrap"><table>' in out
    assert out.count("<tr>") == 3 and out.count("<td>") == 4
    assert texts(out) == [r"\|x\|_1 = \sum_i |x_i|", "a<b", "c>d"]
    assert "&amp;" in out


def test_dollars_in_code_and_escaped_dollars_are_not_math(renderer: Renderer) -> None:
    out = back(renderer, "命令 `echo $HOME $PATH` 和\n\n```bash\nx=$a; y=$b\n```\n\n价格 \\$5 到 \\$10，$y$ 是公式")
    assert texts(out) == ["y"]
    assert "<code>echo $HOME $PATH</code>" in out
    assert "$5 到 $10" in plain_text(out)


def test_special_tokens_stay_visible(renderer: Renderer) -> None:
    out = back(renderer, "序列以 <eos> 结尾，用 <pad> 补齐，<|im_start|> 开头；<br> 换行")
    text = plain_text(out)
    assert "<eos>" in text and "<pad>" in text and "<|im_start|>" in text
    assert "<br>" in out  # real HTML the notes may use stays HTML
    q = renderer.question(atom("", question="<eos> 和 <pad> 有什么区别？"))
    assert plain_text(q) == "<eos> 和 <pad> 有什么区别？"


HOSTILE = [
    "<script>window.__x=1</script>",
    '<img src="x" onerror="window.__x=2">',
    "[点我](javascript:window.__x=3)",
    '<a href="JaVaScRiPt:window.__x=4">链接</a>',
    '<a href="javascript&colon;window.__x=5">链接</a>',
    '<a href=" javascript:window.__x=6">链接</a>',
    '<iframe src="https://example.com"></iframe>',
    '<svg onload="window.__x=7"><circle r="1"/></svg>',
    '<p style="background:url(javascript:alert(1))" onclick="x()">段落</p>',
    '<details open ontoggle="window.__x=8"><summary>x</summary></details>',
    "<style>body{display:none}</style>",
    "<object data=x.swf></object><embed src=x.swf>",
]


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def _live_html(fragment: str) -> list[str]:
    """What a browser would run or load from the fragment: tags, handlers, script URLs."""
    parser = _Tags()
    parser.feed(fragment)
    bad = []
    for tag, attrs in parser.tags:
        if tag in ("script", "iframe", "svg", "style", "object", "embed", "math", "form"):
            bad.append(tag)
        for name, value in attrs:
            v = re.sub(r"\s+", "", (value or "")).lower()
            if name.startswith("on") or name == "style" or "javascript:" in v:
                bad.append(f"{tag} {name}={value}")
    return bad


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_html_never_survives(renderer: Renderer, payload: str) -> None:
    for fmt in ("markdown", "text"):
        answer = back(renderer, f"前文\n\n{payload}\n\n后文", fmt)
        question = renderer.question(atom("", fmt, payload + " 是什么？"))
        assert _live_html(answer) == [] and _live_html(question) == [], (answer, question)
        assert "前文" in answer and "后文" in answer


def test_tables_become_tables(renderer: Renderer) -> None:
    out = back(renderer, "| 方法 | 显存 |\n|:---|---:|\n| LoRA | 低 |\n")
    assert '<div class="table-wrap"><table>' in out
    assert '<th align="left">方法</th>' in out and '<td align="right">低</td>' in out
    flat = back(renderer, "| 方法 | 复杂度 |\n|---|---|\n| LoRA | (O(r)) |", fmt="text")
    assert "<table>" in flat and texts(flat) == ["O(r)"]


def test_fenced_code_gets_pygments_classes(renderer: Renderer) -> None:
    out = back(renderer, "```python\ndef f(x):\n    return x ** 2  # 平方\n```\n")
    assert '<div class="highlight">' in out
    assert '<span class="k">def</span>' in out and '<span class="c1"># 平方</span>' in out
    plain = back(renderer, "```\nno language <b>\n```\n")
    assert "&lt;b&gt;" in plain and '<div class="highlight">' in plain
    math = back(renderer, "```math\n\\frac{a}{b} < 1\n```\n")
    assert texts(math) == [r"\frac{a}{b} < 1"]


def test_pygments_css_has_light_and_night_colours(renderer: Renderer) -> None:
    css = renderer.pygments_css()
    assert ".highlight .k {" in css and ".nightMode .highlight .k {" in css and ".night_mode .highlight .k {" in css
    assert not re.search(r"^(pre|td|span)\b", css, re.M), "Pygments rules leak outside .highlight"
    assert ".highlight {" not in css  # the code box's background is card.css's job


# ---------------------------------------------------------------- flat exports


@pytest.mark.parametrize(
    "flat, tex",
    [
        ("( d_k )", "d_k"),
        ("(\\sqrt{d_k})", "\\sqrt{d_k}"),
        ("(h)", "h"),
        ("( O(n^2 d) )", "O(n^2 d)"),
        ("( X W )", "X W"),
        ("(O(nd))", "O(nd)"),
        ("(n < 512)", "n < 512"),
        ("(q, v)", "q, v"),
        ("(-\\infty)", "-\\infty"),
        ("( L=32, h=32, d_h=128 )", "L=32, h=32, d_h=128"),
    ],
)
def test_flattened_formulas_are_repaired(flat: str, tex: str) -> None:
    assert repair_flattened(f"当 {flat} 较大时") == f"当 \\({tex}\\) 较大时"


@pytest.mark.parametrize(
    "text",
    [
        "(Query)", "(如 64、512)", "(I/O)", "(AV)", "(GPU 0, 1, 2, 3)", "(2023)", "(70B)",
        "(batch_size)", "(d_model)", "(2^10)", "(-1e9)", "(Parameter-Efficient Fine-Tuning, PEFT)",
        "softmax(x)", "(alpha)",
    ],
)
def test_ambiguous_spans_stay_text(text: str) -> None:
    assert repair_flattened(f"见 {text} 一节") == f"见 {text} 一节"


def test_ambiguous_spans_are_reported() -> None:
    line = "计算 (AV) 和 (I/O) 以及 (d_model)、(2^10)、(Query)"
    out, problems = repair_flattened_report(line)
    assert out == line
    flagged = [re.match(r"\([^)]*\)", line[p.offset :]) for p in problems]
    assert [m.group(0) if m else None for m in flagged] == ["(AV)", "(I/O)", "(d_model)", "(2^10)"]
    assert flattening_problems("计算点积 (\n),得到一个 (\n) 的矩阵")[0].message.startswith("empty parentheses")


def test_parentheses_after_chinese_are_not_calls() -> None:
    assert repair_flattened("得到注意力矩阵(A)和输出(O(n^2))") == "得到注意力矩阵\\(A\\)和输出\\(O(n^2)\\)"
    assert repair_flattened("调用 softmax(x) 和 f(x_i)") == "调用 softmax(x) 和 f(x_i)"


def test_bare_scripts_in_flat_text() -> None:
    assert repair_flattened("大约 8nd^2 次，计算完qk^Tv之后") == "大约 \\(8nd^2\\) 次，计算完\\(qk^Tv\\)之后"
    assert repair_flattened("除以根号 d_k 与 W_Q") == "除以根号 \\(d_k\\) 与 \\(W_Q\\)"
    assert repair_flattened("复杂度 O(n^2)") == "复杂度 \\(O(n^2)\\)"
    for keep in ("batch_size 和 top_p", "use_flash_attention_2=True", "见 https://x.org/a_b^c", "softmax(x^2)"):
        assert repair_flattened(keep) == keep


def test_flat_export_rebuilds_math_blocks() -> None:
    broken = "其中\n\\( X_{\\text{dec}}\n\\) 是解码器的表示"
    assert "\\( X_{\\text{dec}} \\) 是解码器的表示" in to_markdown(broken)
    glued = "得到:\n\\[ O(n d^2 + n^2 d) \\]通常在实际模型中 ( d ) 是固定的。"
    md = to_markdown(glued)
    assert "\\[ O(n d^2 + n^2 d) \\]\n\n通常在实际模型中 \\(d\\) 是固定的。" in md
    dash = "\\[ \\text{out} = AV \\]-\n\\( QK^\\top \\in \\mathbb{R}^{n \\times n} \\)\n表示所有 token 对之间的相似度;\n- 下一条"
    md = to_markdown(dash)
    assert "- \\( QK^\\top \\in \\mathbb{R}^{n \\times n} \\) 表示所有 token 对之间的相似度;\n- 下一条" in md
    assert to_markdown("那么方差为 **方差为 **\\(d_k\\) 。").count("**方差为**") == 1


def test_text_atoms_render_repaired_formulas(renderer: Renderer) -> None:
    out = back(renderer, "- 当 ( d_k ) 较大时(如 64、512)\n- 除以 (\\sqrt{d_k})\n- 每个 token 存 (h) 份 (Query)", fmt="text")
    assert texts(out) == ["d_k", "\\sqrt{d_k}", "h"]
    assert "(如 64、512)" in plain_text(out) and "(Query)" in plain_text(out)
    assert out.count("<li>") == 3


# ---------------------------------------------------------------- folding long answers


def _long(paragraphs: int, prefix: str = "") -> str:
    body = "\n\n".join(f"第 {k} 段：" + "注意力把每个位置和所有位置做加权。" * 8 for k in range(paragraphs))
    return prefix + body


def test_long_answer_opens_with_its_summary(renderer: Renderer) -> None:
    src = "开场白一句。\n\n" + _long(8) + "\n\n### 总结\n\n三句话说清：缩放、掩码、多头。\n\n- 要点一\n- 要点二\n"
    r = renderer.answer(atom(src), ROOT, ROOT)
    assert r.folded and r.visible_chars > FOLD_THRESHOLD
    lead, _, rest = r.html.partition("<details")
    assert lead.startswith('<div class="lead"><h3>总结</h3>')
    assert "三句话说清" in lead and "要点二" in lead and "第 3 段" not in lead
    assert rest.startswith(' class="full"><summary>展开全文</summary>')
    assert "开场白一句" in rest and "第 7 段" in rest
    assert "三句话说清" not in rest, "the summary is shown once"


def test_long_answer_without_summary_opens_with_first_paragraph(renderer: Renderer) -> None:
    r = renderer.answer(atom("一句话回答：因为方差。\n\n" + _long(8)), ROOT, ROOT)
    assert r.folded
    assert r.html.startswith('<div class="lead"><p>一句话回答：因为方差。</p>\n</div><details class="full">')
    flat = renderer.answer(atom("小结\n" + "结论就是要缩放。\n" + _long(8).replace("\n\n", "\n"), "text"), ROOT, ROOT)
    assert flat.folded and flat.html.startswith('<div class="lead"><p>小结</p>')


def test_short_answers_and_long_code_answers_do_not_fold(renderer: Renderer) -> None:
    assert not renderer.answer(atom("短回答。\n\n- 一\n- 二"), ROOT, ROOT).folded
    code = "```python\n" + "\n".join(f"x{k} = torch.zeros({k}, {k})  # 第 {k} 行" for k in range(60)) + "\n```\n\n讲清楚三点即可。"
    r = renderer.answer(atom(code), ROOT, ROOT)
    assert r.visible_chars > FOLD_THRESHOLD and not r.folded and "<details" not in r.html


# ---------------------------------------------------------------- templates


def test_templates_use_exactly_the_six_fields() -> None:
    front, back_t, css = (template_text(n) for n in ("front.html", "back.html", "card.css"))
    used = set(re.findall(r"\{\{[#^/]?([^}]+)\}\}", front + back_t))
    assert used == set(FIELDS)
    assert set(re.findall(r"\{\{[#^/]?([^}]+)\}\}", front)) == {"Question", "Section"}
    # the question stays above the answer, and Anki must not scroll it away
    assert back_t.index("{{Question}}") < back_t.index("{{Answer}}")
    markup = re.sub(r"<!--.*?-->", "", back_t, flags=re.S)
    assert not re.search(r"id\s*=\s*[\"']?answer\b", markup)
    for font in ('"PingFang SC"', '"Noto Sans CJK SC"', '"Microsoft YaHei"'):
        assert font in css
    assert ".nightMode" in css and ".table-wrap" in css and "overflow-x: auto" in css


def test_flat_display_math_over_three_lines_stays_one_formula() -> None:
    """`\\[` alone on a line, the formula, `\\]`: parentheses inside are TeX, not flattened math."""
    from bagu2anki.parse.flatten import to_markdown as flat_to_markdown

    md = flat_to_markdown("推导如下\n\\[\nL = \\pi_{ref}(y_w|x) + (a_b)\n\\]\n结束")
    assert "\\[ L = \\pi_{ref}(y_w|x) + (a_b) \\]" in md or "\\[L = \\pi_{ref}(y_w|x) + (a_b)\\]" in md.replace("\\[ ", "\\[").replace(" \\]", "\\]")
    assert "\\(y_w|x\\)" not in md


def test_bare_links_read_as_host_and_path() -> None:
    from bagu2anki.render import clean

    out = clean('<a href="https://www.zhihu.com/question/1?utm=2">https://www.zhihu.com/question/1?utm=2</a>')
    assert 'href="https://www.zhihu.com/question/1?utm=2"' in out
    assert ">zhihu.com/question/1</a>" in out
    titled = clean('<a href="https://arxiv.org/abs/1">DPO 论文</a>')
    assert ">DPO 论文</a>" in titled


def test_highlight_marks_outside_code_and_math(renderer: Renderer) -> None:
    out = back(renderer, "这是==重点==，`a == b` 与 $x==y$ 不变，x == y 也不变。\n\n```python\nok = a==b  # ==注释==\n```")
    assert "这是<mark>重点</mark>" in out
    assert out.count("<mark>") == 1
    assert "<code>a == b</code>" in out and "\\(x==y\\)" in out
    assert "<mark>" in renderer.question(atom("答", question="==重点==是什么？"))


def test_equation_images_from_zhihu_and_codecogs_become_formulas(renderer: Renderer) -> None:
    """Notes copied from Zhihu or CSDN carry formulas as images whose URL holds the TeX."""
    out = back(
        renderer,
        "缩放 ![[公式]](https://www.zhihu.com/equation?tex=%5Cfrac%7B1%7D%7B%5Csqrt%7Bd_k%7D%7D) 。\n\n"
        "![[公式]](https://www.zhihu.com/equation?tex=%5Ctext%7Bsoftmax%7D%28QK%5ET%29V&preview=true)\n\n"
        "CSDN：![](https://latex.codecogs.com/gif.latex?%5Cdpi%7B120%7D%20%5Calpha_t)，"
        "普通图 ![图](https://example.com/a.png)",
    )
    assert texts(out) == ["\\frac{1}{\\sqrt{d_k}}", "\\text{softmax}(QK^T)V", "\\alpha_t"]
    assert '<span class="math display">\\[\\text{softmax}(QK^T)V\\]</span>' in out
    assert 'class="remote-image"' in out and "zhihu.com" not in out and "codecogs" not in out


def test_obsidian_comments_stay_off_the_card_but_not_out_of_code(renderer: Renderer) -> None:
    out = back(renderer, "答案%%私人备注%%继续。\n\n%%\n多行备注\n%%\n\n```python\n%%timeit\nx = '%%d' %% 3\n```\n\n占比 50% 到 60%。")
    assert "备注" not in out and "答案继续。" in out and "占比 50% 到 60%。" in out
    assert "timeit" in out and out.count("%%") == 3  # code keeps every %%


def test_vitepress_code_group_is_a_plain_box(renderer: Renderer) -> None:
    out = back(renderer, "::: code-group\n```sh [pip]\npip install x\n```\n:::")
    assert '<div class="callout code-group">' in out and ":::" not in out


def test_details_in_answers(renderer: Renderer) -> None:
    """An answer fold is opened; any other `<details>` is a titled box (code inside untouched);
    a stray `</details>` (a question's own wrapper) disappears."""
    out = back(
        renderer,
        "<details><summary>答案</summary>\n\n答案正文。\n\n</details>\n\n"
        "<details><summary>代码</summary>\n\n```html\n<details><summary>x</summary></details>\n```\n\n</details>\n\n尾。\n</details>",
    )
    assert "答案正文。" in out and "<summary>" not in out
    assert '<div class="callout details"><p class="callout-title">代码</p>' in out
    assert "&lt;</span><span class=\"nt\">details</span>" in out  # the code still shows its tags
    assert out.rstrip().endswith("<p>尾。</p>")
