"""Drive real Anki (the `anki` package from PyPI): fresh collections, imports, studying.

Used by the tests to check decks from the outside, the way a user's Anki sees them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

anki = pytest.importorskip("anki", reason="the anki package (PyPI) is needed to import decks")
from anki.collection import Collection, ImportAnkiPackageOptions, ImportAnkiPackageRequest  # noqa: E402
from anki.import_export_pb2 import ImportAnkiPackageUpdateCondition as UpdateCond  # noqa: E402

IF_NEWER = UpdateCond.IMPORT_ANKI_PACKAGE_UPDATE_CONDITION_IF_NEWER
_SKIP = re.compile(r"<(pre|code|style|script)\b[^>]*>.*?</\1\s*>", re.S | re.I)
_DELIM = re.compile(r"\\\\|\\\(|\\\)|\\\[|\\\]")


def new_collection(folder: Path, name: str = "user") -> Any:
    folder.mkdir(parents=True, exist_ok=True)
    return Collection(str(folder / f"{name}.anki2"))


def import_package(col: Any, path: Path, **opts: Any) -> Any:
    options = ImportAnkiPackageOptions(
        merge_notetypes=opts.get("merge_notetypes", False),
        update_notes=opts.get("update_notes", IF_NEWER),
        update_notetypes=opts.get("update_notetypes", IF_NEWER),
        with_scheduling=False,
        with_deck_configs=False,
    )
    return col.import_anki_package(ImportAnkiPackageRequest(package_path=str(path), options=options))


def notes_by_guid(col: Any) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for nid, guid, mid, mod, tags, flds in col.db.execute("select id, guid, mid, mod, tags, flds from notes"):
        out[guid] = {"nid": nid, "mid": mid, "mod": mod, "tags": tags.split(), "fields": flds.split("\x1f")}
    return out


def math_balanced(html: str) -> bool:
    """\\( \\) and \\[ \\] pair up and never nest (code, style and script ignored, like MathJax)."""
    text = _SKIP.sub("", html)
    stack: list[str] = []
    for m in _DELIM.finditer(text):
        tok = m.group(0)
        if tok == "\\\\":
            continue
        if tok in ("\\(", "\\["):
            if stack:
                return False
            stack.append(tok)
        else:
            want = "\\(" if tok == "\\)" else "\\["
            if not stack or stack[-1] != want:
                return False
            stack.pop()
    return not stack


def study_everything(col: Any) -> int:
    """Answer every card the reviewer offers once (Easy/Good/Hard/Again in turn)."""
    from anki.scheduler.v3 import CardAnswer

    ratings = [CardAnswer.EASY, CardAnswer.GOOD, CardAnswer.HARD, CardAnswer.AGAIN]
    for conf in col.decks.all_config():
        conf["new"]["perDay"] = 9999
        conf["rev"]["perDay"] = 9999
        col.decks.update_config(conf)
    tops = sorted({col.decks.name(did).split("::")[0] for did in col.db.list("select distinct did from cards")})
    answered: set[int] = set()
    i = 0
    for top in tops:
        col.decks.select(col.decks.id_for_name(top))
        while True:
            queued = col.sched.get_queued_cards(fetch_limit=1)
            if not queued.cards:
                break
            qc = queued.cards[0]
            if qc.card.id in answered:
                break
            card = col.get_card(qc.card.id)
            card.start_timer()
            col.sched.answer_card(col.sched.build_answer(card=card, states=qc.states, rating=ratings[i % 4]))
            answered.add(card.id)
            i += 1
    return len(answered)


def new_queue_order(col: Any, top: str) -> list[int]:
    """Note ids of new cards in the order the reviewer would show them."""
    for conf in col.decks.all_config():
        conf["new"]["perDay"] = 9999
        col.decks.update_config(conf)
    col.decks.select(col.decks.id_for_name(top))
    order: list[int] = []
    queued = col.sched.get_queued_cards(fetch_limit=5000)
    for qc in queued.cards:
        order.append(qc.card.note_id)
    return order
