"""A hostile or damaged build cache (issue #14): it never runs code, never changes the deck,
never breaks the build; a failed write leaves no `.part` file behind.

Every build goes through the CLI, like a user's; each is compared with a cold build
(`--no-cache`) of the same notes. The clock is pinned, so builds in different folders give the
same bytes.
"""

from __future__ import annotations

import errno
import io
import os
import pickle
import random
import shlex
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO

import pytest
from click.testing import CliRunner

from bagu2anki import cache as cache_module
from bagu2anki.cache import CACHE_NAME, MAGIC, BuildCache
from bagu2anki.cli import main

OUTPUTS = ("notes.apkg", "graph.html")


@pytest.fixture(autouse=True)
def _pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")


def build(notes: Path, out: Path, *extra: str) -> None:
    result = CliRunner().invoke(main, ["build", str(notes), "-o", str(out), *extra])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code == 0, result.output


def outputs(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in OUTPUTS}


@pytest.fixture
def cold(notes_copy: Path, tmp_path: Path) -> dict[str, bytes]:
    """The deck and map of a cold build of the notes."""
    build(notes_copy, tmp_path / "cold", "--no-cache")
    assert not (tmp_path / "cold" / CACHE_NAME).exists()
    return outputs(tmp_path / "cold")


@pytest.fixture
def real_cache(notes_copy: Path, tmp_path: Path) -> bytes:
    """The cache file a build of the notes writes."""
    build(notes_copy, tmp_path / "filled")
    data = (tmp_path / "filled" / CACHE_NAME).read_bytes()
    fresh = BuildCache.open(tmp_path / "filled")
    assert fresh.problem is None and fresh.stored > 0 and fresh.entries
    return data


def no_part_files(folder: Path) -> bool:
    return not [p for p in folder.rglob("*") if p.name.endswith(".part")]


# --- (1) a cache that would run code if it were unpickled ---------------------------------------


class _Touch:
    """Unpickling this creates `marker` (through a shell, as an attacker's payload would)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {shlex.quote(str(self.marker))}",))


class _Open:
    """Unpickling this creates `marker` with the builtin `open` (no shell needed)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.marker), "w"))


def _old_format(marker: Path) -> bytes:
    """What bagu2anki <= format 2 read: a header pickle, then batches; here the batch bites."""
    from bagu2anki import __version__

    header = ("bagu2anki build cache", __version__, cache_module._CODE, 2)
    return pickle.dumps(header) + pickle.dumps({"k": _Touch(marker)})


def _bare(marker: Path) -> bytes:
    return pickle.dumps(_Open(marker), protocol=pickle.HIGHEST_PROTOCOL)


def _in_a_frame(marker: Path) -> bytes:
    """Our own magic and header, and a pickle in a frame with a correct digest."""
    payload = pickle.dumps([("k", "parse", _Touch(marker))])
    return MAGIC + cache_module._frame(cache_module._header()) + cache_module._frame(payload)


@pytest.mark.parametrize("payload", [_old_format, _bare, _in_a_frame], ids=["old-format", "bare", "in-a-frame"])
def test_a_pickle_in_the_cache_is_never_run(
    payload: Callable[[Path], bytes], notes_copy: Path, tmp_path: Path, cold: dict[str, bytes]
) -> None:
    control = tmp_path / "control-marker"
    data = payload(control)
    if data.startswith(MAGIC):
        pickle.loads(data[len(MAGIC) + 2 * cache_module._PREFIX.size + len(cache_module._header()) :])
    else:
        loaded = pickle.Unpickler(io.BytesIO(data))
        while True:  # the payload is live: unpickled, it runs
            try:
                loaded.load()
            except EOFError:
                break
    assert control.exists()

    marker = tmp_path / "marker"
    out = tmp_path / "out"
    out.mkdir()
    (out / CACHE_NAME).write_bytes(payload(marker))
    opened = BuildCache.open(out)
    assert opened.entries == {} and opened.problem is not None
    build(notes_copy, out)
    assert not marker.exists()
    assert outputs(out) == cold
    assert BuildCache.open(out).problem is None  # replaced by a cache of our own


# --- (2) flipped bytes ---------------------------------------------------------------------------


def test_every_flipped_byte_is_caught(real_cache: bytes, tmp_path: Path) -> None:
    """One flipped byte anywhere: told, and nothing read from the file differs from what was put."""
    folder = tmp_path / "flip"
    folder.mkdir()
    (folder / CACHE_NAME).write_bytes(real_cache)
    pristine = BuildCache.open(folder).entries
    rng = random.Random(14)
    positions = {0, len(MAGIC), len(MAGIC) + 5, len(MAGIC) + 30, len(real_cache) - 1}
    positions |= set(rng.sample(range(len(real_cache)), 150))
    for pos in sorted(positions):
        damaged = bytearray(real_cache)
        damaged[pos] ^= 1 << rng.randrange(8)
        (folder / CACHE_NAME).write_bytes(bytes(damaged))
        opened = BuildCache.open(folder)
        assert opened.problem is not None, pos
        assert opened.stored == -1, pos
        assert all(pristine[k] == v for k, v in opened.entries.items()), pos


@pytest.mark.parametrize("seed", range(5))
def test_a_build_over_flipped_bytes_equals_a_cold_build(
    seed: int, notes_copy: Path, tmp_path: Path, cold: dict[str, bytes], real_cache: bytes
) -> None:
    rng = random.Random(seed)
    damaged = bytearray(real_cache)
    for pos in rng.sample(range(len(damaged)), 1 + seed):
        damaged[pos] ^= 0xFF if seed % 2 else 1 << rng.randrange(8)
    out = tmp_path / "out"
    out.mkdir()
    (out / CACHE_NAME).write_bytes(bytes(damaged))
    build(notes_copy, out)
    assert outputs(out) == cold
    healed = BuildCache.open(out)
    assert healed.problem is None and healed.stored > 0  # rewritten whole


# --- (3) a truncated cache ------------------------------------------------------------------------


def test_a_build_over_a_truncated_cache_equals_a_cold_build(
    notes_copy: Path, tmp_path: Path, cold: dict[str, bytes], real_cache: bytes
) -> None:
    rng = random.Random(3)
    cuts = [0, 5, len(MAGIC) + 10, len(real_cache) // 2, len(real_cache) - 1, *rng.sample(range(len(real_cache)), 3)]
    for k, cut in enumerate(cuts):
        out = tmp_path / f"out{k}"
        out.mkdir()
        (out / CACHE_NAME).write_bytes(real_cache[:cut])
        opened = BuildCache.open(out)
        assert opened.stored == -1 and (cut == 0 or opened.problem is not None)
        build(notes_copy, out)
        assert outputs(out) == cold, cut
        assert BuildCache.open(out).problem is None


# --- (4) a write that fails -----------------------------------------------------------------------


def _disk_full_after(limit: int) -> Callable[[IO[bytes], Iterable[bytes]], None]:
    """A `_write_all` that writes `limit` bytes and then fails as a full disk does."""

    def write_all(f: IO[bytes], chunks: Iterable[bytes]) -> None:
        left = limit
        for chunk in chunks:
            f.write(chunk[:left])
            left -= min(left, len(chunk))
            if not left:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    return write_all


def test_a_full_disk_leaves_no_part_file_and_no_broken_cache(
    notes_copy: Path, tmp_path: Path, cold: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    with monkeypatch.context() as m:  # the cache is written whole: the disk fills up half way
        m.setattr(cache_module, "_write_all", _disk_full_after(50_000))
        build(notes_copy, out)
    assert no_part_files(tmp_path)
    assert not (out / CACHE_NAME).exists()
    assert outputs(out) == cold  # the deck does not depend on the cache being saved

    build(notes_copy, out)  # now it fits
    before = (out / CACHE_NAME).read_bytes()
    assert BuildCache.open(out).problem is None
    rag = notes_copy / "rag" / "rag.md"
    rag.write_text(rag.read_text(encoding="utf-8") + "\n\n**Q：向量为什么要归一化？** 让内积等于余弦。\n", encoding="utf-8")
    with monkeypatch.context() as m:  # a small rebuild appends: the disk fills up in the append
        m.setattr(cache_module, "_write_all", _disk_full_after(100))
        build(notes_copy, out)
    assert no_part_files(tmp_path)
    assert (out / CACHE_NAME).read_bytes() == before  # cut back to what it was
    assert BuildCache.open(out).problem is None

    build(notes_copy, out)  # and the next build appends for real
    assert (out / CACHE_NAME).read_bytes().startswith(before)
    assert len((out / CACHE_NAME).read_bytes()) > len(before)
    assert BuildCache.open(out).problem is None


def test_a_cache_made_by_someone_else_is_never_trusted(
    notes_copy: Path, tmp_path: Path, cold: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Digests are keyed with the user's own secret: a well-formed cache of the right version
    made elsewhere (which could carry unsanitised HTML into card backs) is ignored whole."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "attacker"))
    cache_module.user_secret.cache_clear()
    build(notes_copy, tmp_path / "out")  # the attacker's build, with the attacker's key
    shipped = (tmp_path / "out" / CACHE_NAME).read_bytes()
    assert BuildCache.open(tmp_path / "out").entries  # valid for its maker
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "victim"))
    cache_module.user_secret.cache_clear()
    try:
        assert (tmp_path / "out" / CACHE_NAME).read_bytes() == shipped
        opened = BuildCache.open(tmp_path / "out")
        assert not opened.entries and opened.problem and "another user" in opened.problem
        build(notes_copy, tmp_path / "out")
        assert outputs(tmp_path / "out") == cold
        assert oct((tmp_path / "victim" / "bagu2anki" / "cache-key").stat().st_mode & 0o777) == "0o600"
    finally:
        cache_module.user_secret.cache_clear()
