"""`bagu2anki watch`: what is watched, the guard against half-written saves, one line per rebuild,
and a real watcher in a subprocess (saves, a held save, outputs ignored, Ctrl-C)."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bagu2anki.config import Config
from bagu2anki.lockfile import Lock
from bagu2anki.watch import NoteFilter, Watcher, WatchOptions, drops


def _cfg(notes: Path) -> Config:
    return Config(paths=(notes,), out=notes.parent / "out", jobs=1)


def _build(cfg: Config) -> Lock:
    from bagu2anki.pipeline import build

    build(cfg)
    return Lock.load(cfg.lock_path())


def _cut_questions(path: Path, keep: int) -> None:
    """Keep the text up to the `keep`-th list question of the file: a save cut short."""
    text = path.read_text(encoding="utf-8")
    starts = [m.start() for m in re.finditer(r"^- \*\*Q：", text, re.M)]
    path.write_text(text[: starts[keep]], encoding="utf-8")


def test_the_filter_sees_notes_images_and_catalogues_only(notes_copy: Path) -> None:
    cfg = _cfg(notes_copy)
    flt = NoteFilter(cfg)
    seen = lambda p: flt(None, str(p.resolve()))  # type: ignore[arg-type]  # noqa: E731
    assert seen(notes_copy / "agent" / "agent.md")
    assert seen(notes_copy / "agent" / "new.txt")
    assert seen(notes_copy / "images" / "new.png")
    assert seen(notes_copy / "concepts.yaml")
    assert not seen(notes_copy / "agent" / ".agent.md.swp")
    assert not seen(notes_copy / "agent" / "agent.md~")
    assert not seen(notes_copy / ".obsidian" / "workspace.md")
    assert not seen(notes_copy / "agent" / "4913")
    assert not seen(cfg.lock_path())
    assert not seen(cfg.out / "report.md")
    assert flt.roots() == [notes_copy.resolve()]


def test_the_output_folder_inside_the_notes_is_ignored(notes_copy: Path) -> None:
    cfg = Config(paths=(notes_copy,), out=notes_copy / "out")
    flt = NoteFilter(cfg)
    assert not flt(None, str((notes_copy / "out" / "report.md").resolve()))  # type: ignore[arg-type]
    assert flt(None, str((notes_copy / "outline.md").resolve()))  # type: ignore[arg-type]


def test_a_save_cut_short_is_held_and_an_edit_is_not(notes_copy: Path) -> None:
    cfg = _cfg(notes_copy)
    lock = _build(cfg)
    agent = notes_copy / "agent" / "agent.md"
    full = agent.read_text(encoding="utf-8")
    agent.write_text(full.replace("ReAct 一步一决策", "ReAct 每一步都重新决策"), encoding="utf-8")
    assert drops(cfg, [agent], lock) == ()
    _cut_questions(agent, 2)  # 10 questions -> 2
    held = drops(cfg, [agent], lock)
    assert [(d.file, d.lost) for d in held] == [("agent/agent.md", 8)]
    assert held[0].total == 8 + 2
    agent.write_text("", encoding="utf-8")  # saved empty
    assert [d.lost for d in drops(cfg, [agent], lock)] == [10]


def test_a_few_questions_deleted_or_moved_to_another_file_are_not_held(notes_copy: Path) -> None:
    cfg = _cfg(notes_copy)
    lock = _build(cfg)
    agent, rag = notes_copy / "agent" / "agent.md", notes_copy / "rag" / "rag.md"
    text = agent.read_text(encoding="utf-8")
    starts = [m.start() for m in re.finditer(r"^- \*\*Q：", text, re.M)]
    two = text[starts[2]:starts[4]]
    agent.write_text(text.replace(two, ""), encoding="utf-8")  # two deleted: fewer than 3
    assert drops(cfg, [agent], lock) == ()
    five = text[starts[2]:starts[7]]
    agent.write_text(text.replace(five, ""), encoding="utf-8")
    assert [d.lost for d in drops(cfg, [agent], lock)] == [5]
    rag.write_text(rag.read_text(encoding="utf-8") + "\n\n## 搬来的\n\n" + five, encoding="utf-8")
    assert drops(cfg, [agent, rag], lock) == ()  # moved, not lost


def test_a_held_save_builds_when_saved_again_as_it_is(notes_copy: Path) -> None:
    cfg = _cfg(notes_copy)
    lock = _build(cfg)
    cards_before = sum(1 for e in lock.entries.values() if not e.guid.startswith("b2a-concept-"))
    said: list[str] = []
    watcher = Watcher(cfg, WatchOptions(), said.append)
    agent = notes_copy / "agent" / "agent.md"
    deck = cfg.out / "notes.apkg"
    stamp = deck.stat().st_mtime_ns
    _cut_questions(agent, 1)
    watcher.saved([agent])
    assert len(said) == 1 and "held: agent/agent.md would lose 9 of its 10 questions" in said[0], said
    assert deck.stat().st_mtime_ns == stamp  # nothing written
    other = notes_copy / "rag" / "rag.md"
    other.write_text(other.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    watcher.saved([other])  # another file saved: still held
    assert len(said) == 2 and "held: agent/agent.md" in said[1]
    assert deck.stat().st_mtime_ns == stamp
    watcher.saved([agent])  # saved again as it is: a deliberate cut
    done = re.match(r"\d\d:\d\d:\d\d agent/agent\.md, rag/rag\.md: .*9 gone -> (\d+) question cards", said[-1])
    assert done and int(done.group(1)) == cards_before - 9, (said, cards_before)
    assert deck.stat().st_mtime_ns != stamp


def test_a_build_that_fails_is_one_line_and_watching_goes_on(notes_copy: Path) -> None:
    cfg = _cfg(notes_copy)
    _build(cfg)
    cfg.lock_path().write_text("{not json", encoding="utf-8")
    said: list[str] = []
    watcher = Watcher(cfg, WatchOptions(), said.append)
    agent = notes_copy / "agent" / "agent.md"
    agent.write_text(agent.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    watcher.saved([agent])
    assert len(said) == 1 and "the lock file cannot be read" in said[0], said


# --- a real watcher -----------------------------------------------------------------------------


class Lines:
    """A subprocess's output lines, read in the background, waited for with a time limit."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.queue: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        assert proc.stdout is not None
        threading.Thread(target=self._read, args=(proc.stdout,), daemon=True).start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self.queue.put(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = 60) -> str:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                line = self.queue.get(timeout=0.2)
            except queue.Empty:
                continue
            self.seen.append(line)
            if re.search(pattern, line):
                return line
        raise AssertionError(f"no line matching {pattern!r} within {timeout} s; got: {self.seen}")

    def quiet_for(self, seconds: float) -> list[str]:
        time.sleep(seconds)
        new = []
        while not self.queue.empty():
            new.append(self.queue.get())
        self.seen += new
        return new


def test_watch_rebuilds_on_save_holds_a_cut_ignores_its_outputs_and_stops_on_ctrl_c(notes_copy: Path) -> None:
    out = notes_copy.parent / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bagu2anki", "watch", str(notes_copy), "-o", str(out), "--debounce", "100"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=notes_copy.parent,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines = Lines(proc)
    try:
        lines.wait_for(r"^\d\d:\d\d:\d\d first build: .* question cards \(\d+\.\d s\)$")
        lines.wait_for(r"^watching ")
        agent = notes_copy / "agent" / "agent.md"
        agent.write_text(agent.read_text(encoding="utf-8").replace("ReAct 一步一决策", "ReAct 每步决策"), encoding="utf-8")
        line = lines.wait_for(r"agent/agent\.md: ")
        assert re.search(r"agent/agent\.md: 1 edited -> \d+ question cards \(\d+\.\d s\)$", line), line
        deck = out / "notes.apkg"
        stamp = deck.stat().st_mtime_ns
        full = agent.read_text(encoding="utf-8")
        _cut_questions(agent, 2)
        assert "held: agent/agent.md would lose 8" in lines.wait_for(r"held: ")
        assert deck.stat().st_mtime_ns == stamp
        agent.write_text(full, encoding="utf-8")  # the rest of the save arrives
        assert "no card changed" in lines.wait_for(r"agent/agent\.md: ")
        (out / "extra.md").write_text("# 不是笔记\n", encoding="utf-8")  # outputs and lock: not watched
        (notes_copy.parent / "bagu2anki.lock").touch()
        assert lines.quiet_for(1.0) == []
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert lines.wait_for(r"^stopped", timeout=5)
    assert proc.returncode == 0
    assert not list(out.glob(".bagu2anki-tmp*")) and (out / "notes.apkg").is_file()
