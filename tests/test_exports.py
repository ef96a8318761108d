"""Blog and editor exports: Hexo tag plugins read as the blog shows them (never as stray text or
headings), raw HTML images and Notion call-outs as the editor showed them."""

from __future__ import annotations

import base64
from pathlib import Path

from bagu2anki.config import Config
from bagu2anki.diagnostics import Diagnostics
from bagu2anki.model import Atom
from bagu2anki.parse import hexo
from bagu2anki.pipeline import build
from bagu2anki.render import Renderer

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def _back(answer: str, base: Path = Path("."), source: str = "post.md") -> str:
    a = Atom(source=source, line=1, end_line=2, section=(), number=None, kind=None, question="问？",
             answer=answer, status="answered")
    return Renderer(Diagnostics()).answer(a, base, base).html


def test_note_and_fold_become_boxes() -> None:
    out = _back("{% note warning 注意 %}\n别忘了 $\\sqrt{d}$。\n{% endnote %}\n\n{% fold 推导 %}\n细节。\n{% endfold %}")
    assert '<div class="callout warning"><p class="callout-title">注意</p>' in out
    assert "\\(\\sqrt{d}\\)" in out
    assert '<div class="callout details"><p class="callout-title">推导</p>' in out
    assert "{%" not in out


def test_codeblock_is_highlighted_code() -> None:
    out = _back("{% codeblock attention.py lang:python %}\n# 注释不是标题\nx = softmax(q @ k.T)\n{% endcodeblock %}")
    assert '<div class="highlight"><pre>' in out and '<span class="c1"># 注释不是标题</span>' in out
    assert "<h1>" not in out


def test_link_blockquote_raw_and_unknown_tags() -> None:
    out = _back(
        "见 {% link 论文 https://arxiv.org/abs/1706.03762 %}。\n\n{% blockquote 某论文 %}\n引用的话\n{% endblockquote %}"
        "\n\n{% raw %}\n{{ 原样 }}\n{% endraw %}\n\n{% tabs 选项 %}"
    )
    assert '<a href="https://arxiv.org/abs/1706.03762" rel="noopener noreferrer">论文</a>' in out
    assert "<blockquote>\n<p>引用的话</p>\n</blockquote>" in out
    assert "{{ 原样 }}" in out and "{% raw" not in out
    assert "{% tabs 选项 %}" in out  # unknown tags stay visible as written


def test_block_view_keeps_line_numbers() -> None:
    text = "a\n{% codeblock lang:js %}\n# x\n{% endcodeblock %}\nb"
    view = hexo.block_view(text)
    assert view.split("\n") == ["a", "```js", "# x", "```", "b"]


def test_a_post_with_its_asset_folder_builds(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    (notes / "注意力").mkdir(parents=True)
    (notes / "注意力" / "kv").mkdir()
    (notes / "注意力" / "kv" / "cache.png").write_bytes(PNG)
    (notes / "注意力" / "kv.md").write_text(
        "---\ntitle: KV Cache\ntags: [LLM]\n---\n\n## 推理\n\n### KV Cache 为什么能加速？\n\n"
        "{% codeblock lang:python %}\n# 只算新 token\nk = torch.cat([past_k, k_new])\n{% endcodeblock %}\n\n"
        "{% asset_img cache.png 缓存示意 %}\n\n![同一张图](cache.png)\n",
        encoding="utf-8",
    )
    result = build(Config(paths=(notes,), out=tmp_path / "out", lock=tmp_path / "l.lock"))
    assert result.diagnostics.errors == 0 and result.diagnostics.warnings == 0, list(result.diagnostics)
    [card] = [c for c in result.cards if c.atom.source != "concepts"]
    assert card.back_html.count('<img src="b2a-') == 2
    assert card.media == ((notes / "注意力" / "kv" / "cache.png").resolve(),)
    assert "# 只算新 token" in card.back_html and "<h1>" not in card.back_html


def test_raw_html_images_are_bundled_like_markdown_images(tmp_path: Path) -> None:
    """Typora writes `<img src="assets/x.png" style="zoom:50%;" />` when an image is resized;
    Notion exports call-outs as `<aside>`."""
    notes = tmp_path / "notes"
    (notes / "assets").mkdir(parents=True)
    (notes / "assets" / "x.png").write_bytes(PNG)
    (tmp_path / "secret.png").write_bytes(PNG)
    (notes / "t.md").write_text(
        "## 注意力\n\n### 什么是 FlashAttention？\n\n分块计算。\n\n"
        '<img src="assets/x.png" alt="示意图" style="zoom:50%;" />\n\n'
        '行内 <img src="./assets/x.png" width="300"> 与 <img src="https://example.com/r.png"> 与 <img src="../secret.png">\n\n'
        "<aside>\n💡 提示框\n</aside>\n",
        encoding="utf-8",
    )
    result = build(Config(paths=(notes,), out=tmp_path / "out", lock=tmp_path / "l.lock"))
    [card] = [c for c in result.cards if c.atom.source != "concepts"]
    assert card.media == ((notes / "assets" / "x.png").resolve(),)
    assert card.back_html.count('<img src="b2a-') == 2 and 'width="300"' in card.back_html
    assert "zoom" not in card.back_html and "assets/x.png" not in card.back_html
    assert 'class="remote-image" href="https://example.com/r.png"' in card.back_html
    assert [d.code for d in result.diagnostics if d.severity == "error"] == ["image-outside"]
    assert "<aside>" in card.back_html and "&lt;aside" not in card.back_html


def test_notion_file_ids_stay_out_of_deck_names(tmp_path: Path) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "LLM 面经 3f2a1b4c5d6e7f8091a2b3c4d5e6f708.md").write_text(
        "**Q：什么是 RoPE？**\n\n旋转位置编码。\n\n**Q：什么是 ALiBi？**\n\n线性偏置。\n", encoding="utf-8"
    )
    result = build(Config(paths=(notes,), out=tmp_path / "out", lock=tmp_path / "l.lock"))
    decks = {c.deck for c in result.cards if c.atom.source != "concepts"}
    assert decks == {"notes::LLM 面经"}
