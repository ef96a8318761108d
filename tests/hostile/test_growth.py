"""Hostile notes read in time that grows with their size, not with its square (issue #14, "Cliffs").

Each case writes a note of size n and one of size 4n, times `bagu2anki check` on each in-process
(the CLI through click's runner, best of three) and asserts the ratio of the two times: about 4
for a linear path, 4.5 for n log n, 16 for a quadratic one. Never an absolute wall time: the
machine may be slow or busy, the shape of the growth stays. Each n is chosen so that the n case
takes a few tenths of a second, well above `check`'s fixed cost.

"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from bagu2anki import sources
from bagu2anki.cli import main
from bagu2anki.diagnostics import Diagnostics
from bagu2anki.model import Document, SourceFile
from bagu2anki.parse import read

MAX_RATIO = 8.0  # 4n against n: linear ~4, n log n ~4.5, quadratic 16

_Q = "## 题目\n\n**什么是 X？**\n\n"  # a question whose answer the hostile text is
_WORDS = "注意力 归一化 量化 蒸馏 检索 微调 推理 解码 采样 对齐 奖励 剪枝 缓存 并行 调度 路由".split()


def _word(k: int) -> str:
    """A distinct short title-like word for every k (no digits: each has a shape of its own)."""
    word = ""
    while True:
        word += _WORDS[k % len(_WORDS)]
        k //= len(_WORDS)
        if not k:
            return word


# --- the cliffs of issue #14 ----------------------------------------------------------------------


def logseq_outline(n: int) -> str:
    """A Logseq outline: tab-indented bullets, topics with a question each, answers nested deeper."""
    out: list[str] = []
    for t in range(n):
        out.append(f"- 主题{t}")
        out.append(f"\t- 第{t}题 为什么要除以根号 d？")
        out.append("\t\t- 点积的方差随维度增大。")
    return "\n".join(out) + "\n"


def dollars(n: int) -> str:
    return _Q + "$a " * n + "\n"


def tex_parens(n: int) -> str:
    return _Q + "\\(" * n + "\n"


def brackets(n: int) -> str:
    return _Q + "[" * n + "\n"


def flat_lines(n: int) -> str:
    """A flat text export of short title-like lines (a run of titles over nothing)."""
    return "\n".join(f"标题行{k}" for k in range(n)) + "\n"


# --- cliffs found on the way ----------------------------------------------------------------------


def flat_glossary(n: int) -> str:
    """A flat export: a run of short distinct title-like lines, then numbered questions."""
    head = "\n".join(_word(k) for k in range(n))
    return head + "\n1. 什么是注意力？\n加权求和。\n2. 为什么要归一化？\n稳定训练。\n"


def flat_parens(n: int) -> str:
    return "1. 什么是括号？\n" + "(a" * n + "\n"


def flat_nested_parens(n: int) -> str:
    return "1. 什么是括号？\n" + "(" * n + "x" + ")" * n + "\n"


def hexo_spaces(n: int) -> str:
    """A line that opens a template tag, then only spaces (a cubic regular expression before)."""
    return _Q + "{% note" + " " * n + "x\n\n{% img a.png" + " " * n + "y\n"


def spaces_line(n: int) -> str:
    """Notes without a question whose line is mostly leading white space."""
    return "# 笔记\n\n这里只是一些说明文字。\n\n" + " " * n + "x\n\n" + "- " * n + "x\n"


def spaced_lines(n: int) -> str:
    """Bold leads, headings, `问题：` labels and lines that ask, each with a long run of spaces."""
    gap = " " * n
    return (
        f"## 标题{gap}x\n\n**粗体{gap}x\n\n问题：{gap}x\n\n为什么{gap}x？\n\n"
        f"### 为什么{gap}{{#id{gap}x\n\n### 什么{gap}^x{gap}y\n"
    )


def decorated_line(n: int) -> str:
    """Notes without a question: lines of empty tags and signs (exponential backtracking before)."""
    return "# 笔记\n\n这里只是一些说明文字。\n\n" + "（）" * n + "x\n\n" + "!" * n + "x\n"


def folded_hyphens(n: int) -> str:
    """A long answer (folded on the card) opening with one long hyphenated word."""
    return "## 什么是 X？\n\n" + "a-" * n + "\n\n" + "很长的解释。" * 300 + "\n"


def folded_headings(n: int) -> str:
    """A long answer (folded on the card) made of nothing but sub-headings."""
    return "## 什么是 X？\n\n" + "".join(f"### 小标题{k}\n" for k in range(n))


# --- cliffs in link, code-span, trailer and math-check scans ---------------------------------------


def code_spans_and_ids(n: int) -> str:
    """Code spans and Obsidian block ids (`^id`) in one answer: prepare.wiki_links."""
    return _Q + "`a` " * n + "\n\n" + "".join(f"第{k}段 ^id{k}\n\n" for k in range(n))


def backtick_line(n: int) -> str:
    """One line of backticks in an answer with HTML: prepare.CODE_SPANS and render._fast_ok."""
    return _Q + "<br>\n\n" + "`" * n + "\n"


def spaces_in_answer(n: int) -> str:
    """An answer whose last line is mostly leading white space: markdown._TRAILER."""
    return _Q + " " * n + "x\n"


def unclosed_formulas(n: int) -> str:
    """An answer full of `$` that open formulas and never close: pipeline._check_math."""
    return _Q + "$x_ " * n + "\n"


def refused_spines(n: int) -> str:
    """Run after run of numbered questions inside an answer (each refused as its points) and
    lines of one form after them: the spine and to-do checks look back at most to the answer."""
    return _Q + "因为方差。\n\n" + "1. 为什么a？\n2. 为什么b？\n3. 为什么c？\n\n> 为什么d？\n\n- 为什么e？\n\n" * n


# --- hostile inputs that were already linear (guards) ---------------------------------------------


def nested_quotes(n: int) -> str:
    return _Q + ">" * n + " 引用\n"


def deep_list(n: int) -> str:
    """A list nested one tab deeper on every line, √n levels (n characters; markdown-it caps the
    nesting it builds)."""
    return "".join("\t" * k + f"- 为什么第{k}层？\n" for k in range(math.isqrt(n)))


def details_nesting(n: int) -> str:
    return _Q + "<details><summary>展开</summary>\n\n" * n + "内容\n\n" + "</details>\n\n" * n


def table_rows(n: int) -> str:
    return "| 问题 | 答案 |\n|---|---|\n" + "".join(f"| 第{k}题 为什么？ | 因为 {k} |\n" for k in range(n))


def stars(n: int) -> str:
    return _Q + "**a " * n + "\n" + "*" * n + "\n" + "_a" * n + "\n"


# --- timing ---------------------------------------------------------------------------------------


def _check_seconds(folder: Path, text: str, suffix: str, best_below: float = 0.0, runs: int = 3) -> float:
    """Wall time of `bagu2anki check` on a note holding `text`, best of `runs` (stops early once
    a run is under `best_below`: the best can only be lower)."""
    folder.mkdir()
    note = folder / f"notes{suffix}"
    note.write_text(text, encoding="utf-8")
    runner = CliRunner()
    best = float("inf")
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        result = runner.invoke(main, ["check", str(note)])
        best = min(best, time.perf_counter() - start)
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        if best < best_below:
            break
    return best


@pytest.fixture(scope="module")
def warm(tmp_path_factory: pytest.TempPathFactory) -> None:
    """One `check` first: imports and the catalogue are no part of what is timed."""
    _check_seconds(tmp_path_factory.mktemp("warm") / "w", "## 题\n\n**什么？**\n\n答。\n", ".md")


def _growth(tmp_path: Path, make: Callable[[int], str], n: int, suffix: str, runs: int = 3) -> tuple[float, float]:
    small = _check_seconds(tmp_path / "n", make(n), suffix)
    large = _check_seconds(tmp_path / "4n", make(4 * n), suffix, best_below=small * MAX_RATIO, runs=runs)
    return small, large



def labelled_pairs(n: int) -> str:
    """`问：…？` / `答：…` pairs with no blank line: one paragraph split into n questions."""
    return "## 对\n\n" + "".join(f"问：{_word(k)} 是什么？\n答：{_word(k)} 的答案。\n" for k in range(n))


def admonitions(n: int) -> str:
    """MkDocs `??? question` admonitions with indented bodies, fenced code among them."""
    return "".join(f'??? question "{_word(k)} 是什么？"\n    答案 {k}。\n\n    ```\n    !!! x\n    ```\n\n' for k in range(n))


def flat_short_answers(n: int) -> str:
    """Flat text: numbered questions whose answers are short lines (`略`, a few words), the count
    restarting under short titles every 20 questions."""
    out = ["笔记"]
    for k in range(n):
        if k % 20 == 0:
            out.append(f"部分{k // 20}相关")
        out.append(f"{k % 20 + 1}.{_word(k)}是什么")
        out.append("略" if k % 3 else f"{_word(k)}答案")
    return "\n".join(out) + "\n"


def choice_questions(n: int) -> str:
    """Numbered choice questions, their options and `答案：B` under each."""
    return "## 选择题\n\n" + "".join(
        f"{k + 1}. {_word(k)} 是哪一个？\n   A. 甲\n   B. 乙\n   C. 丙\n\n   答案：B\n\n" for k in range(n)
    )


CASES = [
    # the cliffs
    pytest.param(logseq_outline, 400, ".md", id="logseq-outline"),
    pytest.param(dollars, 20000, ".md", id="dollar-a"),
    pytest.param(tex_parens, 40000, ".md", id="tex-paren"),
    pytest.param(
        brackets, 12000, ".md", id="brackets",
    ),
    pytest.param(flat_lines, 8000, ".txt", id="flat-lines"),
    # found on the way
    pytest.param(flat_glossary, 6000, ".txt", id="flat-title-run"),
    pytest.param(flat_parens, 60000, ".txt", id="flat-unclosed-parens"),
    pytest.param(flat_nested_parens, 20000, ".txt", id="flat-nested-parens"),
    pytest.param(hexo_spaces, 200000, ".md", id="hexo-tag-spaces"),
    pytest.param(spaces_line, 100000, ".md", id="unread-leading-space"),
    pytest.param(decorated_line, 100000, ".md", id="unread-decorations"),
    pytest.param(spaced_lines, 100000, ".md", id="spaced-lines"),
    pytest.param(folded_hyphens, 100000, ".md", id="fold-hyphenated-word"),
    pytest.param(folded_headings, 4000, ".md", id="fold-heading-skeleton"),
    pytest.param(
        code_spans_and_ids, 1000, ".md", id="block-ids-and-code",
    ),
    pytest.param(
        backtick_line, 8000, ".md", id="backtick-line",
    ),
    pytest.param(
        spaces_in_answer, 16000, ".md", id="answer-leading-space",
    ),
    pytest.param(
        unclosed_formulas, 6000, ".md", id="unclosed-formulas",
    ),
    pytest.param(refused_spines, 2000, ".md", id="refused-spines"),
    # already linear
    pytest.param(nested_quotes, 100000, ".md", id="nested-quotes"),
    pytest.param(deep_list, 1000000, ".md", id="deep-list"),
    pytest.param(details_nesting, 2000, ".md", id="details-nesting"),
    pytest.param(table_rows, 3000, ".md", id="table-rows"),
    pytest.param(stars, 20000, ".md", id="emphasis-runs"),
    pytest.param(labelled_pairs, 4000, ".md", id="labelled-pairs-in-a-paragraph"),
    pytest.param(admonitions, 2000, ".md", id="mkdocs-admonitions"),
    pytest.param(flat_short_answers, 4000, ".txt", id="flat-short-answers"),
    pytest.param(choice_questions, 1500, ".md", id="choice-questions"),
]


@pytest.mark.parametrize(("make", "n", "suffix"), CASES)
def test_check_grows_linearly(
    warm: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    make: Callable[[int], str],
    n: int,
    suffix: str,
) -> None:
    monkeypatch.chdir(tmp_path)  # no settings file of the repository's
    known_cliff = request.node.get_closest_marker("xfail") is not None  # one slow run says enough
    small, large = _growth(tmp_path, make, n, suffix, runs=1 if known_cliff else 3)
    assert large < small * MAX_RATIO, f"{make.__name__}: n={n} {small:.3f}s, 4n {large:.3f}s ({large / small:.1f}x)"


# --- what the hostile notes read as ---------------------------------------------------------------


def _read(text: str, name: str) -> Document:
    fmt = sources.detect_format(Path(name), text)
    return read(SourceFile(Path(name), name, sources.normalise(text), "utf-8", fmt, Path(".")), Diagnostics())


def test_a_thousand_title_lines_raise_no_recursion_error() -> None:
    """A run of title-like lines is walked iteratively (it was one call deeper per line)."""
    assert _read(flat_lines(1500), "n.txt").atoms == ()
    doc = _read(flat_glossary(3000), "n.txt")
    assert [(a.question, a.answer) for a in doc.atoms] == [("什么是注意力？", "加权求和。"), ("为什么要归一化？", "稳定训练。")]
    assert doc.atoms[0].section == ("注意力", _word(2999))  # the page title, then the last title


def test_deeply_nested_parentheses_raise_no_recursion_error() -> None:
    from bagu2anki.parse.flatten import flattening_problems, to_markdown

    doc = _read(flat_nested_parens(5000), "n.txt")
    assert [a.question for a in doc.atoms] == ["什么是括号？"]
    assert to_markdown(doc.atoms[0].answer).count("(") == 5000
    assert flattening_problems(doc.atoms[0].answer) == []


def test_a_long_outline_reads_every_question() -> None:
    doc = _read(logseq_outline(300), "n.md")
    assert len(doc.atoms) == 300
    assert (doc.atoms[7].number, doc.atoms[7].question) == ("7", "为什么要除以根号 d？")  # `第7题` is its number
    assert doc.atoms[7].section == ("主题7",) and doc.atoms[7].answer == "- 点积的方差随维度增大。"


def test_runs_of_delimiters_read_as_text() -> None:
    from bagu2anki.parse.math import find_math

    spans, problems = find_math("$a " * 3000)
    assert spans == [] and [p.offset for p in problems] == [8997]  # only `$a` alone at the end
    assert find_math("\\(" * 3000) == ([], [])
    spans, problems = find_math("$x_ " * 3)  # each opens a formula that never closes
    assert spans == [] and [p.offset for p in problems] == [0, 4, 8]
