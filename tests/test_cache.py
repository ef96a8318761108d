"""The build cache file: appended to by small rebuilds, compacted when mostly stale, robust to damage."""

from __future__ import annotations

from pathlib import Path

from bagu2anki.cache import CACHE_NAME, BuildCache


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
