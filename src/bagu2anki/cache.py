"""Build cache for incremental builds: unchanged files are not parsed, unchanged answers not rendered.

Entries are keyed by a hash of their whole input plus the bagu2anki version, so a hit gives
exactly what a cold build would; diagnostics produced on the way are stored and replayed. The
cache lives in the output folder (`OUT/.bagu2anki-cache`).

The file is data, never code: MessagePack (msgspec), decoded into the project's own frozen
records by their declared types, so a cache shipped in a cloned repository cannot run anything.
Every batch carries a digest; a foreign, damaged or cut-short file (or part of one) is ignored,
what it held is rebuilt, and `BuildCache.problem` tells it in one line.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import msgspec

from bagu2anki import __version__
from bagu2anki.concepts.graph import Solved
from bagu2anki.diagnostics import Diagnostic
from bagu2anki.model import Document
from bagu2anki.render import Rendered
from bagu2anki.stamp import code_digest

CACHE_NAME = ".bagu2anki-cache"
_FORMAT = 5  # 5: the concept graph's acyclic view; 4: answers list their code blocks; 3: MessagePack batches with digests (2 was a pickle: never read again)

# The file: MAGIC, then frames. A frame is a prefix (FRAME_MAGIC, the payload's length, the
# first 16 bytes of the SHA-256 of length and payload) and its payload. The first frame is the
# header (format, bagu2anki version, code digest); each later one a batch: a MessagePack array
# of [key, kind, value] entries.
MAGIC = b"\x89bagu2anki-cache\r\n\x1a\n"
_FRAME_MAGIC = b"B2AF"
_PREFIX = struct.Struct("<4sI16s")
_BATCH_BYTES = 256 * 1024  # a batch is cut after this much: damage costs at most one batch
_PICKLE = (b"\x80", b"(", b"]", b"}")  # how the pickles of older versions start


_CODE = code_digest()  # every module and template of this installation


_KEYS = hashlib.sha256(f"bagu2anki {__version__} {_CODE} cache {_FORMAT}".encode())


def key_of(*parts: object) -> str:
    """SHA-256 of this installation's identity, then of each part after a NUL."""
    h = _KEYS.copy()  # the identity hashed once: a build asks for tens of thousands of keys
    if parts:
        h.update(("\x00" + "\x00".join(map(str, parts))).encode("utf-8", "surrogatepass"))
    return h.hexdigest()


# --- what may be stored: the callers' values, by kind -------------------------------------------

# pipeline.analyse: one note file read (its text blanked), its diagnostics, concepts and acronyms
ParsedEntry = tuple[Document, list[Diagnostic], list[tuple[tuple[str, ...], str | None]], list[tuple[tuple[str, str], ...]]]
# cards.render_answers: one rendered answer, its diagnostics, (image, (mtime_ns, size)) it showed,
# and the keys of the highlighted code blocks it holds (kept while the answer is)
RenderedEntry = tuple[Rendered, list[Diagnostic], list[tuple[Path, tuple[int, int]]], list[str]]
# code.py, through cards.render_answers: (language, code, highlighted HTML)
CodeEntry = tuple[str, str, str]
# pipeline.analyse: a note file's (size, mtime_ns, ctime_ns, inode) when read, and its "parse" key
FileEntry = tuple[int, int, int, int, str]


def _kind_of(value: object) -> str | None:
    """Which of the stored kinds `value` is; None for anything else (it is not stored)."""
    if isinstance(value, str):
        return "text"  # a rendered question, a card's content hash
    if isinstance(value, Solved):
        return "graph"  # concepts.graph.build_graph
    if isinstance(value, tuple):
        if len(value) == 4 and isinstance(value[0], Rendered):
            return "answer"
        if len(value) == 4 and isinstance(value[0], Document):
            return "parse"
        if len(value) == 3 and all(isinstance(v, str) for v in value):
            return "code"
        if len(value) == 5 and all(isinstance(v, int) for v in value[:4]) and isinstance(value[4], str):
            return "file"
    return None


def _enc_hook(obj: object) -> object:
    if isinstance(obj, Path):
        return os.fsencode(obj)  # bytes: any file name, decodable or not, comes back as it was
    raise NotImplementedError(f"not stored in the build cache: {type(obj).__name__}")


def _dec_hook(typ: type, obj: object) -> object:
    if typ is Path and isinstance(obj, bytes):
        return Path(os.fsdecode(obj))
    raise ValueError(f"expected {typ.__name__}")


_ENCODER = msgspec.msgpack.Encoder(enc_hook=_enc_hook)
_DECODERS: dict[str, msgspec.msgpack.Decoder[Any]] = {
    "text": msgspec.msgpack.Decoder(str),
    "parse": msgspec.msgpack.Decoder(ParsedEntry, dec_hook=_dec_hook),
    "answer": msgspec.msgpack.Decoder(RenderedEntry, dec_hook=_dec_hook),
    "code": msgspec.msgpack.Decoder(CodeEntry),
    "file": msgspec.msgpack.Decoder(FileEntry),
    "graph": msgspec.msgpack.Decoder(Solved),
}
_BATCH = msgspec.msgpack.Decoder(list[tuple[str, str, msgspec.Raw]])
# What a crafted or damaged payload can make decoding raise; anything else is a bug of ours.
_BAD = (msgspec.MsgspecError, ValueError, TypeError, NotImplementedError, RecursionError, UnicodeError)


def _header() -> bytes:
    return _ENCODER.encode((_FORMAT, __version__, _CODE))


def _digest(payload: bytes | memoryview) -> bytes:
    """A MAC keyed with this user's secret: a cache file made anywhere else (shipped in a cloned
    repository, crafted to put unsanitised HTML on a card) fails it and is rebuilt."""
    h = hmac.new(user_secret(), len(payload).to_bytes(4, "little"), hashlib.sha256)
    h.update(payload)
    return h.digest()[:16]


@functools.cache
def user_secret() -> bytes:
    """32 random bytes kept for this user in `$XDG_CACHE_HOME/bagu2anki/cache-key` (made on first
    use, readable only by the user). Where it cannot be kept, a fresh one per process: the cache
    then never matches and every build is cold, but nothing foreign is ever trusted."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    path = base / "bagu2anki" / "cache-key"
    try:
        key = path.read_bytes()
        if len(key) == 32:
            return key
    except OSError:
        pass
    key = os.urandom(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".cache-key.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key)
        os.replace(tmp, path)
        return path.read_bytes()  # another process may have won the race: use what is there
    except OSError:
        return key


def _frame(payload: bytes) -> bytes:
    return _PREFIX.pack(_FRAME_MAGIC, len(payload), _digest(payload)) + payload


def _batches(entries: Iterable[tuple[str, Any]]) -> Iterator[tuple[bytes, int]]:
    """Framed batches of the storable entries, about `_BATCH_BYTES` each, with their counts."""
    parts: list[bytes] = []
    size = 0
    for key, value in entries:
        kind = _kind_of(value)
        if kind is None:
            continue
        try:
            parts.append(_ENCODER.encode((key, kind, value)))
        except (TypeError, ValueError, NotImplementedError, OverflowError, UnicodeError):
            continue  # a value msgpack cannot hold (text with lone surrogates): not cached
        size += len(parts[-1])
        if size >= _BATCH_BYTES:
            yield _frame(b"\xdd" + struct.pack(">I", len(parts)) + b"".join(parts)), len(parts)
            parts, size = [], 0
    if parts:
        yield _frame(b"\xdd" + struct.pack(">I", len(parts)) + b"".join(parts)), len(parts)


def _write_all(f: IO[bytes], chunks: Iterable[bytes]) -> None:
    """Every write of the cache file goes through here (tests make it fail as a full disk would)."""
    for chunk in chunks:
        f.write(chunk)


@dataclass
class _Reading:
    """What reading a cache file found."""

    entries: dict[str, Any] = field(default_factory=dict)
    stored: int = -1
    size: int = -1
    problem: str | None = None
    bad_batches: int = 0
    bad_entries: int = 0
    cut_short: bool = False

    def damage(self) -> str | None:
        parts = []
        if self.bad_batches:
            parts.append(f"{self.bad_batches} damaged batch{'es' if self.bad_batches > 1 else ''}")
        if self.bad_entries:
            parts.append(f"{self.bad_entries} damaged entr{'ies' if self.bad_entries > 1 else 'y'}")
        if self.cut_short:
            parts.append("cut short")
        if not parts:
            return None
        return f"build cache damaged ({', '.join(parts)}): what it held there is rebuilt"


def _read(path: Path) -> _Reading:
    out = _Reading()
    try:
        f = path.open("rb")
    except FileNotFoundError:
        return out
    except OSError as e:
        out.problem = f"build cache unreadable ({e.strerror or e}): ignored, everything is rebuilt"
        return out
    with f:
        try:
            total = os.fstat(f.fileno()).st_size
            start = f.read(len(MAGIC))
            if start != MAGIC:
                what = "an older bagu2anki's (pickle) or a foreign file" if start.startswith(_PICKLE) else "not a bagu2anki build cache"
                out.problem = f"build cache ignored ({what}): everything is rebuilt"
                return out
            header = _next_frame(f, total)
            if not header:
                out.problem = "build cache ignored (written by another user or machine, or damaged): everything is rebuilt"
                return out
            if header != _header():
                return out  # another version of bagu2anki wrote it: nothing to say, it is rebuilt
            stored = 0
            while f.tell() < total:
                payload = _next_frame(f, total)
                if payload is None:  # no frame here, or one cut short: the rest is not read
                    out.cut_short = True
                    break
                if not payload:  # a frame whose digest fails: skipped
                    out.bad_batches += 1
                    continue
                try:
                    batch = _BATCH.decode(payload)
                except _BAD:
                    out.bad_batches += 1
                    continue
                for key, kind, raw in batch:
                    decoder = _DECODERS.get(kind)
                    try:
                        if decoder is None:
                            raise ValueError(f"unknown kind {kind!r}")
                        out.entries[key] = decoder.decode(raw)
                    except _BAD:
                        out.bad_entries += 1
                stored += len(batch)
        except OSError as e:
            out.problem = f"build cache unreadable ({e.strerror or e}): what was not read is rebuilt"
            return out
    out.problem = out.damage()
    if out.problem is None:
        out.stored, out.size = stored, total
    return out


def _next_frame(f: IO[bytes], total: int) -> bytes | None:
    """The next frame's payload; b"" if its digest fails; None if there is no whole frame here."""
    prefix = f.read(_PREFIX.size)
    if len(prefix) < _PREFIX.size:
        return None
    magic, length, digest = _PREFIX.unpack(prefix)
    if magic != _FRAME_MAGIC or length > total - f.tell():
        return None
    payload = f.read(length)
    if len(payload) < length:
        return None
    return payload if _digest(payload) == digest else b""


@dataclass
class BuildCache:
    """Values by key; `save()` keeps only what this build used.

    The file is a header and then batches of entries, each with its digest. A build that
    added a few entries appends them as one more batch instead of rewriting the whole cache
    (an edit to one file of a large collection writes kilobytes, not tens of megabytes); once
    more than half of what the file holds is no longer used, `save()` rewrites it with just
    the used entries. A batch cut short (an interrupted append) ends the reading: what came
    before it stays valid, and the next save rewrites the file. A batch whose digest fails, or
    an entry that is not of the shape its kind must have, is left out, and the file rewritten.

    `problem` is one line for the user when the file was foreign, damaged or could not be
    saved (None when all is well); what it concerns is rebuilt either way.
    """

    path: Path | None = None
    entries: dict[str, Any] = field(default_factory=dict)
    used: dict[str, Any] = field(default_factory=dict)
    hits: int = 0
    misses: int = 0
    stored: int = -1  # entries the file holds (stale ones included); -1: rewrite it on save
    problem: str | None = None
    size: int = -1  # bytes the file had when read (an append goes on only from there)

    @classmethod
    def open(cls, folder: Path | None) -> BuildCache:
        if folder is None:
            return cls(None)
        path = folder / CACHE_NAME
        kept = _KEPT.get(path)
        if kept is not None and kept[0] == (_file_id(path), _header()):  # (only with keep_in_memory)
            return cls(path, dict(kept[1]), stored=kept[2], size=kept[0][0][0])
        found = _read(path)
        if found.problem is None and found.stored >= 0:
            _keep(path, found.entries, found.stored)
        return cls(path, found.entries, stored=found.stored, problem=found.problem, size=found.size)

    def get(self, key: str) -> Any | None:
        if self.path is None:
            return None
        value = self.entries.get(key)
        if value is None:
            self.misses += 1
            return None
        self.hits += 1
        self.used[key] = value
        return value

    def put(self, key: str, value: Any) -> None:
        if self.path is not None:
            self.used[key] = value

    def of_kind(self, kind: str) -> list[Any]:
        """Every stored value of one kind ("code": the highlighted blocks), used or not."""
        return [v for v in self.entries.values() if _kind_of(v) == kind]

    def save(self) -> None:
        """Append this build's new entries, or rewrite the file with only the used ones.

        A write that fails (a full disk, a folder in the way) leaves the file as it was, or
        none, never a part of one; it is told in `problem` and does not fail the build.
        """
        if self.path is None:
            return
        # new keys, and keys given a new value (a note file's state when read): a later batch wins
        new = {k: v for k, v in self.used.items() if self.entries.get(k) is not v}
        _KEPT.pop(self.path, None)
        try:
            if 0 <= self.stored and self.stored + len(new) <= 2 * len(self.used) and self._unchanged():
                whole = (self._append(self.path, new) if new else 0) == len(new)
                self.stored += len(new)
                self.entries.update(new)
            else:
                self.stored = self._rewrite(self.path)
                whole = self.stored == len(self.used)
                self.entries = dict(self.used)
        except OSError as e:
            self.stored = -1
            self._tell(f"build cache not saved ({e.strerror or e}): the next build rebuilds what is missing")
            return
        if whole:  # the file holds just what `entries` does
            _keep(self.path, self.entries, self.stored)

    def _unchanged(self) -> bool:
        """The file is still the one read (an append must go on the very file it extends)."""
        assert self.path is not None
        try:
            return self.path.stat().st_size == self.size
        except OSError:
            return False

    def _append(self, path: Path, new: dict[str, Any]) -> int:
        count = 0

        def frames() -> Iterator[bytes]:
            nonlocal count
            for frame, n in _batches(new.items()):
                count += n
                yield frame

        with path.open("r+b") as f:
            f.seek(self.size)
            try:
                _write_all(f, frames())
                f.flush()
            except BaseException:
                _undo_append(f, path, self.size)
                raise
            self.size = f.tell()
        return count

    def _rewrite(self, path: Path) -> int:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".part")
        count = 0

        def chunks() -> Iterator[bytes]:
            nonlocal count
            yield MAGIC + _frame(_header())
            for frame, n in _batches(self.used.items()):
                count += n
                yield frame

        try:
            with tmp.open("wb") as f:
                _write_all(f, chunks())
                self.size = f.tell()
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            self.size = -1
            raise
        return count

    def _tell(self, line: str) -> None:
        self.problem = line if self.problem is None else f"{self.problem}; {line}"


_KEPT: dict[Path, tuple[tuple[tuple[int, bytes], bytes], dict[str, Any], int]] = {}
"""With `keep_in_memory()`: the cache file this process last read or saved, as ((its size and
SHA-256 then), the header) -> the entries, how many the file holds. Opened again as it was, it
is not decoded again (hashing it takes a tenth of that)."""
_KEEPING = False


def keep_in_memory() -> None:
    """For a process that builds again and again (`watch`): keep the last cache read or saved."""
    global _KEEPING
    _KEEPING = True


def _keep(path: Path, entries: dict[str, Any], stored: int) -> None:
    _KEPT.clear()  # one output folder at a time
    if _KEEPING:
        _KEPT[path] = ((_file_id(path), _header()), entries, stored)


def _file_id(path: Path) -> tuple[int, bytes]:
    h = hashlib.sha256()
    size = 0
    try:
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
                size += len(chunk)
    except OSError:
        return (-1, b"")
    return (size, h.digest())


def _undo_append(f: IO[bytes], path: Path, size: int) -> None:
    """Cut a failed append back off; if even that fails, remove the file (never half a batch)."""
    try:
        f.truncate(size)
        f.flush()
    except OSError:
        with contextlib.suppress(OSError):
            path.unlink()

