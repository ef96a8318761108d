"""The incremental path: a rebuild does only what changed, and writes what a cold build writes.

Nothing changed: `build` stops after looking at the files (`stamp.py`) and says what the last
build said. One file edited: only that file is read and parsed, only its answers rendered (their
code highlighted once, ever), and the deck, map, report, pages and lock are byte for byte those of
a cold build of the same notes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bagu2anki import cache as cache_module
from bagu2anki import code, pipeline, sources, stamp
from bagu2anki.cache import BuildCache
from bagu2anki.cli import main
from bagu2anki.config import Config
from bagu2anki.diagnostics import Diagnostics

NEW_QUESTION = "八股：为什么要做基准测试？\n\n先测量再优化：\n\n```python\nimport time\nt = time.perf_counter()\n```\n\n"


@pytest.fixture(autouse=True)
def _pinned(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """One clock for every build; files written by the test count as settled at once."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    monkeypatch.setattr(stamp, "SETTLE_NS", 0)
    monkeypatch.setattr(stamp, "SETTLE_FINE_NS", 0)
    yield


def _build(notes: Path, out: Path, *more: str) -> Result:
    res = CliRunner().invoke(main, ["build", str(notes), "-o", str(out), "--lock", str(out.parent / "b.lock"), *more])
    assert res.exit_code == 0, res.output
    return res


def _tree(out: Path, lock: Path) -> dict[str, str]:
    """Every output (reading pages included) and the lock file, by digest."""
    files = {p.relative_to(out).as_posix(): p for p in sorted(out.rglob("*")) if p.is_file()}
    files = {k: p for k, p in files.items() if not k.startswith(".bagu2anki")}
    files["lock"] = lock
    return {k: hashlib.sha256(p.read_bytes()).hexdigest() for k, p in files.items()}


def _never(*args: object, **kw: object) -> None:
    raise AssertionError("not expected on this path")


def test_nothing_changed_stops_at_once_with_the_same_summary(
    notes_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    first = _build(notes_copy, out)
    assert (out / stamp.STAMP_NAME).is_file()
    before = {p: (p.stat().st_mtime_ns, p.stat().st_ino) for p in out.rglob("*") if p.is_file()}
    monkeypatch.setattr(pipeline, "build", _never)  # nothing is read, rendered or written
    again = _build(notes_copy, out)
    assert again.output == first.output and "wrote" in again.output
    assert again.stderr == first.stderr
    after = {p: (p.stat().st_mtime_ns, p.stat().st_ino) for p in out.rglob("*") if p.is_file()}
    assert after == before
    # --strict judges the same diagnostics; --no-cache always builds
    strict = CliRunner().invoke(main, ["build", str(notes_copy), "-o", str(out), "--lock", str(tmp_path / "b.lock"), "--strict"])
    assert strict.exit_code == (1 if "warning:" in first.stderr else 0)
    with pytest.raises(AssertionError, match="not expected"):
        CliRunner().invoke(main, ["build", str(notes_copy), "-o", str(out), "--lock", str(tmp_path / "b.lock"), "--no-cache"],
                           catch_exceptions=False)


@pytest.mark.parametrize(
    "change",
    ["edit a note", "touch a note", "add a note", "remove a note", "remove the map", "edit a reading page",
     "edit the lock", "add a catalogue", "change an image", "other settings"],
)
def test_any_change_builds_again(notes_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str) -> None:
    out = tmp_path / "out"
    _build(notes_copy, out)
    rag = notes_copy / "rag" / "rag.md"
    more: list[str] = []
    if change == "edit a note":
        rag.write_text(rag.read_text(encoding="utf-8") + "\n\n**Q：向量检索为什么要归一化？** 让内积等于余弦。\n", encoding="utf-8")
    elif change == "touch a note":
        os.utime(rag)
    elif change == "add a note":
        (notes_copy / "rag" / "more.md").write_text("## 检索\n\n### 什么是 BM25？\n\n一种词频打分。\n", encoding="utf-8")
    elif change == "remove a note":
        rag.unlink()
    elif change == "remove the map":
        (out / "graph.html").unlink()
    elif change == "edit a reading page":
        page = next((out / "reading").glob("*.html"))
        page.write_text(page.read_text(encoding="utf-8") + "<!-- mine -->", encoding="utf-8")
    elif change == "edit the lock":
        lock = tmp_path / "b.lock"
        lock.write_text(lock.read_text(encoding="utf-8").replace('"version": 1', '"version": 1 '), encoding="utf-8")
    elif change == "add a catalogue":
        (notes_copy / "concepts.yaml").write_text("concepts: []\n", encoding="utf-8")
    elif change == "change an image":
        svg = notes_copy / "images" / "gqa.svg"
        svg.write_text(svg.read_text(encoding="utf-8").replace("</svg>", "<!-- x --></svg>"), encoding="utf-8")
    elif change == "other settings":
        more = ["--deck", "Other"]
    builds: list[Config] = []
    real = pipeline.build

    def counted(cfg: Config, *args: object) -> pipeline.BuildResult:
        builds.append(cfg)
        return real(cfg)

    monkeypatch.setattr(pipeline, "build", counted)
    _build(notes_copy, out, *more)
    assert len(builds) == 1
    _build(notes_copy, out, *more)  # and then nothing has changed again
    assert len(builds) == 1


def test_a_file_changed_as_the_build_starts_leaves_no_stamp(
    notes_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stamp, "SETTLE_NS", 2_000_000_000)
    monkeypatch.setattr(stamp, "SETTLE_FINE_NS", 2_000_000_000)
    out = tmp_path / "out"
    _build(notes_copy, out)
    assert not (out / stamp.STAMP_NAME).exists()  # the notes were copied a moment ago
    for f in notes_copy.rglob("*"):
        if f.is_file():
            os.utime(f, ns=(f.stat().st_mtime_ns - 5 * 10**9,) * 2)
    monkeypatch.setattr(stamp, "file_state", lambda p: _aged(p))  # as if changed 5 s ago, nothing since
    _build(notes_copy, out)
    assert (out / stamp.STAMP_NAME).is_file()


def test_times_are_trusted_once_a_change_is_past_the_clock_tick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stamp, "SETTLE_NS", 2_000_000_000)
    monkeypatch.setattr(stamp, "SETTLE_FINE_NS", 50_000_000)
    now = 1_700_000_000_123_456_789
    fine = now - 60_000_000  # a nanosecond file system: 50 ms is past any clock tick
    assert stamp.settled((1, fine, fine, 7), now)
    assert not stamp.settled((1, now - 10_000_000, now - 10_000_000, 7), now)
    whole = (now // 10**9 - 1) * 10**9  # whole seconds: maybe a file system that keeps no less
    assert not stamp.settled((1, whole, whole, 7), now)
    assert stamp.settled((1, whole - 2 * 10**9, whole - 2 * 10**9, 7), now)


def _aged(path: Path) -> tuple[int, int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_mtime_ns, st.st_ino)


def test_one_file_edited_is_all_that_is_read_and_the_bytes_are_those_of_a_cold_build(
    notes_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "warm").mkdir()
    (tmp_path / "cold").mkdir()
    warm, cold = tmp_path / "warm" / "out", tmp_path / "cold" / "out"
    _build(notes_copy, warm)
    lock_before = (tmp_path / "warm" / "b.lock").read_bytes()
    # a question with code at the top of a file: every answer below it moves, so it is rendered
    # again (its place is in its cache key), but code it holds is not highlighted again
    peft = notes_copy / "微调" / "peft.md"
    text = peft.read_text(encoding="utf-8")
    assert text.count("## LoRA 系列\n\n") == 1 and "```python" in text
    peft.write_text(text.replace("## LoRA 系列\n\n", "## LoRA 系列\n\n" + NEW_QUESTION), encoding="utf-8")

    cfg = Config(paths=(notes_copy,), out=warm, lock=tmp_path / "warm" / "b.lock")
    loaded: list[str] = []
    real_load = sources.load

    def load(found: sources.Found, diags: Diagnostics) -> object:
        loaded.append(found.rel)
        return real_load(found, diags)

    with monkeypatch.context() as m:
        m.setattr(sources, "load", load)
        pipeline.analyse(cfg, Diagnostics(), cache=BuildCache.open(warm))
    assert loaded == ["微调/peft.md"]

    highlighted: list[str] = []
    real_highlight = code.highlight

    def highlight(source: str, lexer: object, formatter: object) -> str:
        highlighted.append(source)
        return str(real_highlight(source, lexer, formatter))

    code._KNOWN.clear()  # what this process highlighted before: the build cache has to tell it
    monkeypatch.setattr(code, "highlight", highlight)
    _build(notes_copy, warm)
    assert highlighted == ["import time\nt = time.perf_counter()\n"]  # the new answer's block only

    shutil.copy(tmp_path / "warm" / "b.lock", tmp_path / "warm.lock")
    (tmp_path / "cold" / "b.lock").write_bytes(lock_before)
    _build(notes_copy, cold, "--no-cache")
    assert _tree(warm, tmp_path / "warm" / "b.lock") == _tree(cold, tmp_path / "cold" / "b.lock")
    # and again with nothing changed: the same bytes, from the stamp
    _build(notes_copy, warm)
    assert _tree(warm, tmp_path / "warm" / "b.lock") == _tree(cold, tmp_path / "cold" / "b.lock")


def test_a_watch_session_keeps_the_build_cache_it_saved(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache_module, "_KEEPING", True)
    monkeypatch.setattr(cache_module, "_KEPT", {})
    first = BuildCache.open(tmp_path)
    first.put("a", "<p>一</p>")
    first.save()
    monkeypatch.setattr(cache_module, "_read", _never)
    again = BuildCache.open(tmp_path)  # not decoded again
    assert again.entries == {"a": "<p>一</p>"} and again.stored == 1
    again.put("b", "<p>二</p>")
    again.save()
    assert BuildCache.open(tmp_path).entries == {"a": "<p>一</p>", "b": "<p>二</p>"}
    monkeypatch.undo()
    monkeypatch.setattr(cache_module, "_KEEPING", True)
    path = tmp_path / cache_module.CACHE_NAME
    data = bytearray(path.read_bytes())
    data[-3] ^= 1  # changed by something else (the same size): read again, and found damaged
    path.write_bytes(bytes(data))
    damaged = BuildCache.open(tmp_path)
    assert damaged.problem is not None and "b" not in damaged.entries


def test_a_no_cache_build_leaves_no_stamp(tmp_path: Path) -> None:
    """After `--no-cache`, the next build is a whole one that fills the cache; otherwise the first
    edit after it would cost a cold build."""
    from bagu2anki.config import Config
    from bagu2anki.pipeline import build
    from bagu2anki.stamp import STAMP_NAME

    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text("## A\n\n### 什么是 GQA？\n\n分组共享 KV。\n", encoding="utf-8")
    cfg = Config(paths=(notes,), out=tmp_path / "out", lock=tmp_path / "l.lock", use_cache=False)
    build(cfg)
    assert not (tmp_path / "out" / STAMP_NAME).exists()
    build(Config(paths=(notes,), out=tmp_path / "out", lock=tmp_path / "l.lock"))
    assert (tmp_path / "out" / STAMP_NAME).exists()


def test_a_map_that_would_show_the_same_is_not_drawn_again(tmp_path: Path) -> None:
    """The map is drawn again only when what it shows changed (or the page in place is not the
    one the last build wrote); otherwise the file stays as it is, and what a cold build draws."""
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "attn.md").write_text("## GQA 是什么？\n\nMHA 与 MQA 的折中：几个查询头共用一组 K/V。\n", encoding="utf-8")
    other = notes / "misc.md"
    other.write_text("## 面试前一天做什么？\n\n早点睡。\n", encoding="utf-8")  # no concept: not on the map
    (tmp_path / "warm").mkdir()
    out = tmp_path / "warm" / "out"
    _build(notes, out)
    page = out / "graph.html"
    first = page.stat()
    other.write_text("## 面试前一天做什么？\n\n早点睡，把简历再读一遍。\n", encoding="utf-8")  # the deck changes
    _build(notes, out)
    assert (page.stat().st_ino, page.stat().st_mtime_ns) == (first.st_ino, first.st_mtime_ns)

    (tmp_path / "cold").mkdir()
    shutil.copy(tmp_path / "warm" / "b.lock", tmp_path / "cold" / "b.lock")
    _build(notes, tmp_path / "cold" / "out", "--no-cache")
    drawn_cold = (tmp_path / "cold" / "out" / "graph.html").read_bytes()
    assert page.read_bytes() == drawn_cold

    page.write_bytes(page.read_bytes().replace(b"<title>", b"<title>x", 1))  # not the page we wrote
    other.write_text("## 面试前一天做什么？\n\n早点睡。\n", encoding="utf-8")
    _build(notes, out)
    assert page.read_bytes() == drawn_cold

    (out / pipeline.MAP_STATE).write_text("{not json", encoding="utf-8")  # damaged: drawn again
    other.write_text("## 面试前一天做什么？\n\n早点睡，别熬夜。\n", encoding="utf-8")
    _build(notes, out)
    assert page.read_bytes() == drawn_cold  # (the same bytes: the file in place is kept)
    assert pipeline._drawn(out / pipeline.MAP_STATE) == pipeline._drawn(tmp_path / "cold" / "out" / pipeline.MAP_STATE) is not None

    (notes / "attn.md").write_text("## GQA 是什么？\n\n分组查询注意力：几个查询头共用一组 K/V。\n", encoding="utf-8")
    _build(notes, out)  # what the map shows changed: drawn again
    assert "分组查询注意力" in page.read_text(encoding="utf-8")


def test_keeping_the_map_loads_no_drawing_library(notes_copy: Path, tmp_path: Path) -> None:
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from bagu2anki.config import Config
        from bagu2anki.diagnostics import Diagnostics
        from bagu2anki.pipeline import analyse
        from bagu2anki.cards import make_cards
        from bagu2anki.identity import assign
        from bagu2anki.lockfile import Lock
        from bagu2anki.render import Renderer
        from bagu2anki.write.map import write_concept_map
        diags = Diagnostics()
        cfg = Config(paths=(Path({str(notes_copy)!r}),), out=Path({str(tmp_path / "out")!r}))
        analysis = analyse(cfg, diags)
        lock = Lock.load(Path({str(tmp_path / "none.lock")!r}))
        cards, _ = make_cards(cfg, analysis, assign(analysis.atoms, lock, diags), lock, Renderer(diags), diags)
        page = Path({str(tmp_path / "graph.html")!r})
        drawn = write_concept_map("notes", analysis, cards, page)
        assert "pyvis" in sys.modules
        for name in [m for m in sys.modules if m.split(".")[0] in ("pyvis", "latex2mathml")]:
            del sys.modules[name]
        again = write_concept_map("notes", analysis, cards, Path({str(tmp_path / "unused.html")!r}), page, drawn)
        print(again == drawn, "pyvis" in sys.modules, Path({str(tmp_path / "unused.html")!r}).exists())
        """
    )
    got = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert got.stdout.split() == ["True", "False", "False"]
