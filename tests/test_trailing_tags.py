"""The tags and emoji that close a question (`（高频）`, `【字节一面】`, `🔥`) are found as the
expression in `rules._trailing_tags_start`'s docstring finds them, reading only the line's end."""

from __future__ import annotations

import re
import time
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bagu2anki.parse.rules import _trailing_tags_start, strip_trailing_tags

TAG = r"[（(【\[][^（）()【】\[\]？?\n]{1,12}[）)】\]]"
EMOJI = r"[\u2600-\u27bf\u2b00-\u2bff\U0001f000-\U0001faff\ufe0f\u200d]"
TAGS_AT_END = re.compile(rf"(?:\s*(?:{TAG}|{EMOJI}+))+\s*$")


@settings(max_examples=600, deadline=None)
@given(st.text(alphabet="ab （(【[）)】]？?\n🔥⭐\ufe0f\u200d高频一面 \t", max_size=60))
def test_the_end_of_a_line_is_read_as_the_expression_reads_it(s: str) -> None:
    assert s[: _trailing_tags_start(s)] == TAGS_AT_END.sub("", s)


def test_examples() -> None:
    assert strip_trailing_tags("什么是 GQA？（高频）🔥") == "什么是 GQA？"
    assert strip_trailing_tags("讲讲 LoRA 【字节一面】 [必考] ⭐⭐") == "讲讲 LoRA"
    assert strip_trailing_tags("f(x) 的导数（链式法则）是什么") == "f(x) 的导数（链式法则）是什么"


def test_a_long_line_costs_what_its_end_costs() -> None:
    def cost(n: int) -> float:
        line = "长" * n + "（高频）"
        t = time.process_time()
        for _ in range(200):
            _trailing_tags_start(line)
        return time.process_time() - t

    small, large = min(cost(1_000) for _ in range(3)), min(cost(64_000) for _ in range(3))
    assert large < 8 * small + 0.01  # 64× the line: about the same work


def test_a_flat_text_question_closed_by_stars_is_a_question(tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from bagu2anki.cli import main

    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.txt").write_text("八股\n什么是 GQA？ ⭐\nMHA 与 MQA 的折中。\n什么是 MLA？ ⭐⭐\n低秩压缩 KV。\n", encoding="utf-8")
    res = CliRunner().invoke(main, ["export", "atoms", str(notes)])
    assert res.exit_code == 0, res.output
    asked = [json.loads(line)["question"] for line in res.output.splitlines() if line.startswith("{")]
    assert asked == ["什么是 GQA？ ⭐", "什么是 MLA？ ⭐⭐"]  # read as questions; the stars stay as written
