"""The build cache file: appended to by small rebuilds, compacted when mostly stale, robust to damage."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import pytest

from bagu2anki import cache as cache_module
from bagu2anki.cache import CACHE_NAME, MAGIC, BuildCache
from bagu2anki.diagnostics import Diagnostic
from bagu2anki.model import Atom, Document, SourceFile, Unattached
from bagu2anki.render import Rendered


def _fill(cache: BuildCache, keys: range, size: int = 1000) -> None:
    for k in keys:
        if cache.get(f"k{k}") is None:
            cache.put(f"k{k}", "x" * size + str(k))


def test_a_small_rebuild_appends_and_everything_reads_back(tmp_path: Path) -> None:
    first = BuildCache.open(tmp_path)
    _fill(first, range(100))
    first.save()
    path = tmp_path / CACHE_NAME
    size_full = path.stat().st_size
    head = path.read_bytes()

    second = BuildCache.open(tmp_path)
    _fill(second, range(1, 101))  # one entry gone, one new
    assert second.hits == 99 and second.misses == 1
    second.save()
    data = path.read_bytes()
    assert data.startswith(head)  # appended, not rewritten
    assert len(data) - size_full < 1200  # just the one new entry

    third = BuildCache.open(tmp_path)
    assert third.stored == 101
    assert {k: third.get(k) for k in ("k0", "k55", "k100")} == {
        "k0": "x" * 1000 + "0", "k55": "x" * 1000 + "55", "k100": "x" * 1000 + "100",
    }


def test_a_mostly_stale_file_is_rewritten_with_the_used_entries(tmp_path: Path) -> None:
    first = BuildCache.open(tmp_path)
    _fill(first, range(100))
    first.save()
    second = BuildCache.open(tmp_path)
    _fill(second, range(90, 130))  # 10 kept, 30 new: 130 stored for 40 used
    second.save()
    third = BuildCache.open(tmp_path)
    assert third.stored == 40
    assert third.get("k5") is None and third.get("k95") is not None and third.get("k129") is not None


def test_a_cut_short_append_keeps_what_came_before(tmp_path: Path) -> None:
    first = BuildCache.open(tmp_path)
    _fill(first, range(50))
    first.save()
    second = BuildCache.open(tmp_path)
    _fill(second, range(55))
    second.save()
    path = tmp_path / CACHE_NAME
    path.write_bytes(path.read_bytes()[:-300])  # the second batch cut short
    damaged = BuildCache.open(tmp_path)
    assert damaged.stored == -1
    assert damaged.get("k10") is not None and damaged.get("k52") is None
    _fill(damaged, range(55))
    damaged.save()  # rewritten whole
    again = BuildCache.open(tmp_path)
    assert again.stored == 55 and all(again.get(f"k{k}") is not None for k in range(55))


def test_a_foreign_or_garbage_file_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / CACHE_NAME
    for junk in (b"", b"not a pickle at all", b"\x80\x05N."):
        path.write_bytes(junk)
        cache = BuildCache.open(tmp_path)
        assert cache.entries == {} and cache.stored == -1
        _fill(cache, range(3))
        cache.save()
        assert BuildCache.open(tmp_path).stored == 3


# --- what is stored: the callers' values, exactly; nothing else ------------------------------------


def _values(tmp_path: Path) -> dict[str, Any]:
    odd = Path(os.fsdecode(b"/notes/\xff\xfe-odd.md"))  # a file name that is not UTF-8
    src = SourceFile(odd, "odd.md", "", "gb18030", "markdown", tmp_path)
    atoms = (
        Atom("odd.md", 3, 5, ("基础", "注意力"), "1", "八股", "为什么要缩放？", "因为方差。", "answered"),
        Atom("odd.md", 7, 7, (), None, None, "见上题", "同第1题", "reference", "attn", "第1题", "text"),
    )
    doc = Document(src, atoms, (Unattached("odd.md", 1, 2, ("基础",), "前言"),), ((("MHA", "GQA"), 9),), (1, 2))
    diags = [Diagnostic("warning", "odd.md", 3, "a formula is not closed", "math"), Diagnostic("info", "odd.md", None, "x")]
    parsed = (doc, diags, [(("attention", "softmax"), "attention"), ((), None)], [(("kv", "KV"),), ()])
    image = tmp_path / "images" / "a.png"
    rendered = (Rendered("<p>答</p>", (image,), 1, False), diags[:1], [(image, (1_700_000_000_123_456_789, 42))], ["code key"])
    code = ("python", "x = 1\n", '<div class="highlight"><pre><span class="n">x</span></pre></div>\n')
    return {"parsed": parsed, "rendered": rendered, "code": code, "question": "<p>为什么？</p>", "empty": ""}


def test_every_kind_of_value_reads_back_equal(tmp_path: Path) -> None:
    values = _values(tmp_path)
    first = BuildCache.open(tmp_path)
    for k, v in values.items():
        first.put(k, v)
    first.put("a dict", {"not": "a kind the cache knows"})
    first.put("lone surrogate", "\udcff")  # msgpack cannot hold it: not stored, nothing fails
    first.save()
    assert first.problem is None
    again = BuildCache.open(tmp_path)
    assert again.problem is None and again.stored == len(values)
    assert again.entries == values
    for k, v in values.items():
        assert repr(again.get(k)) == repr(v)  # tuples stay tuples, lists lists, paths paths


def test_a_warm_build_takes_everything_from_the_cache(notes_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Real values round-trip: nothing parsed or rendered, and the same bytes as a cold build."""
    from bagu2anki import cards, pipeline
    from bagu2anki.config import Config
    from bagu2anki.render import Renderer

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")

    def run(out: str, use_cache: bool = True) -> bytes:
        cfg = Config(paths=(notes_copy,), out=tmp_path / out, lock=tmp_path / "bagu2anki.lock", use_cache=use_cache)
        result = pipeline.build(cfg)
        return next(p for p in result.outputs if p.suffix == ".apkg").read_bytes()

    cold = run("cold", use_cache=False)
    assert run("warm") == cold
    filled = BuildCache.open(tmp_path / "warm")
    assert filled.problem is None and len(filled.entries) == filled.stored > 10

    def no(*args: object, **kw: object) -> None:
        raise AssertionError("not from the cache")

    monkeypatch.setattr(pipeline, "_parse_one", no)
    monkeypatch.setattr(cards, "_render_one", no)
    monkeypatch.setattr(Renderer, "question", no)
    assert run("warm") == cold


def _frames(path: Path) -> list[tuple[int, int]]:
    """(start, end) of each frame's payload in a cache file."""
    data = path.read_bytes()
    spans, at = [], len(MAGIC)
    while at < len(data):
        _, length, _ = cache_module._PREFIX.unpack_from(data, at)
        at += cache_module._PREFIX.size
        spans.append((at, at + length))
        at += length
    return spans


def test_a_damaged_batch_is_left_out_and_the_rest_read(tmp_path: Path) -> None:
    for n in (10, 20, 30):  # three batches: 0-9, 10-19, 20-29
        cache = BuildCache.open(tmp_path)
        _fill(cache, range(n), size=100)
        cache.save()
    path = tmp_path / CACHE_NAME
    spans = _frames(path)
    assert len(spans) == 4  # the header and three batches
    data = bytearray(path.read_bytes())
    data[(spans[2][0] + spans[2][1]) // 2] ^= 0x10
    path.write_bytes(bytes(data))
    damaged = BuildCache.open(tmp_path)
    assert damaged.problem is not None and "1 damaged batch" in damaged.problem
    assert damaged.stored == -1
    assert sorted(damaged.entries) == sorted(f"k{k}" for k in (*range(10), *range(20, 30)))
    _fill(damaged, range(30), size=100)
    damaged.save()
    assert BuildCache.open(tmp_path).stored == 30 and BuildCache.open(tmp_path).problem is None


def test_entries_of_the_wrong_shape_or_an_unknown_kind_are_left_out(tmp_path: Path) -> None:
    """Well-formed frames (right digest) holding what no caller stores: never taken."""
    enc = cache_module._ENCODER
    entries = [
        ("good", "text", "<p>ok</p>"),
        ("number", "text", 5),
        ("flat", "parse", "a string, not a parsed file"),
        ("half", "answer", [{"html": "x"}, [], []]),
        ("alien", "pickle", b"\x80\x05N."),
    ]
    payload = b"\xdd" + len(entries).to_bytes(4, "big") + b"".join(enc.encode(e) for e in entries)
    path = tmp_path / CACHE_NAME
    path.write_bytes(MAGIC + cache_module._frame(cache_module._header()) + cache_module._frame(payload))
    cache = BuildCache.open(tmp_path)
    assert cache.entries == {"good": "<p>ok</p>"}
    assert cache.problem is not None and "4 damaged entries" in cache.problem and cache.stored == -1


def test_a_cache_of_another_version_is_dropped_without_a_word(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = BuildCache.open(tmp_path)
    _fill(cache, range(3))
    cache.save()
    monkeypatch.setattr(cache_module, "_CODE", "another build")
    other = BuildCache.open(tmp_path)
    assert other.entries == {} and other.stored == -1 and other.problem is None


def _disk_full(f: IO[bytes], chunks: Iterable[bytes]) -> None:
    for chunk in chunks:
        f.write(chunk[: len(chunk) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_failed_write_leaves_the_file_as_it_was_and_no_part(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = BuildCache.open(tmp_path)
    _fill(first, range(10))
    first.save()
    path = tmp_path / CACHE_NAME
    before = path.read_bytes()
    monkeypatch.setattr(cache_module, "_write_all", _disk_full)

    rewrite = BuildCache.open(tmp_path)
    _fill(rewrite, range(100, 120))  # all new: rewritten through a .part file
    rewrite.save()
    assert rewrite.problem is not None and "not saved" in rewrite.problem and "No space" in rewrite.problem
    assert path.read_bytes() == before and not path.with_name(CACHE_NAME + ".part").exists()

    append = BuildCache.open(tmp_path)
    _fill(append, range(11))  # one new: appended
    append.save()
    assert append.problem is not None and path.read_bytes() == before
    assert BuildCache.open(tmp_path).problem is None


def test_an_append_that_cannot_be_cut_back_removes_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = BuildCache.open(tmp_path)
    _fill(first, range(10))
    first.save()
    monkeypatch.setattr(cache_module, "_write_all", _disk_full)
    append = BuildCache.open(tmp_path)
    _fill(append, range(11))
    real = cache_module._undo_append
    calls: list[int] = []

    def undo(f: IO[bytes], path: Path, size: int) -> None:
        calls.append(size)

        class Broken:
            def truncate(self, n: int) -> int:
                raise OSError(errno.EIO, "I/O error")

            def flush(self) -> None:
                pass

        real(Broken(), path, size)  # type: ignore[arg-type]

    monkeypatch.setattr(cache_module, "_undo_append", undo)
    append.save()
    assert calls and not (tmp_path / CACHE_NAME).exists()
    assert append.problem is not None


def test_a_cache_that_cannot_be_written_does_not_fail(tmp_path: Path) -> None:
    blocker = tmp_path / "a file"
    blocker.write_text("in the way")
    cache = BuildCache(blocker / "out" / CACHE_NAME)  # its folder cannot be made: a file is in the way
    cache.put("k", "v")
    cache.save()
    assert cache.problem is not None and cache.problem.startswith("build cache not saved")
    assert [p.name for p in tmp_path.iterdir()] == ["a file"]
