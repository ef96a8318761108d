"""The concept benchmark (benchmarks/concepts/): the hand-made gold list is well-formed (its
questions exist at their lines, its concepts exist in the catalogue, its labels are our own
words), and the concepts attached to its 40 questions keep the precision and recall recorded
here. The scoring parts need the seed part in ../shared and are skipped without it."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

import pytest
from conftest import NOTES, ROOT, SEED

from bagu2anki.concepts import load_catalogue
from bagu2anki.concepts.recognize import recognize
from bagu2anki.diagnostics import Diagnostics
from bagu2anki.model import Atom

BENCH = ROOT / "benchmarks" / "concepts"

# The target is 0.9 for both. Reached when the gold list was made (175 concepts):
# precision 0.815, recall 0.821 (see benchmarks/concepts/README.md for why the rest is missed).
# These floors are the achieved figures, rounded down; raise them as recognition improves.
FLOORS = {"precision": 0.81, "recall": 0.82}
PER_COLLECTION = 20
COPY_RUN = 6  # a label may share at most 5 characters in a row with its question


def _score() -> ModuleType:
    name = "b2a_concept_score"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCH / "score.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _shares_run(label: str, text: str, n: int) -> bool:
    label, text = label.lower(), text.lower()
    return any(label[i : i + n] in text for i in range(len(label) - n + 1))


def test_gold_is_well_formed() -> None:
    score = _score()
    gold = score.load_gold()
    assert gold.collections["notes"] == NOTES.resolve()
    assert gold.collections["seed"] == SEED.resolve()
    catalogue = load_catalogue(None, Diagnostics())
    by_collection: dict[str, int] = {}
    for q in gold.questions:
        by_collection[q.collection] = by_collection.get(q.collection, 0) + 1
        unknown = [c for c in q.concepts if c not in catalogue]
        assert not unknown, (q.source, q.line, unknown)
        assert set(q.added) <= set(q.concepts)
    assert by_collection == {"notes": PER_COLLECTION, "seed": PER_COLLECTION}
    labels = [(q.collection, q.label) for q in gold.questions]
    assert len(set(labels)) == len(labels)


@pytest.mark.parametrize("collection", ["notes", "seed"])
def test_gold_questions_exist_at_their_lines(collection: str) -> None:
    score = _score()
    gold = score.load_gold()
    path = gold.collections[collection]
    if collection == "seed" and not SEED.is_file():
        pytest.skip(f"seed notes not available at {SEED} (../shared is absent in this checkout)")
    atoms = score.read_links(path)
    for q in gold.questions:
        if q.collection != collection:
            continue
        atom = atoms.get(q.key)
        assert atom is not None, f"no question at {q.source}:{q.line} ({q.label})"
        assert not _shares_run(q.label, atom["question"], COPY_RUN), (q.label, atom["question"])


def test_precision_and_recall_of_attached_concepts() -> None:
    if not SEED.is_file():
        pytest.skip(f"seed notes not available at {SEED} (../shared is absent in this checkout)")
    score = _score()
    results, absent = score.run()
    assert absent == []
    assert len(results) == 2 * PER_COLLECTION and all(r.found for r in results)
    total = score.score(results)
    assert total.precision >= FLOORS["precision"], total
    assert total.recall >= FLOORS["recall"], total
    # the same questions read as the build reads them (split into parts) do no worse
    split = score.score(score.run(split=True)[0])
    assert split.precision >= FLOORS["precision"] and split.recall >= FLOORS["recall"], split


# --------------------------------------------------------------------------- rules the list relies on

FILLER = "这里是与本题无关的铺垫文字，用来把回答撑到一段正常的长度。" * 6


def _atom(question: str, answer: str) -> Atom:
    return Atom("notes/a.md", 1, 2, (), None, None, question, answer, "answered")


def _concepts(question: str, answer: str) -> tuple[str, ...]:
    return recognize(_atom(question, answer), load_catalogue(None, Diagnostics()))[0]


def test_a_bilingual_name_written_twice_is_one_mention() -> None:
    once = FILLER + "长序列时可以换成稀疏注意力(Sparse Attention)。"
    assert "SparseAttention" not in _concepts("自注意力的计算复杂度是多少？", once)
    twice = FILLER + "长序列时可以换成稀疏注意力。另外，Sparse Attention 还能配合滑动窗口。"
    assert "SparseAttention" in _concepts("自注意力的计算复杂度是多少？", twice)


def test_a_root_question_does_not_take_every_step_its_answer_names() -> None:
    answer = FILLER + "流程是：文档分块、写入向量数据库、检索后重排序，再拼进提示词里生成。"
    assert _concepts("RAG 是什么？", answer) == ("RAG",)
    # a specific question still takes what is linked to it
    assert "MQA" in _concepts("GQA 为什么省显存？", FILLER + "它是 MQA 和 MHA 的折中。")


def test_a_keyword_answer_is_all_content() -> None:
    concepts = _concepts("agent 方面有哪些了解", "框架 LangChain\n上下文压缩\nMCP")
    assert {"Agent", "LangChain", "ContextEngineering", "MCP"} <= set(concepts)
