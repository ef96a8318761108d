"""`bagu2anki sync`: the plan on its own, AnkiConnect's failures as one line, and the real thing —
Anki desktop with the AnkiConnect add-on, headless (`anki_desktop_support`): first sync, edits in
place with reviews kept, moved questions, orphans, images, and `watch --sync`."""

from __future__ import annotations

import base64
import http.server
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from anki_desktop_support import AnkiDesktop, anki_desktop, free_port  # noqa: F401 (a fixture)
from click.testing import CliRunner, Result
from test_watch import Lines

from bagu2anki.ankiconnect import AnkiConnect, AnkiConnectError, Target
from bagu2anki.cli import main
from bagu2anki.images import media_name
from bagu2anki.sync import (
    ORPHAN_TAG,
    NoteState,
    deck_key,
    make_plan,
    read_package,
)
from bagu2anki.write.apkg import MODEL_NAME

# --- the plan ---------------------------------------------------------------------------------


def _note(guid: str, nid: int, mod: int, fields: str, deck: str, tags: str = "", cid: int = 0) -> NoteState:
    return NoteState(guid, nid, mod, fields, frozenset(tags.casefold().split()), ((cid or nid + 1, deck),))


def test_the_plan_sorts_every_note() -> None:
    built = {
        "new": _note("new", 1, 100, "a", "d::x"),
        "same": _note("same", 2, 100, "b", "d::x", "t1"),
        "edited": _note("edited", 3, 200, "c2", "d::x"),
        "edited-in-anki": _note("edited-in-anki", 4, 100, "d2", "d::x"),
        "moved": _note("moved", 5, 200, "e2", "d::y"),
        "back": _note("back", 6, 100, "f", "d::x", "t1"),
    }
    anki = {
        "same": _note("same", 20, 100, "b", "D::X", "T1"),  # deck names and tags: any case
        "edited": _note("edited", 30, 150, "c1", "d::x"),
        "edited-in-anki": _note("edited-in-anki", 40, 300, "d-by-hand", "d::x"),
        "moved": _note("moved", 50, 150, "e1", "d::x"),
        "back": _note("back", 60, 120, "f", "d::x", f"t1 {ORPHAN_TAG}"),
        "gone": _note("gone", 70, 100, "g", "d::x"),
        "gone-before": _note("gone-before", 80, 100, "h", "d::x", ORPHAN_TAG),
        "someone-else": _note("someone-else", 90, 100, "i", "d::x"),
    }
    ours = set(built) | {"gone", "gone-before", "never-synced"}
    plan = make_plan(built, anki, ours)
    assert plan.added == ("new",)
    assert plan.unchanged == ("same", "back")
    assert plan.updated == ("edited",)
    assert plan.kept == ("edited-in-anki",)
    assert plan.moved == ("moved",)
    assert plan.moves == (("d::y", (51,)),)
    assert plan.orphaned == ("gone",) and plan.orphan_notes == (70,)
    assert plan.orphans == ("gone", "gone-before") and plan.orphan_cards == (71, 81)
    assert plan.revived == ("back",) and plan.revived_notes == (60,) and plan.revived_cards == (61,)
    assert plan.to_import


def test_nothing_to_import_when_anki_holds_the_deck() -> None:
    built = {"a": _note("a", 1, 100, "x", "d"), "b": _note("b", 2, 100, "y", "d")}
    held = {"a": _note("a", 10, 100, "x", "d"), "b": _note("b", 20, 300, "y-by-hand", "d")}
    assert not make_plan(built, held, set(built), ({7: 100}, {7: 150})).to_import
    assert make_plan(built, held, set(built), ({7: 200}, {7: 150})).to_import  # a newer note type
    assert make_plan(built, held, set(built), ({7: 100}, {})).to_import  # none in Anki yet
    assert make_plan(built, {"a": held["a"]}, set(built)).to_import  # a note to add


def test_deck_names_compare_as_anki_compares_them() -> None:
    assert deck_key("LLM::注意力 :: GQA") == deck_key("llm::注意力::gqa")
    assert deck_key("a::b") != deck_key("a::c")


# --- AnkiConnect failures, one line each --------------------------------------------------------


class _Fake(http.server.BaseHTTPRequestHandler):
    answer: Any = None
    status = 200

    def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = self.answer if isinstance(self.answer, bytes) else json.dumps(self.answer).encode()
        self.send_response(self.status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return None


@pytest.fixture
def fake_anki() -> Iterator[type[_Fake]]:
    handler = type("Handler", (_Fake,), {})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    handler.url = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    try:
        yield handler
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("answer", "status", "key", "says"),
    [
        (b"<html>hello</html>", 200, None, "not as AnkiConnect does"),
        ({"hello": 1}, 200, None, "not as AnkiConnect does"),
        ({"result": None, "error": "valid api key must be provided"}, 200, None, "wants an API key"),
        ({"result": None, "error": "valid api key must be provided"}, 200, "wrong", "refused the API key"),
        ({"result": 5, "error": None}, 200, None, "speaks API version 5"),
        (4, 200, None, "speaks API version 4"),
        ({"result": None, "error": None}, 403, None, "answered HTTP 403"),
    ],
)
def test_anki_connect_failures_are_one_clear_line(
    fake_anki: type[_Fake], answer: Any, status: int, key: str | None, says: str
) -> None:
    fake_anki.answer, fake_anki.status = answer, status
    with pytest.raises(AnkiConnectError) as err:
        AnkiConnect(Target(fake_anki.url, key)).check()  # type: ignore[attr-defined]
    message = err.value.format_message()
    assert says in message and "\n" not in message


def test_a_good_version_passes(fake_anki: type[_Fake]) -> None:
    fake_anki.answer = {"result": 6, "error": None}
    assert AnkiConnect(Target(fake_anki.url)).check() == 6  # type: ignore[attr-defined]


def test_sync_without_anki_is_one_line_and_builds_nothing(notes_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    res = CliRunner().invoke(main, ["sync", str(notes_copy), "-o", str(out), "--url", url])
    assert res.exit_code == 1, res.output
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: Anki is not running"), res.output
    assert url in lines[0]
    assert not out.exists() and not (tmp_path / "bagu2anki.lock").exists()


def test_the_url_and_key_come_from_the_environment(notes_copy: Path, tmp_path: Path, fake_anki: type[_Fake]) -> None:
    fake_anki.answer = {"result": None, "error": "valid api key must be provided"}
    env = {"ANKI_CONNECT_URL": fake_anki.url, "ANKI_CONNECT_KEY": "secret"}  # type: ignore[attr-defined]
    res = CliRunner().invoke(main, ["sync", str(notes_copy), "-o", str(tmp_path / "out")], env=env)
    assert res.exit_code == 1 and "refused the API key" in res.output, res.output


# --- the real Anki ------------------------------------------------------------------------------


@pytest.fixture
def anki(anki_desktop: AnkiDesktop) -> Iterator[AnkiDesktop]:  # noqa: F811 (the imported fixture)
    """The session's Anki, emptied after each test (copies of the starter notes share GUIDs)."""
    try:
        yield anki_desktop
    finally:
        anki_desktop.forget_everything()


def _sync(anki: AnkiDesktop, notes: Path, *args: str) -> Result:
    out = notes.parent / "out"
    res = CliRunner().invoke(main, ["sync", str(notes), "-o", str(out), "--url", anki.url, *args])
    assert res.exit_code == 0, res.output
    return res


def _summary(res: Result) -> dict[str, int]:
    line = next(line for line in res.output.splitlines() if line.startswith("Anki: "))
    return {what: int(n) for n, what in re.findall(r"(\d+) (added|updated|moved|orphaned|unchanged|kept|back)", line)}


def _one(anki: AnkiDesktop, query: str) -> dict[str, Any]:
    nids = anki.call("findNotes", query=query)
    assert len(nids) == 1, (query, nids)
    info: dict[str, Any] = anki.call("notesInfo", notes=nids)[0]
    return info


def _card(anki: AnkiDesktop, note: dict[str, Any]) -> dict[str, Any]:
    card: dict[str, Any] = anki.call("cardsInfo", cards=note["cards"])[0]
    return card


REACT = '"Question:*ReAct 是什么？和*"'


def test_first_sync_adds_everything_and_a_second_changes_nothing(anki: AnkiDesktop, notes_copy: Path) -> None:
    first = _sync(anki, notes_copy)
    package = read_package(notes_copy.parent / "out" / "notes.apkg", notes_copy.parent).notes
    assert _summary(first) == {"added": len(package), "updated": 0, "moved": 0, "orphaned": 0, "unchanged": 0}
    assert MODEL_NAME in anki.call("modelNames")
    assert len(anki.call("findNotes", query=f'"note:{MODEL_NAME}"')) == len(package)
    assert "notes::Agent::基础概念" in anki.call("deckNames")
    assert _card(anki, _one(anki, REACT))["deckName"] == "notes::Agent::基础概念"
    again = _sync(anki, notes_copy)
    assert _summary(again) == {"added": 0, "updated": 0, "moved": 0, "orphaned": 0, "unchanged": len(package)}


def test_an_edit_updates_in_place_and_a_studied_card_keeps_its_reviews(anki: AnkiDesktop, notes_copy: Path) -> None:
    _sync(anki, notes_copy)
    before = _one(anki, REACT)
    cid = before["cards"][0]
    assert anki.call("answerCards", answers=[{"cardId": cid, "ease": 3}]) == [True]
    studied = _card(anki, before)
    assert studied["reps"] == 1
    agent = notes_copy / "agent" / "agent.md"
    text = agent.read_text(encoding="utf-8")
    assert "ReAct 一步一决策" in text
    agent.write_text(text.replace("ReAct 一步一决策", "ReAct 每一步都重新决策"), encoding="utf-8")
    res = _sync(anki, notes_copy)
    assert _summary(res)["updated"] == 1, res.output
    after = _one(anki, REACT)
    assert after["noteId"] == before["noteId"] and after["cards"] == before["cards"]
    assert "ReAct 每一步都重新决策" in after["fields"]["Answer"]["value"]
    card = _card(anki, after)
    assert (card["reps"], card["type"], card["due"], card["interval"]) == (
        studied["reps"], studied["type"], studied["due"], studied["interval"])
    assert len(anki.call("getReviewsOfCards", cards=[cid])[str(cid)]) == 1


def _cut(text: str, start: str, end: str) -> tuple[str, str]:
    i = text.index(start)
    j = text.index(end, i)
    return text[:i] + text[j:], text[i:j]


def test_a_question_moved_to_another_file_changes_deck(anki: AnkiDesktop, notes_copy: Path) -> None:
    _sync(anki, notes_copy)
    before = _one(anki, REACT)
    agent, rag = notes_copy / "agent" / "agent.md", notes_copy / "rag" / "rag.md"
    rest, block = _cut(agent.read_text(encoding="utf-8"), "- **Q：ReAct 是什么", "## 工具调用")
    agent.write_text(rest, encoding="utf-8")
    rag.write_text(rag.read_text(encoding="utf-8").rstrip("\n") + "\n\n## 从 Agent 搬来\n\n" + block, encoding="utf-8")
    res = _sync(anki, notes_copy)
    assert _summary(res)["moved"] == 1, res.output
    after = _one(anki, REACT)
    assert after["noteId"] == before["noteId"]
    assert after["fields"]["Source"]["value"].startswith("rag/rag.md:")
    assert _card(anki, after)["deckName"] == "notes::RAG 检索增强生成::从 Agent 搬来"
    assert _summary(_sync(anki, notes_copy))["moved"] == 0  # and it stays there


def test_a_deleted_question_is_tagged_orphan_never_deleted_and_comes_back(anki: AnkiDesktop, notes_copy: Path) -> None:
    _sync(anki, notes_copy)
    query = '"Question:*MCP 的架构是怎样的*"'
    note = _one(anki, query)
    agent = notes_copy / "agent" / "agent.md"
    original = agent.read_text(encoding="utf-8")
    rest, _block = _cut(original, "- **Q：MCP 的架构是怎样的", "## 记忆与上下文")
    agent.write_text(rest, encoding="utf-8")
    res = _sync(anki, notes_copy, "--suspend-orphans")
    assert _summary(res)["orphaned"] >= 1 and "orphaned and suspended" in res.output, res.output
    gone = _one(anki, query)
    assert gone["noteId"] == note["noteId"] and ORPHAN_TAG in gone["tags"]
    assert anki.call("areSuspended", cards=gone["cards"]) == [True]
    assert _summary(_sync(anki, notes_copy, "--suspend-orphans"))["orphaned"] == 0  # tagged once
    agent.write_text(original, encoding="utf-8")
    back = _sync(anki, notes_copy, "--suspend-orphans")
    assert _summary(back)["back"] >= 1, back.output
    returned = _one(anki, query)
    assert ORPHAN_TAG not in returned["tags"] and anki.call("areSuspended", cards=returned["cards"]) == [False]


def test_an_image_added_to_an_answer_is_stored_in_anki(anki: AnkiDesktop, notes_copy: Path) -> None:
    _sync(anki, notes_copy)
    image = notes_copy / "images" / "react-loop.svg"
    image.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8"/></svg>\n',
                     encoding="utf-8")
    agent = notes_copy / "agent" / "agent.md"
    text = agent.read_text(encoding="utf-8")
    agent.write_text(text.replace("ReAct 一步一决策", "![ReAct 循环](../images/react-loop.svg) ReAct 一步一决策"), encoding="utf-8")
    res = _sync(anki, notes_copy)
    assert _summary(res)["updated"] == 1, res.output
    name = media_name(image)
    assert name in _one(anki, REACT)["fields"]["Answer"]["value"]
    assert name in anki.call("getMediaFilesNames", pattern="b2a-*")
    assert base64.b64decode(anki.call("retrieveMediaFile", filename=name)) == image.read_bytes()


# --- watch --sync against the real Anki ---------------------------------------------------------


def test_watch_sync_sends_each_save(anki: AnkiDesktop, notes_copy: Path) -> None:
    out = notes_copy.parent / "out"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "bagu2anki", "watch", str(notes_copy), "-o", str(out), "--sync",
           "--url", anki.url, "--debounce", "100"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                            cwd=notes_copy.parent)
    lines = Lines(proc)
    try:
        first = lines.wait_for(r"^\d\d:\d\d:\d\d first build: .*Anki: ")
        assert " added" in first
        lines.wait_for(r"^watching ")
        agent = notes_copy / "agent" / "agent.md"
        agent.write_text(agent.read_text(encoding="utf-8").replace("ReAct 一步一决策", "ReAct 第一次保存"), encoding="utf-8")
        one = lines.wait_for(r"agent/agent\.md: .*Anki: ")
        assert "1 edited" in one and "1 updated" in one, one
        agent.write_text(agent.read_text(encoding="utf-8").replace("ReAct 第一次保存", "ReAct 第二次保存"), encoding="utf-8")
        two = lines.wait_for(r"agent/agent\.md: .*Anki: ")
        assert "1 edited" in two and "1 updated" in two, two
        assert "ReAct 第二次保存" in _one(anki, REACT)["fields"]["Answer"]["value"]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    lines.wait_for(r"^stopped", timeout=5)
    assert proc.returncode == 0
    shutil.rmtree(out, ignore_errors=True)
