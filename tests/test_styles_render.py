"""Blog and editor styles read as their authors see them, checked on real inputs end to end.

Jekyll's `{% highlight %}` and kramdown attribute lines; Obsidian embeds found by name anywhere in
the vault, block ids (`^id`) and links to headings or blocks. Notes are written to a temporary
folder and read through the reader and the renderer (or the command line); both renderer paths
must give the same card.
"""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from bagu2anki.cli import main
from bagu2anki.diagnostics import Diagnostics
from bagu2anki.model import Atom, Document
from bagu2anki.parse import hexo, read
from bagu2anki.render import Rendered, Renderer
from bagu2anki.sources import discover, load

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)

JEKYLL = """## Function Calling

### 1. Function Calling 的流程？

{% highlight python %}
# 1. 把工具的 JSON Schema 放进请求
tools = [{"type": "function", "function": {"name": "get_weather"}}]
# 2. 模型返回 tool_calls，本地执行后传回去
resp = client.chat.completions.create(model=m, messages=msgs, tools=tools)
{% endhighlight %}

模型本身不执行函数，只决定调哪个、传什么参数。

### 2. 工具太多怎么办？

先检索出 top-k 相关工具。
"""

VAULT_NOTE = """## 进阶

### 什么是 HyDE？

先生成假设答案，再用它去检索。 ^hyde01

![[hyde.png]]

### GraphRAG 的思路？

参考 [[#^hyde01]]，两者可以结合。
"""


# -- helpers ----------------------------------------------------------------------------------


def _write(folder: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return folder


def _documents(folder: Path, diags: Diagnostics) -> list[Document]:
    docs = []
    for found in discover([folder], diags):
        src = load(found, diags)
        assert src is not None
        docs.append(read(src, diags))
    return docs


def _atoms(folder: Path, diags: Diagnostics | None = None) -> list[Atom]:
    return [a for doc in _documents(folder, diags or Diagnostics()) for a in doc.atoms]


_BETWEEN_TAGS = re.compile(r">\s+<")


def _same(a: str, b: str) -> bool:
    def normal(fragment: str) -> str:
        return html.unescape(_BETWEEN_TAGS.sub("><", fragment)).strip()

    return normal(a) == normal(b)


def _back(atom: Atom, root: Path, diags: Diagnostics | None = None) -> Rendered:
    """The card's back through both renderer paths, which must agree; the result once."""
    base = (root / atom.source).parent
    fast = Renderer(Diagnostics())
    slow = Renderer(diags or Diagnostics())
    slow.fast = False
    one, two = fast.answer(atom, base, root), slow.answer(atom, base, root)
    assert _same(one.html, two.html) and one.media == two.media, (one.html, two.html)
    assert _same(fast.question(atom), slow.question(atom))
    return two


def _export(folder: Path, tmp_path: Path) -> list[dict[str, object]]:
    res = CliRunner().invoke(main, ["export", "atoms", str(folder), "--lock", str(tmp_path / "x.lock")])
    assert res.exit_code == 0, res.output
    return [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]


def _check(folder: Path, tmp_path: Path) -> list[dict[str, object]]:
    res = CliRunner().invoke(main, ["check", str(folder), "--format", "json", "--lock", str(tmp_path / "x.lock")])
    start = res.stdout.index("[")
    found: list[dict[str, object]] = json.JSONDecoder().raw_decode(res.stdout[start:])[0]
    return found


# -- Jekyll and kramdown ----------------------------------------------------------------------


def test_jekyll_highlight_is_code_not_headings(tmp_path: Path) -> None:
    notes = _write(tmp_path / "notes", {"fc.md": JEKYLL})
    records = _export(notes, tmp_path)
    assert [r["question"] for r in records] == ["Function Calling 的流程？", "工具太多怎么办？"]
    assert [r["section"] for r in records] == [["Function Calling"], ["Function Calling"]]
    assert [r["line"] for r in records] == [3, 14]
    first = str(records[0]["back_html"])
    assert '<div class="highlight"><pre>' in first
    assert '<span class="c1"># 1. 把工具的 JSON Schema 放进请求</span>' in first
    assert '<span class="c1"># 2. 模型返回 tool_calls，本地执行后传回去</span>' in first
    assert "{%" not in first and "<h1>" not in first
    assert "模型本身不执行函数" in first  # the prose after the code stays in the same answer
    assert str(records[1]["back_html"]) == "<p>先检索出 top-k 相关工具。</p>\n"


@pytest.mark.parametrize("opening", ["{% highlight python linenos %}", "{%- highlight python linenos=table -%}",
                                      '{% highlight python hl_lines="2" %}'])
def test_highlight_options_still_give_a_python_box(tmp_path: Path, opening: str) -> None:
    text = JEKYLL.replace("{% highlight python %}", opening)
    notes = _write(tmp_path / "notes", {"fc.md": text})
    atoms = _atoms(notes)
    assert [a.question for a in atoms] == ["Function Calling 的流程？", "工具太多怎么办？"]
    out = _back(atoms[0], notes).html
    assert '<span class="c1"># 1. 把工具的 JSON Schema 放进请求</span>' in out
    assert '<span class="n">tools</span>' in out  # highlighted as Python
    assert "linenos" not in out and "hl_lines" not in out


def test_highlight_view_keeps_every_line_in_place() -> None:
    view = hexo.block_view(JEKYLL + "\n段落\n{: .notice--info}\n")
    assert len(view.split("\n")) == len((JEKYLL + "\n段落\n{: .notice--info}\n").split("\n"))
    lines = view.split("\n")
    assert lines[4] == "```python" and lines[9] == "```"
    assert lines[-2] == ""  # the attribute line is blank in the reader's view


def test_kramdown_attribute_lines_stay_off_the_card(tmp_path: Path) -> None:
    note = (
        "## 检索\n\n* 目录\n{:toc}\n\n### 1. 什么是 RAG？\n{:.no_toc}\n\n检索增强生成。\n"
        "{: .notice--info}\n\n```ruby\nopts = {:a => 1}\n```\n\n"
        "**2. 为什么要重排？**\n{: .question}\n\n双塔召回粗糙。\n"
    )
    notes = _write(tmp_path / "notes", {"rag.md": note})
    atoms = _atoms(notes)
    assert [a.question for a in atoms] == ["什么是 RAG？", "为什么要重排？"]
    first, second = (_back(a, notes).html for a in atoms)
    assert "{:" not in first and "notice" not in first and "no_toc" not in first
    assert "<p>检索增强生成。</p>" in first
    assert '<span class="ss">:a</span>' in first  # a Ruby hash in code is code, not an attribute line
    assert second == "<p>双塔召回粗糙。</p>\n"


# -- Obsidian: embeds found by name -----------------------------------------------------------


def test_obsidian_embed_is_found_in_the_attachment_folder(tmp_path: Path) -> None:
    notes = _write(tmp_path / "vault", {"rag/hyde.md": VAULT_NOTE, "attachments/hyde.png": PNG})
    diags = Diagnostics()
    hyde = _atoms(notes)[0]
    out = _back(hyde, notes, diags)
    assert out.media == ((notes / "attachments" / "hyde.png").resolve(),)
    assert re.search(r'<img src="b2a-[0-9a-f]{16}\.png" alt="">', out.html)
    assert not list(diags), list(diags)
    records = _export(notes, tmp_path)
    assert '<img src="b2a-' in str(records[0]["back_html"])
    assert [d for d in _check(notes, tmp_path) if d["severity"] != "info"] == []


def test_embed_with_a_folder_and_a_width(tmp_path: Path) -> None:
    note = "### 图？\n\n![[img/hyde.png|300]]\n\n![[Hyde.PNG|示意图]]\n"
    notes = _write(tmp_path / "vault", {"a.md": note, "assets/img/hyde.png": PNG, "other/hyde.png": PNG + b"x"})
    diags = Diagnostics()
    [atom] = _atoms(notes)
    out = _back(atom, notes, diags)
    # `img/hyde.png` names one of the two `hyde.png`; `Hyde.PNG` alone names two of them
    assert out.media == ((notes / "assets" / "img" / "hyde.png").resolve(),)
    assert 'alt=""' in out.html and "300" not in out.html
    assert [d.code for d in diags] == ["ambiguous-image"]


def test_a_name_shared_by_several_files_picks_none_and_names_them(tmp_path: Path) -> None:
    notes = _write(tmp_path / "vault", {"a.md": VAULT_NOTE, "x/hyde.png": PNG, "y/hyde.png": PNG + b"1"})
    diags = Diagnostics()
    out = _back(_atoms(notes)[0], notes, diags)
    assert out.media == () and "<img" not in out.html
    assert '<span class="missing-image">[图片缺失: hyde.png]</span>' in out.html
    [warning] = list(diags)
    assert warning.severity == "warning" and warning.code == "ambiguous-image"
    assert "x/hyde.png" in warning.message and "y/hyde.png" in warning.message
    assert warning.line == 7  # the embed's own line


def test_lookup_by_name_never_leaves_the_notes_folder(tmp_path: Path) -> None:
    (tmp_path / "secret.png").write_bytes(PNG)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "far.png").write_bytes(PNG)
    notes = _write(
        tmp_path / "vault",
        {"a.md": "### 图？\n\n![[../secret.png]]\n\n![[far.png]]\n\n![](/etc/hostname.png)\n", "in/secret.png": PNG},
    )
    (notes / "link").symlink_to(tmp_path / "outside", target_is_directory=True)
    (notes / "in" / "far.png").symlink_to(tmp_path / "outside" / "far.png")
    diags = Diagnostics()
    out = _back(_atoms(notes)[0], notes, diags)
    assert out.media == () and "<img" not in out.html
    by_code = sorted((d.code, d.line) for d in diags)
    # `../` is refused even though a `secret.png` sits inside; the symlinked `far.png` is outside
    assert by_code == [("image-outside", 3), ("missing-image", 5), ("missing-image", 7)]


def test_missing_image_warning_names_its_own_line(tmp_path: Path) -> None:
    note = "## 图\n\n### 哪张图？\n\n第一段。\n\n![图一](gone.png)\n\n中间。\n\n![图二](gone.png)\n\n<img src=\"nope.png\">\n"
    notes = _write(tmp_path / "notes", {"a.md": note})
    found = [(d["code"], d["line"]) for d in _check(notes, tmp_path) if d["severity"] == "warning"]
    assert found == [("missing-image", 7), ("missing-image", 11), ("missing-image", 13)]


# -- Obsidian: block ids and links ------------------------------------------------------------


def test_block_ids_stay_off_the_card_and_links_name_their_target(tmp_path: Path) -> None:
    notes = _write(tmp_path / "vault", {"rag/hyde.md": VAULT_NOTE, "attachments/hyde.png": PNG})
    hyde, graph = _atoms(notes)
    assert _back(hyde, notes).html.startswith("<p>先生成假设答案，再用它去检索。</p>")
    assert "hyde01" not in _back(hyde, notes).html
    assert _back(graph, notes).html == "<p>参考 <strong>hyde01</strong>，两者可以结合。</p>\n"


def test_links_to_headings_and_blocks_of_other_notes(tmp_path: Path) -> None:
    note = (
        "### 有哪些相关笔记？\n\n"
        "见 [[检索#召回]]、[[检索.md#召回#双塔]]、[[检索#^blk-1]]、[[#本节]] 和 [[检索#召回|召回那节]]。 ^ans\n"
    )
    notes = _write(tmp_path / "notes", {"a.md": note})
    out = _back(_atoms(notes)[0], notes).html
    assert out == (
        "<p>见 <strong>检索 › 召回</strong>、<strong>检索 › 召回 › 双塔</strong>、<strong>检索 › blk-1</strong>、"
        "<strong>本节</strong> 和 <strong>召回那节</strong>。</p>\n"
    )


def test_code_and_formulas_keep_their_carets_and_brackets(tmp_path: Path) -> None:
    note = (
        "### 哪些不能动？\n\n"
        "行内 `x ^keep` 与 `[[a#b]]` 不变。\n\n"
        "```python\nidx = arr[[0, 2]]  # ^keep2\ny = 2 ^n\n```\n\n"
        "$$\nE = a ^n\n$$\n\n"
        "公式 $A[[i]] + b ^k$ 也不变。 ^real\n"
    )
    notes = _write(tmp_path / "notes", {"a.md": note})
    out = _back(_atoms(notes)[0], notes).html
    assert "<code>x ^keep</code>" in out and "<code>[[a#b]]</code>" in out
    assert '<span class="n">arr</span><span class="p">[[</span><span class="mi">0</span>' in out
    assert '<span class="c1"># ^keep2</span>' in out and '<span class="mi">2</span> <span class="o">^</span><span class="n">n</span>' in out
    assert '<span class="math display">\\[E = a ^n\\]</span>' in out
    assert '<p>公式 <span class="math">\\(A[[i]] + b ^k\\)</span> 也不变。</p>' in out  # the block id went


# -- outliners, separators, figures ---------------------------------------------------------------

LOGSEQ = "- 注意力\n\t- 为什么要除以根号 dk？\n\t  id:: 65a1b2c3-0000-4000-8000-000000000001\n\t  collapsed:: true\n\t\t- 点积方差随维度增长\n\t\t\t- 所以缩放\n\t- GQA 是什么？\n\t\t- 分组共享 KV\n"


def test_logseq_outline_with_tabs_and_properties(tmp_path: Path) -> None:
    notes = _write(tmp_path / "notes", {"a.md": LOGSEQ})
    atoms = _atoms(notes)
    assert [a.question for a in atoms] == ["为什么要除以根号 dk？", "GQA 是什么？"]
    back = _back(atoms[0], notes).html
    assert "id::" not in back and "collapsed" not in back
    assert re.search(r"<li>点积方差随维度增长\s*<ul>\s*<li>所以缩放</li>", back), back


SEPARATED = (
    "## RLHF\n\n**Q** PPO 里 critic 有什么用？\n\n估计状态价值，用来降低方差。\n---\n"
    "**Q** GRPO 省掉了什么？\n\n省掉了 critic。\n\n---\n\n<a name=\"dpo\"></a>\n## DPO\n\n### 要奖励模型吗？\n\n不要。\n"
)


def test_a_rule_under_a_sentence_separates_cards(tmp_path: Path) -> None:
    notes = _write(tmp_path / "notes", {"a.md": SEPARATED})
    atoms = _atoms(notes)
    assert [a.question for a in atoms] == ["PPO 里 critic 有什么用？", "GRPO 省掉了什么？", "要奖励模型吗？"]
    assert [a.answer for a in atoms] == ["估计状态价值，用来降低方差。", "省掉了 critic。", "不要。"]
    assert atoms[0].section == atoms[1].section == ("RLHF",)
    for a in atoms:
        back = _back(a, notes).html
        assert "<hr" not in back and "<h2" not in back and "<a name" not in back


def test_a_setext_title_stays_a_heading(tmp_path: Path) -> None:
    notes = _write(tmp_path / "notes", {"a.md": "位置编码\n---\n\n### 讲讲 RoPE？\n\n旋转位置编码。\n"})
    atoms = _atoms(notes)
    assert [(a.section, a.question) for a in atoms] == [(("位置编码",), "讲讲 RoPE？")]


def test_zhihu_figures_keep_image_and_caption(tmp_path: Path) -> None:
    text = (
        "### ViT 怎么切图？\n\n切成 16x16 的块。\n\n<figure><img src=\"https://pic1.zhimg.com/x.jpg\">"
        "<figcaption>图 1：切块</figcaption></figure>\n"
    )
    notes = _write(tmp_path / "notes", {"a.md": text})
    back = _back(_atoms(notes)[0], notes).html
    assert "<figcaption>图 1：切块</figcaption>" in back
    assert 'class="remote-image" href="https://pic1.zhimg.com/x.jpg"' in back
    assert "&lt;figure" not in back


def test_a_question_and_answer_table_gives_a_card_per_row(tmp_path: Path) -> None:
    text = (
        "## 速查\n\n| 问题 | 答案 |\n|---|---|\n| KV Cache 存什么？ | 历史 K、V<br>解码时复用 |\n| 为什么要缩放 | 方差随 $d_k$ 增大 |\n\n"
        "表后说明。\n\n| 方法 | 显存 |\n|---|---|\n| 全参 | 大 |\n"
    )
    notes = _write(tmp_path / "notes", {"a.md": text})
    atoms = _atoms(notes)
    assert [(a.line, a.question) for a in atoms] == [(5, "KV Cache 存什么？"), (6, "为什么要缩放")]
    back = _back(atoms[0], notes).html
    assert "历史 K、V<br" in back and "解码时复用" in back
    assert "\\(d_k\\)" in _back(atoms[1], notes).html
    assert all("表后说明" not in a.answer and "全参" not in a.answer for a in atoms)


def test_footnotes_go_with_the_answer_that_cites_them(tmp_path: Path) -> None:
    text = (
        "## 1. 为什么要除以根号 d_k？\n\n方差随维度增长[^1]。\n\n## 2. 位置编码有哪些？\n\nRoPE、ALiBi。\n\n---\n\n"
        "[^1]: Vaswani et al., 2017.\n\n编辑于 2024-03-12 · 著作权归作者所有\n"
    )
    notes = _write(tmp_path / "notes", {"a.md": text})
    first, second = _atoms(notes)
    assert first.answer == "方差随维度增长[^1]。\n\n[^1]: Vaswani et al., 2017."
    assert second.answer == "RoPE、ALiBi。"
    back = _back(first, notes).html
    assert '<sup class="footnote-ref">' in back and "Vaswani et al., 2017." in back and "[^1]" not in back
