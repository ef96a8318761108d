"""Folded long answers open with a summary worth reading on a phone: the answer's own conclusion,
or its skeleton; never a bare link or chat filler."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import NOTES, SEED

from bagu2anki.config import Config
from bagu2anki.fold import _enough, fold_answer, visible_chars, without_chat_closer
from bagu2anki.pipeline import build

_LEAD = re.compile(r'^<div class="lead">(.*?)</div><details class="full">', re.S)


def leads(notes: Path, tmp_path: Path) -> list[tuple[str, str]]:
    result = build(Config(paths=(notes,), out=tmp_path / "out", lock=tmp_path / "l.lock", fold_threshold=400))
    out = []
    for card in result.cards:
        m = _LEAD.match(card.back_html.split("</div>", 1)[-1] if card.back_html.startswith('<div class="ref') else card.back_html)
        if m:
            out.append((card.atom.question, m.group(1)))
    return out


@pytest.mark.parametrize("which", ["starter", "seed"])
def test_every_folded_summary_says_something(which: str, tmp_path: Path) -> None:
    notes = NOTES if which == "starter" else SEED
    if not notes.exists():
        pytest.skip(f"{notes} is absent (../shared is not beside this checkout)")
    found = leads(notes, tmp_path)
    assert len(found) >= 5, "fold threshold 400 folds several answers"
    weak = [(q, lead[:120]) for q, lead in found if not _enough(lead)]
    assert not weak, weak
    filler = [(q, lead[:120]) for q, lead in found if re.search(r"希望.{0,8}帮助|可以继续问|下面逐一", lead)]
    assert not filler, filler


def test_skeleton_when_the_opening_says_nothing() -> None:
    parts = ['<p><a href="https://zhuanlan.zhihu.com/p/1">zhuanlan.zhihu.com/p/1</a></p>\n',
             "<h3>动机</h3>\n", "<p>" + "解释动机。" * 40 + "</p>\n",
             "<h3>做法</h3>\n", "<p>" + "具体做法。" * 40 + "</p>\n",
             "<h3>效果与代价</h3>\n", "<p>" + "效果很好。" * 40 + "</p>\n"]
    kinds = ["paragraph", "heading", "paragraph", "heading", "paragraph", "heading", "paragraph"]
    body, _visible, folded = fold_answer(kinds, parts, 300)
    assert folded
    lead = _LEAD.match(body)
    assert lead and '<ul class="skeleton">' in lead.group(1)
    assert "动机" in lead.group(1) and "做法" in lead.group(1) and visible_chars(lead.group(1)) >= 6


def test_a_chat_closer_leaves_the_answer() -> None:
    answer = "正文第一段。\n\n- 要点\n\n希望对你有帮助！如果你对 RLHF 感兴趣，也可以继续问！"
    assert without_chat_closer(answer) == "正文第一段。\n\n- 要点"
    assert without_chat_closer("只有一句：希望对你有帮助") == "只有一句：希望对你有帮助"  # the whole answer stays
    assert without_chat_closer("正文。\n- 希望对你有帮助的三个技巧") == "正文。\n- 希望对你有帮助的三个技巧"


def test_own_conclusion_without_filler() -> None:
    parts = ["<p>" + "正文。" * 200 + "</p>\n", "<h3>总结</h3>\n", "<p>下面逐一解释。</p>\n",
             "<p>三件事：缩放、掩码、多头注意力，各自解决一个问题。</p>\n"]
    body, _v, folded = fold_answer(["paragraph", "heading", "paragraph", "paragraph"], parts, 300)
    lead = _LEAD.match(body)
    assert folded and lead and "三件事" in lead.group(1) and "下面逐一解释" not in lead.group(1)


def test_an_answer_label_leaves_the_bold_that_follows_it() -> None:
    """`A：**短期记忆**就是…`: the label goes, the bold stays bold (it once ate the opening `**`)."""
    from bagu2anki.parse.rules import ANSWER_LABEL

    assert ANSWER_LABEL.sub("", "A：**短期记忆**就是窗口", count=1) == "**短期记忆**就是窗口"
    assert ANSWER_LABEL.sub("", "**A：** 内容", count=1) == "内容"
    assert ANSWER_LABEL.sub("", "**回答**：内容", count=1) == "内容"


def test_an_opening_that_introduces_a_list_brings_its_outline() -> None:
    """`…相比 PPO 的优势：` then a list: the summary does not stop at the colon."""
    opening = "<p>" + "GRPO 由 DeepSeekMath 提出，去掉了价值模型，对同一个问题采样一组回答，用组内的相对奖励来估计每个回答的优势，省下了显存，相比 PPO 的优势：" + "</p>"
    items = "".join(f"<li><p><strong>优势{k}</strong>：" + "说明文字" * 30 + "</p></li>" for k in range(3))
    tail = "<p>" + "更多细节" * 60 + "</p>"
    body, _v, folded = fold_answer(["paragraph", "bullet_list", "paragraph"], [opening, f"<ul>{items}</ul>", tail], 300)
    assert folded
    lead = body.split('<details class="full">', 1)[0]
    assert "优势：" in lead and '<ul class="skeleton"><li>优势0</li><li>优势1</li><li>优势2</li></ul>' in lead
